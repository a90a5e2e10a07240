//! Read receipts (#31): whether each conversation sends them, the receipts the user's reading
//! queues, and the reads a contact's receipts record on our messages (migration 29).
//!
//! A conversation sends receipts only when its user turned them on, or the profile did and the
//! user did not turn them off; and only to a contact who announced the receipt type. A receipt is
//! queued before the messages it names are marked seen, so a crash between the two sends it again
//! (a read recorded twice is recorded once) rather than never. Our receipts leave the outbox once
//! acked; theirs are applied and not kept.

use courier_proto::sync::attachment::CHUNK_TYPE;
use courier_proto::sync::receipt::{self, RECEIPT_TYPE, RECEIPT_VERSION};
use courier_proto::sync::record::Message;
use courier_proto::sync::timer::Timer;
use rusqlite::{Connection, OptionalExtension, params};

use super::database::Database;
use super::message_row::message_id;
use crate::{ContactId, Draft, StorageError};

/// The unseen messages of `?1` up to arrival `?2` a receipt names: what the
/// conversation shows, but for timer lines and retractions, which nobody reads as a message.
/// The same condition keeps the counts (migration 34's triggers).
pub(crate) const UNSEEN_SHOWN: &str = concat!(
    "SELECT id FROM incoming WHERE contact_id = ?1 AND seen = 0 AND received_seq <= ?2 AND ",
    crate::migrations::unseen_counted!("")
);

/// The newest unseen arrival of `?1`: what a mark of the conversation as read reaches.
pub(crate) const NEWEST_UNSEEN: &str =
    "SELECT max(received_seq) FROM incoming WHERE contact_id = ?1 AND seen = 0";

/// Marks `?1`'s messages up to arrival `?2` seen, among the unseen only.
pub(crate) const MARK_SEEN: &str =
    "UPDATE incoming SET seen = 1 WHERE contact_id = ?1 AND seen = 0 AND received_seq <= ?2";

/// How many of `?1`'s messages are unseen, as [`UNSEEN_SHOWN`] names them: the count migration
/// 32's triggers keep (never below zero: a count gone wrong cannot fail the list of conversations).
pub(crate) const UNSEEN: &str =
    "SELECT max(coalesce((SELECT n FROM unseen_counts WHERE contact_id = ?1), 0), 0)";

/// What marking a conversation read did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkedRead {
    /// Messages (and chunks) that were unseen.
    pub seen: usize,
    /// Receipts queued to the contact (each names up to 512 messages).
    pub receipts: usize,
}

impl Database {
    /// Whether the user chose read receipts for the conversation with `contact`: `None` if they
    /// did not (the profile decides).
    pub fn receipts_choice(&self, contact: ContactId) -> Result<Option<bool>, StorageError> {
        let choice: Option<Option<bool>> = self
            .conn
            .query_row(
                "SELECT receipts FROM contacts WHERE id = ?1",
                [contact],
                |r| r.get(0),
            )
            .optional()?;
        choice.ok_or(StorageError::NoKeys)
    }

    /// Sets whether the conversation with `contact` sends read receipts (`None`: as the profile
    /// says).
    pub fn set_receipts(
        &mut self,
        contact: ContactId,
        choice: Option<bool>,
    ) -> Result<(), StorageError> {
        let changed = self.conn.execute(
            "UPDATE contacts SET receipts = ?2 WHERE id = ?1",
            params![contact, choice],
        )?;
        if changed == 0 {
            return Err(StorageError::NoKeys);
        }
        Ok(())
    }

