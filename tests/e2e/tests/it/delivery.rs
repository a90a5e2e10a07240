//! Messages between two nodes: many at once, and while one side is offline.

use std::time::Duration;

use courier_e2e::{assert_received_once_in_order, wait_for_delivery};

use crate::{pair, scratch};

fn texts(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix} {i:04}")).collect()
}

#[test]
fn a_thousand_messages_each_way_arrive_once_and_in_order() {
    let root = scratch();
    let (alice, bob) = pair(root.path()).unwrap();
    let (to_bob, to_alice) = (texts("from alice", 1000), texts("from bob", 1000));
    alice.queue_texts("bob", &to_bob).unwrap();
    bob.queue_texts("alice", &to_alice).unwrap();
    wait_for_delivery(&alice, &bob, 1000, Duration::from_secs(120)).unwrap();
    wait_for_delivery(&bob, &alice, 1000, Duration::from_secs(120)).unwrap();
    assert_received_once_in_order(&bob, "alice", &to_bob).unwrap();
    assert_received_once_in_order(&alice, "bob", &to_alice).unwrap();
}

#[test]
fn bob_is_offline_alice_queues_bob_comes_back_and_gets_each_message_once() {
    let root = scratch();
    let (alice, mut bob) = pair(root.path()).unwrap();
    alice
        .cli(&["send", "bob", "--text", "are you there?"])
        .unwrap();
    wait_for_delivery(&alice, &bob, 1, Duration::from_secs(30)).unwrap();

    bob.stop().unwrap();
    for text in ["first while you were away", "second", "third"] {
        alice.cli(&["send", "bob", "--text", text]).unwrap();
    }
    std::thread::sleep(Duration::from_secs(1));
    let waiting: Vec<String> = alice
        .messages("bob")
        .unwrap()
        .into_iter()
        .filter(|r| r.state == "queued")
        .map(|r| r.summary)
        .collect();
    assert_eq!(waiting, ["first while you were away", "second", "third"]);

    bob.serve().unwrap();
    wait_for_delivery(&alice, &bob, 4, Duration::from_secs(30)).unwrap();
    let got: Vec<String> = bob
        .messages("alice")
        .unwrap()
        .into_iter()
        .map(|r| r.summary)
        .collect();
    assert_eq!(
        got,
        [
            "are you there?",
            "first while you were away",
            "second",
            "third"
        ]
    );
}
