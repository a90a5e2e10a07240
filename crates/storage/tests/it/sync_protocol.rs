//! Real SQLCipher files under the sync protocol: durable queueing, encryption at rest, and exactly-once
//! delivery across a crash between storing a message and acking it.

use std::path::Path;

use courier_proto::sync::record::{Message, Record};
use courier_proto::sync::session::SyncStore;
use courier_proto::sync::timer::Timer;
use courier_storage::{ConversationStore, Database, OutgoingState, Passphrase, StorageError};

use crate::sync_session::sync_session;

const LATENCY: u64 = 30_000;
/// When the handshake agreed keys start, and a time two days later.
const START_MS: u64 = 1_700_000_000_000;
const LATER_MS: u64 = START_MS + 2 * 86_400_000;

fn pass(p: &str) -> Passphrase {
    Passphrase::new(p.into()).unwrap()
}

fn text(body: &str, t: u64) -> Message {
    Message {
        timestamp_ms: t,
        content_type: "courier/text".into(),
        type_version: 1,
        fallback: String::new(),
        body: body.as_bytes().to_vec(),
    }
}

/// A session in which, when `lose_acks_to_a`, the acks travelling to `a` are lost (a crash of `b` right
/// after it stored, before its acks left).
fn sync(a: &mut impl SyncStore, b: &mut impl SyncStore, now: u64, lose_acks_to_a: bool) {
    sync_session(
        a,
        b,
        now,
        |_| true,
        |r| !(lose_acks_to_a && matches!(r, Record::Ack(_))),
    );
}

fn open(dir: &Path, name: &str) -> Database {
    Database::open(
        &dir.join(format!("{name}.db")),
        &pass(&format!("{name}'s passphrase")),
    )
    .unwrap()
}

#[test]
fn a_queued_message_survives_a_restart_and_is_unreadable_without_the_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alice.db");
    {
        let mut db = Database::open(&path, &pass("correct horse")).unwrap();
        let bob = db.add_contact("bob").unwrap();
        db.queue(bob, &text("meet at the north gate", 1)).unwrap();
        // Dropped without any shutdown step, as a killed process would be.
    }
    let err = Database::open(&path, &pass("wrong horse")).unwrap_err();
    assert!(matches!(err, StorageError::WrongPassphrase { .. }), "{err}");
    assert!(err.to_string().contains("COURIER_PASSPHRASE"));
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(10).any(|w| w == b"north gate"),
            "plaintext never reaches the disk"
        );
        assert!(
            !bytes.windows(5).any(|w| w == b"alias"),
            "not even the schema is readable"
        );
    }
    let mut db = Database::open(&path, &pass("correct horse")).unwrap();
    let bob = db.contact("bob").unwrap();
    let store = ConversationStore::new(&mut db, bob, LATENCY, Timer::OFF);
    assert_eq!(store.due(0, 10).unwrap().len(), 1);
    assert!(matches!(
        db.contact("carol"),
        Err(StorageError::UnknownContact(_))
    ));
    assert!(matches!(
        Passphrase::new(String::new()),
        Err(StorageError::EmptyPassphrase)
    ));
}

