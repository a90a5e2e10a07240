//! Stories of the mailbox (`courier mailbox serve`) as its owner and contacts meet it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use courier_e2e::mailbox::MailboxProcess;
use courier_e2e::{Tools, wait_until};

use crate::scratch;

fn new_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// One request: its status and body, or how the connection failed.
fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    token: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), ureq::Error> {
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("Authorization", format!("Bearer {token}"))
        .body(body.to_vec())
        .expect("a well-formed request");
    let mut response = agent.run(request)?;
    let status = response.status().as_u16();
    Ok((status, response.body_mut().read_to_vec()?))
}

/// Sets up the new mailbox at `base` (`http://ADDR/v1`) with its setup token and registers bob with
/// inbox `1b…` and outbox `0b…`: the owner's token and bob's.
fn set_up_with_bob(agent: &ureq::Agent, base: &str, setup: &str) -> Result<(String, String)> {
    let (status, body) = call(agent, "PUT", &format!("{base}/setup"), setup, b"")?;
    assert_eq!(status, 200);
    let owner: serde_json::Value = serde_json::from_slice(&body)?;
    let owner = owner["token"].as_str().context("a token")?.to_owned();
    let bob = "b0".repeat(32);
    let contact =
        serde_json::json!({ "token": bob, "inbox": "1b".repeat(16), "outbox": "0b".repeat(16) });
    let path = format!("{base}/contacts/{}", "b0".repeat(16));
    assert_eq!(
        call(agent, "PUT", &path, &owner, contact.to_string().as_bytes())?.0,
        201
    );
    Ok((owner, bob))
}

#[test]
fn schemathesis_runs_the_mailbox_s_openapi_document_against_it_and_finds_no_5xx_and_nothing_off_schema()
-> Result<()> {
    if !crate::api::installed("schemathesis") {
        println!("SKIPPED: schemathesis is not installed (python3 -m pip install schemathesis)");
        return Ok(());
    }
    let tools = Tools::locate()?;
    let root = scratch();
    let mailbox = MailboxProcess::start(&tools, &root.path().join("mailbox"), "127.0.0.1:0")?;
    let addr = std::fs::read_to_string(root.path().join("mailbox").join("mailbox.addr"))?;
    let base = format!("http://{addr}/v1");
    let setup = mailbox
        .setup
        .clone()
        .context("a new mailbox prints its setup token")?;
    let (owner, _) = set_up_with_bob(&new_agent(), &base, &setup)?;
    // As the owner, on every operation but the wipe (which would leave the rest nothing but 401s).
    let document = format!("{base}/openapi.json");
    let more = ["--exclude-path", "/v1/mailbox"];
    let report = crate::api::schemathesis(root.path(), &document, &owner, &more)?;
    assert!(
        report.contains("Tested: 10"),
        "every operation was run:\n{report}"
    );
    Ok(())
}

