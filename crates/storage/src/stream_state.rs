//! Stream numbers and tag windows per peer, transport and period, kept across restarts: an outgoing
//! stream number is never used twice, and an incoming stream once seen is never accepted again.

use rusqlite::{OptionalExtension, params};

use super::database::Database;

use crate::{ContactId, StorageError};

/// Whom a stream is with: a contact, or a pending contact still doing the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Peer {
    /// A contact.
    Contact(ContactId),
    /// A pending contact (row id in `pending_contacts`).
    Pending(i64),
}

impl Peer {
    /// The key stored in `stream_state.peer`.
    pub(super) fn key(self) -> String {
        match self {
            Peer::Contact(id) => format!("c{id}"),
            Peer::Pending(id) => format!("p{id}"),
        }
    }
}

fn sql_u64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Database {
    /// Takes the next outgoing stream number for `peer` on `transport` in `period`; it is on disk, so no
    /// later call (or restart) hands it out again.
    pub fn take_stream_number(
        &mut self,
        peer: Peer,
        transport: &str,
        period: u64,
    ) -> Result<u64, StorageError> {
        let tx = self.write()?;
        tx.execute(
            "INSERT OR IGNORE INTO stream_state (peer, transport, period) VALUES (?1, ?2, ?3)",
            params![peer.key(), transport, sql_u64(period)],
        )?;
        let n: i64 = tx.query_row(
            "UPDATE stream_state SET next_outgoing = next_outgoing + 1
             WHERE peer = ?1 AND transport = ?2 AND period = ?3 RETURNING next_outgoing - 1",
            params![peer.key(), transport, sql_u64(period)],
            |r| r.get(0),
        )?;
        tx.commit()?;
        Ok(n as u64)
    }

    /// The stored window of incoming streams (`base`, `seen` bits) for `peer` on `transport` in `period`.
    pub fn tag_window(
        &self,
        peer: Peer,
        transport: &str,
        period: u64,
    ) -> Result<(u64, u64), StorageError> {
        let row: Option<(i64, i64)> = self
            .conn
            .query_row(
                "SELECT window_base, window_seen FROM stream_state
                 WHERE peer = ?1 AND transport = ?2 AND period = ?3",
                params![peer.key(), transport, sql_u64(period)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.map_or((0, 0), |(base, seen)| (base as u64, seen as u64)))
    }

    /// Stores the window after a stream was recognised.
    pub fn save_tag_window(
        &mut self,
        peer: Peer,
        transport: &str,
        period: u64,
        (base, seen): (u64, u64),
    ) -> Result<(), StorageError> {
        self.conn.execute(
            "INSERT INTO stream_state (peer, transport, period, window_base, window_seen)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (peer, transport, period) DO UPDATE SET window_base = ?4, window_seen = ?5",
            params![
                peer.key(),
                transport,
                sql_u64(period),
                sql_u64(base),
                seen as i64
            ],
        )?;
        Ok(())
    }

    /// Forgets the state of periods before `period` for `peer` on `transport` (their keys are gone).
    pub fn forget_stream_state_before(
        &mut self,
        peer: Peer,
        transport: &str,
        period: u64,
    ) -> Result<(), StorageError> {
        self.conn.execute(
            "DELETE FROM stream_state WHERE peer = ?1 AND transport = ?2 AND period < ?3",
            params![peer.key(), transport, sql_u64(period)],
        )?;
        Ok(())
    }
}
