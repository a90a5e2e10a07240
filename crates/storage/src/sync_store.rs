//! The SQLite outbox and inbox of one conversation, as the sync session sees them.

use rusqlite::{OptionalExtension, params};

use super::chunk_packs::{PackRef, Side};
use super::database::Database;
use super::disappearing;
use super::entry::Direction;
use super::message_row::{message_id, stored_message};
use super::receipts;
use super::relations;
use crate::{ContactId, StorageError};
use courier_proto::sync::record::{
    ContentTypeRange, MailboxAccess, Message, MessageId, TransportProperties,
};
use courier_proto::sync::session::{StoreError, SyncStore, retransmit_at};

use crate::error::store_error;
use crate::group_sync::{is_group_traffic, is_invitation};
use courier_proto::sync::timer::Timer;

/// One contact's outbox and inbox, with the transport latency that sets retransmission times.
pub struct ConversationStore<'a> {
    db: &'a mut Database,
    contact: ContactId,
    max_latency_ms: u64,
    longest: Timer,
    /// Set by [`holding`](Self::holding): sends wait for the medium's word, and are recorded here.
    held: Option<HeldSends>,
}

impl<'a> ConversationStore<'a> {
    /// The conversation with `contact` over a transport of `max_latency_ms`, on a device that keeps
    /// a message `longest` at most ([`Timer::OFF`]: as long as the conversation's timer says).
    pub fn new(
        db: &'a mut Database,
        contact: ContactId,
        max_latency_ms: u64,
        longest: Timer,
    ) -> Self {
        ConversationStore {
            db,
            contact,
            max_latency_ms,
            longest,
            held: None,
        }
    }

    /// The same conversation, where what is written counts as sent only once the medium says it
    /// took it (a mailbox's answer to an upload): a message written is not marked sent but kept
    /// from the next stream until `until_ms`, and what was written is recorded for
    /// [`Database::settle_held`]. Unsettled by then (the node stopped, the upload was lost), the
    /// messages are due again.
    pub fn holding(mut self, until_ms: u64, written_ms: u64) -> Self {
        self.held = Some(HeldSends {
            contact: self.contact,
            written_ms,
            until_ms,
            sent: Vec::new(),
            acks: Vec::new(),
        });
        self
    }

    /// What a [`holding`](Self::holding) store wrote, if it wrote anything.
    pub fn take_held(&mut self) -> Option<HeldSends> {
        self.held
            .take()
            .filter(|h| !h.sent.is_empty() || !h.acks.is_empty())
    }
}

/// What one stream carried to a contact while its medium had not yet answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldSends {
    /// Whose stream it was.
    pub contact: ContactId,
    /// When it was written: a message taken counts as sent from then.
    pub written_ms: u64,
    /// Until when its messages are kept from the next stream without an answer.
    pub until_ms: u64,
    /// The messages it carried.
    pub sent: Vec<MessageId>,
    /// The acks it carried.
    pub acks: Vec<MessageId>,
}

/// At most `?3` of our messages to `?1` due at `?2`, in queue order: read among the unacked only,
/// in the index's order, so a backlog is not sorted for every batch.
pub(crate) const DUE: &str = "SELECT id FROM outgoing WHERE contact_id = ?1 AND acked = 0
    AND due_ms <= ?2 ORDER BY timestamp_ms, rowid LIMIT ?3";
/// Marks our message `?2` to `?1` acked, its timer started at `?3` and held to `?4` (see
/// [`disappearing::start_on_ack`]); built once, since it runs for every ack.
static MARK_ACKED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "UPDATE outgoing SET acked = 1, {} WHERE contact_id = ?1 AND id = ?2",
        disappearing::start_on_ack()
    )
});

/// A message from `?1` stored, numbered after the last arrival.
pub(crate) const STORE_INCOMING: &str = "INSERT OR IGNORE INTO incoming (contact_id, id,
    timestamp_ms, content_type, type_version, body, fallback, pack_offset, pack_len, received_seq,
    expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,
    (SELECT coalesce(max(received_seq), 0) + 1 FROM incoming), ?10)";

