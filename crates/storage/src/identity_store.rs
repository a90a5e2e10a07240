//! The identity and pending contacts in the database.

use rusqlite::{OptionalExtension, params};

use super::database::Database;

use crate::StorageError;
use courier_proto::contact_link::ContactLink;
use courier_proto::identity::Identity;

/// A contact added by link, waiting for the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingContact {
    /// Row id.
    pub id: i64,
    /// The name the user gave them.
    pub alias: String,
    /// Their link.
    pub link: ContactLink,
    /// When the user added them (Unix ms).
    pub added_ms: u64,
}

impl Database {
    /// Stores a new identity; refuses if there already is one (an identity is never overwritten).
    pub fn create_identity(&mut self, identity: &Identity) -> Result<(), StorageError> {
        if self.identity()?.is_some() {
            return Err(StorageError::IdentityExists);
        }
        let (handshake, signing) = identity.secrets();
        let (handshake, signing) = (
            zeroize::Zeroizing::new(handshake),
            zeroize::Zeroizing::new(signing),
        );
        self.conn.execute(
            "INSERT INTO identity (id, name, handshake_secret, signing_secret) VALUES (1, ?1, ?2, ?3)",
            params![identity.name, &handshake[..], &signing[..]],
        )?;
        Ok(())
    }

    /// The secret seed of this node's onion service, made and stored the first time it is asked for.
    pub fn onion_secret(&mut self) -> Result<zeroize::Zeroizing<[u8; 32]>, StorageError> {
        if self.identity()?.is_none() {
            return Err(StorageError::NoIdentity);
        }
        let stored: Option<Vec<u8>> =
            self.conn
                .query_row("SELECT onion_secret FROM identity WHERE id = 1", [], |r| {
                    r.get(0)
                })?;
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        match stored.map(zeroize::Zeroizing::new) {
            Some(bytes) => {
                let bytes: &[u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| StorageError::Corrupt("the onion secret is not 32 bytes"))?;
                secret.copy_from_slice(bytes);
            }
            None => {
                getrandom::fill(secret.as_mut_slice())
                    .expect("the OS random number generator is available");
                self.conn.execute(
                    "UPDATE identity SET onion_secret = ?1 WHERE id = 1",
                    params![&secret[..]],
                )?;
            }
        }
        Ok(secret)
    }

    /// The stored identity, if `init` has run.
    pub fn identity(&self) -> Result<Option<Identity>, StorageError> {
        let row = self
            .conn
            .query_row(
                "SELECT name, handshake_secret, signing_secret FROM identity WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                },
            )
            .optional()?;
        let Some((name, handshake, signing)) = row else {
            return Ok(None);
        };
        let (handshake, signing) = (
            zeroize::Zeroizing::new(handshake),
            zeroize::Zeroizing::new(signing),
        );
        let to_key = |bytes: &[u8]| {
            <[u8; 32]>::try_from(bytes)
                .map_err(|_| StorageError::Corrupt("identity key is not 32 bytes"))
        };
        Ok(Some(Identity::from_secrets(
            name,
            to_key(&handshake)?,
            to_key(&signing)?,
        )))
    }

    /// Adds a contact by their link under `alias`; refuses our own link, a link already added and an
    /// alias already in use.
    pub fn add_pending_contact(
        &mut self,
        link: &ContactLink,
        alias: &str,
        now_ms: u64,
    ) -> Result<(), StorageError> {
        let ours = self.identity()?.ok_or(StorageError::NoIdentity)?;
        if link.public_key() == &ours.handshake_public() {
            return Err(StorageError::OwnLink);
        }
        let alias = crate::check_name(alias)?;
        let link_taken: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM pending_contacts WHERE handshake_public = ?1)
                 OR EXISTS (SELECT 1 FROM contacts WHERE handshake_public = ?1)",
            [&link.public_key()[..]],
            |r| r.get(0),
        )?;
        if link_taken {
            return Err(StorageError::DuplicateLink);
        }
        let alias_taken: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM pending_contacts WHERE alias = ?1) OR EXISTS (SELECT 1 FROM contacts WHERE alias = ?1)",
            [alias],
            |r| r.get(0),
        )?;
        if alias_taken {
            return Err(StorageError::DuplicateAlias(alias.to_owned()));
        }
        self.conn.execute(
            "INSERT INTO pending_contacts (alias, handshake_public, added_ms) VALUES (?1, ?2, ?3)",
            params![alias, &link.public_key()[..], now_ms as i64],
        )?;
        Ok(())
    }

    /// Contacts added by link that have not completed the handshake, oldest first.
    pub fn pending_contacts(&self) -> Result<Vec<PendingContact>, StorageError> {
        let mut statement = self.conn.prepare(
            "SELECT id, alias, handshake_public, added_ms FROM pending_contacts ORDER BY added_ms, id",
        )?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (id, alias, key, added_ms) = row?;
            let key = <[u8; 32]>::try_from(key.as_slice())
                .map_err(|_| StorageError::Corrupt("pending contact key is not 32 bytes"))?;
            Ok(PendingContact {
                id,
                alias,
                link: ContactLink::new(key),
                added_ms: added_ms.max(0) as u64,
            })
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use courier_proto::identity::Identity;

    use super::*;
    use crate::Passphrase;

    #[test]
    fn the_onion_secret_is_made_once_kept_encrypted_and_is_each_nodes_own() {
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| {
            let pass = Passphrase::new(format!("{name}'s passphrase")).unwrap();
            Database::open(&dir.path().join(format!("{name}.db")), &pass).unwrap()
        };
        let mut alice = open("alice");
        assert!(matches!(
            alice.onion_secret(),
            Err(StorageError::NoIdentity)
        ));
        alice.create_identity(&Identity::generate("alice")).unwrap();
        let first = alice.onion_secret().unwrap();
        assert_eq!(alice.onion_secret().unwrap(), first, "made once");
        drop(alice);
        assert_eq!(open("alice").onion_secret().unwrap(), first, "kept");
        let mut bob = open("bob");
        bob.create_identity(&Identity::generate("bob")).unwrap();
        assert_ne!(bob.onion_secret().unwrap(), first);
        let raw = std::fs::read(dir.path().join("alice.db")).unwrap();
        assert!(
            !raw.windows(32).any(|w| w == &first[..]),
            "not in the clear on disk"
        );
    }
}
