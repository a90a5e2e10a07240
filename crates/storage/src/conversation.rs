//! A conversation as the user sees it: sending into the outbox, and both directions listed in order.

use rusqlite::{OptionalExtension, params};

use super::attachments::{self, Draft};
use super::chunk_packs::{PackRef, Side};
use super::database::{Database, begin_write, queue_outgoing};
use super::disappearing;
use super::entry::Direction;
use super::relations;
use crate::{ContactId, StorageError};
use courier_proto::sync::attachment::{self, MANIFEST_TYPE};
use courier_proto::sync::record::{Message, MessageId};
use courier_proto::sync::relation::RelationKind;
use courier_proto::sync::timer::Timer;

/// How long a send's key is kept: a client retrying later than this sends again.
const SEND_KEY_LIFETIME_MS: u64 = 7 * 86_400_000;

/// Send keys older than `?1` go.
pub(crate) const EXPIRED_SEND_KEYS: &str = "DELETE FROM send_keys WHERE added_ms < ?1";
/// The newest timestamp queued to `?1`.
pub(crate) const NEWEST_QUEUED: &str =
    "SELECT max(timestamp_ms) FROM outgoing WHERE contact_id = ?1";

/// Whether a batch must be on disk when it commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync on commit: the batch stores something the peer will be told is safe (an ack follows).
    Full,
    /// No fsync on commit (WAL keeps it consistent; a crash may lose it): sent marks and acks, whose
    /// loss costs only a resend that the receiver drops as a duplicate.
    Relaxed,
}

impl Database {
    /// Queues a new message to `contact` and returns it with its id; it is on disk when this returns.
    /// A payload over one message body goes as an attachment: its chunks, then the manifest that
    /// lists them (the returned message), all in one transaction.
    ///
    /// Its timestamp is `now_ms`, or one past the newest message already queued to the contact if the
    /// clock went backwards or two arrive in one millisecond: timestamps order the conversation, and
    /// two identical texts sent twice are two messages, not one.
    ///
    /// `longest` is the longest this device keeps a message (a profile's `disappear-within`),
    /// whatever the conversation's timer; [`Timer::OFF`] for no bound.
    pub fn send(
        &mut self,
        contact: ContactId,
        draft: Draft,
        now_ms: u64,
        longest: Timer,
    ) -> Result<(MessageId, Message), StorageError> {
        self.send_keyed(contact, draft, now_ms, None, longest)
            .map(|(id, message, _)| (id, message))
    }

