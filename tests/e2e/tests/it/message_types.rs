//! Message types other than text, between two nodes over the LAN plugin.

use std::time::Duration;

use courier_e2e::{Person, Tools, introduce, wait_for_contact, wait_for_delivery};

use crate::{pair, scratch};

#[test]
fn alice_shares_a_coarsened_location_and_bob_reads_it_without_any_map_service() {
    let root = scratch();
    let (alice, bob) = pair(root.path()).unwrap();
    alice
        .cli(&[
            "send",
            "bob",
            "--location",
            "48.208176,16.373819",
            "--label",
            "the usual cafe",
            "--precision",
            "1000",
        ])
        .unwrap();
    wait_for_delivery(&alice, &bob, 1, Duration::from_secs(30)).unwrap();
    let got = &bob.messages("alice").unwrap()[0];
    assert_eq!(got.content_type, "courier/location");
    assert!(
        got.summary.starts_with("Location: the usual cafe (48.21"),
        "{}",
        got.summary
    );
    assert!(got.summary.ends_with("within 1000 m"), "{}", got.summary);
    // What travelled is the coarse point: the exact coordinates are nowhere in bob's store.
    let stored = String::from_utf8(
        bob.database()
            .unwrap()
            .received(bob.database().unwrap().contact("alice").unwrap())
            .unwrap()[0]
            .body
            .clone(),
    )
    .unwrap();
    assert!(
        stored.starts_with("geo:48.21") && !stored.contains("208176"),
        "{stored}"
    );

    let refused = alice
        .cli(&["send", "bob", "--location", "95,10"])
        .unwrap_err();
    assert!(refused.to_string().contains("latitude"), "{refused}");
}

#[test]
fn bob_asks_alice_for_bitcoin_and_a_request_for_the_wrong_network_never_leaves() {
    let root = scratch();
    let (alice, bob) = pair(root.path()).unwrap();
    let uri =
        "bitcoin:BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4?amount=0.0005&label=Bob&message=rent";
    bob.cli(&["send", "alice", "--payment", uri]).unwrap();
    wait_for_delivery(&bob, &alice, 1, Duration::from_secs(30)).unwrap();
    let got = &alice.messages("bob").unwrap()[0];
    assert_eq!(got.content_type, "courier/payment");
    assert_eq!(
        got.summary,
        "Payment request: 0.0005 BTC to bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4 from Bob for rent"
    );
    let testnet = "bitcoin:tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7";
    let refused = bob
        .cli(&["send", "alice", "--payment", testnet])
        .unwrap_err();
    assert!(refused.to_string().contains("net"), "{refused}");
    let typo = "bitcoin:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5";
    assert!(bob.cli(&["send", "alice", "--payment", typo]).is_err());
    assert_eq!(
        bob.messages("alice").unwrap().len(),
        1,
        "nothing invalid was queued"
    );
}

#[test]
fn bob_lacks_the_location_plugin_sees_a_placeholder_and_the_location_once_he_installs_it() {
    let root = scratch();
    let tools = Tools::locate().unwrap();
    let mut alice = Person::init(&tools, root.path(), "alice").unwrap();
    let mut bob = Person::init(&tools, root.path(), "bob").unwrap();
    bob.without_location = true;
    alice.configure(&[bob.port], false, "loopback").unwrap();
    bob.configure(&[alice.port], false, "loopback").unwrap();
    introduce(&alice, &bob).unwrap();
    alice.serve().unwrap();
    bob.serve().unwrap();
    wait_for_contact(&alice, &bob).unwrap();
    alice
        .cli(&["send", "bob", "--location", "52.52,13.405"])
        .unwrap();
    wait_for_delivery(&alice, &bob, 1, Duration::from_secs(30)).unwrap();
    assert_eq!(
        bob.messages("alice").unwrap()[0].summary,
        "[courier/location]"
    );

    bob.without_location = false;
    bob.configure(&[alice.port], false, "loopback").unwrap();
    let shown = &bob.messages("alice").unwrap()[0].summary;
    assert!(
        shown.starts_with("Location: 52.5"),
        "the payload was kept: {shown}"
    );
}
