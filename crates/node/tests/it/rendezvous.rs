//! What a node announces on the LAN and how it recognises streams, with real databases: tags only a
//! contact can match, that change with the rotation period, and stream state that survives restarts.

use courier_node::keyring::Keyring;
use courier_proto::handshake::Handshake;
use courier_proto::identity::Identity;
use courier_proto::transport_security::tag_window::tag;
use courier_proto::transport_security::transport_keys::{latency_class, rotation_period_ms};
use courier_storage::{Database, Passphrase, Peer};

const LATENCY: u64 = 30_000;
const NOW: u64 = 1_800_000_000_000;

struct Node {
    db: Database,
    identity: Identity,
    keyring: Keyring,
}

fn node(dir: &std::path::Path, name: &str) -> Node {
    let mut db = Database::open(
        &dir.join(format!("{name}.db")),
        &Passphrase::new(format!("{name} pass")).unwrap(),
    )
    .unwrap();
    let identity = Identity::generate(name);
    db.create_identity(&identity).unwrap();
    Node {
        db,
        identity,
        keyring: Keyring::new("lan", LATENCY),
    }
}

/// Alice and Bob as contacts (handshake done), and Carol, a contact of neither with a pending contact
/// of her own.
fn three(dir: &std::path::Path) -> (Node, Node, Node) {
    let (mut alice, mut bob, mut carol) =
        (node(dir, "alice"), node(dir, "bob"), node(dir, "carol"));
    alice
        .db
        .add_pending_contact(&bob.identity.link(), "bob", NOW)
        .unwrap();
    bob.db
        .add_pending_contact(&alice.identity.link(), "alice", NOW)
        .unwrap();
    carol
        .db
        .add_pending_contact(&Identity::generate("dave").link(), "dave", NOW)
        .unwrap();
    let (mut ha, hello_a) =
        Handshake::start(alice.identity.secrets().0, bob.identity.handshake_public());
    let (mut hb, hello_b) =
        Handshake::start(bob.identity.secrets().0, alice.identity.handshake_public());
    let (proof_a, proof_b) = (
        ha.receive_hello(&hello_b).unwrap(),
        hb.receive_hello(&hello_a).unwrap(),
    );
    alice
        .db
        .complete_handshake("bob", &ha.receive_proof(&proof_b).unwrap(), NOW)
        .unwrap();
    bob.db
        .complete_handshake("alice", &hb.receive_proof(&proof_a).unwrap(), NOW)
        .unwrap();
    for n in [&mut alice, &mut bob, &mut carol] {
        n.keyring.refresh(&mut n.db, &n.identity, NOW).unwrap();
    }
    (alice, bob, carol)
}

#[test]
fn announcements_match_only_for_the_contact_and_change_every_rotation_period() {
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, bob, carol) = three(dir.path());
    let today = alice.keyring.announced_tags(NOW);
    assert_eq!(today.len(), 1);
    assert!(
        bob.keyring.peer_for_tag(&today[0], NOW).is_some(),
        "bob finds alice"
    );
    assert!(
        carol.keyring.peer_for_tag(&today[0], NOW).is_none(),
        "carol does not"
    );
    assert!(!today[0].contains("alice") && today[0].len() == 16);

    // A LAN's keys rotate with its latency class (a day), not its own 30 s.
    let tomorrow_ms = NOW + rotation_period_ms(latency_class(LATENCY).unwrap());
    assert!(
        alice
            .keyring
            .refresh(&mut alice.db, &alice.identity, tomorrow_ms)
            .unwrap(),
        "keys rotated"
    );
    let tomorrow = alice.keyring.announced_tags(tomorrow_ms);
    assert_ne!(
        today, tomorrow,
        "a new period, a new tag: strangers cannot link the two"
    );
    let mut bob = bob;
    bob.keyring
        .refresh(&mut bob.db, &bob.identity, tomorrow_ms)
        .unwrap();
    assert!(
        bob.keyring
            .peer_for_tag(&tomorrow[0], tomorrow_ms)
            .is_some(),
        "bob still finds alice"
    );

    // Carol's own announcement (for her pending contact) rotates too, and means nothing to alice.
    let carol_today = carol.keyring.announced_tags(NOW);
    assert_ne!(carol_today, carol.keyring.announced_tags(tomorrow_ms));
    assert!(alice.keyring.peer_for_tag(&carol_today[0], NOW).is_none());
}

#[test]
fn a_stream_seen_before_a_restart_is_refused_after_it_and_stream_numbers_never_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, mut bob, _) = three(dir.path());
    let to_bob = alice.db.contacts().unwrap()[0].id;
    let from_alice = bob.db.contacts().unwrap()[0].id;
    let keys = alice
        .keyring
        .outgoing(Peer::Contact(to_bob))
        .unwrap()
        .clone();
    let first = alice
        .db
        .take_stream_number(Peer::Contact(to_bob), "lan", keys.period)
        .unwrap();
    let stream_tag = tag(&keys.tag_key, first);
    let seen = bob
        .keyring
        .recognise(&mut bob.db, &stream_tag)
        .unwrap()
        .unwrap();
    assert_eq!(seen.peer, Peer::Contact(from_alice));

    // Both restart: a fresh keyring over the same databases.
    drop((alice.keyring, bob.keyring));
    let mut bob_again = Keyring::new("lan", LATENCY);
    bob_again.refresh(&mut bob.db, &bob.identity, NOW).unwrap();
    assert!(
        bob_again
            .recognise(&mut bob.db, &stream_tag)
            .unwrap()
            .is_none(),
        "a replay after a restart"
    );
    let next = alice
        .db
        .take_stream_number(Peer::Contact(to_bob), "lan", keys.period)
        .unwrap();
    assert_eq!(next, first + 1);
    assert!(
        bob_again
            .recognise(&mut bob.db, &tag(&keys.tag_key, next))
            .unwrap()
            .is_some()
    );
}
