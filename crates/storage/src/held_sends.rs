//! Sends held until the medium answers: a stream uploaded to a mailbox counts as sent only once the
//! mailbox said it took it, as Briar's mailbox client marks messages sent only after the upload
//! succeeded. Until then its messages are kept from the next stream (for a while), and a refusal
//! makes them due at once instead of a retransmission period (weeks, for a mailbox) later.

use rusqlite::params;

use crate::conversation::Durability;
use crate::sync_store::{HeldSends, owe_ack, record_sent};
use crate::{Database, StorageError};

impl Database {
    /// The medium answered for `held`: `taken`, its messages count as sent when it was written
    /// (their retransmission after `max_latency_ms` runs from then); refused, they are due now and
    /// its acks owed again, for the next stream.
    pub fn settle_held(
        &mut self,
        held: &HeldSends,
        taken: bool,
        max_latency_ms: u64,
    ) -> Result<(), StorageError> {
        // Relaxed, as the write was: a mark lost in a crash costs a message written again, which
        // the reader takes once anyway.
        self.batch(Durability::Relaxed, |db| {
            if taken {
                for id in &held.sent {
                    record_sent(&db.conn, held.contact, id, held.written_ms, max_latency_ms)?;
                }
                return Ok(());
            }
            let mut due_now = db.conn.prepare_cached(
                "UPDATE outgoing SET due_ms = 0 WHERE contact_id = ?1 AND id = ?2 AND acked = 0",
            )?;
            for id in &held.sent {
                due_now.execute(params![held.contact, &id.0[..]])?;
            }
            for id in &held.acks {
                owe_ack(&db.conn, held.contact, id)?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use courier_proto::sync::session::{SyncStore, retransmit_at};
    use courier_proto::sync::timer::Timer;

    use super::*;
    use crate::ContactId;
    use crate::{ConversationStore, Draft, OutgoingState, Passphrase};
    use courier_proto::sync::record::MessageId;

    const LATENCY: u64 = 1_000;

    fn draft(body: &str) -> Draft {
        Draft::new("courier/text", 1, body.as_bytes().to_vec())
    }

    /// Alice's database with bob, one text queued for him and one of his waiting for her ack.
    fn alice() -> (tempfile::TempDir, Database, ContactId, MessageId, MessageId) {
        let dir = tempfile::tempdir().unwrap();
        let pass = Passphrase::new("alice's passphrase".into()).unwrap();
        let mut db = Database::open(&dir.path().join("alice.db"), &pass).unwrap();
        let bob = db.add_contact("bob").unwrap();
        let (ours, _) = db
            .send(bob, draft("the documents are safe"), 10, Timer::OFF)
            .unwrap();
        // One of bob's, read from his last stream.
        let theirs = MessageId([5; 32]);
        ConversationStore::new(&mut db, bob, LATENCY, Timer::OFF)
            .ack_later(&theirs)
            .unwrap();
        (dir, db, bob, ours, theirs)
    }

    /// Writes what bob is owed as a held stream at `now`, as the simplex writer does.
    fn write_held(db: &mut Database, bob: ContactId, now: u64, until: u64) -> Option<HeldSends> {
        let mut store = ConversationStore::new(db, bob, LATENCY, Timer::OFF).holding(until, now);
        let due = store.due(now, 10).unwrap();
        for id in &due {
            store.mark_sent(id, now).unwrap();
        }
        let acks = store.acks_due(10).unwrap();
        store.acks_written(&acks).unwrap();
        store.take_held()
    }

    fn due(db: &mut Database, bob: ContactId, at: u64) -> Vec<MessageId> {
        ConversationStore::new(db, bob, LATENCY, Timer::OFF)
            .due(at, 10)
            .unwrap()
    }

    #[test]
    fn a_held_message_is_not_sent_until_the_mailbox_takes_it_and_then_counts_from_its_writing() {
        let (_dir, mut db, bob, ours, theirs) = alice();
        let held = write_held(&mut db, bob, 100, 600).expect("a message and an ack written");
        assert_eq!(
            (held.sent.as_slice(), held.acks.as_slice()),
            ([ours].as_slice(), [theirs].as_slice())
        );
        assert_eq!(
            db.outgoing_state(bob, &ours).unwrap(),
            Some(OutgoingState::Queued)
        );
        assert_eq!(
            due(&mut db, bob, 599),
            [],
            "kept from the next stream while held"
        );
        assert_eq!(
            due(&mut db, bob, 600),
            [ours],
            "due again if never answered"
        );

        db.settle_held(&held, true, LATENCY).unwrap();
        assert_eq!(
            db.outgoing_state(bob, &ours).unwrap(),
            Some(OutgoingState::Sent)
        );
        let again = retransmit_at(100, 1, LATENCY);
        assert_eq!(due(&mut db, bob, again - 1), []);
        assert_eq!(
            due(&mut db, bob, again),
            [ours],
            "retransmitted from its writing"
        );
        let acks = ConversationStore::new(&mut db, bob, LATENCY, Timer::OFF)
            .acks_due(10)
            .unwrap();
        assert_eq!(acks, [], "the ack went");
    }

    #[test]
    fn a_refused_stream_s_messages_are_due_at_once_and_its_acks_owed_again() {
        let (_dir, mut db, bob, ours, theirs) = alice();
        let held = write_held(&mut db, bob, 100, 600).unwrap();
        db.settle_held(&held, false, LATENCY).unwrap();
        assert_eq!(
            db.outgoing_state(bob, &ours).unwrap(),
            Some(OutgoingState::Queued)
        );
        assert_eq!(due(&mut db, bob, 101), [ours]);
        let acks = ConversationStore::new(&mut db, bob, LATENCY, Timer::OFF)
            .acks_due(10)
            .unwrap();
        assert_eq!(acks, [theirs]);
    }

    #[test]
    fn a_store_that_holds_nothing_written_has_nothing_to_settle() {
        let (_dir, mut db, bob, ours, theirs) = alice();
        let mut plain = ConversationStore::new(&mut db, bob, LATENCY, Timer::OFF);
        plain.mark_sent(&ours, 100).unwrap();
        plain.acks_written(&[theirs]).unwrap();
        assert_eq!(plain.take_held(), None, "an ordinary store holds nothing");
        assert_eq!(
            write_held(&mut db, bob, 200, 300),
            None,
            "nothing owed, nothing held"
        );
    }
}
