//! What contacts told us about themselves in their sync sessions: the content types they read, and
//! how to reach them over each transport. Each announcement replaces the one before.

use rusqlite::params;

use super::database::Database;

use crate::{ContactId, StorageError};

/// A transport's `(key, value)` properties, as a contact told them.
pub type Properties = Vec<(String, String)>;
use courier_proto::sync::record::{ContentTypeRange, TransportProperties};

impl Database {
    /// The content types `contact` announced having plugins for, if they have announced any yet.
    pub fn peer_content_types(
        &self,
        contact: ContactId,
    ) -> Result<Vec<ContentTypeRange>, StorageError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT content_type, min_version, max_version FROM peer_content_types
             WHERE contact_id = ?1 ORDER BY content_type",
        )?;
        let rows = statement.query_map([contact], |r| {
            Ok(ContentTypeRange {
                content_type: r.get(0)?,
                min: r.get(1)?,
                max: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Replaces what `contact` announced of its content types.
    pub fn save_peer_content_types(
        &mut self,
        contact: ContactId,
        types: &[ContentTypeRange],
    ) -> Result<(), StorageError> {
        self.conn.execute(
            "DELETE FROM peer_content_types WHERE contact_id = ?1",
            [contact],
        )?;
        for t in types {
            self.conn.execute(
                "INSERT OR REPLACE INTO peer_content_types (contact_id, content_type, min_version, max_version)
                 VALUES (?1, ?2, ?3, ?4)",
                params![contact, t.content_type, t.min, t.max],
            )?;
        }
        Ok(())
    }

    /// Replaces, for each transport listed, how `contact` said it can be reached over it. Only what
    /// changed is written: every session tells the same again, and a changed or removed value (an
    /// old address) owes a key rotation (`rotation.rs`), an unchanged one must not.
    pub fn save_peer_properties(
        &mut self,
        contact: ContactId,
        transports: &[TransportProperties],
    ) -> Result<(), StorageError> {
        for t in transports {
            let held: Vec<String> = self
                .conn
                .prepare_cached(
                    "SELECT key FROM peer_properties WHERE contact_id = ?1 AND transport = ?2",
                )?
                .query_map(params![contact, t.transport], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for gone in held
                .iter()
                .filter(|k| !t.properties.iter().any(|(key, _)| key == *k))
            {
                self.conn.execute(
                    "DELETE FROM peer_properties WHERE contact_id = ?1 AND transport = ?2 AND key = ?3",
                    params![contact, t.transport, gone],
                )?;
            }
            for (key, value) in &t.properties {
                self.conn.execute(
                    "INSERT INTO peer_properties (contact_id, transport, key, value)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (contact_id, transport, key) DO UPDATE SET value = excluded.value
                     WHERE value IS NOT excluded.value",
                    params![contact, t.transport, key, value],
                )?;
            }
        }
        Ok(())
    }

    /// Every contact's value of property `key` on `transport`, e.g. each one's LAN `address`.
    pub fn peer_property(
        &self,
        transport: &str,
        key: &str,
    ) -> Result<Vec<(ContactId, String)>, StorageError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT contact_id, value FROM peer_properties WHERE transport = ?1 AND key = ?2",
        )?;
        let rows = statement.query_map(params![transport, key], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How each contact said it can be reached on `transport`: its properties, in key order.
    pub fn peer_properties(
        &self,
        transport: &str,
    ) -> Result<Vec<(ContactId, Properties)>, StorageError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT contact_id, key, value FROM peer_properties WHERE transport = ?1
             ORDER BY contact_id, key",
        )?;
        let rows = statement.query_map(params![transport], |r| {
            Ok((r.get::<_, ContactId>(0)?, r.get(1)?, r.get(2)?))
        })?;
        let mut told: Vec<(ContactId, Properties)> = Vec::new();
        for row in rows {
            let (contact, key, value) = row?;
            match told.last_mut() {
                Some((last, properties)) if *last == contact => properties.push((key, value)),
                _ => told.push((contact, vec![(key, value)])),
            }
        }
        Ok(told)
    }
}
