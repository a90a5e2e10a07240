//! What changed in the conversations since a front end last looked: messages that arrived, and where
//! our own messages stand. Read off the database, so a change made by any connection (the node, a
//! `courier send`, the API) is seen the same way.

use std::collections::BTreeSet;

use rusqlite::{OptionalExtension, params};

use super::contact_store::OutgoingState;
use super::database::Database;
use super::entry::Entry;
use super::window::{entry, listing};
use crate::{ContactId, StorageError};
use courier_proto::sync::attachment::{self, CHUNK_TYPE, MANIFEST_TYPE};

use crate::group_sync::is_group_traffic;
use courier_proto::sync::receipt::RECEIPT_TYPE;
use courier_proto::sync::record::MessageId;
use courier_proto::sync::relation::RelationKind;

/// How far a reader has looked: the newest incoming message and the newest change to an outgoing
/// message it saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActivityMark {
    /// The highest `received_seq` seen.
    pub incoming_seq: i64,
    /// The highest outgoing `changed` number seen (see migration 18).
    pub outgoing_change: i64,
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
    /// The relation it is, if it is one.
    pub relation: Option<RelationKind>,
}

/// A message that arrived (not an attachment's chunk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrived {
    /// From whom.
    pub contact: ContactId,
    /// Which.
    pub id: MessageId,
    /// The relation it is, if it is one.
    pub relation: Option<RelationKind>,
    /// Its row, where [`Database::arrived_entry`] reads it beside the rows just read.
    pub(crate) row: i64,
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
    pub arrived: Vec<Arrived>,
    /// Our messages (not chunks) queued, sent or acked after the mark, in the order they changed.
    pub outgoing: Vec<OutgoingRow>,
    /// The contacts to whom one of our attachments' chunks was queued, sent or acked after the mark.
    pub chunks_moved: BTreeSet<ContactId>,
    /// The mark to pass next time.
    pub mark: ActivityMark,
}

/// The newest arrival and the newest change to an outgoing row, each read off its index's end.
pub(crate) const MARK: &str = "SELECT (SELECT coalesce(max(received_seq), 0) FROM incoming),
    (SELECT coalesce(max(changed), 0) FROM outgoing)";
/// Arrivals after `?1`, in order.
pub(crate) const ARRIVED: &str = "SELECT received_seq, contact_id, id, content_type, rowid
    FROM incoming WHERE received_seq > ?1 ORDER BY received_seq";
/// The arrival in row `?1`, if it is shown: read by row, beside the arrivals just listed, where
/// its id would seek through the whole key.
pub(crate) const ARRIVED_AT: &str = "SELECT {IN} WHERE rowid = ?1 AND {SHOWN}";
/// Outgoing rows changed after `?1`, in the order they changed.
pub(crate) const CHANGED: &str = "SELECT changed, rowid, contact_id, id, times_sent, acked,
    content_type, read_ms IS NOT NULL FROM outgoing WHERE changed > ?1 ORDER BY changed";
/// Every unacked outgoing row but chunks.
pub(crate) const UNACKED: &str = "SELECT rowid, contact_id, id, times_sent, acked, content_type,
    read_ms IS NOT NULL FROM outgoing WHERE acked = 0 AND content_type != 'courier/chunk'";
/// `?1`'s attachments not acked yet.
pub(crate) const IN_FLIGHT: &str = "SELECT rowid, id FROM outgoing
    WHERE contact_id = ?1 AND acked = 0 AND content_type = 'courier/attachment' ORDER BY rowid";

impl Database {
    /// Where the commits stand now; a cheap look, no table read.
    pub fn commit_mark(&self) -> Result<CommitMark, StorageError> {
        Ok(CommitMark {
            others: self.data_version()?,
            own: self.conn.total_changes(),
        })
    }

    /// The message that `arrival` is, as [`entry`](Self::entry) reads it, if it is shown.
    pub fn arrived_entry(&self, arrival: &Arrived) -> Result<Option<Entry>, StorageError> {
        let mut statement = self.conn.prepare_cached(listing!(ARRIVED_AT))?;
        Ok(statement.query_row([arrival.row], entry).optional()?)
    }

    /// Where the database stands now, to look for changes from.
    pub fn activity_mark(&self) -> Result<ActivityMark, StorageError> {
        Ok(self.conn.prepare_cached(MARK)?.query_row([], |r| {
            Ok(ActivityMark {
                incoming_seq: r.get(0)?,
                outgoing_change: r.get(1)?,
            })
        })?)
    }

