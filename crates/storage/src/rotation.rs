//! Erasure by key rotation. `secure_delete` zeroes a deleted row in the live page, but the page as
//! it was stays in WAL frames, and in blocks the file system freed when the WAL was truncated or
//! deleted, all encrypted under the database key. Rotating re-encrypts every live page under a fresh
//! key and then overwrites the old key in the key file: every stale copy written before is noise.
//! A delete marks the rotation owed (triggers of migration 17); the running node rotates.
//!
//! A connection in use holds the key file with a shared lock, so no key is pulled from under it: a
//! command's connection holds it from open to close; a long-lived connection beside the node (the
//! API's) holds it only while it runs a request ([`Database::hold_key`]) and follows the newest key
//! when it takes it. The node's connection holds none: it rotates, under an exclusive lock it takes
//! only when no other connection is in use, and otherwise tries again later.

use std::time::Instant;

use super::database::{Database, Unlock, configure, connect, rekey};

use super::key_file::{DbKey, Locked};
use crate::StorageError;

/// What a rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotated {
    /// Pages re-encrypted.
    pub pages: u64,
    /// How long it took, the node's thread held all along.
    pub elapsed: std::time::Duration,
}

impl Database {
    /// Whether something was deleted since the key last rotated.
    pub fn erasure_owed(&self) -> Result<bool, StorageError> {
        Ok(self
            .conn
            .query_row("SELECT owed FROM erasure WHERE id = 1", [], |r| {
                r.get::<_, i64>(0)
            })?
            != 0)
    }

    /// This connection lives on beside a node that rotates the key: it holds the key file only
    /// while in use ([`hold_key`](Self::hold_key)), and the node's own connection, which rotates,
    /// never.
    pub fn follow_rotations(&mut self) {
        self.hold = None;
    }

    /// Whether this connection lets go of the key file between uses.
    pub fn follows_rotations(&self) -> bool {
        self.hold.is_none()
    }

    /// Holds the key file for a use of this connection, first opening it again under the newest
    /// key if the node rotated it since. Nothing for a connection that holds it already.
    pub fn hold_key(&mut self) -> Result<(), StorageError> {
        if self.hold.is_some() {
            return Ok(());
        }
        let hold = self.keys.lock_shared()?;
        self.follow_rotation()?;
        self.load_secrets_key()?;
        self.hold = Some(hold);
        Ok(())
    }

    /// Lets go of the key file after a use ([`hold_key`](Self::hold_key)).
    pub fn release_key(&mut self) {
        self.hold = None;
    }

    /// The key file's lock, taken to change its keys (a rotation, a re-seal); `None` while another
    /// connection is in use.
    pub(super) fn lock_keys_to_change(&self) -> Result<Option<Locked>, StorageError> {
        if self.hold.is_some() {
            return Err(StorageError::Corrupt(
                "a connection that holds the key file cannot change its keys; call follow_rotations first",
            ));
        }
        self.keys.try_lock()
    }