    /// Marks every message from `contact` seen; when `send_receipts` (the conversation's choice,
    /// else the profile's) and the contact reads receipts, first queues one naming the messages
    /// the user had not seen. `longest` bounds the receipts' stay as any message's.
    pub fn mark_read(
        &mut self,
        contact: ContactId,
        send_receipts: bool,
        now_ms: u64,
        longest: Timer,
    ) -> Result<MarkedRead, StorageError> {
        let newest: Option<i64> = self
            .conn
            .prepare_cached(NEWEST_UNSEEN)?
            .query_row([contact], |r| r.get(0))?;
        let Some(newest) = newest else {
            return Ok(MarkedRead {
                seen: 0,
                receipts: 0,
            });
        };
        let mut receipts = 0;
        if send_receipts && peer_reads_receipts(&self.conn, contact)? {
            let ids = {
                let mut statement = self.conn.prepare_cached(UNSEEN_SHOWN)?;
                let rows = statement.query_map(params![contact, newest], |r| message_id(r, 0))?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            for receipt in receipt::receipts(&ids, now_ms) {
                self.send(contact, Draft::from(receipt), now_ms, longest)?;
                receipts += 1;
            }
        }
        let seen = self
            .conn
            .prepare_cached(MARK_SEEN)?
            .execute(params![contact, newest])?;
        Ok(MarkedRead { seen, receipts })
    }

    /// How many messages from `contact` the user has not seen: those shown on a line of their own
    /// (an attachment once; not a reaction or an edit, shown with their message, a timer line or
    /// a retraction), as a read receipt would name them.
    pub fn unseen(&self, contact: ContactId) -> Result<usize, StorageError> {
        Ok(self
            .conn
            .prepare_cached(UNSEEN)?
            .query_row([contact], |r| r.get(0))?)
    }
}

/// Whether `contact` announced that it reads receipts.
fn peer_reads_receipts(conn: &Connection, contact: ContactId) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM peer_content_types WHERE contact_id = ?1
            AND content_type = ?2 AND min_version <= ?3 AND max_version >= ?3)",
        params![contact, RECEIPT_TYPE, RECEIPT_VERSION],
        |r| r.get(0),
    )
}

/// Records what a receipt from `contact` says: each of our messages it names was read at its
/// time (the first receipt for a message counts). A body that does not parse, or names messages
/// that are not ours to them, records nothing of those.
pub(crate) fn received(
    conn: &Connection,
    contact: ContactId,
    message: &Message,
) -> rusqlite::Result<()> {
    let Ok(ids) = receipt::read(&message.body) else {
        return Ok(());
    };
    let at = i64::try_from(message.timestamp_ms).unwrap_or(i64::MAX);
    let mut statement = conn.prepare_cached(&format!(
        "UPDATE outgoing SET read_ms = ?3 WHERE contact_id = ?1 AND id = ?2 AND read_ms IS NULL
            AND content_type != '{CHUNK_TYPE}'"
    ))?;
    for id in ids {
        statement.execute(params![contact, &id.0[..], at])?;
    }
    Ok(())
}

/// Whether `message` is a read receipt.
pub(crate) fn is_receipt(message: &Message) -> bool {
    message.content_type == RECEIPT_TYPE
}

#[cfg(test)]
mod tests {
    use courier_proto::sync::record::{ContentTypeRange, MessageId};

    use super::*;
    use crate::entry::Delivery;
    use crate::two_sides::{Side, alice_and_bob, carry, now, send, side, side_again};
    use crate::{ConversationStore, OutgoingState, window::Around};
    use courier_proto::sync::relation::{EDIT_TYPE, REACTION_TYPE, payload};
    use courier_proto::sync::session::SyncStore;

    /// Says `side`'s contact announced read receipts.
    fn announces_receipts(side: &mut Side) {
        let receipts = ContentTypeRange {
            content_type: RECEIPT_TYPE.into(),
            min: 1,
            max: 1,
        };
        side.db
            .save_peer_content_types(side.peer, &[receipts])
            .unwrap();
    }

    /// What `side` marking its conversation read did, receipts `on` or not: how many were
    /// unseen, and how many receipts it queued.
    fn reads(side: &mut Side, on: bool) -> (usize, usize) {
        let peer = side.peer;
        let read = side.db.mark_read(peer, on, now(), Timer::OFF).unwrap();
        (read.seen, read.receipts)
    }

    /// Where each of `side`'s own shown messages stands, oldest first.
    fn ours(side: &Side) -> Vec<Delivery> {
        let window = side
            .db
            .window(side.peer, Around::Newest, 100)
            .unwrap()
            .unwrap();
        window
            .entries
            .into_iter()
            .filter(|e| e.direction == crate::Direction::Outgoing)
            .map(|e| e.delivery)
            .collect()
    }

