//! A 25 MB attachment between two real databases, cut off at 60% and resumed: the chunks bob acked are
//! never sent again, and the file he puts together is the one alice sent.

use courier_proto::sync::timer::Timer;
use std::collections::HashMap;

use courier_proto::sync::attachment::{self, MANIFEST_TYPE};
use courier_proto::sync::record::{ContentTypeRange, Record};
use courier_proto::sync::session::{Mode, REQUEST_WINDOW, Session, SyncStore};
use courier_storage::{
    ConversationStore, Database, Draft, Durability, Passphrase, Payload, StorageError,
};

use crate::sync_session::sync_session;

const LATENCY: u64 = 30_000;

fn open(dir: &std::path::Path, name: &str) -> Database {
    Database::open(
        &dir.join(format!("{name}.db")),
        &Passphrase::new(format!("{name} pass")).unwrap(),
    )
    .unwrap()
}

/// One session in which at most `budget` message records reach bob before the link drops; returns how
/// many message records alice sent.
fn session(
    alice: &mut Database,
    to_bob: i64,
    bob: &mut Database,
    from_alice: i64,
    now: u64,
    budget: usize,
) -> usize {
    let mut delivered = 0;
    let link_up = |r: &Record| {
        if !matches!(r, Record::Message(_)) {
            return true;
        }
        delivered += 1;
        delivered <= budget
    };
    sync_session(
        &mut ConversationStore::new(alice, to_bob, LATENCY, Timer::OFF),
        &mut ConversationStore::new(bob, from_alice, LATENCY, Timer::OFF),
        now,
        link_up,
        |_| true,
    )
}

/// Alice's and bob's databases in `dir`, each with the other as a contact: (alice, her id for bob,
/// bob, his id for alice).
fn contacts(dir: &std::path::Path) -> (Database, i64, Database, i64) {
    let (mut alice, mut bob) = (open(dir, "alice"), open(dir, "bob"));
    let to_bob = alice.add_contact("bob").unwrap();
    let from_alice = bob.add_contact("alice").unwrap();
    (alice, to_bob, bob, from_alice)
}

#[test]
fn a_25_mb_attachment_interrupted_at_60_percent_resumes_without_resending_acked_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, to_bob, mut bob, from_alice) = contacts(dir.path());

    let voice_note: Vec<u8> = (0..25 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let (manifest, chunks) = attachment::split(&voice_note, "courier/voice", 1, 1_000).unwrap();
    let total = chunks.len() + 1;
    alice.queue(to_bob, &manifest).unwrap();
    for chunk in &chunks {
        alice.queue(to_bob, chunk).unwrap();
    }

    let cut = total * 6 / 10;
    assert_eq!(
        session(&mut alice, to_bob, &mut bob, from_alice, 0, cut),
        cut + REQUEST_WINDOW,
        "a dead link costs at most one request window of chunks sent into the void"
    );
    assert_eq!(bob.received(from_alice).unwrap().len(), cut);

    // Both restart from disk; after the backoff only what bob never acked goes out again.
    drop((alice, bob));
    let (mut alice, mut bob) = (open(dir.path(), "alice"), open(dir.path(), "bob"));
    let resent = session(
        &mut alice,
        to_bob,
        &mut bob,
        from_alice,
        2 * LATENCY,
        usize::MAX,
    );
    assert_eq!(resent, total - cut, "acked chunks are not sent again");

    let received = bob.received(from_alice).unwrap();
    assert_eq!(received.len(), total, "every chunk once");
    let manifest = received
        .iter()
        .find(|m| m.content_type == MANIFEST_TYPE)
        .expect("manifest arrived");
    let manifest = attachment::parse_manifest(&manifest.body).unwrap();
    let bodies: HashMap<_, _> = received.iter().map(|m| (m.id(), m.body.clone())).collect();
    let rebuilt = attachment::assemble(&manifest, |id| bodies.get(id).cloned())
        .expect("all chunks present")
        .unwrap();
    assert!(
        rebuilt == voice_note,
        "the file bob rebuilt is the file alice sent"
    );
}