    /// What arrived and what of ours changed since `mark`: reads only those rows.
    pub fn activity(&self, mark: ActivityMark) -> Result<Activity, StorageError> {
        let mut found = Activity {
            mark,
            ..Activity::default()
        };
        let mut statement = self.conn.prepare_cached(ARRIVED)?;
        let mut rows = statement.query([mark.incoming_seq])?;
        while let Some(row) = rows.next()? {
            found.mark.incoming_seq = found.mark.incoming_seq.max(row.get(0)?);
            let content_type: String = row.get(3)?;
            if content_type != CHUNK_TYPE {
                found.arrived.push(Arrived {
                    contact: row.get(1)?,
                    id: message_id(row.get(2)?)?,
                    relation: RelationKind::of(&content_type),
                    row: row.get(4)?,
                });
            }
        }
        let mut statement = self.conn.prepare_cached(CHANGED)?;
        let mut rows = statement.query(params![mark.outgoing_change])?;
        while let Some(row) = rows.next()? {
            found.mark.outgoing_change = found.mark.outgoing_change.max(row.get(0)?);
            let contact: ContactId = row.get(2)?;
            let content_type: String = row.get(6)?;
            if content_type == CHUNK_TYPE {
                found.chunks_moved.insert(contact);
                continue;
            }
            // A group's records are told as the group's, not as messages to a contact; our read
            // receipts are no message the user wrote.
            if is_group_traffic(&content_type) || content_type == RECEIPT_TYPE {
                continue;
            }
            let (times_sent, acked, read): (u32, bool, bool) =
                (row.get(4)?, row.get(5)?, row.get(7)?);
            found.outgoing.push(OutgoingRow {
                row: row.get(1)?,
                contact,
                id: message_id(row.get(3)?)?,
                state: OutgoingState::of(times_sent, acked, read),
                attachment: content_type == MANIFEST_TYPE,
                relation: RelationKind::of(&content_type),
            });
        }
        Ok(found)
    }

    /// Our messages (not chunks) not acked yet: a reader's starting point, read once.
    pub fn unacked(&self) -> Result<Vec<OutgoingRow>, StorageError> {
        let mut statement = self.conn.prepare_cached(UNACKED)?;
        let rows = statement.query_map([], |row| {
            let state = OutgoingState::of(row.get(3)?, row.get(4)?, row.get(6)?);
            let content_type: String = row.get(5)?;
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, state, content_type))
        })?;
        rows.map(|row| {
            let (row, contact, id, state, content_type) = row?;
            Ok(OutgoingRow {
                row,
                contact,
                id: message_id(id)?,
                state,
                attachment: content_type == MANIFEST_TYPE,
                relation: RelationKind::of(&content_type),
            })
        })
        .collect()
    }

    /// Our attachments to `contact` not acked yet, by row.
    pub fn attachments_in_flight(
        &self,
        contact: ContactId,
    ) -> Result<Vec<(i64, MessageId)>, StorageError> {
        let mut statement = self.conn.prepare_cached(IN_FLIGHT)?;
        let rows = statement.query_map([contact], |r| Ok((r.get(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        rows.map(|row| {
            let (row, id) = row?;
            Ok((row, message_id(id)?))
        })
        .collect()
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

    /// Two connections to one new database in `dir`: a front end's and a node's.
    fn front_and_node(dir: &std::path::Path) -> (Database, Database) {
        let path = dir.join("courier.db");
        let passphrase =
            || Passphrase::for_new_database("a long enough passphrase".into()).unwrap();
        let front = Database::open(&path, &passphrase()).unwrap();
        (front, Database::open(&path, &passphrase()).unwrap())
    }

    #[test]
    fn the_commit_mark_moves_with_a_commit_of_this_connection_or_another_and_not_with_a_read() {
        let dir = tempfile::tempdir().unwrap();
        let (mut front, mut node) = front_and_node(dir.path());
        let before = front.commit_mark().unwrap();
        front.activity(front.activity_mark().unwrap()).unwrap();
        assert_eq!(front.commit_mark().unwrap(), before, "a read is no change");

        front.add_contact("bob").unwrap();
        let own = front.commit_mark().unwrap();
        assert_ne!(own, before, "its own commit");

        node.add_contact("carol").unwrap();
        assert_ne!(
            front.commit_mark().unwrap(),
            own,
            "another connection's commit"
        );
    }

    #[test]
    fn a_snapshot_sees_one_moment_and_what_another_connection_adds_meanwhile_shows_after_it() {
        use crate::Draft;
        use courier_proto::sync::timer::Timer;
        let dir = tempfile::tempdir().unwrap();
        let (mut front, mut node) = front_and_node(dir.path());
        let bob = front.add_contact("bob").unwrap();
        let text = |body: &str| Draft::new("courier/text", 1, body.as_bytes().to_vec());
        let (first, _) = node.send(bob, text("first"), 1_000, Timer::OFF).unwrap();

        assert!(front.begin_snapshot().unwrap(), "a snapshot begins");
        assert!(front.entry(bob, &first).unwrap().is_some());
        let (second, _) = node.send(bob, text("second"), 2_000, Timer::OFF).unwrap();
        assert!(
            front.entry(bob, &second).unwrap().is_none(),
            "a commit after the snapshot's first read is not in it"
        );
        front.end_snapshot().unwrap();
        assert!(
            front.entry(bob, &second).unwrap().is_some(),
            "and shows after it"
        );

        // Inside a transaction already, nothing more is begun, and ending it is the caller's.
        front
            .batch(crate::Durability::Full, |db| -> Result<(), StorageError> {
                assert!(!db.begin_snapshot()?);
                Ok(())
            })
            .unwrap();
        assert!(front.conn.is_autocommit(), "the caller's batch ended it");
    }
}
