//! Reading a conversation as the user sees it: whole, one message, or a window of it by cursor.
//!
//! A window reads only the rows it shows: each direction's rows come newest first (or oldest first)
//! from an index that leaves attachment chunks out, from the cursor on, at most one more than asked.
//! The order is the senders' time, then the row's number in its direction, then the direction
//! (ours first): a total order, so a window never repeats or skips a message.

use rusqlite::{OptionalExtension, Row, params};

use super::contact_store::OutgoingState;
use super::database::Database;
use super::entry::{Delivery, Direction, Entry};
use super::message_row::{message_at, message_id};
use crate::{ContactId, StorageError};
use courier_proto::sync::record::MessageId;

/// What a window starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Around {
    /// The newest messages.
    Newest,
    /// The messages just older than this one.
    Before(MessageId),
    /// The messages just newer than this one.
    After(MessageId),
}

/// Part of a conversation, oldest first, and whether more lie beyond either end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The messages, oldest first.
    pub entries: Vec<Entry>,
    /// Older messages exist.
    pub older: bool,
    /// Newer messages exist.
    pub newer: bool,
}

/// The columns every listing reads, the same for both directions: a row of either becomes an
/// [`Entry`] through [`entry`]. Column 9 is the row's number in its direction.
/// Column 8 of ours is how far it went: 0 not acked, 1 acked, 2 read.
const OUTGOING: &str = "id, timestamp_ms, content_type, type_version, body, fallback,
    0 AS incoming, times_sent, acked + (read_ms IS NOT NULL), rowid AS seq FROM outgoing";
const INCOMING: &str = "id, timestamp_ms, content_type, type_version, body, fallback,
    1 AS incoming, 0, 0, received_seq AS seq FROM incoming";

/// What the user sees of a conversation: everything but attachment chunks, shown through their
/// manifest, and a group's traffic (records, answers, presence), shown in the group. Written out
/// (not a parameter) so that SQLite can use the partial indexes `outgoing_shown` and
/// `incoming_shown`, whose condition this is (migration 34).
pub(crate) const SHOWN: &str = crate::migrations::shown!("");

/// The newest `?5` rows of contact `?1` before the cursor: ours below (`?2`, `?3`), theirs below
/// (`?2`, `?4`) in (time, row) order. See [`Database::window`] for the bounds.
pub(crate) const OLDER: &str = "SELECT * FROM (SELECT {OUT} WHERE contact_id = ?1 AND {SHOWN}
        AND (timestamp_ms, rowid) < (?2, ?3) ORDER BY timestamp_ms DESC, rowid DESC LIMIT ?5)
    UNION ALL
    SELECT * FROM (SELECT {IN} WHERE contact_id = ?1 AND {SHOWN}
        AND (timestamp_ms, received_seq) < (?2, ?4)
        ORDER BY timestamp_ms DESC, received_seq DESC LIMIT ?5)
    ORDER BY 2 DESC, 10 DESC, 7 DESC LIMIT ?5";

/// The oldest `?5` rows of contact `?1` after the cursor, as [`OLDER`] the other way.
pub(crate) const NEWER: &str = "SELECT * FROM (SELECT {OUT} WHERE contact_id = ?1 AND {SHOWN}
        AND (timestamp_ms, rowid) > (?2, ?3) ORDER BY timestamp_ms, rowid LIMIT ?5)
    UNION ALL
    SELECT * FROM (SELECT {IN} WHERE contact_id = ?1 AND {SHOWN}
        AND (timestamp_ms, received_seq) > (?2, ?4) ORDER BY timestamp_ms, received_seq LIMIT ?5)
    ORDER BY 2, 10, 7 LIMIT ?5";

/// The whole conversation with `?1`, oldest first.
const ALL: &str = "SELECT {OUT} WHERE contact_id = ?1 AND {SHOWN}
    UNION ALL
    SELECT {IN} WHERE contact_id = ?1 AND {SHOWN}
    ORDER BY 2, 10, 7";

/// Message `?2` of contact `?1`, either way, found by its key.
pub(crate) const ONE: &str = "SELECT {OUT} WHERE contact_id = ?1 AND {SHOWN} AND id = ?2
    UNION ALL
    SELECT {IN} WHERE contact_id = ?1 AND {SHOWN} AND id = ?2";