#[test]
fn an_image_sent_through_the_outbox_shows_as_one_message_that_fills_in_as_its_chunks_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, to_bob, mut bob, from_alice) = contacts(dir.path());
    let image: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let draft = Draft {
        fallback: "image 2048×1536, 293 KB".into(),
        ..Draft::new("courier/image", 1, image.clone())
    };
    let (id, shown) = alice.send(to_bob, draft, 5_000, Timer::OFF).unwrap();
    assert_eq!(shown.content_type, MANIFEST_TYPE);
    let outgoing = alice.conversation(to_bob).unwrap();
    assert_eq!(outgoing.len(), 1, "the chunks are not listed");
    assert_eq!(outgoing[0].id, id);

    // Half the chunks arrive, then the link drops: bob sees one message, still arriving.
    session(&mut alice, to_bob, &mut bob, from_alice, 0, 3);
    let entries = bob.conversation(from_alice).unwrap();
    assert_eq!(entries.len(), 1, "only the manifest is listed: {entries:?}");
    let content = bob.content(from_alice, &entries[0]).unwrap();
    assert_eq!(content.content_type, "courier/image");
    assert_eq!(
        content.payload,
        Payload::Partial {
            received: 2,
            total: 5
        }
    );
    assert_eq!(entries[0].message.fallback, "image 2048×1536, 293 KB");

    session(
        &mut alice,
        to_bob,
        &mut bob,
        from_alice,
        2 * LATENCY,
        usize::MAX,
    );
    let entries = bob.conversation(from_alice).unwrap();
    let content = bob.content(from_alice, &entries[0]).unwrap();
    assert!(
        content.payload == Payload::Complete(image),
        "the image bob reads is the one alice sent"
    );
    assert_eq!(content.version, 1);
}

#[test]
fn a_session_tells_the_peer_which_content_types_and_versions_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mut bob = open(dir.path(), "bob");
    let from_alice = bob.add_contact("alice").unwrap();
    let announced = vec![
        ContentTypeRange {
            content_type: "courier/image".into(),
            min: 1,
            max: 2,
        },
        ContentTypeRange {
            content_type: "courier/text".into(),
            min: 1,
            max: 1,
        },
    ];
    let mut alice_session = Session::new(Mode::Duplex).announcing(announced.clone());
    let mut alice = open(dir.path(), "alice");
    let to_bob = alice.add_contact("bob").unwrap();
    let opening = alice_session
        .start(
            &mut ConversationStore::new(&mut alice, to_bob, LATENCY, Timer::OFF),
            0,
        )
        .unwrap();
    let mut bob_session = Session::new(Mode::Duplex);
    {
        let mut store = ConversationStore::new(&mut bob, from_alice, LATENCY, Timer::OFF);
        for record in opening {
            bob_session.handle(record, &mut store, 0).unwrap();
        }
    }
    assert_eq!(bob.peer_content_types(from_alice).unwrap(), announced);
}