    /// Re-encrypts the whole database under a fresh key, then destroys every other key in the key
    /// file: no copy of a page written before, wherever it is on the disk, opens after this returns.
    /// A crash at any point leaves a database that opens, under the old key or the new one. `None`
    /// while another connection is in use (a command, a request of the API): try again later.
    pub fn rotate_key(&mut self) -> Result<Option<Rotated>, StorageError> {
        let Some(_lock) = self.lock_keys_to_change()? else {
            return Ok(None);
        };
        let started = Instant::now();
        let pages: u64 = self
            .conn
            .query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))?
            .try_into()
            .unwrap_or(0);
        let (generation, key) = self.keys.add_beside(self.key_generation)?;
        rekey(&self.conn, &key)?;
        // SQLCipher keeps the new key for writing even when the rewrite failed, so this connection is
        // done with either way: the new key opens the database if the rewrite committed.
        let conn = match connect(&self.path, Unlock::Key(&key))? {
            Some(conn) => conn,
            None => {
                let old = self
                    .keys
                    .key(self.key_generation)
                    .ok_or(StorageError::Corrupt("the key in use left the key file"))?;
                let conn = connect(&self.path, Unlock::Key(old))?.ok_or(StorageError::Corrupt(
                    "the database opens under neither its old key nor its new one",
                ))?;
                configure(&conn)?;
                self.conn = conn;
                self.keys.keep_only(self.key_generation)?;
                return Err(StorageError::Corrupt(
                    "the database could not be re-encrypted; it stays under its old key",
                ));
            }
        };
        configure(&conn)?;
        self.conn = conn;
        self.key_generation = generation;
        // The WAL now holds every page under the new key: copied back into the database file, where
        // the old pages are overwritten in place. PASSIVE: a reader holding an old snapshot is not
        // waited for (the node's thread runs this); what stays in the WAL is under the new key, and
        // what it overwrote there was under the old one.
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        self.keys.keep_only(generation)?;
        // Only now: a crash before this leaves the rotation owed, and the next one destroys the
        // old key if this one could not.
        self.conn
            .execute("UPDATE erasure SET owed = 0 WHERE id = 1", [])?;
        Ok(Some(Rotated {
            pages,
            elapsed: started.elapsed(),
        }))
    }

    /// Opens this connection again under the newest key if another connection rotated it (the key
    /// file held); whether it did. Cheap: a read of the key file's slots, no key derivation.
    fn follow_rotation(&mut self) -> Result<bool, StorageError> {
        self.keys.reload()?;
        let held: Vec<(u64, DbKey)> = self
            .keys
            .keys()
            .iter()
            .map(|&(generation, key)| (generation, key.clone()))
            .collect();
        // Newest first; a newer key the database is not under (a rotation cut short by a crash) is
        // passed over, as opening does.
        for (generation, key) in held {
            if generation == self.key_generation {
                return Ok(false);
            }
            if let Some(conn) = connect(&self.path, Unlock::Key(&key))? {
                configure(&conn)?;
                self.conn = conn;
                self.key_generation = generation;
                return Ok(true);
            }
        }
        Err(StorageError::Corrupt(
            "no key in the key file opens the database",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Passphrase;
    use courier_proto::sync::record::Message;

    fn passphrase() -> Passphrase {
        Passphrase::for_new_database("a long enough passphrase".into()).unwrap()
    }

    #[test]
    fn a_deleted_message_owes_a_rotation_which_leaves_no_page_of_before_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("courier.db");
        let mut db = Database::open(&path, &passphrase()).unwrap();
        let bob = db.add_contact("bob").unwrap();
        let id = db
            .queue(
                bob,
                &Message {
                    timestamp_ms: 1,
                    content_type: "courier/text".into(),
                    type_version: 1,
                    fallback: String::new(),
                    body: b"gone soon".to_vec(),
                },
            )
            .unwrap();
        assert!(!db.erasure_owed().unwrap(), "nothing deleted yet");
        assert!(db.delete_message(bob, &id).unwrap());
        assert!(db.erasure_owed().unwrap());
        // What a raw read of the disk keeps: the database and its WAL as they were.
        let stale_db = std::fs::read(&path).unwrap();
        let stale_wal = std::fs::read(dir.path().join("courier.db-wal")).unwrap();
        let old_key = *db.keys.key(db.key_generation).unwrap().clone();

        assert!(
            db.rotate_key().is_err(),
            "a connection that holds the key file does not rotate it"
        );
        db.follow_rotations();
        let rotated = db.rotate_key().unwrap().expect("nobody else holds it");
        assert!(rotated.pages > 0);
        assert!(!db.erasure_owed().unwrap());
        assert_eq!(
            db.contact("bob").unwrap(),
            bob,
            "everything else is still there"
        );
        let keys: Vec<u64> = db.keys.keys().iter().map(|&(g, _)| g).collect();
        assert_eq!(keys, vec![2], "the old key is gone from the key file");

        // The old key opened the stale copy before; the key file no longer holds it, and nothing
        // the passphrase unseals opens the copy.
        let copy = dir.path().join("copy");
        std::fs::create_dir(&copy).unwrap();
        std::fs::write(copy.join("courier.db"), &stale_db).unwrap();
        std::fs::write(copy.join("courier.db-wal"), &stale_wal).unwrap();
        let old = zeroize::Zeroizing::new(old_key);
        assert!(
            connect(&copy.join("courier.db"), Unlock::Key(&old))
                .unwrap()
                .is_some(),
            "the copy is what the old key opened"
        );
        std::fs::copy(dir.path().join("courier.keys"), copy.join("courier.keys")).unwrap();
        let reopened = Database::open(&copy.join("courier.db"), &passphrase());
        assert!(
            matches!(reopened, Err(StorageError::KeyFileMismatch { .. })),
            "{reopened:?}"
        );

        // And the live database opens with the passphrase, under the new key.
        drop(db);
        let db = Database::open(&path, &passphrase()).unwrap();
        assert_eq!(db.key_generation, 2);
    }

    #[test]
    fn a_contact_telling_the_same_address_again_owes_nothing_and_a_changed_one_owes_a_rotation() {
        use courier_proto::sync::record::TransportProperties;
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(&dir.path().join("courier.db"), &passphrase()).unwrap();
        let bob = db.add_contact("bob").unwrap();
        let told = |address: &str| {
            vec![TransportProperties {
                transport: "lan".into(),
                properties: vec![
                    ("address".into(), address.into()),
                    ("port".into(), "7001".into()),
                ],
            }]
        };
        db.save_peer_properties(bob, &told("192.168.1.20")).unwrap();
        db.save_peer_properties(bob, &told("192.168.1.20")).unwrap();
        assert!(!db.erasure_owed().unwrap(), "every session says the same");
        db.save_peer_properties(bob, &told("10.0.0.7")).unwrap();
        assert!(
            db.erasure_owed().unwrap(),
            "the old address is to be erased"
        );
        assert_eq!(
            db.peer_property("lan", "address").unwrap(),
            vec![(bob, "10.0.0.7".to_owned())]
        );
        db.follow_rotations();
        db.rotate_key().unwrap().unwrap();
        let fewer = vec![TransportProperties {
            transport: "lan".into(),
            properties: vec![("address".into(), "10.0.0.7".into())],
        }];
        db.save_peer_properties(bob, &fewer).unwrap();
        assert!(db.erasure_owed().unwrap(), "a property no longer told goes");
        assert_eq!(
            db.peer_properties("lan").unwrap(),
            vec![(bob, vec![("address".to_owned(), "10.0.0.7".to_owned())])]
        );
    }

    #[test]
    fn a_newer_key_left_by_a_rotation_cut_short_is_passed_over_by_a_connection_that_follows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("courier.db");
        let mut api = Database::open(&path, &passphrase()).unwrap();
        api.follow_rotations();
        let bob = api.add_contact("bob").unwrap();
        // A node wrote its next key and died before the database was under it.
        api.keys.add_beside(api.key_generation).unwrap();
        api.hold_key().unwrap();
        assert_eq!(api.key_generation, 1);
        assert_eq!(api.contact("bob").unwrap(), bob);
        api.release_key();
        drop(api);
        let reopened = Database::open(&path, &passphrase()).unwrap();
        assert_eq!(reopened.key_generation, 1, "opening passes it over too");
    }

    #[test]
    fn no_rotation_while_a_connection_is_in_use_and_one_beside_the_node_follows_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("courier.db");
        let mut node = Database::open(&path, &passphrase()).unwrap();
        node.follow_rotations();
        let bob = node.add_contact("bob").unwrap();
        let command = Database::open(&path, &passphrase()).unwrap();
        assert_eq!(
            node.rotate_key().unwrap(),
            None,
            "not while a command's connection is open"
        );
        drop(command);

        let mut api = Database::open(&path, &passphrase()).unwrap();
        api.follow_rotations();
        api.hold_key().unwrap();
        assert_eq!(node.rotate_key().unwrap(), None, "not during a request");
        api.release_key();
        assert!(node.rotate_key().unwrap().is_some());
        assert_eq!(node.key_generation, 2);
        assert_eq!(
            api.key_generation, 1,
            "it follows when it next holds the key"
        );
        api.hold_key().unwrap();
        assert_eq!(api.key_generation, 2);
        assert_eq!(api.contact("bob").unwrap(), bob);
        api.release_key();
    }
}