    /// The receipts `side` has queued and not had acked, and the ids each names.
    fn queued_receipts(side: &Side) -> Vec<Vec<MessageId>> {
        let mut statement = side
            .db
            .conn
            .prepare("SELECT body FROM outgoing WHERE content_type = ?1 AND acked = 0")
            .unwrap();
        statement
            .query_map([RECEIPT_TYPE], |r| r.get::<_, Vec<u8>>(0))
            .unwrap()
            .map(|body| receipt::read(&body.unwrap()).unwrap())
            .collect()
    }

    #[test]
    fn alice_reads_with_receipts_on_and_bob_s_window_shows_read_once_off_or_unannounced_sends_none()
    {
        let dir = tempfile::tempdir().unwrap();
        let (mut alice, mut bob) = alice_and_bob(dir.path());
        let first = send(&mut bob, "courier/text", b"are you safe?".to_vec()).unwrap();
        let second = send(&mut bob, "courier/text", b"call me".to_vec()).unwrap();
        carry(&mut bob, &mut alice);
        let acked = Delivery::Outgoing(OutgoingState::Acked);
        assert_eq!(ours(&bob), [acked, acked]);

        // Receipts on, but bob never said he reads them: nothing goes, the messages are seen.
        assert_eq!(reads(&mut alice, true), (2, 0));
        assert_eq!(alice.db.unseen(alice.peer).unwrap(), 0);

        // Once he has: a new text read with receipts off sends none either.
        announces_receipts(&mut alice);
        let third = send(&mut bob, "courier/text", b"at the usual place".to_vec()).unwrap();
        carry(&mut bob, &mut alice);
        assert_eq!(reads(&mut alice, false), (1, 0));
        assert!(queued_receipts(&alice).is_empty());

        // With them on, the next text read is named in one receipt, and marking again sends none.
        let fourth = send(&mut bob, "courier/text", b"bring the charger".to_vec()).unwrap();
        carry(&mut bob, &mut alice);
        assert_eq!(reads(&mut alice, true), (1, 1));
        assert_eq!(queued_receipts(&alice), [vec![fourth]]);
        // The event feed tells no receipt as a message of alice's (she wrote none).
        let feed = alice.db.activity(crate::ActivityMark::default()).unwrap();
        assert!(feed.outgoing.is_empty(), "{:?}", feed.outgoing);
        assert_eq!(reads(&mut alice, true), (0, 0));

        // Neither window shows the receipt; bob's shows the fourth read, the rest acked.
        let shown_before = alice
            .db
            .window(alice.peer, Around::Newest, 100)
            .unwrap()
            .unwrap();
        carry(&mut alice, &mut bob);
        let read = Delivery::Outgoing(OutgoingState::Read);
        assert_eq!(ours(&bob), [acked, acked, acked, read]);
        assert_eq!(
            bob.db.outgoing_state(bob.peer, &fourth).unwrap(),
            Some(OutgoingState::Read)
        );
        let alice_window = alice
            .db
            .window(alice.peer, Around::Newest, 100)
            .unwrap()
            .unwrap();
        assert_eq!(alice_window, shown_before);
        assert_eq!(alice_window.entries.len(), 4);
        assert!(bob.db.conversation(bob.peer).unwrap().len() == 4);
        // Acked, the receipt leaves alice's outbox at the next sweep.
        assert!(queued_receipts(&alice).is_empty());
        alice.db.sweep_expired(now() + 1).unwrap();
        let left: i64 = alice
            .db
            .conn
            .query_row(
                "SELECT count(*) FROM outgoing WHERE content_type = ?1",
                [RECEIPT_TYPE],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0);
        let _ = (first, second, third);
    }