#[test]
fn alice_s_mailbox_is_killed_twenty_times_while_bob_uploads_and_keeps_every_file_it_acknowledged()
-> Result<()> {
    let tools = Tools::locate()?;
    let root = scratch();
    let dir = root.path().join("mailbox");
    std::fs::create_dir_all(&dir)?;
    // Bob uploads as fast as he can; the rate limit is not what this story is about.
    std::fs::write(dir.join("mailbox.toml"), "uploads-per-minute = 1000000\n")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let base = format!("http://{listen}/v1");
    let mailbox = MailboxProcess::start(&tools, &dir, &listen)?;
    let setup = mailbox
        .setup
        .clone()
        .context("a new mailbox prints its setup token")?;
    let agent = new_agent();
    let (owner, bob) = set_up_with_bob(&agent, &base, &setup)?;
    let inbox = "1b".repeat(16);
    let files = format!("{base}/folders/{inbox}/files");

    // Bob uploads, each file new, for as long as the story runs: what the mailbox answered 201 to
    // is recorded; an upload cut off by a kill is not.
    let acknowledged = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let done = Arc::new(AtomicBool::new(false));
    let uploader = {
        let (acknowledged, done, files, bob) = (
            acknowledged.clone(),
            done.clone(),
            files.clone(),
            bob.clone(),
        );
        std::thread::spawn(move || {
            let agent = new_agent();
            let mut n = 0u64;
            while !done.load(Ordering::Relaxed) {
                n += 1;
                let mut body = format!("upload {n} ").into_bytes();
                body.resize(8 * 1024, (n % 251) as u8);
                match call(&agent, "POST", &files, &bob, &body) {
                    Ok((201, _)) => acknowledged.lock().unwrap().push(body),
                    Ok((status, _)) => panic!("upload {n} answered {status}"),
                    // The mailbox is down or was killed mid-request: try a new file.
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        })
    };
    let mut mailbox = Some(mailbox);
    for round in 0..20u64 {
        std::thread::sleep(Duration::from_millis(100 + (round * 37) % 200));
        mailbox.take().context("running")?.kill()?;
        mailbox = Some(MailboxProcess::start(&tools, &dir, &listen)?);
    }
    std::thread::sleep(Duration::from_millis(200));
    done.store(true, Ordering::Relaxed);
    uploader.join().expect("the uploader");
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 100,
        "bob uploaded only {}",
        acknowledged.len()
    );

    // After the last restart, alice finds every acknowledged file, each once.
    let (status, body) = call(&agent, "GET", &files, &owner, b"")?;
    assert_eq!(status, 200);
    let listing: serde_json::Value = serde_json::from_slice(&body)?;
    let mut held: HashMap<Vec<u8>, usize> = HashMap::new();
    for file in listing["files"].as_array().context("a listing")? {
        let name = file["name"].as_str().context("a name")?;
        let (status, bytes) = call(&agent, "GET", &format!("{files}/{name}"), &owner, b"")?;
        assert_eq!(status, 200);
        *held.entry(bytes).or_default() += 1;
    }
    let lost = acknowledged
        .iter()
        .filter(|a| !held.contains_key(*a))
        .count();
    let twice = held.values().filter(|n| **n > 1).count();
    assert_eq!(
        (lost, twice),
        (0, 0),
        "of {} acknowledged",
        acknowledged.len()
    );
    // What the mailbox holds beyond them was cut off by a kill before its answer (bob will send
    // it again); nothing half-written is listed.
    assert!(held.keys().all(|b| b.len() == 8 * 1024));
    Ok(())
}

/// Alice's mailbox in `root/mailbox` and the address it listens on, alice and bob parted
/// ([`courier_e2e::mailbox::parted_with_a_mailbox`]).
fn parted(
    tools: &Tools,
    root: &Path,
) -> Result<(
    std::path::PathBuf,
    String,
    MailboxProcess,
    courier_e2e::Person,
    courier_e2e::Person,
)> {
    let mailbox_dir = root.join("mailbox");
    let (mailbox, alice, bob) =
        courier_e2e::mailbox::parted_with_a_mailbox(tools, root, &mailbox_dir)?;
    let listen = std::fs::read_to_string(mailbox_dir.join("mailbox.addr"))?;
    Ok((mailbox_dir, listen, mailbox, alice, bob))
}

/// Every file the mailbox in `dir` holds, in any folder.
fn mailbox_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    for folder in std::fs::read_dir(dir.join("folders"))? {
        for file in std::fs::read_dir(folder?.path())? {
            files.push(file?.path());
        }
    }
    Ok(files)
}

/// What `person` sent `alias`, each message's state.
fn sent_states(person: &courier_e2e::Person, alias: &str) -> Result<Vec<String>> {
    Ok(person
        .messages(alias)?
        .into_iter()
        .filter(|r| r.direction == "out")
        .map(|r| r.state)
        .collect())
}

/// Bob sends alice a 1000×1000 photo of noise (`seed`) at full quality: over 3 MB, several streams.
fn send_a_3_mb_photo(bob: &courier_e2e::Person, dir: &Path, seed: u64) -> Result<()> {
    let photo = dir.join("noise.png");
    std::fs::write(&photo, courier_e2e::noise_png(1000, 1000, seed))?;
    assert!(std::fs::metadata(&photo)?.len() > 3_000_000);
    bob.send_full_quality_image("alice", &photo)
}

