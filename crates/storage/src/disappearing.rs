//! Disappearing messages: each conversation's timer, as its latest timer message set it, and the
//! deletion of every message a timer's length after it was acked (ours) or arrived (theirs), from
//! the rows and from the chunk packs. The ids of what went are kept, so a copy sent again (an ack
//! lost on the way) is acked and not stored a second time.

use rusqlite::{Connection, OptionalExtension, params};

use super::chunk_packs::{PackRef, Side};
use super::database::Database;
use crate::{ContactId, StorageError};
use courier_proto::group::invitation::{ANSWER_TYPE, PRESENCE_TYPE};
use courier_proto::group::record::{GROUP_CHUNK_TYPE, RECORD_TYPE};
use courier_proto::sync::attachment::CHUNK_TYPE;
use courier_proto::sync::receipt::RECEIPT_TYPE;
use courier_proto::sync::record::{Message, MessageId};
use courier_proto::sync::timer::{TIMER_TYPE, Timer};

/// The messages whose time is up at `?1`, either way.
pub(crate) const EXPIRED: &str = "SELECT contact_id, id FROM outgoing WHERE expires_ms <= ?1
    UNION ALL SELECT contact_id, id FROM incoming WHERE expires_ms <= ?1";

impl Database {
    /// The timer of the conversation with `contact`, as both sides agree on it.
    pub fn timer(&self, contact: ContactId) -> Result<Timer, StorageError> {
        agreed(&self.conn, contact)?.ok_or(StorageError::Corrupt("no such contact"))
    }

