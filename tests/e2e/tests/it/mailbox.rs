//! Stories of the mailbox (`courier mailbox serve`) as its owner and contacts meet it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use courier_e2e::Tools;

use crate::scratch;

/// A running `courier mailbox serve` and what it printed first.
struct MailboxProcess {
    child: Child,
    setup: Option<String>,
}

impl MailboxProcess {
    fn start(tools: &Tools, dir: &Path, listen: &str) -> Result<MailboxProcess> {
        let mut child = Command::new(&tools.courier)
            .args(["mailbox", "serve", "--listen", listen, "--dir"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting courier mailbox serve")?;
        let mut lines = BufReader::new(child.stdout.take().context("its stdout")?).lines();
        let first = lines.next().context("it printed nothing")??;
        if !first.starts_with("mailbox: serving on ") {
            bail!("unexpected first line: {first}");
        }
        // A new mailbox prints its setup token next; one in use prints nothing more.
        let setup =
            if std::fs::read_to_string(dir.join("registry.json"))?.contains("\"owner\": null") {
                let line = lines.next().context("no setup token")??;
                Some(line.rsplit(' ').next().context("an empty line")?.to_owned())
            } else {
                None
            };
        std::thread::spawn(move || lines.for_each(drop));
        Ok(MailboxProcess { child, setup })
    }

    /// SIGKILL: no chance to finish anything.
    fn kill(mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for MailboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
        report.contains("Tested: 9"),
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
