//! Contacts after the handshake: their keys' root, verification state, removal, and message states.

use rusqlite::{OptionalExtension, params};

use super::database::{ContactId, Database, StorageError};
use crate::handshake::Agreement;
use crate::sync::record::MessageId;
use crate::transport_security::transport_keys::{Role, SecretKey, TransportKeys};

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
    /// `start_period`.
    pub fn complete_handshake(
        &mut self,
        alias: &str,
        agreement: &Agreement,
        start_period: u64,
    ) -> Result<ContactId, StorageError> {
        let tx = self.conn.transaction()?;
        let public: Vec<u8> = tx
            .query_row(
                "SELECT handshake_public FROM pending_contacts WHERE alias = ?1",
                [alias],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StorageError::UnknownContact(alias.to_owned()))?;
        tx.execute(
            "INSERT INTO contacts (alias, handshake_public, root_secret, is_alice, start_period) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                alias,
                public,
                &agreement.root.expose()[..],
                agreement.role == Role::Alice,
                i64::try_from(start_period).unwrap_or(i64::MAX)
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute("DELETE FROM pending_contacts WHERE alias = ?1", [alias])?;
        tx.commit()?;
        Ok(id)
    }

    /// `contact`'s keys on `transport_id`, moved to `period`.
    pub fn transport_keys(
        &self,
        contact: ContactId,
        transport_id: &str,
        period: u64,
    ) -> Result<TransportKeys, StorageError> {
        let (root, is_alice, start): (Option<Vec<u8>>, Option<bool>, Option<i64>) =
            self.conn.query_row(
                "SELECT root_secret, is_alice, start_period FROM contacts WHERE id = ?1",
                [contact],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
        let (Some(root), Some(is_alice), Some(start)) = (root, is_alice, start) else {
            return Err(StorageError::NoKeys);
        };
        let root = zeroize::Zeroizing::new(root);
        let root: [u8; 32] = root
            .as_slice()
            .try_into()
            .map_err(|_| StorageError::Corrupt("root secret is not 32 bytes"))?;
        let role = if is_alice { Role::Alice } else { Role::Bob };
        Ok(TransportKeys::new(
            &SecretKey::from_bytes(root),
            transport_id,
            role,
            start as u64,
            period,
        ))
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
        // Foreign keys cascade to the outbox and inbox; the keys live in the row itself.
        let changed = self
            .conn
            .execute("DELETE FROM contacts WHERE alias = ?1", [alias])?;
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