    /// Deletes every message whose time is up at `now_ms`, with its chunks, and erases the content
    /// of every group post whose time is up; how many went.
    pub fn sweep_expired(&mut self, now_ms: u64) -> Result<usize, StorageError> {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let mut due_statement = self.conn.prepare_cached(EXPIRED)?;
        let due: Vec<(ContactId, Vec<u8>)> = due_statement
            .query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        drop(due_statement);
        let due: Vec<(ContactId, MessageId)> = due
            .into_iter()
            .map(|(contact, id)| {
                <[u8; 32]>::try_from(id.as_slice())
                    .map(|id| (contact, MessageId(id)))
                    .map_err(|_| StorageError::Corrupt("a stored message id is not 32 bytes"))
            })
            .collect::<Result<_, _>>()?;
        // One transaction for all: thousands expiring at once cost one commit, not one each.
        let gone = if due.is_empty() {
            0
        } else {
            self.delete_messages(&due)?
        } + self.sweep_group_posts(now_ms)?;
        if gone > 0 {
            // The WAL still holds the pages as they were; emptied now, it holds nothing of them.
            // Another connection reading keeps it (SQLite then answers busy); the next sweep tries
            // again.
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        Ok(gone)
    }
}

/// The contact's agreed timer; `None` for no such contact.
fn agreed(conn: &Connection, contact: ContactId) -> rusqlite::Result<Option<Timer>> {
    let secs: Option<i64> = conn
        .prepare_cached("SELECT timer_secs FROM contacts WHERE id = ?1")?
        .query_row([contact], |r| r.get(0))
        .optional()?;
    Ok(secs.map(|secs| match u64::try_from(secs) {
        Ok(secs) if secs > 0 => Timer::of_secs(secs).unwrap_or(Timer::OFF),
        _ => Timer::OFF,
    }))
}

/// How long, in ms, a message stored now in the conversation with `contact` stays: its timer, held
/// to `longest`; `None` for ever.
fn lifetime_ms(
    conn: &Connection,
    contact: ContactId,
    longest: Timer,
) -> rusqlite::Result<Option<u64>> {
    let agreed = agreed(conn, contact)?.unwrap_or(Timer::OFF);
    let effective = if agreed.within(longest) {
        agreed
    } else {
        longest
    };
    Ok(effective.secs().map(|s| s * 1000))
}

/// Makes a timer message the conversation's timer if it is the latest by its sender's timestamp,
/// then its id; a body that does not parse changes nothing.
fn apply(
    conn: &Connection,
    contact: ContactId,
    id: &MessageId,
    message: &Message,
) -> rusqlite::Result<()> {
    let Ok(timer) = Timer::decode(&message.body) else {
        return Ok(());
    };
    let ts = i64::try_from(message.timestamp_ms).unwrap_or(i64::MAX);
    conn.execute(
        "UPDATE contacts SET timer_secs = ?2, timer_ts = ?3, timer_id = ?4
         WHERE id = ?1 AND (timer_ts < ?3 OR (timer_ts = ?3 AND timer_id < ?4))",
        params![contact, timer.secs().unwrap_or(0) as i64, ts, &id.0[..]],
    )?;
    Ok(())
}

/// After `head` was queued to `contact`: a timer message sets the timer; any other message keeps
/// the timer it is sent under, which runs from its ack.
pub(super) fn sent(
    conn: &Connection,
    contact: ContactId,
    (id, head): (&MessageId, &Message),
    longest: Timer,
) -> rusqlite::Result<()> {
    if head.content_type == TIMER_TYPE {
        return apply(conn, contact, id, head);
    }
    let lifetime = lifetime_ms(conn, contact, longest)?;
    conn.prepare_cached("UPDATE outgoing SET disappear_ms = ?3 WHERE contact_id = ?1 AND id = ?2")?
        .execute(params![contact, &id.0[..], lifetime.map(|ms| ms as i64)])?;
    Ok(())
}

/// When a message arriving now from `contact` is deleted, in Unix ms (`None`: never), applying a
/// timer message as it goes. Chunks go with their attachment, and timer messages stay.
pub(super) fn received(
    conn: &Connection,
    contact: ContactId,
    id: &MessageId,
    message: &Message,
    longest: Timer,
    now_ms: u64,
) -> rusqlite::Result<Option<i64>> {
    match message.content_type.as_str() {
        TIMER_TYPE => apply(conn, contact, id, message).map(|()| None),
        CHUNK_TYPE => Ok(None),
        _ => Ok(lifetime_ms(conn, contact, longest)?
            .map(|ms| i64::try_from(now_ms.saturating_add(ms)).unwrap_or(i64::MAX))),
    }
}

/// The SQL that starts an acked message's timer from `?3`, the ack's time, held to `?4`, the
/// acking device's longest (NULL for none): a message queued by a process that knew no bound is
/// still bounded by the node that sends it. Chunks go with their attachment, timer lines stay,
/// and group traffic and read receipts go once acked: the group keeps what it says (a sealed post's key among
/// it, which must go when the post does).
///
/// The types are tested one by one (`=` joined by `OR`): for an `IN` list of three or more SQLite
/// builds a table of it each time the statement runs, and this one runs for every ack.
pub(super) fn start_on_ack() -> String {
    let of = |types: &[&str]| {
        types
            .iter()
            .map(|t| format!("content_type = '{t}'"))
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    format!(
        "expires_ms = coalesce(expires_ms, CASE WHEN {} THEN NULL WHEN {} THEN ?3
         ELSE ?3 + CASE WHEN disappear_ms IS NULL THEN ?4 WHEN ?4 IS NULL THEN disappear_ms
                   ELSE min(disappear_ms, ?4) END END)",
        of(&[CHUNK_TYPE, TIMER_TYPE]),
        of(&[
            RECORD_TYPE,
            ANSWER_TYPE,
            PRESENCE_TYPE,
            GROUP_CHUNK_TYPE,
            RECEIPT_TYPE
        ])
    )
}

/// `longest` in ms as [`start_on_ack`] takes it.
pub(super) fn bound_ms(longest: Timer) -> Option<i64> {
    longest.secs().map(|s| (s * 1000) as i64)
}

/// Keeps `id` as deleted from the conversation with `contact`.
pub(super) fn forget(
    conn: &Connection,
    contact: ContactId,
    id: &MessageId,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO forgotten (contact_id, id) VALUES (?1, ?2)",
        params![contact, &id.0[..]],
    )?;
    Ok(())
}

/// Whether `id` from `contact` was deleted.
pub(super) fn forgotten(
    conn: &Connection,
    contact: ContactId,
    id: &MessageId,
) -> rusqlite::Result<bool> {
    // Asked of every message that arrives: parsed once per connection, not per message.
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM forgotten WHERE contact_id = ?1 AND id = ?2)",
    )?
    .query_row(params![contact, &id.0[..]], |r| r.get(0))
}

