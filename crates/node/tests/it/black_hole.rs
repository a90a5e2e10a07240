//! A hostile network between two real nodes (real SQLCipher files, real sockets on loopback, the real
//! LAN plugin in wasmtime): what takes a contact's address must not take the contact.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use courier_config::Config;
use courier_node::{Notice, Pacing};
use courier_plugin_host::supervisor::Health;
use courier_proto::transport_security::TAG_LEN;
use courier_proto::transport_security::stream::HEADER_LEN;
use courier_proto::transport_security::tag_window::WINDOW;
use courier_proto::transport_security::transport_keys::{latency_class, period_at};
use courier_storage::{Delivery, OutgoingState, Peer};

use crate::two_nodes::{Side, free_port, introduce, now_ms, send, texts_from, wait_for};

/// The LAN plugin's id and max latency (its `describe`).
const LAN: &str = "lan";
const LAN_MAX_LATENCY_MS: u64 = 30_000;

/// Dials into nowhere are given up after this, and redialed at once: hundreds of dials in a minute.
const IMPATIENT: Pacing = Pacing {
    answer_timeout: Duration::from_millis(150),
    max_redial_backoff: Duration::from_millis(20),
};

/// The LAN transport on loopback `port`, dialing `peer`, without mDNS.
fn lan(side: &Side, port: u16, peer: u16) -> Config {
    side.config(&format!(
        "[transports.lan]\nplugin = \"transport-lan\"\n\
         grant = [\"tcp\", \"mdns\", \"log\", \"clock\"]\ntcp_scope = \"loopback\"\n\
         settings = {{ port = {port}, mdns = false, redial-ms = 100, static-peers = [\"127.0.0.1:{peer}\"] }}\n"
    ))
}

/// Takes bob's port while he is away: reads the start of every stream alice dials into it, answers
/// nothing, and holds every tenth connection open (the rest it drops, as a foreign service would).
fn black_hole(port: u16, dials: usize) -> std::thread::JoinHandle<usize> {
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bob's port is free");
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        let mut swallowed = 0;
        for mut stream in listener.incoming().flatten() {
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let mut start = [0u8; TAG_LEN + HEADER_LEN];
            if stream.read_exact(&mut start).is_ok() {
                swallowed += 1;
                if swallowed % 10 == 0 {
                    held.push(stream);
                }
            }
            if swallowed >= dials {
                break;
            }
        }
        swallowed
    })
}

#[test]
fn a_black_hole_swallows_200_dials_to_bob_and_when_he_returns_they_talk_both_ways_at_once() {
    let root = tempfile::tempdir().unwrap();
    let (pa, pb) = (free_port(), free_port());
    let alice = Side::new(root.path(), "alice", &["transport-lan"]);
    let bob = Side::new(root.path(), "bob", &["transport-lan"]);
    let (alice_lan, bob_lan) = (lan(&alice, pa, pb), lan(&bob, pb, pa));
    // Keys rotate with the LAN's latency class (a day), not its own 30 s.
    let period = period_at(now_ms(), latency_class(LAN_MAX_LATENCY_MS).unwrap());

    let a = alice.start(&alice_lan, IMPATIENT);
    let b = bob.start(&bob_lan, IMPATIENT);
    introduce((&alice, &a), (&bob, &b));

    // Bob goes away; something else takes his port, and alice's message goes into it, again and again.
    b.stop().unwrap();
    let hole = black_hole(pb, 200);
    let mut alice_db = alice.db();
    send(&mut alice_db, "bob", "while you were away");
    a.handle.wake();
    let swallowed = hole.join().unwrap();
    assert_eq!(swallowed, 200, "alice dialed into the black hole 200 times");
    let waiting = alice_db
        .conversation(alice_db.contact("bob").unwrap())
        .unwrap();
    assert_eq!(
        waiting.iter().map(|e| e.delivery).collect::<Vec<_>>(),
        [Delivery::Outgoing(OutgoingState::Sent)],
        "the black hole took the message and acked nothing"
    );

    // Bob is back on his port: one redial reaches him, and both directions flow on the same keys.
    let returned = Instant::now();
    let b = bob.start(&bob_lan, IMPATIENT);
    let mut bob_db = bob.db();
    send(&mut bob_db, "alice", "glad to be back");
    b.handle.wake();
    wait_for(&b.notices, "alice's message at bob", |x| {
        matches!(x, Notice::Received { .. })
    });
    wait_for(&a.notices, "bob's message at alice", |x| {
        matches!(x, Notice::Received { .. })
    });
    let took = returned.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "took {took:?} after bob returned"
    );
    assert_eq!(texts_from(&bob_db, "alice"), ["while you were away"]);
    assert_eq!(texts_from(&alice_db, "bob"), ["glad to be back"]);
    let lan = a.handle.transports().expect("alice's node runs");
    assert_eq!(lan.len(), 1);
    assert_eq!(
        (lan[0].transport.as_str(), lan[0].simplex, lan[0].published),
        ("lan", false, true),
        "alice's node shows its one LAN transport, duplex, telling contacts where it listens"
    );
    assert_eq!(
        lan[0].contacts_linked.len(),
        1,
        "and its live session with bob"
    );
    assert_eq!(lan[0].health, Health::Up);

    // No rotation rescued this: bob recognised alice's stream far past the burned numbers, in the same
    // keys' period (or, if a period boundary passed during the test, the next).
    let from_alice = Peer::Contact(bob_db.contact("alice").unwrap());
    let base = [period, period + 1]
        .iter()
        .map(|p| bob_db.tag_window(from_alice, LAN, *p).unwrap().0)
        .max()
        .unwrap();
    assert!(
        base >= 200 - WINDOW / 2,
        "bob's window for alice starts at stream {base}, not past the 200 burned ones"
    );
    a.stop().unwrap();
    b.stop().unwrap();
    // Exactly once, across the black hole and the return.
    assert_eq!(texts_from(&bob.db(), "alice"), ["while you were away"]);
}