/// Alice comes on and fetches everything bob's node wrote her; each arrives once. Her rows of what
/// bob sent, in order.
fn alice_gets_everything_bob_wrote(
    alice: &mut courier_e2e::Person,
    bob: &courier_e2e::Person,
) -> Result<Vec<courier_e2e::Row>> {
    alice.serve()?;
    let wanted = bob.messages("alice")?.len();
    wait_until(
        Duration::from_secs(120),
        "alice gets everything bob's node wrote",
        || {
            let got = alice.messages("bob")?;
            Ok(got
                .iter()
                .filter(|r| r.direction == "in" && r.complete)
                .count()
                >= wanted)
        },
    )?;
    let incoming: Vec<courier_e2e::Row> = alice
        .messages("bob")?
        .into_iter()
        .filter(|r| r.direction == "in")
        .collect();
    assert_eq!(incoming.len(), wanted, "nothing shown twice");
    let arrivals = alice.arrivals("bob")?;
    let distinct: std::collections::HashSet<&String> = arrivals.iter().collect();
    assert_eq!(distinct.len(), arrivals.len(), "nothing stored twice");
    Ok(incoming)
}

#[test]
fn alice_and_bob_are_never_online_together_and_talk_through_alice_s_mailbox() -> Result<()> {
    let tools = Tools::locate()?;
    let root = scratch();
    let (mailbox_dir, listen, mailbox, mut alice, mut bob) = parted(&tools, root.path())?;
    let texts = [
        "the first of three notes, left while you sleep",
        "the second: the documents are with the neighbour",
        "the third: we meet at the old library at nine",
    ];
    // The mailbox is down when bob first comes on: nothing is marked sent that it never took.
    mailbox.kill()?;
    bob.cli(&["send", "alice", "--text", texts[0]])?;
    send_a_3_mb_photo(&bob, root.path(), 7)?;
    bob.cli(&["send", "alice", "--text", texts[1]])?;
    bob.cli(&["send", "alice", "--text", texts[2]])?;
    let api = bob.serve_api()?;
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        sent_states(&bob, "alice")?.iter().all(|s| s == "queued"),
        "nothing is written for a mailbox that does not answer"
    );
    // Where a person looks: the API's transports (and the page's status line, fed the same).
    let transports: Vec<serde_json::Value> = api.get("/v1/transports")?;
    let mailbox_state = transports
        .iter()
        .find(|t| t["id"] == "mailbox")
        .and_then(|t| t["medium"].as_str())
        .context("the mailbox transport and its state")?
        .to_owned();
    assert!(
        mailbox_state.starts_with("unreachable: 1 mailbox(es) did not answer"),
        "{mailbox_state}"
    );
    let _mailbox = MailboxProcess::start(&tools, &mailbox_dir, &listen)?;
    wait_until(
        Duration::from_secs(60),
        "bob's node wrote everything out",
        || Ok(sent_states(&bob, "alice")?.iter().all(|s| s == "sent")),
    )?;
    let transports: Vec<serde_json::Value> = api.get("/v1/transports")?;
    assert!(
        transports
            .iter()
            .any(|t| t["id"] == "mailbox" && t["medium"] == "connected"),
        "{transports:?}"
    );
    // He closes the laptop; what his node wrote is in the mailbox, opaque.
    bob.stop()?;
    let left_by_bob = mailbox_files(&mailbox_dir)?;
    assert!(left_by_bob.len() >= 4, "a 3 MB image takes several streams");
    // What the mailbox's disk holds: no text, no name, no node's identity, no token in the clear.
    let mut secrets: Vec<Vec<u8>> = texts.iter().map(|t| t.as_bytes().to_vec()).collect();
    // Names too, where a chance match is unlikely: three bytes ("bob") turn up by chance in a few
    // MB of ciphertext about one time in four, five ("alice") about one in 250,000.
    secrets.push(b"alice".to_vec());
    for person in [&alice, &bob] {
        let link: courier_proto::contact_link::ContactLink = person.link()?.parse()?;
        secrets.push(link.public_key().to_vec());
        secrets.push(person.link()?.into_bytes());
    }
    let secrets: Vec<&[u8]> = secrets.iter().map(Vec::as_slice).collect();
    let holding = courier_tor_net::files_holding(&mailbox_dir, &secrets);
    assert!(
        holding.is_empty(),
        "the mailbox's disk gives away {holding:?}"
    );

    let shown: Vec<String> = alice_gets_everything_bob_wrote(&mut alice, &bob)?
        .into_iter()
        .map(|r| r.summary)
        .collect();
    assert_eq!(shown.len(), 4, "{shown:?}");
    assert_eq!(
        [&shown[0], &shown[2], &shown[3]],
        texts.map(|t| t.to_owned()).each_ref()
    );
    // Her reply, and her acks, wait for bob in her mailbox.
    alice.cli(&["send", "bob", "--text", "got all four; see you at nine"])?;
    wait_until(
        Duration::from_secs(60),
        "alice's node wrote her reply out",
        || Ok(sent_states(&alice, "bob")? == ["sent"]),
    )?;
    alice.stop()?;
    assert!(
        left_by_bob.iter().all(|f| !f.exists()),
        "what alice fetched and stored is gone from her mailbox"
    );
    let waiting_for_bob = mailbox_files(&mailbox_dir)?;
    assert!(!waiting_for_bob.is_empty());

    bob.serve()?;
    wait_until(
        Duration::from_secs(60),
        "bob gets alice's reply and her acks",
        || {
            let reply = bob
                .messages("alice")?
                .iter()
                .any(|r| r.direction == "in" && r.summary == "got all four; see you at nine");
            Ok(reply && sent_states(&bob, "alice")?.iter().all(|s| s == "acked"))
        },
    )?;
    // What each fetched is gone from the mailbox (bob's acks of her reply now wait there for her).
    wait_until(
        Duration::from_secs(30),
        "every fetched file is deleted",
        || Ok(waiting_for_bob.iter().all(|f| !f.exists())),
    )?;
    bob.stop()?;
    Ok(())
}