/// The sides of `contact` whose pack no row points into any more, of those `sealed` touched.
pub(super) fn emptied_packs(
    conn: &Connection,
    contact: ContactId,
    sealed: &[(Side, PackRef)],
) -> rusqlite::Result<Vec<Side>> {
    let mut emptied = Vec::new();
    for (side, table) in [(Side::Outgoing, "outgoing"), (Side::Incoming, "incoming")] {
        if !sealed.iter().any(|(s, _)| *s == side) {
            continue;
        }
        let left: bool = conn.query_row(
            &format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE contact_id = ?1 AND pack_offset IS NOT NULL)"),
            [contact],
            |r| r.get(0),
        )?;
        if !left {
            emptied.push(side);
        }
    }
    Ok(emptied)
}

#[cfg(test)]
mod tests {
    use courier_proto::sync::session::SyncStore;

    use super::*;
    use crate::{ConversationStore, Draft, Passphrase};

    const MINUTE_MS: u64 = 60_000;

    fn database() -> (tempfile::TempDir, Database, ContactId) {
        let dir = tempfile::tempdir().unwrap();
        let passphrase = Passphrase::for_new_database("a long enough passphrase".into()).unwrap();
        let mut db = Database::open(&dir.path().join("courier.db"), &passphrase).unwrap();
        let bob = db.add_contact("bob").unwrap();
        (dir, db, bob)
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    }

    fn timer_draft(timer: Timer, ts: u64) -> Draft {
        let m = timer.message(ts);
        Draft {
            content_type: m.content_type,
            version: m.type_version,
            fallback: m.fallback,
            payload: m.body,
        }
    }

    #[test]
    fn a_sent_message_goes_a_timer_after_its_ack_and_not_before() {
        let (_dir, mut db, bob) = database();
        db.send(
            bob,
            timer_draft(Timer::of_secs(60).unwrap(), 1),
            1,
            Timer::OFF,
        )
        .unwrap();
        assert_eq!(db.timer(bob).unwrap(), Timer::of_secs(60).unwrap());
        let (id, _) = db
            .send(
                bob,
                Draft::new("courier/text", 1, b"hi".to_vec()),
                2,
                Timer::OFF,
            )
            .unwrap();
        // Unacked, it stays however long it waits.
        assert_eq!(db.sweep_expired(now() + 365 * 86_400_000).unwrap(), 0);
        ConversationStore::new(&mut db, bob, MINUTE_MS, Timer::OFF)
            .mark_acked(&id)
            .unwrap();
        let acked = now();
        assert_eq!(db.sweep_expired(acked + MINUTE_MS - 2_000).unwrap(), 0);
        assert_eq!(db.sweep_expired(acked + MINUTE_MS + 2_000).unwrap(), 1);
        let left: Vec<String> = db
            .conversation(bob)
            .unwrap()
            .into_iter()
            .map(|e| e.message.content_type)
            .collect();
        assert_eq!(left, [TIMER_TYPE], "the timer line stays, the text goes");
    }

    #[test]
    fn a_received_message_goes_a_timer_after_it_arrived_and_a_resend_is_not_stored() {
        let (_dir, mut db, bob) = database();
        let minute = Timer::of_secs(60).unwrap().message(5);
        let text = Message {
            timestamp_ms: 6,
            content_type: "courier/text".into(),
            type_version: 1,
            fallback: String::new(),
            body: b"meet at noon".to_vec(),
        };
        let mut store = ConversationStore::new(&mut db, bob, MINUTE_MS, Timer::OFF);
        store.store_incoming(&minute.id(), minute.clone()).unwrap();
        let arrived = now();
        store.store_incoming(&text.id(), text.clone()).unwrap();
        assert_eq!(db.sweep_expired(arrived + MINUTE_MS - 2_000).unwrap(), 0);
        assert_eq!(db.sweep_expired(arrived + MINUTE_MS + 2_000).unwrap(), 1);
        let store = ConversationStore::new(&mut db, bob, MINUTE_MS, Timer::OFF);
        assert!(
            store.has_incoming(&text.id()).unwrap(),
            "a copy sent again counts as held"
        );
        assert!(
            !store
                .has_incoming(
                    &Message {
                        body: b"other".to_vec(),
                        ..text
                    }
                    .id()
                )
                .unwrap()
        );
        assert_eq!(db.conversation(bob).unwrap().len(), 1);
    }