/// The messages of contact `?1`, either way, whose ids lie between `?2` and `?3` (inclusive): what an
/// id prefix names, found by the key's range.
pub(crate) const ID_RANGE: &str =
    "SELECT {OUT} WHERE contact_id = ?1 AND {SHOWN} AND id BETWEEN ?2 AND ?3
    UNION ALL
    SELECT {IN} WHERE contact_id = ?1 AND {SHOWN} AND id BETWEEN ?2 AND ?3";

/// Where message `?2` of contact `?1` stands in the order: its time, row number and direction.
const POSITION: &str =
    "SELECT timestamp_ms, rowid, 0 FROM outgoing WHERE contact_id = ?1 AND id = ?2
    UNION ALL
    SELECT timestamp_ms, received_seq, 1 FROM incoming WHERE contact_id = ?1 AND id = ?2";

/// `sql` with its column lists and the shown condition filled in.
pub(crate) fn query(sql: &str) -> String {
    sql.replace("{OUT}", OUTGOING)
        .replace("{IN}", INCOMING)
        .replace("{SHOWN}", SHOWN)
}

/// [`query`] of a constant, built once where it is used: the feed reads one message per arrival,
/// and building the text each time was a sixteenth of its work.
macro_rules! listing {
    ($sql:expr) => {{
        static BUILT: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| $crate::window::query($sql));
        BUILT.as_str()
    }};
}
pub(crate) use listing;

