//! A one-way medium between two real nodes: the node's simplex links, end to end through real sockets
//! and a real simplex transport component (`tests/plugins/one-way`, each connection one stream).

use std::path::Path;
use std::time::Duration;

use courier_node::{Notice, Pacing};
use courier_storage::{Delivery, OutgoingState};

use crate::two_nodes::{Side, free_port, introduce, send, texts_from, wait_for, wait_until};

const PLUGINS: &[&str] = &["transport-lan", "one-way"];

fn lan(port: u16, peer: u16) -> String {
    format!(
        "[transports.lan]\nplugin = \"transport-lan\"\n\
         grant = [\"tcp\", \"mdns\", \"log\", \"clock\"]\ntcp_scope = \"loopback\"\n\
         settings = {{ port = {port}, mdns = false, redial-ms = 100, static-peers = [\"127.0.0.1:{peer}\"] }}\n"
    )
}

/// The one-way medium on `port`, dialing `peer` every `redial_ms`.
fn one_way(port: u16, peer: u16, redial_ms: u64) -> String {
    format!(
        "[transports.one-way]\nplugin = \"one-way\"\ngrant = [\"tcp\"]\ntcp_scope = \"loopback\"\n\
         settings = {{ port = {port}, peer = \"127.0.0.1:{peer}\", redial-ms = {redial_ms} }}\n"
    )
}

/// Alice and bob, contacts since a handshake over the LAN (a handshake needs both directions), when
/// neither had the one-way medium; and free ports for it.
fn met(root: &Path) -> (Side, Side, u16, u16) {
    let alice = Side::new(root, "alice", PLUGINS);
    let bob = Side::new(root, "bob", PLUGINS);
    let [a_lan, b_lan, a_way, b_way] = [(); 4].map(|()| free_port());
    let a = alice.start(&alice.config(&lan(a_lan, b_lan)), Pacing::default());
    let b = bob.start(&bob.config(&lan(b_lan, a_lan)), Pacing::default());
    introduce((&alice, &a), (&bob, &b));
    a.stop().unwrap();
    b.stop().unwrap();
    (alice, bob, a_way, b_way)
}

fn states(db: &courier_storage::Database, alias: &str) -> Vec<Delivery> {
    db.conversation(db.contact(alias).unwrap())
        .unwrap()
        .iter()
        .filter(|e| matches!(e.delivery, Delivery::Outgoing(_)))
        .map(|e| e.delivery)
        .collect()
}

#[test]
fn alice_writes_bob_over_a_one_way_medium_added_after_they_met_and_his_acks_come_back_on_his_own_streams()
 {
    let root = tempfile::tempdir().unwrap();
    let (alice, bob, a_way, b_way) = met(root.path());

    // Both configure the one-way medium and nothing else: its keys come from the chain of its latency
    // class, started at the handshake, so no re-adding. Every connection carries one stream, one way.
    let a = alice.start(
        &alice.config(&one_way(a_way, b_way, 200)),
        Pacing::default(),
    );
    let b = bob.start(&bob.config(&one_way(b_way, a_way, 200)), Pacing::default());
    let mut alice_db = alice.db();
    for text in ["one", "two", "three"] {
        send(&mut alice_db, "bob", text);
    }
    a.handle.wake();
    let mut received = 0;
    wait_for(&b.notices, "alice's three texts at bob", |n| {
        if let Notice::Received { count, .. } = n {
            received += count;
        }
        received >= 3
    });
    let bob_db = bob.db();
    assert_eq!(texts_from(&bob_db, "alice"), ["one", "two", "three"]);

    // Bob's own streams carry his acks back: nobody answers on a one-way channel.
    wait_until("bob's acks at alice", || {
        states(&alice_db, "bob") == [Delivery::Outgoing(OutgoingState::Acked); 3]
    });
    let way = b.handle.transports().expect("bob's node runs");
    assert_eq!(
        (
            way[0].transport.as_str(),
            way[0].simplex,
            way[0].contacts_linked.len()
        ),
        ("test-one-way", true, 0),
        "a simplex link runs no sync session"
    );

    // Many more streams each way (one every 200 ms), each a fresh tag: nothing is stored twice.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(texts_from(&bob_db, "alice"), ["one", "two", "three"]);
    a.stop().unwrap();
    b.stop().unwrap();
    assert_eq!(texts_from(&bob.db(), "alice"), ["one", "two", "three"]);
    assert_eq!(
        states(&alice.db(), "bob"),
        [Delivery::Outgoing(OutgoingState::Acked); 3]
    );
}

#[test]
fn three_megabytes_leave_alice_in_streams_of_at_most_a_mebibyte_one_after_another() {
    let root = tempfile::tempdir().unwrap();
    let (alice, bob, a_way, b_way) = met(root.path());
    let mut texts: Vec<String> = (0..48).map(|i| format!("{i:02}").repeat(30_000)).collect();
    texts.extend(["and", "three", "short"].map(str::to_owned));
    let mut alice_db = alice.db();
    for text in &texts {
        send(&mut alice_db, "bob", text);
    }

    // Alice's medium dials once a minute; no stream holds more than a mebibyte, so only the node
    // opening the next stream at once, while more is owed, gets all of it to bob in time.
    let b = bob.start(&bob.config(&one_way(b_way, a_way, 200)), Pacing::default());
    let a = alice.start(
        &alice.config(&one_way(a_way, b_way, 60_000)),
        Pacing::default(),
    );
    let bob_db = bob.db();
    wait_until("3 MB at bob", || {
        texts_from(&bob_db, "alice").len() == texts.len()
    });
    assert_eq!(
        texts_from(&bob_db, "alice"),
        texts,
        "each text once, in order"
    );
    wait_until("bob's acks at alice", || {
        states(&alice_db, "bob") == vec![Delivery::Outgoing(OutgoingState::Acked); texts.len()]
    });
    a.stop().unwrap();
    b.stop().unwrap();
}