    #[test]
    fn the_latest_timer_message_wins_on_both_sides_whatever_order_they_arrive_in() {
        let day = Timer::of_secs(86_400).unwrap();
        let hour = Timer::of_secs(3_600).unwrap();
        let (older, newer) = (day.message(10), hour.message(20));
        // Same timestamp: the larger id wins.
        let (a, b) = (day.message(30), Timer::OFF.message(30));
        let tie = if a.id().0 > b.id().0 { day } else { Timer::OFF };
        for order in [[&older, &newer, &a, &b], [&b, &a, &newer, &older]] {
            let (_dir, mut db, bob) = database();
            let mut store = ConversationStore::new(&mut db, bob, MINUTE_MS, Timer::OFF);
            for m in order {
                store.store_incoming(&m.id(), (*m).clone()).unwrap();
            }
            assert_eq!(db.timer(bob).unwrap(), tie);
        }
        let (_dir, mut db, bob) = database();
        let mut store = ConversationStore::new(&mut db, bob, MINUTE_MS, Timer::OFF);
        store.store_incoming(&newer.id(), newer.clone()).unwrap();
        store.store_incoming(&older.id(), older.clone()).unwrap();
        assert_eq!(
            db.timer(bob).unwrap(),
            hour,
            "an older timer arriving late changes nothing"
        );
    }

    #[test]
    fn a_device_s_longest_timer_bounds_a_conversation_without_one() {
        let (_dir, mut db, bob) = database();
        let longest = Timer::of_secs(120).unwrap();
        let (id, _) = db
            .send(
                bob,
                Draft::new("courier/text", 1, b"hi".to_vec()),
                2,
                longest,
            )
            .unwrap();
        // The ack comes on another connection (the node's); the bound travels with the call.
        ConversationStore::new(&mut db, bob, MINUTE_MS, longest)
            .mark_acked(&id)
            .unwrap();
        let acked = now();
        assert_eq!(db.sweep_expired(acked + 2 * MINUTE_MS - 2_000).unwrap(), 0);
        assert_eq!(db.sweep_expired(acked + 2 * MINUTE_MS + 2_000).unwrap(), 1);
    }

    #[test]
    fn a_deleted_attachment_s_sealed_chunks_are_overwritten_and_its_emptied_pack_removed() {
        let (dir, mut db, bob) = database();
        let packs = dir.path().join("courier.db.chunks");
        let pack_files = || -> Vec<std::path::PathBuf> {
            std::fs::read_dir(&packs)
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default()
        };
        let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let (photo, _) = db
            .send(
                bob,
                Draft::new("courier/image", 1, big.clone()),
                1,
                Timer::OFF,
            )
            .unwrap();
        let (other, _) = db
            .send(
                bob,
                Draft::new("courier/image", 1, big[1..].to_vec()),
                2,
                Timer::OFF,
            )
            .unwrap();
        let files = pack_files();
        let [pack] = files.as_slice() else {
            panic!("one outgoing pack: {files:?}")
        };
        let sealed = std::fs::read(pack).unwrap();
        assert!(db.delete_message(bob, &photo).unwrap());
        let after = std::fs::read(pack).unwrap();
        assert_eq!(
            after.len(),
            sealed.len(),
            "overwritten in place, not truncated"
        );
        let zeroed = after.iter().filter(|&&b| b == 0).count();
        assert!(
            zeroed > 190_000,
            "the first attachment's records are zeros ({zeroed})"
        );
        assert!(db.delete_message(bob, &other).unwrap());
        assert!(
            pack_files().is_empty(),
            "a pack nothing points into is removed"
        );
        assert!(!db.delete_message(bob, &other).unwrap(), "gone already");
    }
}