    /// [`send`](Self::send), once per `key`: a second send to `contact` with a key given in the last
    /// week queues nothing and returns the id the first queued, and `false`. The key is stored in
    /// the same transaction as the message, so a crash cannot keep one without the other.
    pub fn send_keyed(
        &mut self,
        contact: ContactId,
        mut draft: Draft,
        now_ms: u64,
        key: Option<&str>,
        longest: Timer,
    ) -> Result<(MessageId, Message, bool), StorageError> {
        let Database { conn, packs, .. } = self;
        let tx = begin_write(conn)?;
        let known: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM contacts WHERE id = ?1)")?
            .query_row([contact], |r| r.get(0))?;
        if !known {
            return Err(StorageError::NoKeys);
        }
        if let Some(key) = key {
            tx.execute(
                EXPIRED_SEND_KEYS,
                [now_ms.saturating_sub(SEND_KEY_LIFETIME_MS) as i64],
            )?;
            let earlier: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT id FROM send_keys WHERE contact_id = ?1 AND key = ?2",
                    params![contact, key],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = earlier {
                let id = <[u8; 32]>::try_from(id.as_slice())
                    .map_err(|_| StorageError::Corrupt("a stored message id is not 32 bytes"))?;
                let message = Message {
                    timestamp_ms: now_ms,
                    content_type: draft.content_type,
                    type_version: draft.version,
                    fallback: draft.fallback,
                    body: Vec::new(),
                };
                tx.commit()?;
                return Ok((MessageId(id), message, false));
            }
        }
        let newest: Option<i64> = tx
            .prepare_cached(NEWEST_QUEUED)?
            .query_row([contact], |r| r.get(0))?;
        let timestamp_ms = newest.map_or(now_ms, |t| now_ms.max(t as u64 + 1));
        let fallback = std::mem::take(&mut draft.fallback);
        let (mut head, chunks) = attachments::split_if_large(draft, timestamp_ms)?;
        head.fallback = fallback;
        head.check()?;
        let relation =
            relations::check(&tx, contact, &head, Direction::Outgoing)?.map_err(|refused| {
                StorageError::Relation {
                    kind: RelationKind::of(&head.content_type)
                        .map_or("relation", RelationKind::as_str),
                    refused,
                }
            })?;
        let head_id = head.id();
        let messages: Vec<(MessageId, &Message)> = chunks
            .iter()
            .map(|(id, m)| (*id, m))
            .chain([(head_id, &head)])
            .collect();
        let rows = packs.stow_all(Side::Outgoing, contact, &messages)?;
        for ((id, message), row) in messages.iter().zip(rows) {
            queue_outgoing(&tx, contact, (id, message), timestamp_ms, row)?;
        }
        disappearing::sent(&tx, contact, (&head_id, &head), longest)?;
        if let Some(checked) = relation {
            relations::stored(&tx, contact, &head_id, Direction::Outgoing, checked, now_ms)?;
        }
        if let Some(key) = key {
            tx.execute(
                "INSERT INTO send_keys (contact_id, key, id, added_ms) VALUES (?1, ?2, ?3, ?4)",
                params![contact, key, &head_id.0[..], now_ms as i64],
            )?;
        }
        // The chunks are on disk before the rows that point at them.
        packs.sync()?;
        tx.commit()?;
        Ok((head_id, head, true))
    }

    /// Makes every sent but unacked message to `contact` due now. Called when a duplex connection to
    /// them ends: whatever it carried without an ack may be lost, and waiting out the backoff would let
    /// newer messages overtake it.
    pub fn retry_unacked_now(&mut self, contact: ContactId) -> Result<(), StorageError> {
        self.conn.execute(
            "UPDATE outgoing SET due_ms = 0 WHERE contact_id = ?1 AND acked = 0 AND times_sent > 0",
            [contact],
        )?;
        Ok(())
    }

    /// Deletes the message `id` of the conversation with `contact` (both directions), with the
    /// chunks of an attachment; false if there is no such message. An outgoing message deleted
    /// before its ack is not sent again, and an incoming one sent again is acked but not stored. The
    /// chunks' sealed bytes are overwritten in their pack, and a pack left with none is removed.
    pub fn delete_message(
        &mut self,
        contact: ContactId,
        id: &MessageId,
    ) -> Result<bool, StorageError> {
        Ok(self.delete_messages(&[(contact, *id)])? > 0)
    }

    /// Deletes each message as [`delete_message`](Self::delete_message) does, all in one
    /// transaction (one commit for a sweep of thousands); how many of them there were.
    pub(crate) fn delete_messages(
        &mut self,
        which: &[(ContactId, MessageId)],
    ) -> Result<usize, StorageError> {
        let tx = begin_write(&mut self.conn)?;
        let mut deleted = 0;
        let mut sealed: Vec<(ContactId, Side, PackRef)> = Vec::new();
        for (contact, id) in which {
            let contact = *contact;
            for (table, side) in [("outgoing", Side::Outgoing), ("incoming", Side::Incoming)] {
                let row: Option<(String, Vec<u8>)> = tx
                    .query_row(
                        &format!(
                            "SELECT content_type, body FROM {table} WHERE contact_id = ?1 AND id = ?2"
                        ),
                        params![contact, &id.0[..]],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let Some((content_type, body)) = row else {
                    continue;
                };
                let mut ids = vec![*id];
                if content_type == MANIFEST_TYPE
                    && let Ok(manifest) = attachment::parse_manifest(&body)
                {
                    ids.extend(manifest.chunks.iter().copied());
                }
                for gone in &ids {
                    let place: Option<(Option<i64>, Option<i64>)> = tx
                        .query_row(
                            &format!("DELETE FROM {table} WHERE contact_id = ?1 AND id = ?2 RETURNING pack_offset, pack_len"),
                            params![contact, &gone.0[..]],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .optional()?;
                    if let Some((offset, len)) = place {
                        deleted += usize::from(gone == id);
                        sealed.extend(
                            PackRef::from_columns(offset, len).map(|at| (contact, side, at)),
                        );
                    }
                    disappearing::forget(&tx, contact, gone)?;
                }
            }
        }
        let mut contacts: Vec<ContactId> = sealed.iter().map(|(c, _, _)| *c).collect();
        contacts.sort_unstable();
        contacts.dedup();
        let mut emptied = Vec::new();
        for contact in contacts {
            let of_contact: Vec<(Side, PackRef)> = sealed
                .iter()
                .filter(|(c, _, _)| *c == contact)
                .map(|(_, side, at)| (*side, *at))
                .collect();
            for side in disappearing::emptied_packs(&tx, contact, &of_contact)? {
                emptied.push((contact, side));
            }
        }
        tx.commit()?;
        // After the commit, so no row ever points at bytes overwritten; a crash just before leaves
        // sealed bytes that nothing locates, gone with the pack.
        for (contact, side, at) in sealed {
            self.packs.erase(side, contact, at)?;
        }
        for (contact, side) in emptied {
            self.packs.remove_side(side, contact)?;
        }
        Ok(deleted)
    }

    /// Runs `f` in one transaction: one commit for a whole batch of records instead of one each.
    /// Nothing of it is kept if `f` fails. With [`Durability::Relaxed`] the commit skips its fsync.
    pub fn batch<T, E: From<StorageError>>(
        &mut self,
        durability: Durability,
        f: impl FnOnce(&mut Database) -> Result<T, E>,
    ) -> Result<T, E> {
        let relaxed = durability == Durability::Relaxed;
        if relaxed {
            self.conn
                .pragma_update(None, "synchronous", "NORMAL")
                .map_err(StorageError::from)?;
        }
        let result = self.run_batch(f);
        if relaxed {
            // Every other write stays durable on commit.
            self.conn
                .pragma_update(None, "synchronous", "FULL")
                .map_err(StorageError::from)?;
        }
        result
    }

    fn run_batch<T, E: From<StorageError>>(
        &mut self,
        f: impl FnOnce(&mut Database) -> Result<T, E>,
    ) -> Result<T, E> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(StorageError::from)?;
        match f(self) {
            Ok(value) => {
                // Chunks the batch packed are on disk before the rows that point at them.
                if let Err(e) = self.packs.sync() {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return Err(e.into());
                }
                self.conn
                    .execute_batch("COMMIT")
                    .map_err(StorageError::from)?;
                Ok(value)
            }
            Err(e) => {
                // The transaction may already be gone if SQLite rolled it back itself.
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Begins one snapshot of the database for the reads that follow, until
    /// [`end_snapshot`](Self::end_snapshot): each sees the same commits, and SQLite checks its page
    /// cache once, where a statement on its own empties the cache whenever another connection (the
    /// node's) committed since the last. False, and nothing begun, inside a transaction already.
    pub fn begin_snapshot(&self) -> Result<bool, StorageError> {
        if !self.conn.is_autocommit() {
            return Ok(false);
        }
        self.conn.execute_batch("BEGIN DEFERRED")?;
        Ok(true)
    }

    /// Ends the snapshot [`begin_snapshot`](Self::begin_snapshot) began.
    pub fn end_snapshot(&self) -> Result<(), StorageError> {
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("COMMIT")?;
        }
        Ok(())
    }

    /// A number that changes whenever another connection (a `courier send` beside `courier serve`)
    /// commits to the database.
    pub fn data_version(&self) -> Result<i64, StorageError> {
        Ok(self
            .conn
            .pragma_query_value(None, "data_version", |r| r.get(0))?)
    }

    /// A count that moves with every row this connection inserts, changes or deletes; read from
    /// memory, so it costs nothing to ask after every step.
    pub fn own_changes(&self) -> u64 {
        self.conn.total_changes()
    }
}

#[cfg(test)]
mod tests {
    use courier_proto::handshake::Agreement;
    use courier_proto::identity::Identity;
    use courier_proto::transport_security::transport_keys::{Role, SecretKey};

    use super::*;
    use crate::Passphrase;

    const DAY: u64 = 86_400_000;

    fn open(path: &std::path::Path) -> Database {
        Database::open(path, &Passphrase::new("send keys".into()).unwrap()).unwrap()
    }

    fn contact(db: &mut Database, alias: &str) -> ContactId {
        db.add_pending_contact(&Identity::generate(alias).link(), alias, 0)
            .unwrap();
        let agreement = Agreement {
            root: SecretKey::from_bytes([3; 32]),
            role: Role::Alice,
        };
        db.complete_handshake(alias, &agreement, 1_700_000_000_000)
            .unwrap()
    }

    fn hello() -> Draft {
        Draft::new("courier/text", 1, b"hello".to_vec())
    }

    #[test]
    fn a_send_retried_with_its_key_queues_once_across_a_restart_for_a_week() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("courier.db");
        let mut db = open(&path);
        db.create_identity(&Identity::generate("alice")).unwrap();
        let bob = contact(&mut db, "bob");
        let carol = contact(&mut db, "carol");
        let now = 1_800_000_000_000;
        let (first, _, fresh) = db
            .send_keyed(bob, hello(), now, Some("k1"), Timer::OFF)
            .unwrap();
        assert!(fresh);
        drop(db);
        // The node restarted; the client, not knowing whether it got through, retries.
        let mut db = open(&path);
        let (again, _, fresh) = db
            .send_keyed(bob, hello(), now + 1_000, Some("k1"), Timer::OFF)
            .unwrap();
        assert_eq!((again, fresh), (first, false));
        assert_eq!(db.conversation(bob).unwrap().len(), 1, "queued once");
        // The same key is another send to another contact, and an unkeyed send always is one.
        let (_, _, fresh) = db
            .send_keyed(carol, hello(), now, Some("k1"), Timer::OFF)
            .unwrap();
        assert!(fresh);
        assert_eq!(db.conversation(carol).unwrap().len(), 1);
        db.send(bob, hello(), now + 2_000, Timer::OFF).unwrap();
        assert_eq!(db.conversation(bob).unwrap().len(), 2);
        // A week on, the key is forgotten: a retry that late is a new message.
        let (late, _, fresh) = db
            .send_keyed(bob, hello(), now + 8 * DAY, Some("k1"), Timer::OFF)
            .unwrap();
        assert!(fresh && late != first);
        assert_eq!(db.conversation(bob).unwrap().len(), 3);
    }
}
