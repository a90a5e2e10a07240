//! Contacts after the handshake: their keys' root, verification state, removal, and message states.

use rusqlite::{OptionalExtension, params};

use super::database::{ContactId, Database, StorageError};
use super::stream_state::Peer;
use crate::handshake::Agreement;
use crate::sync::record::MessageId;
use crate::transport_security::transport_keys::{Role, SecretKey, TransportKeys, period_at};

/// A contact that completed the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Row id.
    pub id: ContactId,
    /// The user's name for them.
    pub alias: String,
    /// Their handshake public key (from their link).
    pub public: [u8; 32],
    /// Whether the user compared safety numbers and confirmed.
    pub verified: bool,
}

/// Where an outgoing message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutgoingState {
    /// On disk, never sent.
    Queued,
    /// Sent at least once, not acked yet.
    Sent,
    /// The peer stored it.
    Acked,
}

/// An update that touched no row means no contact has that alias.
fn found(changed: usize, alias: &str) -> Result<(), StorageError> {
    if changed == 0 {
        Err(StorageError::UnknownContact(alias.to_owned()))
    } else {
        Ok(())
    }
}

impl Database {
    /// Turns the pending contact `alias` into a contact with the handshake's result; keys start at
    /// `start_ms` (the time both sides agreed).
    pub fn complete_handshake(
        &mut self,
        alias: &str,
        agreement: &Agreement,
        start_ms: u64,
    ) -> Result<ContactId, StorageError> {
        let tx = self.write()?;
        let public: Vec<u8> = tx
            .query_row(
                "SELECT handshake_public FROM pending_contacts WHERE alias = ?1",
                [alias],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StorageError::UnknownContact(alias.to_owned()))?;
        let pending: i64 = tx.query_row(
            "SELECT id FROM pending_contacts WHERE alias = ?1",
            [alias],
            |r| r.get(0),
        )?;
        tx.execute(
            "DELETE FROM stream_state WHERE peer = ?1",
            [Peer::Pending(pending).key()],
        )?;
        tx.execute(
            "INSERT INTO contacts (alias, handshake_public, root_secret, is_alice, start_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                alias,
                public,
                &agreement.root.expose()[..],
                agreement.role == Role::Alice,
                i64::try_from(start_ms).unwrap_or(i64::MAX)
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute("DELETE FROM pending_contacts WHERE alias = ?1", [alias])?;
        tx.commit()?;
        Ok(id)
    }

    /// `contact`'s keys on a transport with `max_latency_ms`, moved to the period of `now_ms`.
    pub fn transport_keys(
        &self,
        contact: ContactId,
        transport_id: &str,
        max_latency_ms: u64,
        now_ms: u64,
    ) -> Result<TransportKeys, StorageError> {
        let (root, is_alice, start): (Option<Vec<u8>>, Option<bool>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT root_secret, is_alice, start_ms FROM contacts WHERE id = ?1",
                [contact],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?
            .ok_or(StorageError::NoKeys)?;
        let (Some(root), Some(is_alice), Some(start)) = (root, is_alice, start) else {
            return Err(StorageError::NoKeys);
        };
        let root = zeroize::Zeroizing::new(root);
        let root: [u8; 32] = root
            .as_slice()
            .try_into()
            .map_err(|_| StorageError::Corrupt("root secret is not 32 bytes"))?;
        let role = if is_alice { Role::Alice } else { Role::Bob };
        // One period before the agreed start, so a peer whose clock is behind still finds keys.
        let start = period_at(start as u64, max_latency_ms).saturating_sub(1);
        let period = period_at(now_ms, max_latency_ms).max(start);
        Ok(TransportKeys::new(
            &SecretKey::from_bytes(root),
            transport_id,
            role,
            start,
            period,
        ))
    }

    /// Every contact that completed the handshake, by alias.
    pub fn contacts(&self) -> Result<Vec<Contact>, StorageError> {
        let mut statement = self.conn.prepare(
            "SELECT id, alias, handshake_public, verified FROM contacts
             WHERE root_secret IS NOT NULL ORDER BY alias",
        )?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, ContactId>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (id, alias, public, verified) = row?;
            let public = <[u8; 32]>::try_from(public.as_slice())
                .map_err(|_| StorageError::Corrupt("contact key is not 32 bytes"))?;
            Ok(Contact {
                id,
                alias,
                public,
                verified,
            })
        })
        .collect()
    }

    /// Marks `alias` verified: the user compared safety numbers and they matched.
    pub fn mark_verified(&mut self, alias: &str) -> Result<(), StorageError> {
        let changed = self
            .conn
            .execute("UPDATE contacts SET verified = 1 WHERE alias = ?1", [alias])?;
        found(changed, alias)
    }

    /// Whether `alias` is verified.
    pub fn is_verified(&self, alias: &str) -> Result<bool, StorageError> {
        self.conn
            .query_row(
                "SELECT verified FROM contacts WHERE alias = ?1",
                [alias],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StorageError::UnknownContact(alias.to_owned()))
    }

    /// Removes `alias` with its keys and every message to or from them.
    pub fn remove_contact(&mut self, alias: &str) -> Result<(), StorageError> {
        // Foreign keys cascade to the outbox and inbox; the keys live in the row itself, stream state
        // beside it. A pending contact is removed the same way.
        let tx = self.write()?;
        let mut changed = 0;
        for (table, kind) in [("contacts", 'c'), ("pending_contacts", 'p')] {
            let id: Option<i64> = tx
                .query_row(
                    &format!("SELECT id FROM {table} WHERE alias = ?1"),
                    [alias],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = id {
                tx.execute(
                    "DELETE FROM stream_state WHERE peer = ?1",
                    [format!("{kind}{id}")],
                )?;
                changed += tx.execute(&format!("DELETE FROM {table} WHERE id = ?1"), [id])?;
            }
        }
        tx.commit()?;
        found(changed, alias)
    }

    /// Where the outgoing message `id` to `contact` stands, if it exists.
    pub fn outgoing_state(
        &self,
        contact: ContactId,
        id: &MessageId,
    ) -> Result<Option<OutgoingState>, StorageError> {
        let row: Option<(u32, bool)> = self
            .conn
            .query_row(
                "SELECT times_sent, acked FROM outgoing WHERE contact_id = ?1 AND id = ?2",
                params![contact, &id.0[..]],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.map(|(times_sent, acked)| match (acked, times_sent) {
            (true, _) => OutgoingState::Acked,
            (false, 0) => OutgoingState::Queued,
            (false, _) => OutgoingState::Sent,
        }))
    }
}