/// The `.pack` files in the chunk folder beside the database `name` in `dir`.
fn packs(dir: &std::path::Path, name: &str) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(dir.join(format!("{name}.db.chunks"))) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn attachment_chunks_live_sealed_beside_the_database_survive_a_reopen_and_go_with_the_contact() {
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, to_bob, mut bob, from_alice) = contacts(dir.path());
    let document: Vec<u8> = b"confidential minutes of the meeting; "
        .iter()
        .copied()
        .cycle()
        .take(1_000_000)
        .collect();
    alice
        .send(
            to_bob,
            Draft::new("courier/file", 1, document.clone()),
            1_000,
            Timer::OFF,
        )
        .unwrap();
    session(&mut alice, to_bob, &mut bob, from_alice, 0, usize::MAX);

    for name in ["alice", "bob"] {
        let files = packs(dir.path(), name);
        assert_eq!(files.len(), 1, "{name} keeps one pack for this contact");
        let sealed = std::fs::read(&files[0]).unwrap();
        assert!(
            sealed.len() > document.len(),
            "{name}'s pack holds the chunks"
        );
        assert!(
            !sealed.windows(12).any(|w| w == b"confidential"),
            "{name}'s pack holds the chunks sealed, not in the clear"
        );
    }

    // Bob closes and reopens his data: the attachment reads back whole from its pack.
    drop(bob);
    let mut bob = open(dir.path(), "bob");
    let entry = bob.conversation(from_alice).unwrap().remove(0);
    assert!(bob.content(from_alice, &entry).unwrap().payload == Payload::Complete(document));

    // A byte changed on disk shows as a damaged attachment, never as other bytes.
    let pack = packs(dir.path(), "bob").remove(0);
    let mut sealed = std::fs::read(&pack).unwrap();
    sealed[100] ^= 0x20;
    std::fs::write(&pack, &sealed).unwrap();
    match bob.content(from_alice, &entry).unwrap().payload {
        Payload::Damaged(why) => assert!(why.contains("changed or damaged"), "{why}"),
        other => panic!("a changed chunk was read as {other:?}"),
    }

    bob.remove_contact("alice").unwrap();
    assert!(
        packs(dir.path(), "bob").is_empty(),
        "removing alice deleted the chunks she sent"
    );
    assert_eq!(packs(dir.path(), "alice").len(), 1, "alice's side is hers");
}

#[test]
fn a_chunk_packed_by_a_batch_that_never_committed_is_stored_again_and_reads_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, to_bob, mut bob, from_alice) = contacts(dir.path());
    let file: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
    let (manifest, chunks) = attachment::split(&file, "courier/file", 1, 1_000).unwrap();

    // Bob's node dies inside a batch: the first chunk is already in his pack, its row never commits.
    let died: Result<(), StorageError> = bob.batch(Durability::Full, |db| {
        ConversationStore::new(db, from_alice, LATENCY, Timer::OFF)
            .store_incoming(&chunks[0].id(), chunks[0].clone())
            .unwrap();
        Err(StorageError::Corrupt("the process died here"))
    });
    assert!(died.is_err());
    assert!(
        bob.received(from_alice).unwrap().is_empty(),
        "nothing of the batch is stored"
    );
    let dead = std::fs::metadata(&packs(dir.path(), "bob")[0])
        .unwrap()
        .len();
    assert!(
        dead > chunks[0].body.len() as u64,
        "the dead chunk's bytes are in the pack"
    );

    // The chunk comes again with the rest, lands after the dead bytes, and the file reads whole.
    for message in chunks.iter().chain([&manifest]) {
        alice.queue(to_bob, message).unwrap();
    }
    session(&mut alice, to_bob, &mut bob, from_alice, 0, usize::MAX);
    let entry = bob.conversation(from_alice).unwrap().remove(0);
    assert!(bob.content(from_alice, &entry).unwrap().payload == Payload::Complete(file));
}

/// The content of every message in `db`'s conversation with `contact`, in order.
fn contents(db: &Database, contact: i64) -> Vec<Payload> {
    db.conversation(contact)
        .unwrap()
        .iter()
        .map(|entry| db.content(contact, entry).unwrap().payload)
        .collect()
}

