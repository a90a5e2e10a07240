//! The SQLite outbox and inbox of one conversation, as the sync session sees them.

use rusqlite::{OptionalExtension, Row, params};

use super::database::{ContactId, Database};
use crate::sync::record::{ContentTypeRange, Message, MessageId, TransportProperties};
use crate::sync::session::{StoreError, SyncStore, retransmit_at};

/// One contact's outbox and inbox, with the transport latency that sets retransmission times.
pub struct ConversationStore<'a> {
    db: &'a mut Database,
    contact: ContactId,
    max_latency_ms: u64,
}

impl<'a> ConversationStore<'a> {
    /// The conversation with `contact` over a transport of `max_latency_ms`.
    pub fn new(db: &'a mut Database, contact: ContactId, max_latency_ms: u64) -> Self {
        ConversationStore {
            db,
            contact,
            max_latency_ms,
        }
    }
}

pub(super) fn message_from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        timestamp_ms: row.get::<_, i64>(0)? as u64,
        content_type: row.get(1)?,
        type_version: row.get(2)?,
        fallback: row.get(4)?,
        body: row.get(3)?,
    })
}

fn store_error(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}

impl SyncStore for ConversationStore<'_> {
    fn due(&self, now_ms: u64, limit: usize) -> Result<Vec<MessageId>, StoreError> {
        let mut statement = self
            .db
            .conn
            .prepare_cached(
                "SELECT id FROM outgoing WHERE contact_id = ?1 AND acked = 0 AND due_ms <= ?2
                 ORDER BY timestamp_ms, rowid LIMIT ?3",
            )
            .map_err(store_error)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let ids = statement
            .query_map(params![self.contact, now_ms as i64, limit], |r| {
                let id: Vec<u8> = r.get(0)?;
                let id: [u8; 32] = id.try_into().map_err(|_| {
                    rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Blob,
                        "a stored message id is not 32 bytes".into(),
                    )
                })?;
                Ok(MessageId(id))
            })
            .map_err(store_error)?;
        ids.collect::<Result<_, _>>().map_err(store_error)
    }

    fn outgoing(&self, id: &MessageId) -> Result<Option<Message>, StoreError> {
        self.db
            .conn
            .prepare_cached(
                "SELECT timestamp_ms, content_type, type_version, body, fallback FROM outgoing
                 WHERE contact_id = ?1 AND id = ?2 AND acked = 0",
            )
            .and_then(|mut statement| {
                statement.query_row(params![self.contact, &id.0[..]], message_from_row)
            })
            .optional()
            .map_err(store_error)
    }

    fn mark_sent(&mut self, id: &MessageId, now_ms: u64) -> Result<(), StoreError> {
        let times_sent: Option<u32> = self
            .db
            .conn
            .prepare_cached("SELECT times_sent FROM outgoing WHERE contact_id = ?1 AND id = ?2")
            .and_then(|mut statement| {
                statement.query_row(params![self.contact, &id.0[..]], |r| r.get(0))
            })
            .optional()
            .map_err(store_error)?;
        let Some(times_sent) = times_sent else {
            return Ok(());
        };
        let due = retransmit_at(now_ms, times_sent + 1, self.max_latency_ms);
        self.db
            .conn
            .prepare_cached("UPDATE outgoing SET times_sent = ?3, due_ms = ?4 WHERE contact_id = ?1 AND id = ?2").and_then(|mut statement| statement.execute(
                params![self.contact, &id.0[..], times_sent + 1, due.min(i64::MAX as u64) as i64],
            ))
            .map_err(store_error)?;
        Ok(())
    }

    fn mark_acked(&mut self, id: &MessageId) -> Result<(), StoreError> {
        self.db
            .conn
            .prepare_cached("UPDATE outgoing SET acked = 1 WHERE contact_id = ?1 AND id = ?2")
            .and_then(|mut statement| statement.execute(params![self.contact, &id.0[..]]))
            .map_err(store_error)?;
        Ok(())
    }

    fn has_incoming(&self, id: &MessageId) -> Result<bool, StoreError> {
        self.db
            .conn
            .prepare_cached("SELECT 1 FROM incoming WHERE contact_id = ?1 AND id = ?2")
            .and_then(|mut statement| {
                statement.query_row(params![self.contact, &id.0[..]], |_| Ok(()))
            })
            .optional()
            .map(|found| found.is_some())
            .map_err(store_error)
    }

    fn store_incoming(&mut self, message: Message) -> Result<(), StoreError> {
        // INSERT OR IGNORE: a duplicate that slipped past `has_incoming` still lands once.
        self.db
            .conn
            .prepare_cached("INSERT OR IGNORE INTO incoming (contact_id, id, timestamp_ms, content_type, type_version, body, fallback, received_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT coalesce(max(received_seq), 0) + 1 FROM incoming))").and_then(|mut statement| statement.execute(
                params![self.contact, &message.id().0[..], message.timestamp_ms as i64, message.content_type, message.type_version, message.body, message.fallback],
            ))
            .map_err(store_error)?;
        Ok(())
    }

    fn store_peer_content_types(&mut self, types: Vec<ContentTypeRange>) -> Result<(), StoreError> {
        self.db
            .save_peer_content_types(self.contact, &types)
            .map_err(|e| StoreError(e.to_string()))
    }

    fn store_peer_properties(
        &mut self,
        transports: Vec<TransportProperties>,
    ) -> Result<(), StoreError> {
        self.db
            .save_peer_properties(self.contact, &transports)
            .map_err(|e| StoreError(e.to_string()))
    }
}
