//! Carol is on the same network but is no one's contact: she learns nothing she can link to alice or bob.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use courier_e2e::{Person, Tools, introduce, wait_for_contact, wait_for_delivery};
use courier_proto::contact_link::ContactLink;
use courier_proto::transport_security::stream::HEADER_LEN;

use crate::{pair, scratch};

#[test]
fn carol_dials_alice_and_bob_and_gets_not_one_byte_nor_a_contact() {
    let root = scratch();
    let tools = Tools::locate().unwrap();
    let (alice, bob) = pair(root.path()).unwrap();
    // Carol has a contact of her own, so her node does dial: it offers streams for dave, not for them.
    let mut carol = Person::init(&tools, root.path(), "carol").unwrap();
    let dave = Person::init(&tools, root.path(), "dave").unwrap();
    carol.add(&dave).unwrap();
    carol
        .configure(&[alice.port, bob.port], false, "loopback")
        .unwrap();
    carol.serve().unwrap();

    alice
        .cli(&["send", "bob", "--text", "carol must not read this"])
        .unwrap();
    wait_for_delivery(&alice, &bob, 1, Duration::from_secs(30)).unwrap();
    std::thread::sleep(Duration::from_secs(2));

    let aliases = |p: &Person| -> Vec<String> {
        p.contacts().unwrap().into_iter().map(|c| c.alias).collect()
    };
    assert_eq!(aliases(&alice), ["bob"]);
    assert_eq!(aliases(&bob), ["alice"]);
    assert_eq!(aliases(&carol), ["dave"]);
    assert_eq!(carol.contacts().unwrap()[0].state, "pending");

    // A raw connection with bytes that are no one's tag: alice's node answers with nothing at all.
    let mut probe = TcpStream::connect(("127.0.0.1", alice.port)).unwrap();
    probe
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    probe.write_all(&[0x42; 200]).unwrap();
    let mut answer = Vec::new();
    let _ = probe.read_to_end(&mut answer);
    assert!(answer.is_empty(), "a stranger got {} bytes", answer.len());
}

