//! Contacts tell each other, inside their encrypted sync sessions, where their LAN transport listens;
//! a node dials a contact there when neither mDNS nor a static peer list would find them.

use std::time::Duration;

use courier_e2e::{Person, Tools, introduce, wait_for_contact, wait_for_delivery, wait_until};

use crate::scratch;

#[test]
fn bob_learns_alice_s_address_in_their_first_sync_and_later_dials_her_with_no_peers_configured() {
    let root = scratch();
    let tools = Tools::locate().unwrap();
    let mut alice = Person::init(&tools, root.path(), "alice").unwrap();
    let mut bob = Person::init(&tools, root.path(), "bob").unwrap();
    // Only alice knows where bob is; mDNS is off on both sides.
    alice.configure(&[bob.port], false, "loopback").unwrap();
    bob.configure(&[], false, "loopback").unwrap();
    introduce(&alice, &bob).unwrap();
    alice.serve().unwrap();
    bob.serve().unwrap();
    wait_for_contact(&alice, &bob).unwrap();
    let told = format!("127.0.0.1:{}", alice.port);
    wait_until(
        Duration::from_secs(30),
        "bob's node stores the address alice's node told it",
        || {
            let db = bob.database()?;
            let alice_id = db.contact("alice")?;
            Ok(db
                .peer_property("lan", "address")?
                .contains(&(alice_id, told.clone())))
        },
    )
    .unwrap();

    // Both stop; now nobody has a static peer. Bob writes while alice is away.
    alice.stop().unwrap();
    bob.stop().unwrap();
    alice.configure(&[], false, "loopback").unwrap();
    bob.cli(&["send", "alice", "--text", "found you without a peer list"])
        .unwrap();
    alice.serve().unwrap();
    bob.serve().unwrap();
    wait_for_delivery(&bob, &alice, 1, Duration::from_secs(30)).unwrap();
    let got = alice.messages("bob").unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].summary, "found you without a peer list");
}