#[test]
fn alice_s_mailbox_is_full_so_bob_s_second_note_stays_queued_poll_after_poll_and_goes_once_she_has_fetched()
-> Result<()> {
    let tools = Tools::locate()?;
    let root = scratch();
    let (mailbox_dir, listen, mailbox, mut alice, mut bob) = parted(&tools, root.path())?;
    // Room for one small stream (one 16 KiB frame and its header) in each contact's folder.
    mailbox.kill()?;
    std::fs::write(
        mailbox_dir.join("mailbox.toml"),
        "folder-quota-bytes = 24576
",
    )?;
    let _mailbox = MailboxProcess::start(&tools, &mailbox_dir, &listen)?;
    bob.serve()?;
    let notes = [
        "the first note fills alice's folder",
        "the second waits until she has fetched the first",
    ];
    bob.cli(&["send", "alice", "--text", notes[0]])?;
    wait_until(
        Duration::from_secs(60),
        "the mailbox took bob's first note",
        || Ok(sent_states(&bob, "alice")? == ["sent"]),
    )?;
    bob.cli(&["send", "alice", "--text", notes[1]])?;
    // Bob's node polls every second; the mailbox refuses each stream it writes while the folder is
    // full, so the note is not sent (a stream counted sent would wait out weeks of backoff).
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(sent_states(&bob, "alice")?, ["sent", "queued"]);
    assert_eq!(
        mailbox_files(&mailbox_dir)?.len(),
        1,
        "the folder holds the first note's stream alone"
    );

    // Alice comes on and fetches the first; the folder has room, and bob's next poll uploads the
    // second, while both are on: through the mailbox still, their only path.
    let shown: Vec<String> = alice_gets_everything_bob_wrote(&mut alice, &bob)?
        .into_iter()
        .map(|r| r.summary)
        .collect();
    assert_eq!(shown, notes, "each note once, in order");
    wait_until(
        Duration::from_secs(60),
        "bob's node counts both sent",
        || Ok(sent_states(&bob, "alice")?.iter().all(|s| s != "queued")),
    )?;
    alice.stop()?;
    bob.stop()?;
    Ok(())
}