/// Forwards every connection on a port to `to`, keeping a copy of what crossed each way.
fn recording_proxy(to: u16) -> (u16, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let record = log.clone();
    std::thread::spawn(move || {
        for inbound in listener.incoming().flatten() {
            let Ok(outbound) = TcpStream::connect(("127.0.0.1", to)) else {
                continue;
            };
            for (mut from, mut into) in [
                (inbound.try_clone().unwrap(), outbound.try_clone().unwrap()),
                (outbound, inbound),
            ] {
                let record = record.clone();
                let slot = {
                    let mut log = record.lock().unwrap();
                    log.push(Vec::new());
                    log.len() - 1
                };
                std::thread::spawn(move || {
                    let mut buffer = [0u8; 65536];
                    while let Ok(n) = from.read(&mut buffer) {
                        if n == 0 || into.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                        record.lock().unwrap()[slot].extend_from_slice(&buffer[..n]);
                    }
                    let _ = into.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
    (port, log)
}

#[test]
fn what_carol_records_on_the_wire_has_no_text_no_names_no_keys_and_no_repeating_tags() {
    let root = scratch();
    let tools = Tools::locate().unwrap();
    // Names long enough that random ciphertext cannot hold them by chance (a 3-byte "bob" turns
    // up in ~100 KB of it about once in 200 runs); the search is for the names all the same.
    let mut alice = Person::init(&tools, root.path(), "alice-mnemosyne").unwrap();
    let mut bob = Person::init(&tools, root.path(), "bob-hyperion").unwrap();
    let (proxy, recorded) = recording_proxy(bob.port);
    // Only alice dials, and only through carol's recorder.
    alice.configure(&[proxy], false, "loopback").unwrap();
    bob.configure(&[], false, "loopback").unwrap();
    introduce(&alice, &bob).unwrap();
    alice.serve().unwrap();
    bob.serve().unwrap();
    wait_for_contact(&alice, &bob).unwrap();
    let secret = "meet at the old bridge at noon";
    alice.cli(&["send", &bob.name, "--text", secret]).unwrap();
    bob.cli(&["send", &alice.name, "--text", "see you there"])
        .unwrap();
    wait_for_delivery(&alice, &bob, 1, Duration::from_secs(30)).unwrap();
    wait_for_delivery(&bob, &alice, 1, Duration::from_secs(30)).unwrap();
    alice.stop().unwrap();
    bob.stop().unwrap();

    let recorded = recorded.lock().unwrap().clone();
    assert!(
        recorded.len() >= 4,
        "a handshake and a sync connection, both ways"
    );
    let keys: Vec<[u8; 32]> = [&alice, &bob]
        .iter()
        .map(|p| {
            *p.link()
                .unwrap()
                .parse::<ContactLink>()
                .unwrap()
                .public_key()
        })
        .collect();
    let all: Vec<u8> = recorded.concat();
    let contains = |needle: &[u8]| all.windows(needle.len()).any(|w| w == needle);
    for needle in [
        secret.as_bytes(),
        b"see you there",
        alice.name.as_bytes(),
        bob.name.as_bytes(),
        &keys[0],
        &keys[1],
    ] {
        assert!(
            !contains(needle),
            "{:?} crossed the wire",
            String::from_utf8_lossy(needle)
        );
    }
    let mut tags: Vec<&[u8]> = recorded
        .iter()
        .filter(|s| s.len() >= 16)
        .map(|s| &s[..16])
        .collect();
    let streams = tags.len();
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), streams, "every stream starts with a fresh tag");
    // After its tag and header, a stream is whole frames of one size: lengths leak nothing finer.
    let start = 16 + HEADER_LEN;
    for stream in recorded.iter().filter(|s| s.len() > start) {
        assert_eq!(
            (stream.len() - start) % (8 * 1024),
            0,
            "a stream of {} bytes",
            stream.len()
        );
    }
}

/// Two thousand strangers connect to alice's node, which may open only 1,024 files, and hold on; two
/// hundred of them trickle one byte a second. Bob, back on a port alice has not heard of (so his own
/// connection has to get in past the crowd), still connects and delivers within 2 s of trying; once
/// the strangers leave, alice's node is back to the memory it started with.
#[test]
fn two_thousand_strangers_cannot_lock_bob_out_of_a_node_with_1024_descriptors() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    let root = scratch();
    let (mut alice, mut bob) = pair(root.path()).unwrap();
    bob.stop().unwrap();
    alice.stop().unwrap();
    alice.configure(&[], false, "loopback").unwrap();
    alice.wrap(&["prlimit", "--nofile=1024:1024", "--"]);
    // Bob moves to a port alice has not been told, so only his own dial can reach her.
    let move_bob = |bob: &mut courier_e2e::Person, alice_port| {
        bob.port = courier_e2e::free_port().unwrap();
        bob.configure(&[alice_port], false, "loopback").unwrap();
    };
    move_bob(&mut bob, alice.port);
    alice.serve().unwrap();
    // One session first, so both readings of alice's memory come after her caches have warmed.
    bob.cli(&["send", "alice", "--text", "before the crowd"])
        .unwrap();
    bob.serve().unwrap();
    wait_for_delivery(&bob, &alice, 1, Duration::from_secs(30)).unwrap();
    bob.stop().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let resident_before = alice.resident_kib().unwrap();

    // This test process holds the strangers' ends, so it needs more descriptors than they number.
    let raised = std::process::Command::new("prlimit")
        .args([
            "--pid",
            &std::process::id().to_string(),
            "--nofile=8192:8192",
        ])
        .status()
        .unwrap();
    assert!(
        raised.success(),
        "prlimit could not raise this test's descriptor limit"
    );
    let mut strangers = Vec::new();
    for _ in 0..2000 {
        if let Ok(s) =
            TcpStream::connect_timeout(&([127, 0, 0, 1], alice.port).into(), Duration::from_secs(2))
        {
            strangers.push(s);
        }
    }
    assert!(
        strangers.len() >= 1900,
        "only {} of 2,000 strangers could connect",
        strangers.len()
    );
    let trickling: Vec<TcpStream> = strangers[..200]
        .iter()
        .map(|s| s.try_clone().unwrap())
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let trickle = std::thread::spawn(move || {
        let mut trickling = trickling;
        while !stopped.load(Ordering::Relaxed) {
            for s in &mut trickling {
                let _ = s.write_all(&[0x42]);
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    std::thread::sleep(Duration::from_secs(2));

    // Bob's new port is chosen only now: chosen before, one of the strangers' 2,000 ephemeral ports
    // could take it (about one run in fifteen), and his node could not listen.
    move_bob(&mut bob, alice.port);
    bob.cli(&["send", "alice", "--text", "through the crowd"])
        .unwrap();
    let alice_db = alice.database().unwrap();
    let from_bob = alice_db.contact("bob").unwrap();
    bob.serve().unwrap();
    let trying = Instant::now();
    while alice_db.received(from_bob).unwrap().len() < 2 {
        assert!(
            trying.elapsed() < Duration::from_secs(2),
            "bob's message did not reach alice within 2 s of his node dialing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let delivered_in = trying.elapsed();
    assert!(alice.pid().is_some(), "alice's node kept running");
    bob.stop().unwrap();

    stop.store(true, Ordering::Relaxed);
    trickle.join().unwrap();
    drop(strangers);
    std::thread::sleep(Duration::from_secs(3));
    let resident_after = alice.resident_kib().unwrap();
    eprintln!(
        "bob delivered in {:.2} s through 2,000 strangers; alice's node {resident_before} KiB before, \
         {resident_after} KiB after",
        delivered_in.as_secs_f64()
    );
    assert!(
        resident_after * 10 <= resident_before * 11,
        "alice's node holds {resident_after} KiB after the strangers left, over 10% more than the \
         {resident_before} KiB it started with"
    );
    alice.stop().unwrap();
}