impl Database {
    /// Both directions of the conversation with `contact`, in the senders' time order.
    pub fn conversation(&self, contact: ContactId) -> Result<Vec<Entry>, StorageError> {
        let mut statement = self.conn.prepare_cached(listing!(ALL))?;
        let rows = statement.query_map([contact], entry)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The message `id` of the conversation with `contact`, either way, if it is there.
    pub fn entry(&self, contact: ContactId, id: &MessageId) -> Result<Option<Entry>, StorageError> {
        let mut statement = self.conn.prepare_cached(listing!(ONE))?;
        Ok(statement
            .query_row(params![contact, &id.0[..]], entry)
            .optional()?)
    }

    /// The messages of the conversation with `contact` whose ids lie in `first..=last` (the ids an
    /// id prefix names), read through the key: the cost follows what matches, not the history.
    pub fn entries_between(
        &self,
        contact: ContactId,
        first: &MessageId,
        last: &MessageId,
    ) -> Result<Vec<Entry>, StorageError> {
        let mut statement = self.conn.prepare_cached(listing!(ID_RANGE))?;
        let rows = statement.query_map(params![contact, &first.0[..], &last.0[..]], entry)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// At most `limit` messages of the conversation with `contact` from `around`, oldest first;
    /// `None` if the cursor's message is not in this conversation.
    pub fn window(
        &self,
        contact: ContactId,
        around: Around,
        limit: usize,
    ) -> Result<Option<Window>, StorageError> {
        let cursor = match around {
            Around::Newest => (i64::MAX, i64::MAX, 0),
            Around::Before(id) | Around::After(id) => match self.position(contact, &id)? {
                Some(at) => at,
                None => return Ok(None),
            },
        };
        let (time, row, direction) = cursor;
        // The order is (time, row, direction); each direction's bound is its side of the cursor in
        // it, for rows numbered apart: ours at the cursor's row come before theirs.
        let (sql, ours, theirs) = match around {
            Around::Newest | Around::Before(_) => (listing!(OLDER), row + direction, row),
            Around::After(_) => (listing!(NEWER), row, row - 1 + direction),
        };
        let mut statement = self.conn.prepare_cached(sql)?;
        let asked = i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1;
        let mut entries = statement
            .query_map(params![contact, time, ours, theirs, asked], entry)?
            .collect::<Result<Vec<_>, _>>()?;
        let beyond = entries.len() > limit;
        entries.truncate(limit);
        let some = !entries.is_empty();
        Ok(Some(match around {
            Around::After(_) => Window {
                entries,
                older: some,
                newer: beyond,
            },
            _ => {
                entries.reverse();
                Window {
                    entries,
                    older: beyond,
                    newer: some && matches!(around, Around::Before(_)),
                }
            }
        }))
    }

    /// The newest message of the conversation with `contact`, either way.
    pub fn newest(&self, contact: ContactId) -> Result<Option<Entry>, StorageError> {
        Ok(self
            .window(contact, Around::Newest, 1)?
            .and_then(|w| w.entries.into_iter().next()))
    }

    fn position(
        &self,
        contact: ContactId,
        id: &MessageId,
    ) -> Result<Option<(i64, i64, i64)>, StorageError> {
        Ok(self
            .conn
            .prepare_cached(POSITION)?
            .query_row(params![contact, &id.0[..]], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?)
    }
}

/// A row of [`OUTGOING`] or [`INCOMING`] as an entry.
pub(crate) fn entry(r: &Row<'_>) -> rusqlite::Result<Entry> {
    let message = message_at(r, 1)?;
    let incoming: bool = r.get(6)?;
    let (direction, delivery) = if incoming {
        (Direction::Incoming, Delivery::Received)
    } else {
        let reached: u8 = r.get(8)?;
        let state = OutgoingState::of(r.get(7)?, reached >= 1, reached >= 2);
        (Direction::Outgoing, Delivery::Outgoing(state))
    };
    Ok(Entry {
        id: message_id(r, 0)?,
        direction,
        delivery,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConversationStore, Draft, Passphrase};
    use courier_proto::sync::attachment::CHUNK_TYPE;
    use courier_proto::sync::record::Message;
    use courier_proto::sync::session::SyncStore;
    use courier_proto::sync::timer::Timer;

    #[test]
    fn the_shown_condition_names_the_chunk_type_the_group_traffic_types_reactions_edits_and_receipts()
     {
        use courier_proto::group::invitation::{ANSWER_TYPE, PRESENCE_TYPE};
        use courier_proto::group::record::{GROUP_CHUNK_TYPE, RECORD_TYPE};
        use courier_proto::sync::receipt::RECEIPT_TYPE;
        use courier_proto::sync::relation::{EDIT_TYPE, REACTION_TYPE};
        let hidden = [
            CHUNK_TYPE,
            RECORD_TYPE,
            ANSWER_TYPE,
            PRESENCE_TYPE,
            GROUP_CHUNK_TYPE,
            REACTION_TYPE,
            EDIT_TYPE,
            RECEIPT_TYPE,
        ];
        assert_eq!(
            SHOWN,
            hidden
                .map(|t| format!("content_type != '{t}'"))
                .join(" AND ")
        );
        // The migration's indexes have the same condition, or a window would scan.
        let migration = crate::migrations::MIGRATIONS
            .concat()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let condition = SHOWN.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(migration.matches(&format!("WHERE {condition}")).count(), 2);
    }

    #[test]
    fn a_message_is_found_by_the_ids_its_prefix_names_either_way_and_only_in_its_conversation() {
        use crate::two_sides::{alice_and_bob, carry, send};
        let dir = tempfile::tempdir().unwrap();
        let (mut alice, mut bob) = alice_and_bob(dir.path());
        let ours = send(&mut alice, "courier/text", b"ours".to_vec()).unwrap();
        let theirs = send(&mut bob, "courier/text", b"theirs".to_vec()).unwrap();
        carry(&mut bob, &mut alice);
        let carol = alice.db.add_contact("carol").unwrap();
        let range = |id: &MessageId, fill: u8| {
            let mut bound = id.0;
            bound[4..].fill(fill);
            MessageId(bound)
        };
        for (id, direction) in [(ours, Direction::Outgoing), (theirs, Direction::Incoming)] {
            let (first, last) = (range(&id, 0x00), range(&id, 0xff));
            let found = alice.db.entries_between(alice.peer, &first, &last).unwrap();
            assert_eq!(found.len(), 1);
            assert_eq!((found[0].id, found[0].direction), (id, direction));
            assert!(
                alice
                    .db
                    .entries_between(carol, &first, &last)
                    .unwrap()
                    .is_empty()
            );
        }
    }

    #[test]
    fn no_index_or_trigger_on_the_messages_tests_a_list_of_types_each_row_would_build_a_table_for()
    {
        let dir = tempfile::tempdir().unwrap();
        let (alice, _bob) = crate::two_sides::alice_and_bob(dir.path());
        let schema: Vec<(String, String)> = alice
            .db
            .conn
            .prepare(
                "SELECT name, sql FROM sqlite_schema WHERE type IN ('index', 'trigger')
                   AND tbl_name IN ('incoming', 'outgoing') AND sql IS NOT NULL",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(schema.iter().any(|(name, _)| name == "incoming_shown"));
        assert!(schema.iter().any(|(name, _)| name == "unseen_arrived"));
        for (name, sql) in schema {
            assert!(!sql.contains("NOT IN"), "{name} tests a NOT IN list: {sql}");
        }
    }

    /// Alice's conversation with bob: ours and theirs interleaved, some at the same millisecond,
    /// and a big attachment whose chunks are not listed.
    fn conversation() -> (tempfile::TempDir, Database, ContactId) {
        let dir = tempfile::tempdir().unwrap();
        let passphrase = Passphrase::for_new_database("a long enough passphrase".into()).unwrap();
        let mut db = Database::open(&dir.path().join("courier.db"), &passphrase).unwrap();
        let bob = db.add_contact("bob").unwrap();
        for i in 0..40u64 {
            // Every third millisecond holds one of each direction, and theirs sometimes two.
            let at = 1_000 + i / 2 * 3 - u64::from(i % 10 == 9) * 3;
            if i % 2 == 0 {
                let draft = Draft::new("courier/text", 1, format!("ours {i}").into_bytes());
                db.send(bob, draft, at, Timer::OFF).unwrap();
            } else {
                let mut store = ConversationStore::new(&mut db, bob, 60_000, Timer::OFF);
                let message = Message {
                    timestamp_ms: at,
                    content_type: "courier/text".into(),
                    type_version: 1,
                    body: format!("theirs {i}").into_bytes(),
                    fallback: String::new(),
                };
                store.store_incoming(&message.id(), message).unwrap();
            }
        }
        let big = Draft::new("courier/file", 1, vec![7; 200_000]);
        db.send(bob, big, 2_000, Timer::OFF).unwrap();
        (dir, db, bob)
    }

    #[test]
    fn windows_walked_either_way_list_the_whole_conversation_once_in_order() {
        let (_dir, db, bob) = conversation();
        let whole = db.conversation(bob).unwrap();
        assert_eq!(
            whole.len(),
            41,
            "40 texts and one attachment, chunks not listed"
        );
        for limit in [1, 3, 7, 50] {
            // Backwards from the newest.
            let mut window = db.window(bob, Around::Newest, limit).unwrap().unwrap();
            assert!(!window.newer);
            let mut walked = window.entries.clone();
            while window.older {
                let first = window.entries[0].id;
                window = db
                    .window(bob, Around::Before(first), limit)
                    .unwrap()
                    .unwrap();
                assert!(window.newer);
                walked.splice(0..0, window.entries.clone());
            }
            assert_eq!(walked, whole, "backwards by {limit}");
            // Forwards from the oldest.
            let mut walked = vec![whole[0].clone()];
            let mut window = db
                .window(bob, Around::After(whole[0].id), limit)
                .unwrap()
                .unwrap();
            assert!(window.older);
            walked.extend(window.entries.clone());
            while window.newer {
                let last = window.entries.last().unwrap().id;
                window = db.window(bob, Around::After(last), limit).unwrap().unwrap();
                walked.extend(window.entries.clone());
            }
            assert_eq!(walked, whole, "forwards by {limit}");
        }
    }

    #[test]
    fn a_window_at_either_end_is_empty_and_says_so_and_a_stranger_s_cursor_is_none() {
        let (_dir, db, bob) = conversation();
        let whole = db.conversation(bob).unwrap();
        let after_last = db
            .window(bob, Around::After(whole.last().unwrap().id), 5)
            .unwrap()
            .unwrap();
        assert_eq!(
            (after_last.entries.len(), after_last.older, after_last.newer),
            (0, false, false)
        );
        let before_first = db
            .window(bob, Around::Before(whole[0].id), 5)
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                before_first.entries.len(),
                before_first.older,
                before_first.newer
            ),
            (0, false, false)
        );
        assert_eq!(
            db.window(bob, Around::After(MessageId([9; 32])), 5)
                .unwrap(),
            None
        );
        assert_eq!(db.newest(bob).unwrap().as_ref(), whole.last());
        assert_eq!(
            db.entry(bob, &whole[3].id).unwrap().as_ref(),
            Some(&whole[3])
        );
    }
}