#[test]
fn alice_s_mailbox_is_killed_twenty_times_while_bob_s_node_writes_to_it_and_she_gets_every_message_once()
-> Result<()> {
    let tools = Tools::locate()?;
    let root = scratch();
    let (mailbox_dir, listen, mailbox, mut alice, mut bob) = parted(&tools, root.path())?;
    bob.serve()?;
    let mut texts = Vec::new();
    let mut mailbox = Some(mailbox);
    for round in 0..20u64 {
        let text = format!("note {round:02} while the mailbox comes and goes");
        bob.cli(&["send", "alice", "--text", &text])?;
        texts.push(text);
        if round % 5 == 0 {
            // A photo's streams (about 1 MiB each) keep uploads under way while it is killed.
            let photo = root.path().join(format!("noise-{round}.png"));
            std::fs::write(&photo, courier_e2e::noise_png(1000, 1000, round))?;
            let photo = photo.to_str().context("a UTF-8 path")?;
            bob.cli(&["send", "alice", "--type", "courier/image", "--input", photo])?;
        }
        std::thread::sleep(Duration::from_millis(150 + (round * 53) % 350));
        mailbox.take().context("running")?.kill()?;
        std::thread::sleep(Duration::from_millis((round * 31) % 300));
        mailbox = Some(MailboxProcess::start(&tools, &mailbox_dir, &listen)?);
    }
    wait_until(
        Duration::from_secs(120),
        "bob's node wrote everything out",
        || Ok(sent_states(&bob, "alice")?.iter().all(|s| s != "queued")),
    )?;
    // Stopping waits for the uploads still under way.
    bob.stop()?;

    let shown: Vec<String> = alice_gets_everything_bob_wrote(&mut alice, &bob)?
        .into_iter()
        .filter(|r| r.content_type == "courier/text")
        .map(|r| r.summary)
        .collect();
    assert_eq!(shown, texts, "every text once, in order");
    alice.stop()?;
    Ok(())
}

#[test]
fn carol_becomes_alice_s_contact_while_her_node_runs_and_her_node_registers_carol_at_the_mailbox_itself()
-> Result<()> {
    let tools = Tools::locate()?;
    let root = scratch();
    let mailbox_dir = root.path().join("mailbox");
    let (_mailbox, mut alice, _bob) =
        courier_e2e::mailbox::parted_with_a_mailbox(&tools, root.path(), &mailbox_dir)?;
    let mut carol = courier_e2e::Person::init(&tools, root.path(), "carol")?;
    carol.mailbox = true;
    carol.configure(&[alice.port], false, "loopback")?;
    alice.lan = true;
    alice.configure(&[carol.port], false, "loopback")?;
    courier_e2e::introduce(&alice, &carol)?;
    alice.serve()?;
    carol.serve()?;
    courier_e2e::wait_for_contact(&alice, &carol)?;
    // No `pair`, no restart: alice's node registers carol at its next poll.
    wait_until(
        Duration::from_secs(30),
        "alice's node registers carol at the mailbox",
        || {
            Ok(alice
                .cli(&["mailbox", "status"])?
                .contains("reachable, 2 contact(s) registered"))
        },
    )?;
    // Carol learns of it at once, inside the session she has with alice now.
    wait_until(
        Duration::from_secs(30),
        "carol learns of alice's mailbox",
        || {
            Ok(carol
                .cli(&["mailbox", "status"])?
                .contains("1 contact(s) reachable through their own"))
        },
    )?;
    // And uses it: alice is away when carol writes.
    alice.stop()?;
    carol.cli(&["send", "alice", "--text", "left for you in your mailbox"])?;
    wait_until(
        Duration::from_secs(30),
        "carol's node writes it out",
        || Ok(sent_states(&carol, "alice")? == ["sent"]),
    )?;
    carol.stop()?;
    alice.serve()?;
    wait_until(Duration::from_secs(30), "alice gets carol's text", || {
        Ok(alice
            .messages("carol")?
            .iter()
            .any(|r| r.direction == "in" && r.summary == "left for you in your mailbox"))
    })?;
    alice.stop()?;
    Ok(())
}

