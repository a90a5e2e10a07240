//! What changed in the conversations since a front end last looked: messages that arrived, and where
//! our own messages stand. Read off the database, so a change made by any connection (the node, a
//! `courier send`, the API) is seen the same way.

use rusqlite::{OptionalExtension, params};

use super::contact_store::OutgoingState;
use super::database::Database;
use crate::{ContactId, StorageError};
use courier_proto::sync::attachment::{self, CHUNK_TYPE, MANIFEST_TYPE};
use courier_proto::sync::record::MessageId;

/// How far a reader has looked: the newest incoming message and the newest outgoing row it saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActivityMark {
    /// The highest `received_seq` seen.
    pub incoming_seq: i64,
    /// The highest outgoing rowid seen.
    pub outgoing_row: i64,
}

/// An outgoing message (not an attachment's chunk) and where it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutgoingRow {
    /// Its row, stable while it exists.
    pub row: i64,
    /// To whom.
    pub contact: ContactId,
    /// Which.
    pub id: MessageId,
    /// Queued, sent or acked.
    pub state: OutgoingState,
    /// Whether it is an attachment's manifest (its chunks go first, and show its progress).
    pub attachment: bool,
}

/// How far the chunks of one of our attachments have gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Chunks sent at least once.
    pub sent: usize,
    /// Chunks the contact stored.
    pub acked: usize,
    /// Chunks in all.
    pub total: usize,
}

/// Whether anything was committed to the database: by other connections (SQLite's
/// `data_version`) and by this one (its total changes). Two equal commit marks of one connection
/// mean nothing changed between them, so a reader can skip looking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitMark {
    others: i64,
    own: u64,
}

/// What [`Database::activity`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// Messages that arrived after the mark, oldest first.
    pub arrived: Vec<(ContactId, MessageId)>,
    /// Every outgoing message still unacked, and those queued after the mark whatever their state.
    pub outgoing: Vec<OutgoingRow>,
    /// The mark to pass next time.
    pub mark: ActivityMark,
}

impl Database {
    /// Where the commits stand now; a cheap look, no table read.
    pub fn commit_mark(&self) -> Result<CommitMark, StorageError> {
        Ok(CommitMark {
            others: self.data_version()?,
            own: self.conn.total_changes(),
        })
    }

    /// Where the database stands now, to look for changes from.
    pub fn activity_mark(&self) -> Result<ActivityMark, StorageError> {
        Ok(self.conn.query_row(
            "SELECT (SELECT coalesce(max(received_seq), 0) FROM incoming),
                    (SELECT coalesce(max(rowid), 0) FROM outgoing)",
            [],
            |r| {
                Ok(ActivityMark {
                    incoming_seq: r.get(0)?,
                    outgoing_row: r.get(1)?,
                })
            },
        )?)
    }

    /// What arrived since `mark`, and the outgoing messages whose state a reader must follow.
    pub fn activity(&self, mark: ActivityMark) -> Result<Activity, StorageError> {
        let mut next = mark;
        let mut arrived = Vec::new();
        let mut statement = self.conn.prepare_cached(
            "SELECT received_seq, contact_id, id, content_type FROM incoming
              WHERE received_seq > ?1 ORDER BY received_seq",
        )?;
        let mut rows = statement.query([mark.incoming_seq])?;
        while let Some(row) = rows.next()? {
            next.incoming_seq = next.incoming_seq.max(row.get(0)?);
            let content_type: String = row.get(3)?;
            if content_type != CHUNK_TYPE {
                arrived.push((row.get(1)?, message_id(row.get(2)?)?));
            }
        }
        let mut outgoing = Vec::new();
        let mut statement = self.conn.prepare_cached(
            "SELECT rowid, contact_id, id, times_sent, acked, content_type = ?3 FROM outgoing
              WHERE content_type != ?1 AND (acked = 0 OR rowid > ?2) ORDER BY rowid",
        )?;
        let mut rows = statement.query(params![CHUNK_TYPE, mark.outgoing_row, MANIFEST_TYPE])?;
        while let Some(row) = rows.next()? {
            let (times_sent, acked): (u32, bool) = (row.get(3)?, row.get(4)?);
            let outgoing_row = OutgoingRow {
                row: row.get(0)?,
                contact: row.get(1)?,
                id: message_id(row.get(2)?)?,
                state: OutgoingState::of(times_sent, acked),
                attachment: row.get(5)?,
            };
            next.outgoing_row = next.outgoing_row.max(outgoing_row.row);
            outgoing.push(outgoing_row);
        }
        // A chunk queued after the mark moves the mark too, so it is not read again.
        next.outgoing_row = next.outgoing_row.max(self.activity_mark()?.outgoing_row);
        Ok(Activity {
            arrived,
            outgoing,
            mark: next,
        })
    }