#[test]
fn bob_crashes_after_storing_before_acking_and_still_gets_each_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut alice_db, mut bob_db) = (open(dir.path(), "alice"), open(dir.path(), "bob"));
    let to_bob = alice_db.add_contact("bob").unwrap();
    let from_alice = bob_db.add_contact("alice").unwrap();
    let ids: Vec<_> = (0..20)
        .map(|i| {
            alice_db
                .queue(to_bob, &text(&format!("message {i}"), i))
                .unwrap()
        })
        .collect();

    sync(
        &mut ConversationStore::new(&mut alice_db, to_bob, LATENCY, Timer::OFF),
        &mut ConversationStore::new(&mut bob_db, from_alice, LATENCY, Timer::OFF),
        0,
        true,
    );
    assert_eq!(
        bob_db.received(from_alice).unwrap().len(),
        20,
        "bob stored everything before crashing"
    );
    assert!(
        alice_db.outgoing_state(to_bob, &ids[0]).unwrap() == Some(OutgoingState::Sent),
        "no ack reached alice"
    );

    // Both restart from their files; alice retransmits once the backoff has passed.
    drop((alice_db, bob_db));
    let (mut alice_db, mut bob_db) = (open(dir.path(), "alice"), open(dir.path(), "bob"));
    let mut alice = ConversationStore::new(&mut alice_db, to_bob, LATENCY, Timer::OFF);
    assert!(
        alice.due(2 * LATENCY - 1, 100).unwrap().is_empty(),
        "nothing is resent before the backoff"
    );
    sync(
        &mut alice,
        &mut ConversationStore::new(&mut bob_db, from_alice, LATENCY, Timer::OFF),
        2 * LATENCY,
        false,
    );

    let received: Vec<String> = bob_db
        .received(from_alice)
        .unwrap()
        .iter()
        .map(|m| String::from_utf8(m.body.clone()).unwrap())
        .collect();
    let expected: Vec<String> = (0..20).map(|i| format!("message {i}")).collect();
    assert_eq!(received, expected, "each message once, in order");
    assert!(
        ids.iter()
            .all(|id| alice_db.outgoing_state(to_bob, id).unwrap() == Some(OutgoingState::Acked))
    );
}

#[test]
fn alice_inits_once_and_adds_bob_by_link_with_clear_errors_for_every_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alice.db");
    let mut db = Database::open(&path, &pass("alice")).unwrap();
    let bob_link = courier_proto::identity::Identity::generate("bob").link();
    assert!(matches!(
        db.add_pending_contact(&bob_link, "bob", 1),
        Err(StorageError::NoIdentity)
    ));

    let alice = courier_proto::identity::Identity::generate("alice");
    db.create_identity(&alice).unwrap();
    assert!(matches!(
        db.create_identity(&alice),
        Err(StorageError::IdentityExists)
    ));

    db.add_pending_contact(&bob_link, "Bob", 2).unwrap();
    assert!(matches!(
        db.add_pending_contact(&bob_link, "bobby", 3),
        Err(StorageError::DuplicateLink)
    ));
    assert!(matches!(
        db.add_pending_contact(&alice.link(), "me", 3),
        Err(StorageError::OwnLink)
    ));
    let carol_link = courier_proto::identity::Identity::generate("carol").link();
    assert!(matches!(
        db.add_pending_contact(&carol_link, "Bob", 3),
        Err(StorageError::DuplicateAlias(_))
    ));
    for (alias, refused) in [
        (
            "\u{1b}[2J",
            "character 1 of the alias is U+001B, a control, bidi or invisible character that can make one name look like another; type the alias without it",
        ),
        (
            "carol\u{202E}gnp.exe",
            "character 6 of the alias is U+202E, a control, bidi or invisible character that can make one name look like another; type the alias without it",
        ),
        (
            "ca\u{200B}rol",
            "character 3 of the alias is U+200B, a control, bidi or invisible character that can make one name look like another; type the alias without it",
        ),
        ("   ", "an alias is 1-64 characters; this one is empty"),
    ] {
        let err = db.add_pending_contact(&carol_link, alias, 3).unwrap_err();
        assert!(matches!(err, StorageError::BadAlias(_)), "{err:?}");
        assert_eq!(err.to_string(), refused, "{alias:?}");
    }
    drop(db);

    let db = Database::open(&path, &pass("alice")).unwrap();
    let reloaded = db.identity().unwrap().expect("identity persisted");
    assert_eq!(reloaded.handshake_public(), alice.handshake_public());
    let pending = db.pending_contacts().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].alias.as_str(), pending[0].link),
        ("Bob", bob_link)
    );
}