#[test]
fn alice_pairs_from_the_command_line_with_a_link_on_standard_input_and_a_wrong_link_or_no_mailbox_says_what_to_do()
-> Result<()> {
    let tools = Tools::locate()?;
    let root = scratch();
    let alice = courier_e2e::Person::init(&tools, root.path(), "alice")?;
    let (code, said) = alice.fails_with_code(&["mailbox", "pair", "https://example.org/"], &[])?;
    assert_eq!(code, 4, "invalid input: {said}");
    assert!(said.contains("courier-mailbox://"), "{said}");
    let (code, said) = alice.fails_with_code(&["mailbox", "unpair"], &[])?;
    assert_eq!(code, 3, "nothing to unpair: {said}");
    assert!(said.contains("courier mailbox pair"), "{said}");
    let (code, said) = alice.fails_with_code(
        &[
            "mailbox",
            "pair",
            &format!("courier-mailbox://127.0.0.1:9/#{}", "ab".repeat(32)),
        ],
        &[],
    )?;
    assert_eq!(
        code, 10,
        "a mailbox that does not answer is unavailable: {said}"
    );
    assert!(said.contains("did not answer"), "{said}");

    let (_mailbox, link) = courier_e2e::mailbox::new_mailbox(&tools, &root.path().join("mailbox"))?;
    let paired = alice.cli_with_stdin(&["mailbox", "pair", "-"], format!("{link}\n").as_bytes())?;
    assert!(paired.contains("paired with the mailbox"), "{paired}");
    assert!(
        alice
            .cli(&["mailbox", "status"])?
            .contains("mailbox: reachable, 0 contact(s) registered")
    );
    assert!(alice.cli(&["mailbox", "unpair"])?.contains("unpaired"));
    assert!(
        alice
            .cli(&["mailbox", "status"])?
            .contains("mailbox: none paired")
    );
    Ok(())
}

#[test]
fn alice_s_mailbox_is_an_onion_service_on_the_private_tor_network_and_carries_bob_s_image_and_her_reply()
-> Result<()> {
    let root = scratch();
    let Some(net) = crate::tor::network(root.path()) else {
        return Ok(());
    };
    let tools = Tools::locate()?;
    let mailbox_dir = root.path().join("mailbox");
    let (mailbox, mut alice, mut bob) = courier_e2e::mailbox::parted_with_an_onion_mailbox(
        &tools,
        root.path(),
        &mailbox_dir,
        &net.config_section(),
    )?;
    // Reached by its onion name alone: the link bob learned names no port on any machine.
    let address = std::fs::read_to_string(mailbox_dir.join("mailbox.addr"))?;
    assert!(address.ends_with(".onion:80"), "{address}");
    assert!(
        courier_e2e::mailbox::listening_ports(mailbox.id())?.is_empty(),
        "an onion mailbox listens on no TCP port"
    );

    let texts = [
        "over tor, into your mailbox: the first note",
        "over tor, into your mailbox: the second note",
    ];
    bob.cli(&["send", "alice", "--text", texts[0]])?;
    send_a_3_mb_photo(&bob, root.path(), 11)?;
    bob.cli(&["send", "alice", "--text", texts[1]])?;
    bob.serve()?;
    wait_until(
        Duration::from_secs(240),
        "bob's node wrote everything into the onion mailbox",
        || Ok(sent_states(&bob, "alice")?.iter().all(|s| s == "sent")),
    )?;
    bob.stop()?;
    assert!(
        mailbox_files(&mailbox_dir)?.len() >= 4,
        "a 3 MB image takes several streams"
    );

    let shown: Vec<String> = alice_gets_everything_bob_wrote(&mut alice, &bob)?
        .into_iter()
        .map(|r| r.summary)
        .collect();
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert_eq!(shown[0], texts[0]);
    assert!(shown[1].starts_with("image 1000×1000"), "{}", shown[1]);
    assert_eq!(shown[2], texts[1]);
    alice.cli(&[
        "send",
        "bob",
        "--text",
        "all three came by your onion; thanks",
    ])?;
    wait_until(
        Duration::from_secs(240),
        "alice's node wrote her reply into her mailbox",
        || Ok(sent_states(&alice, "bob")? == ["sent"]),
    )?;
    alice.stop()?;

    bob.serve()?;
    wait_until(
        Duration::from_secs(240),
        "bob gets alice's reply and her acks over Tor",
        || {
            let reply = bob.messages("alice")?.iter().any(|r| {
                r.direction == "in" && r.summary == "all three came by your onion; thanks"
            });
            Ok(reply && sent_states(&bob, "alice")?.iter().all(|s| s == "acked"))
        },
    )?;
    bob.stop()?;
    // The mailbox's onion key is in its own data directory; Tor's state beside it holds no copy.
    let key = std::fs::read(mailbox_dir.join("onion.key"))?;
    let holding = courier_tor_net::files_holding(&mailbox_dir, &[&key[..]]);
    assert_eq!(
        holding,
        [mailbox_dir.join("onion.key")],
        "the key is in onion.key alone"
    );
    drop(mailbox);
    Ok(())
}
