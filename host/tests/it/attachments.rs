//! A 25 MB attachment between two real databases, cut off at 60% and resumed: the chunks bob acked are
//! never sent again, and the file he puts together is the one alice sent.

use std::collections::HashMap;

use courier_host::storage::{ConversationStore, Database, Passphrase};
use courier_host::sync::attachment::{self, MANIFEST_TYPE};
use courier_host::sync::record::Record;
use courier_host::sync::session::{Mode, Session};

const LATENCY: u64 = 30_000;

fn open(dir: &std::path::Path, name: &str) -> Database {
    Database::open(
        &dir.join(format!("{name}.db")),
        &Passphrase::new(format!("{name} pass")).unwrap(),
    )
    .unwrap()
}

/// Runs one duplex session in which at most `budget` message records reach bob before the link drops;
/// returns how many message records alice sent.
fn session(
    alice: &mut Database,
    to_bob: i64,
    bob: &mut Database,
    from_alice: i64,
    now: u64,
    budget: usize,
) -> usize {
    let mut a = ConversationStore::new(alice, to_bob, LATENCY);
    let mut b = ConversationStore::new(bob, from_alice, LATENCY);
    let (mut sa, mut sb) = (Session::new(Mode::Duplex), Session::new(Mode::Duplex));
    let (mut to_b, mut to_a) = (
        sa.start(&mut a, now).unwrap(),
        sb.start(&mut b, now).unwrap(),
    );
    let (mut sent, mut delivered) = (0, 0);
    while !to_a.is_empty() || !to_b.is_empty() {
        let mut replies_to_a = Vec::new();
        for record in to_b.drain(..) {
            if matches!(record, Record::Message(_)) {
                sent += 1;
                if delivered == budget {
                    continue; // the link is down: this and every later message is lost
                }
                delivered += 1;
            }
            replies_to_a.extend(sb.handle(record, &mut b, now).unwrap());
        }
        let replies_to_b: Vec<Record> = to_a
            .drain(..)
            .flat_map(|r| sa.handle(r, &mut a, now).unwrap())
            .collect();
        to_a = replies_to_a;
        to_b = replies_to_b;
    }
    sent
}

#[test]
fn a_25_mb_attachment_interrupted_at_60_percent_resumes_without_resending_acked_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, mut bob) = (open(dir.path(), "alice"), open(dir.path(), "bob"));
    let to_bob = alice.add_contact("bob").unwrap();
    let from_alice = bob.add_contact("alice").unwrap();

    let voice_note: Vec<u8> = (0..25 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let (manifest, chunks) = attachment::split(&voice_note, "courier/voice", 1_000).unwrap();
    let total = chunks.len() + 1;
    alice.queue(to_bob, &manifest).unwrap();
    for chunk in &chunks {
        alice.queue(to_bob, chunk).unwrap();
    }

    let cut = total * 6 / 10;
    assert_eq!(
        session(&mut alice, to_bob, &mut bob, from_alice, 0, cut),
        total,
        "first try sends everything"
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