impl SyncStore for ConversationStore<'_> {
    fn due(&self, now_ms: u64, limit: usize) -> Result<Vec<MessageId>, StoreError> {
        let mut statement = self.db.conn.prepare_cached(DUE).map_err(store_error)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let ids = statement
            .query_map(params![self.contact, now_ms as i64, limit], |r| {
                message_id(r, 0)
            })
            .map_err(store_error)?;
        ids.collect::<Result<_, _>>().map_err(store_error)
    }

    fn outgoing(&self, id: &MessageId) -> Result<Option<Message>, StoreError> {
        let row = self
            .db
            .conn
            .prepare_cached(
                "SELECT timestamp_ms, content_type, type_version, body, fallback, id, pack_offset, pack_len
                 FROM outgoing WHERE contact_id = ?1 AND id = ?2 AND acked = 0",
            )
            .and_then(|mut statement| {
                statement.query_row(params![self.contact, &id.0[..]], stored_message)
            })
            .optional()
            .map_err(store_error)?;
        let Some((message, id, packed)) = row else {
            return Ok(None);
        };
        match self
            .db
            .packs
            .unstow(Side::Outgoing, self.contact, message, &id, packed)
        {
            Ok(message) => Ok(Some(message)),
            // A chunk whose body was lost from its pack can never be sent: it is no longer due, so
            // it cannot hold up the messages behind it; the conversation shows the attachment
            // damaged, and sending the file again sends new chunks.
            Err(StorageError::PackDamaged { .. }) => {
                tracing::warn!("an outgoing attachment chunk is damaged on disk; it is not sent");
                self.db
                    .conn
                    .prepare_cached(
                        "UPDATE outgoing SET due_ms = ?3 WHERE contact_id = ?1 AND id = ?2",
                    )
                    .and_then(|mut statement| {
                        statement.execute(params![self.contact, &id.0[..], i64::MAX])
                    })
                    .map_err(store_error)?;
                Ok(None)
            }
            Err(e) => Err(store_error(e)),
        }
    }

    fn outgoing_len(&self, id: &MessageId) -> Result<Option<usize>, StoreError> {
        // A packed chunk's length is read off its place, without reading the chunk.
        let row: Option<(usize, Option<i64>, Option<i64>)> = self
            .db
            .conn
            .prepare_cached(
                "SELECT length(body), pack_offset, pack_len FROM outgoing
                 WHERE contact_id = ?1 AND id = ?2 AND acked = 0",
            )
            .and_then(|mut statement| {
                statement.query_row(params![self.contact, &id.0[..]], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
            })
            .optional()
            .map_err(store_error)?;
        Ok(row.map(|(inline, offset, len)| {
            PackRef::from_columns(offset, len).map_or(inline, |at| {
                usize::try_from(at.body_len()).unwrap_or(usize::MAX)
            })
        }))
    }

    fn mark_sent(&mut self, id: &MessageId, now_ms: u64) -> Result<(), StoreError> {
        if let Some(held) = &mut self.held {
            // Kept from the next stream, not counted sent (times_sent is untouched).
            self.db
                .conn
                .prepare_cached(
                    "UPDATE outgoing SET due_ms = ?3 WHERE contact_id = ?1 AND id = ?2 AND acked = 0",
                )
                .and_then(|mut statement| {
                    statement.execute(params![
                        self.contact,
                        &id.0[..],
                        held.until_ms.min(i64::MAX as u64) as i64
                    ])
                })
                .map_err(store_error)?;
            held.sent.push(*id);
            return Ok(());
        }
        record_sent(&self.db.conn, self.contact, id, now_ms, self.max_latency_ms)
            .map_err(store_error)
    }

    fn mark_acked(&mut self, id: &MessageId) -> Result<(), StoreError> {
        // Its disappearing timer, if it has one, runs from now.
        self.db
            .conn
            .prepare_cached(&MARK_ACKED)
            .and_then(|mut statement| {
                statement.execute(params![
                    self.contact,
                    &id.0[..],
                    wall_clock_ms(),
                    disappearing::bound_ms(self.longest)
                ])
            })
            .map_err(store_error)?;
        Ok(())
    }

    fn has_incoming(&self, id: &MessageId) -> Result<bool, StoreError> {
        // A message deleted (by its timer, or by the user) and sent again is acked, not stored.
        if disappearing::forgotten(&self.db.conn, self.contact, id).map_err(store_error)? {
            return Ok(true);
        }
        let row: Option<(Option<i64>, Option<i64>)> = self
            .db
            .conn
            .prepare_cached(
                "SELECT pack_offset, pack_len FROM incoming WHERE contact_id = ?1 AND id = ?2",
            )
            .and_then(|mut statement| {
                statement.query_row(params![self.contact, &id.0[..]], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
            })
            .optional()
            .map_err(store_error)?;
        let Some((offset, len)) = row else {
            return Ok(false);
        };
        let Some(at) = PackRef::from_columns(offset, len) else {
            return Ok(true);
        };
        // A chunk sent again is one we may hold only as a row whose body was lost from its pack:
        // then the row goes, and the copy arriving now is stored in its place. Only duplicates pay
        // for this read.
        match self.db.packs.read(Side::Incoming, self.contact, id, at) {
            Ok(_) => Ok(true),
            Err(StorageError::PackDamaged { .. }) => {
                self.db
                    .conn
                    .prepare_cached("DELETE FROM incoming WHERE contact_id = ?1 AND id = ?2")
                    .and_then(|mut statement| statement.execute(params![self.contact, &id.0[..]]))
                    .map_err(store_error)?;
                Ok(false)
            }
            Err(e) => Err(store_error(e)),
        }
    }

    fn store_incoming(&mut self, id: &MessageId, message: Message) -> Result<(), StoreError> {
        let db = &mut *self.db;
        // Group traffic goes to its group, by the group's rules; a record, an answer or a
        // presence tag is no conversation message (a retransmission is taken again, as a
        // duplicate), an invitation is one too.
        let group_traffic = is_group_traffic(&message.content_type);
        if group_traffic || is_invitation(&message.content_type) {
            db.take_group_message(
                self.contact,
                &message,
                crate::Arrival {
                    now_ms: wall_clock_ms() as u64,
                    longest: self.longest,
                },
            )
            .map_err(store_error)?;
        }
        if group_traffic {
            return Ok(());
        }
        // A read receipt is recorded on our messages and not kept (a copy again records nothing).
        if receipts::is_receipt(&message) {
            return receipts::received(&db.conn, self.contact, &message).map_err(store_error);
        }
        // A relation the conversation does not allow is acked and dropped: nothing of it is kept.
        let now_ms = wall_clock_ms() as u64;
        let relation = match relations::check(&db.conn, self.contact, &message, Direction::Incoming)
            .map_err(store_error)?
        {
            Ok(relation) => relation,
            Err(_refused) => return Ok(()),
        };
        let (body, packed) = db
            .packs
            .stow(Side::Incoming, self.contact, id, &message)
            .map_err(store_error)?;
        if db.conn.is_autocommit() {
            db.packs.sync().map_err(store_error)?;
        }
        let expires = disappearing::received(
            &db.conn,
            self.contact,
            id,
            &message,
            self.longest,
            wall_clock_ms() as u64,
        )
        .map_err(store_error)?;
        // INSERT OR IGNORE: a duplicate that slipped past `has_incoming` still lands once.
        db.conn
            .prepare_cached(STORE_INCOMING)
            .and_then(|mut statement| {
                statement.execute(params![
                    self.contact,
                    &id.0[..],
                    message.timestamp_ms as i64,
                    message.content_type,
                    message.type_version,
                    body,
                    message.fallback,
                    packed.map(|p| p.offset as i64),
                    packed.map(|p| p.len as i64),
                    expires
                ])
            })
            .map_err(store_error)?;
        if let Some(checked) = relation {
            relations::stored(
                &db.conn,
                self.contact,
                id,
                Direction::Incoming,
                checked,
                now_ms,
            )
            .map_err(store_error)?;
        }
        Ok(())
    }

    fn ack_later(&mut self, id: &MessageId) -> Result<(), StoreError> {
        owe_ack(&self.db.conn, self.contact, id).map_err(store_error)
    }

    fn acks_due(&self, limit: usize) -> Result<Vec<MessageId>, StoreError> {
        let mut statement = self
            .db
            .conn
            .prepare_cached("SELECT id FROM acks_due WHERE contact_id = ?1 ORDER BY rowid LIMIT ?2")
            .map_err(store_error)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let ids = statement
            .query_map(params![self.contact, limit], |r| message_id(r, 0))
            .map_err(store_error)?;
        ids.collect::<Result<_, _>>().map_err(store_error)
    }

    fn acks_written(&mut self, ids: &[MessageId]) -> Result<(), StoreError> {
        // Held acks are no longer due either: a stream the medium refuses owes them again.
        if let Some(held) = &mut self.held {
            held.acks.extend_from_slice(ids);
        }
        let mut statement = self
            .db
            .conn
            .prepare_cached("DELETE FROM acks_due WHERE contact_id = ?1 AND id = ?2")
            .map_err(store_error)?;
        for id in ids {
            statement
                .execute(params![self.contact, &id.0[..]])
                .map_err(store_error)?;
        }
        Ok(())
    }

    fn store_peer_content_types(&mut self, types: Vec<ContentTypeRange>) -> Result<(), StoreError> {
        self.db
            .save_peer_content_types(self.contact, &types)
            .map_err(store_error)
    }

    fn store_peer_properties(
        &mut self,
        transports: Vec<TransportProperties>,
    ) -> Result<(), StoreError> {
        self.db
            .save_peer_properties(self.contact, &transports)
            .map_err(store_error)
    }

    fn mailbox_to_tell(&self) -> Result<Option<Option<MailboxAccess>>, StoreError> {
        self.db.mailbox_to_tell(self.contact).map_err(store_error)
    }

    fn store_peer_mailbox(&mut self, access: Option<MailboxAccess>) -> Result<(), StoreError> {
        self.db
            .save_peer_mailbox(self.contact, access.as_ref())
            .map_err(store_error)
    }
}

/// Records that our message `id` to `contact` was sent at `now_ms`: one more send, due again after
/// the backoff for a transport of `max_latency_ms`.
pub(crate) fn record_sent(
    conn: &rusqlite::Connection,
    contact: ContactId,
    id: &MessageId,
    now_ms: u64,
    max_latency_ms: u64,
) -> rusqlite::Result<()> {
    let times_sent: Option<u32> = conn
        .prepare_cached("SELECT times_sent FROM outgoing WHERE contact_id = ?1 AND id = ?2")?
        .query_row(params![contact, &id.0[..]], |r| r.get(0))
        .optional()?;
    let Some(times_sent) = times_sent else {
        return Ok(());
    };
    let due = retransmit_at(now_ms, times_sent + 1, max_latency_ms);
    conn.prepare_cached(
        "UPDATE outgoing SET times_sent = ?3, due_ms = ?4 WHERE contact_id = ?1 AND id = ?2",
    )?
    .execute(params![
        contact,
        &id.0[..],
        times_sent + 1,
        due.min(i64::MAX as u64) as i64
    ])?;
    Ok(())
}

/// Records that `contact`'s message `id` needs our ack on the next simplex stream.
pub(crate) fn owe_ack(
    conn: &rusqlite::Connection,
    contact: ContactId,
    id: &MessageId,
) -> rusqlite::Result<()> {
    // OR IGNORE: an ack already owed keeps its place in line.
    conn.prepare_cached("INSERT OR IGNORE INTO acks_due (contact_id, id) VALUES (?1, ?2)")?
        .execute(params![contact, &id.0[..]])?;
    Ok(())
}

/// The wall clock in Unix ms, for a disappearing timer's start.
fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Passphrase;

    fn text(body: &str, t: u64) -> Message {
        Message {
            timestamp_ms: t,
            content_type: "courier/text".into(),
            type_version: 1,
            fallback: String::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn acks_owed_for_a_drive_are_kept_per_contact_in_order_once_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bob.db");
        let pass = || Passphrase::new("bob's passphrase".into()).unwrap();
        let (one, two, three) = (
            text("one", 1).id(),
            text("two", 2).id(),
            text("three", 3).id(),
        );
        let (alice, carol) = {
            let mut db = Database::open(&path, &pass()).unwrap();
            let (alice, carol) = (
                db.add_contact("alice").unwrap(),
                db.add_contact("carol").unwrap(),
            );
            let mut from_alice = ConversationStore::new(&mut db, alice, 1_000, Timer::OFF);
            for id in [two, one, two] {
                from_alice.ack_later(&id).unwrap();
            }
            ConversationStore::new(&mut db, carol, 1_000, Timer::OFF)
                .ack_later(&three)
                .unwrap();
            (alice, carol)
        };
        let mut db = Database::open(&path, &pass()).unwrap();
        let mut from_alice = ConversationStore::new(&mut db, alice, 1_000, Timer::OFF);
        assert_eq!(
            from_alice.acks_due(10).unwrap(),
            [two, one],
            "oldest first, once each"
        );
        assert_eq!(from_alice.acks_due(1).unwrap(), [two]);
        from_alice.acks_written(&[two]).unwrap();
        assert_eq!(from_alice.acks_due(10).unwrap(), [one]);
        from_alice.ack_later(&two).unwrap();
        assert_eq!(
            from_alice.acks_due(10).unwrap(),
            [one, two],
            "a duplicate read again owes its ack again"
        );
        let from_carol = ConversationStore::new(&mut db, carol, 1_000, Timer::OFF);
        assert_eq!(
            from_carol.acks_due(10).unwrap(),
            [three],
            "each contact its own"
        );
        db.remove_contact("alice").unwrap();
        assert_eq!(
            ConversationStore::new(&mut db, alice, 1_000, Timer::OFF)
                .acks_due(10)
                .unwrap(),
            [],
            "gone with the contact"
        );
    }
}