    /// How many of `side`'s arrivals from its peer a read receipt would name, counted row by row.
    fn counted(side: &Side) -> usize {
        side.db
            .conn
            .query_row(
                &format!("SELECT count(*) FROM ({UNSEEN_SHOWN})"),
                params![side.peer, i64::MAX],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// `side`'s unseen count, checked against the rows.
    fn unseen(side: &Side) -> usize {
        let kept = side.db.unseen(side.peer).unwrap();
        assert_eq!(kept, counted(side), "the kept count and the rows disagree");
        kept
    }

    /// Stores `message` at `side` as an arrival from its peer.
    fn arrives(side: &mut Side, message: Message) {
        let peer = side.peer;
        let mut inbox = ConversationStore::new(&mut side.db, peer, 60_000, Timer::OFF);
        inbox.store_incoming(&message.id(), message).unwrap();
    }

    #[test]
    fn a_receipt_names_what_the_conversation_shows_but_timer_lines_and_retractions() {
        use crate::window::SHOWN;
        use courier_proto::sync::relation::DELETE_TYPE;
        use courier_proto::sync::timer::TIMER_TYPE;
        let condition = format!(
            "{SHOWN} AND content_type != '{TIMER_TYPE}' AND content_type != '{DELETE_TYPE}'"
        );
        assert!(UNSEEN_SHOWN.ends_with(&format!(" AND {condition}")));
        // The triggers that keep the counts test the same, of the row inserted (`NEW.`), and of
        // the row read or gone (`OLD.`, in two triggers: counted below).
        let migration = crate::migrations::MIGRATIONS.concat();
        for row in ["NEW.", "OLD."] {
            let of_row = condition.replace("content_type", &format!("{row}content_type"));
            assert!(migration.contains(&of_row), "{row}");
        }
        assert_eq!(
            migration
                .matches("AND NEW.content_type != 'courier/delete'")
                .count(),
            1
        );
        assert_eq!(
            migration
                .matches("AND OLD.content_type != 'courier/delete'")
                .count(),
            2
        );
    }

    #[test]
    fn the_unseen_count_kept_beside_a_conversation_follows_arrivals_reads_deletions_and_removal() {
        let dir = tempfile::tempdir().unwrap();
        let (mut alice, mut bob) = alice_and_bob(dir.path());
        assert_eq!(unseen(&alice), 0);
        let texts: Vec<MessageId> = (0..3)
            .map(|i| send(&mut bob, "courier/text", format!("text {i}").into_bytes()).unwrap())
            .collect();
        carry(&mut bob, &mut alice);
        assert_eq!(unseen(&alice), 3);

        // A chunk is part of an attachment, not a message of its own; a text arriving twice is
        // stored once.
        let chunk = Message {
            timestamp_ms: now(),
            content_type: "courier/chunk".into(),
            type_version: 1,
            body: vec![7; 64],
            fallback: String::new(),
        };
        arrives(&mut alice, chunk);
        let again = bob.db.conversation(bob.peer).unwrap().remove(0).message;
        arrives(&mut alice, again);
        assert_eq!(unseen(&alice), 3);
        // A reaction and an edit are shown with their message: neither is one more to read.
        send(&mut bob, REACTION_TYPE, payload(&texts[2], "👍".as_bytes())).unwrap();
        send(
            &mut bob,
            EDIT_TYPE,
            payload(&texts[2], b"text 2, corrected"),
        )
        .unwrap();
        carry(&mut bob, &mut alice);
        assert_eq!(unseen(&alice), 3);

        // Deleting an unseen one counts it out; read, they are none; a new one is one.
        let peer = alice.peer;
        assert!(alice.db.delete_message(peer, &texts[0]).unwrap());
        assert_eq!(unseen(&alice), 2);
        // Marking read sees the chunk, the reaction and the edit as well.
        assert_eq!(reads(&mut alice, false).0, 5);
        assert_eq!(unseen(&alice), 0);
        send(&mut bob, "courier/text", b"one more".to_vec()).unwrap();
        carry(&mut bob, &mut alice);
        assert_eq!(unseen(&alice), 1);
        // Deleting a seen one changes nothing.
        assert!(alice.db.delete_message(peer, &texts[1]).unwrap());
        assert_eq!(unseen(&alice), 1);

        // Removed, bob leaves no count behind.
        alice.db.remove_contact("bob").unwrap();
        let rows: i64 = alice
            .db
            .conn
            .query_row("SELECT count(*) FROM unseen_counts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0);
        assert_eq!(alice.db.unseen(peer).unwrap(), 0);
    }

    #[test]
    fn a_database_from_before_the_kept_counts_has_them_counted_when_it_opens() {
        let dir = tempfile::tempdir().unwrap();
        let (mut alice, mut bob) = alice_and_bob(dir.path());
        let texts: Vec<MessageId> = (0..4)
            .map(|i| send(&mut bob, "courier/text", format!("text {i}").into_bytes()).unwrap())
            .collect();
        send(&mut bob, REACTION_TYPE, payload(&texts[0], "👍".as_bytes())).unwrap();
        carry(&mut bob, &mut alice);
        // As the database was before migration 32 (and 33 and 34, which follow it).
        alice
            .db
            .conn
            .execute_batch(
                "DROP TRIGGER contact_added; DROP TRIGGER contact_changed;
                 DROP TRIGGER contact_removed; DROP TRIGGER pending_contact_added;
                 DROP TRIGGER pending_contact_changed; DROP TRIGGER pending_contact_removed;
                 DROP TABLE contact_changes;
                 DROP TRIGGER unseen_arrived; DROP TRIGGER unseen_seen; DROP TRIGGER unseen_gone;
                 DROP TABLE unseen_counts; PRAGMA user_version = 31;",
            )
            .unwrap();
        drop(alice);
        let mut alice = side_again(dir.path(), "alice", "bob");
        assert_eq!(unseen(&alice), 4);
        send(&mut bob, "courier/text", b"and a fifth".to_vec()).unwrap();
        carry(&mut bob, &mut alice);
        assert_eq!(unseen(&alice), 5);
        // A count gone wrong below zero reads as none, not as an error that fails the list.
        alice
            .db
            .conn
            .execute("UPDATE unseen_counts SET n = -3", [])
            .unwrap();
        assert_eq!(alice.db.unseen(alice.peer).unwrap(), 0);
    }

    #[test]
    fn a_receipt_records_only_our_own_messages_the_first_read_counts_and_a_bad_body_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut bob = side(dir.path(), "bob", "alice");
        let mine = send(&mut bob, "courier/text", b"mine".to_vec()).unwrap();
        let carol = bob.db.add_contact("carol").unwrap();
        let conn = &bob.db.conn;
        let from_alice = |ids: &[MessageId], at: u64| receipt::receipts(ids, at).remove(0);
        // A receipt naming a message bob never sent records nothing, and neither does a ragged one.
        received(conn, bob.peer, &from_alice(&[MessageId([9; 32])], 1_000)).unwrap();
        let mut ragged = from_alice(&[mine], 1_000);
        ragged.body.pop();
        received(conn, bob.peer, &ragged).unwrap();
        let read_ms = || -> Option<i64> {
            conn.query_row(
                "SELECT read_ms FROM outgoing WHERE id = ?1",
                [&mine.0[..]],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(read_ms(), None);
        // A receipt from another contact does not touch bob's message to alice.
        received(conn, carol, &from_alice(&[mine], 1_000)).unwrap();
        assert_eq!(read_ms(), None);
        received(conn, bob.peer, &from_alice(&[mine], 2_000)).unwrap();
        received(conn, bob.peer, &from_alice(&[mine], 3_000)).unwrap();
        assert_eq!(read_ms(), Some(2_000));
        assert!(is_receipt(&from_alice(&[mine], 1)));
    }

    #[test]
    fn a_conversation_s_choice_is_kept_and_none_means_the_profile_decides() {
        let dir = tempfile::tempdir().unwrap();
        let mut alice = side(dir.path(), "alice", "bob");
        assert_eq!(alice.db.receipts_choice(alice.peer).unwrap(), None);
        alice.db.set_receipts(alice.peer, Some(true)).unwrap();
        assert_eq!(alice.db.receipts_choice(alice.peer).unwrap(), Some(true));
        alice.db.set_receipts(alice.peer, Some(false)).unwrap();
        assert_eq!(alice.db.receipts_choice(alice.peer).unwrap(), Some(false));
        alice.db.set_receipts(alice.peer, None).unwrap();
        assert_eq!(alice.db.receipts_choice(alice.peer).unwrap(), None);
        assert!(matches!(
            alice.db.set_receipts(99, Some(true)),
            Err(StorageError::NoKeys)
        ));
        assert!(matches!(
            alice.db.receipts_choice(99),
            Err(StorageError::NoKeys)
        ));
    }
}