#[test]
fn a_lost_or_cut_pack_damages_only_its_attachment_and_the_same_file_sent_again_makes_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, to_bob, mut bob, from_alice) = contacts(dir.path());
    let file: Vec<u8> = (0..300_000u32).map(|i| (i % 239) as u8).collect();
    let (manifest, chunks) = attachment::split(&file, "courier/file", 1, 2_000).unwrap();
    let text = |body: &str, at: u64| courier_proto::sync::record::Message {
        timestamp_ms: at,
        content_type: "courier/text".into(),
        type_version: 1,
        fallback: String::new(),
        body: body.as_bytes().to_vec(),
    };
    let attachment: Vec<_> = chunks.iter().chain([&manifest]).cloned().collect();
    for message in [text("before", 1_000)]
        .iter()
        .chain(&attachment)
        .chain(&[text("after", 3_000)])
    {
        alice.queue(to_bob, message).unwrap();
    }
    session(&mut alice, to_bob, &mut bob, from_alice, 0, usize::MAX);
    let whole = Payload::Complete(file.clone());
    let texts = |shown: &[Payload]| (shown[0].clone(), shown[2].clone());
    let before_and_after = (
        Payload::Complete(b"before".to_vec()),
        Payload::Complete(b"after".to_vec()),
    );
    assert_eq!(contents(&bob, from_alice)[1], whole);

    // The pack is cut short, then lost altogether: the conversation still lists, texts and all.
    let pack = packs(dir.path(), "bob").remove(0);
    let sealed = std::fs::read(&pack).unwrap();
    for damage in ["cut", "lost"] {
        match damage {
            "cut" => std::fs::write(&pack, &sealed[..sealed.len() / 2]).unwrap(),
            _ => std::fs::remove_file(&pack).unwrap(),
        }
        let shown = contents(&bob, from_alice);
        assert_eq!(shown.len(), 3, "{damage}: every message is listed");
        assert_eq!(
            texts(&shown),
            before_and_after,
            "{damage}: texts read whole"
        );
        match &shown[1] {
            Payload::Damaged(why) => assert!(
                why.contains("is missing, or was changed or damaged on disk")
                    && why.ends_with("ask the contact to send it again"),
                "{damage}: {why}"
            ),
            other => panic!("{damage}: a damaged attachment read as {other:?}"),
        }
    }

    // Alice sends the same file again (the same messages, so the same content-addressed ids, as a
    // restored device would): bob stores the chunks whose bodies he lost, and the file is whole.
    let mut again = open(dir.path(), "alice-again");
    let to_bob_again = again.add_contact("bob").unwrap();
    for message in &attachment {
        again.queue(to_bob_again, message).unwrap();
    }
    session(
        &mut again,
        to_bob_again,
        &mut bob,
        from_alice,
        0,
        usize::MAX,
    );
    let shown = contents(&bob, from_alice);
    assert_eq!(shown.len(), 3, "the attachment is not listed twice");
    assert!(shown[1] == whole, "the file bob reads is whole again");
    assert_eq!(texts(&shown), before_and_after);
    assert_eq!(
        bob.received(from_alice).unwrap().len(),
        2 + attachment.len(),
        "each chunk is stored once"
    );
}

#[test]
fn a_lost_outgoing_pack_holds_up_nothing_behind_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, to_bob, mut bob, from_alice) = contacts(dir.path());
    let file: Vec<u8> = (0..200_000u32).map(|i| (i % 233) as u8).collect();
    alice
        .send(
            to_bob,
            Draft::new("courier/file", 1, file),
            1_000,
            Timer::OFF,
        )
        .unwrap();
    alice
        .send(
            to_bob,
            Draft::new("courier/text", 1, b"still here".to_vec()),
            2_000,
            Timer::OFF,
        )
        .unwrap();
    std::fs::remove_file(packs(dir.path(), "alice").remove(0)).unwrap();

    session(&mut alice, to_bob, &mut bob, from_alice, 0, usize::MAX);
    let shown = contents(&bob, from_alice);
    assert_eq!(
        shown.last(),
        Some(&Payload::Complete(b"still here".to_vec())),
        "the text behind the damaged attachment arrives"
    );
    assert!(matches!(contents(&alice, to_bob)[0], Payload::Damaged(_)));
    // The chunks that cannot be read are not offered again in the next session.
    let later = session(
        &mut alice,
        to_bob,
        &mut bob,
        from_alice,
        2 * LATENCY,
        usize::MAX,
    );
    assert_eq!(later, 0, "nothing is sent for the damaged chunks");
}