#[test]
fn after_the_handshake_both_sides_hold_matching_keys_and_removing_a_contact_removes_everything() {
    use courier_proto::handshake::Handshake;
    use courier_proto::identity::{Identity, safety_number};

    let dir = tempfile::tempdir().unwrap();
    let (mut alice_db, mut bob_db) = (open(dir.path(), "alice"), open(dir.path(), "bob"));
    let (alice, bob) = (Identity::generate("alice"), Identity::generate("bob"));
    alice_db.create_identity(&alice).unwrap();
    bob_db.create_identity(&bob).unwrap();
    alice_db.add_pending_contact(&bob.link(), "bob", 1).unwrap();
    bob_db
        .add_pending_contact(&alice.link(), "alice", 1)
        .unwrap();

    let (mut ha, hello_a) = Handshake::start(alice.secrets().0, bob.handshake_public());
    let (mut hb, hello_b) = Handshake::start(bob.secrets().0, alice.handshake_public());
    let (proof_a, proof_b) = (
        ha.receive_hello(&hello_b).unwrap(),
        hb.receive_hello(&hello_a).unwrap(),
    );
    let to_bob = alice_db
        .complete_handshake("bob", &ha.receive_proof(&proof_b).unwrap(), START_MS)
        .unwrap();
    let from_alice = bob_db
        .complete_handshake("alice", &hb.receive_proof(&proof_a).unwrap(), START_MS)
        .unwrap();
    assert!(
        alice_db.pending_contacts().unwrap().is_empty(),
        "bob is a contact now, not pending"
    );

    // What alice sends with on LAN two days later is what bob expects from her in that period.
    let alice_keys = alice_db
        .transport_keys(to_bob, "lan", LATENCY, LATER_MS)
        .unwrap();
    let bob_keys = bob_db
        .transport_keys(from_alice, "lan", LATENCY, LATER_MS)
        .unwrap();
    assert!(
        bob_keys
            .incoming()
            .iter()
            .any(|k| k == alice_keys.outgoing())
    );
    // A drive neither had configured at the handshake reaches the contact all the same: its keys come
    // from the chain of its latency class, which both started then.
    const FOUR_WEEKS: u64 = 28 * 86_400_000;
    let alice_drive = alice_db
        .transport_keys(to_bob, "drive", FOUR_WEEKS, LATER_MS)
        .unwrap();
    let bob_drive = bob_db
        .transport_keys(from_alice, "drive", FOUR_WEEKS, LATER_MS)
        .unwrap();
    assert!(bob_drive.incoming().contains(alice_drive.outgoing()));
    assert_ne!(alice_drive.outgoing(), alice_keys.outgoing());
    assert!(
        matches!(
            alice_db.transport_keys(to_bob, "carrier-pigeon", FOUR_WEEKS + 1, LATER_MS),
            Err(StorageError::NoKeysFor(t)) if t == "carrier-pigeon"
        ),
        "no key period outlasts a latency longer than four weeks"
    );

    // Forward secrecy: once keys moved on, the database cannot give back an earlier period's keys
    // (the root is not stored, and the stored secret was overwritten).
    let earlier = alice_db
        .transport_keys(to_bob, "lan", LATENCY, START_MS)
        .unwrap();
    assert!(earlier.incoming()[0].period >= alice_keys.incoming()[0].period);

    // Both see the same safety number; after comparing, alice marks bob verified.
    assert_eq!(
        safety_number(&alice.handshake_public(), &bob.handshake_public()),
        safety_number(&bob.handshake_public(), &alice.handshake_public())
    );
    assert!(!alice_db.is_verified("bob").unwrap());
    alice_db.mark_verified("bob").unwrap();
    assert!(alice_db.is_verified("bob").unwrap());

    let id = alice_db.queue(to_bob, &text("before removal", 5)).unwrap();
    assert_eq!(
        alice_db.outgoing_state(to_bob, &id).unwrap(),
        Some(OutgoingState::Queued)
    );
    alice_db.remove_contact("bob").unwrap();
    assert_eq!(
        alice_db.outgoing_state(to_bob, &id).unwrap(),
        None,
        "their messages went with them"
    );
    assert!(
        matches!(
            alice_db.transport_keys(to_bob, "lan", LATENCY, LATER_MS),
            Err(StorageError::NoKeys)
        ),
        "and their keys"
    );
    assert!(matches!(
        alice_db.remove_contact("bob"),
        Err(StorageError::UnknownContact(_))
    ));
}