    /// How far the chunks of our attachment `id` to `contact` have gone; `None` if it is not one of
    /// our attachments.
    pub fn attachment_progress(
        &self,
        contact: ContactId,
        id: &MessageId,
    ) -> Result<Option<Progress>, StorageError> {
        let body: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT body FROM outgoing WHERE contact_id = ?1 AND id = ?2 AND content_type = ?3",
                params![contact, &id.0[..], MANIFEST_TYPE],
                |r| r.get(0),
            )
            .optional()?;
        let Some(manifest) = body.and_then(|b| attachment::parse_manifest(&b).ok()) else {
            return Ok(None);
        };
        let mut statement = self.conn.prepare_cached(
            "SELECT times_sent, acked FROM outgoing WHERE contact_id = ?1 AND id = ?2",
        )?;
        let mut progress = Progress {
            sent: 0,
            acked: 0,
            total: manifest.chunks.len(),
        };
        for chunk in &manifest.chunks {
            let state: Option<(u32, bool)> = statement
                .query_row(params![contact, &chunk.0[..]], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            if let Some((times_sent, acked)) = state {
                progress.sent += usize::from(times_sent > 0 || acked);
                progress.acked += usize::from(acked);
            }
        }
        Ok(Some(progress))
    }

    /// Marks every message from `contact` seen; returns how many were not.
    pub fn mark_seen(&mut self, contact: ContactId) -> Result<usize, StorageError> {
        Ok(self.conn.execute(
            "UPDATE incoming SET seen = 1 WHERE contact_id = ?1 AND seen = 0",
            [contact],
        )?)
    }

    /// How many messages from `contact` (an attachment counted once) the user has not seen.
    pub fn unseen(&self, contact: ContactId) -> Result<usize, StorageError> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM incoming WHERE contact_id = ?1 AND seen = 0 AND content_type != ?2",
            params![contact, CHUNK_TYPE],
            |r| r.get(0),
        )?)
    }
}

fn message_id(bytes: Vec<u8>) -> Result<MessageId, StorageError> {
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(MessageId)
        .map_err(|_| StorageError::Corrupt("a stored message id is not 32 bytes"))
}

#[cfg(test)]
mod tests {
    use crate::Passphrase;

    use super::*;

    #[test]
    fn the_commit_mark_moves_with_a_commit_of_this_connection_or_another_and_not_with_a_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("courier.db");
        let passphrase =
            || Passphrase::for_new_database("a long enough passphrase".into()).unwrap();
        let mut front = Database::open(&path, &passphrase()).unwrap();
        let before = front.commit_mark().unwrap();
        front.activity(front.activity_mark().unwrap()).unwrap();
        assert_eq!(front.commit_mark().unwrap(), before, "a read is no change");

        front.add_contact("bob").unwrap();
        let own = front.commit_mark().unwrap();
        assert_ne!(own, before, "its own commit");

        let mut node = Database::open(&path, &passphrase()).unwrap();
        node.add_contact("carol").unwrap();
        assert_ne!(
            front.commit_mark().unwrap(),
            own,
            "another connection's commit"
        );
    }
}
