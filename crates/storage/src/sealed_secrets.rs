//! Contacts' transport secrets (`transport_secrets`, `chain_secrets`) sealed under a key of their
//! own, kept in the key file beside the database key. Stepping a secret forward (forward secrecy:
//! each period's keys are derived from it and the old one must go) leaves the old value in stale
//! pages, as any replaced row does. Re-sealing every live secret under a fresh key and destroying
//! the old key in place makes those copies noise: that costs the contacts' few rows, where rotating
//! the database key (`rotation.rs`) costs every page of the history. The same locking as a rotation:
//! only the node's connection re-seals, and only while no other connection is in use.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rusqlite::{Connection, params};
use zeroize::Zeroizing;

use super::database::Database;
use super::key_file::{Holds, SecretsKey};
use crate::{ContactId, StorageError};
use courier_proto::transport_security::transport_keys::SecretKey;

const NONCE_LEN: usize = 24;

/// Which row a secret is: bound into its seal, so that one row's secret never opens as another's.
#[derive(Debug, Clone, Copy)]
pub(super) enum SecretRow<'a> {
    /// A transport's own secret, for a contact from before class chains.
    Transport(ContactId, &'a str),
    /// A latency class's chain step.
    Chain(ContactId, u64),
}

impl SecretRow<'_> {
    fn binding(&self) -> Vec<u8> {
        match *self {
            SecretRow::Transport(contact, transport) => [
                b"transport",
                &contact.to_le_bytes()[..],
                transport.as_bytes(),
            ]
            .concat(),
            SecretRow::Chain(contact, class_ms) => [
                b"chain",
                &contact.to_le_bytes()[..],
                &class_ms.to_le_bytes()[..],
            ]
            .concat(),
        }
    }
}

/// `secret` as row `row` stores it: sealed under `key`, or plain where no secrets key exists yet
/// (a database the node has not re-sealed yet; its first re-seal seals it).
pub(super) fn seal(key: Option<&SecretsKey>, row: SecretRow<'_>, secret: &SecretKey) -> Vec<u8> {
    let Some(key) = key else {
        return secret.expose().to_vec();
    };
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).expect("the OS random number generator is available");
    let sealed = XChaCha20Poly1305::new((&*key.key).into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: secret.expose(),
                aad: &row.binding(),
            },
        )
        .expect("32 bytes are far below the AEAD's limit");
    [&nonce[..], &sealed].concat()
}

/// The secret row `row` stores as `stored`, sealed under `key` (plain where there is none).
pub(super) fn open(
    key: Option<&SecretsKey>,
    row: SecretRow<'_>,
    stored: &[u8],
) -> Result<SecretKey, StorageError> {
    let Some(key) = key else {
        return plain_secret(stored);
    };
    let Some((nonce, sealed)) = stored.split_at_checked(NONCE_LEN) else {
        return Err(StorageError::Corrupt(
            "a sealed transport secret is cut short",
        ));
    };
    let plain = XChaCha20Poly1305::new((&*key.key).into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: &row.binding(),
            },
        )
        .map_err(|_| {
            StorageError::Corrupt("a transport secret does not open under the secrets key")
        })?;
    plain_secret(&Zeroizing::new(plain))
}

/// A secret stored as its 32 bytes.
pub(super) fn plain_secret(bytes: &[u8]) -> Result<SecretKey, StorageError> {
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StorageError::Corrupt("a stored key is not 32 bytes"))?;
    Ok(SecretKey::from_bytes(bytes))
}

/// Checks, inside a write transaction (so no re-seal can come between), that the secrets are still
/// sealed under `held`, the key this connection writes with. Only another process re-sealing while
/// this one runs (two nodes on one data directory) changes it, and a secret sealed under a key it
/// then destroyed would be lost for good.
pub(super) fn still_sealed_under(
    tx: &Connection,
    held: Option<&SecretsKey>,
) -> Result<(), StorageError> {
    let generation: i64 = tx.query_row(
        "SELECT secrets_generation FROM erasure WHERE id = 1",
        [],
        |r| r.get(0),
    )?;
    if generation as u64 != held.map_or(0, |k| k.generation) {
        return Err(StorageError::SecretsResealed);
    }
    Ok(())
}

/// What a re-seal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resealed {
    /// Secrets re-sealed.
    pub secrets: usize,
    /// How long it took, the node's thread held all along.
    pub elapsed: std::time::Duration,
}

/// Every stored secret: its table's rows as (contact, transport or class, stored bytes).
struct Stored {
    transports: Vec<(ContactId, String, Zeroizing<Vec<u8>>)>,
    chains: Vec<(ContactId, i64, Zeroizing<Vec<u8>>)>,
}

impl Stored {
    fn read(conn: &Connection) -> Result<Stored, StorageError> {
        let transports = conn
            .prepare("SELECT contact_id, transport, secret FROM transport_secrets")?
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, Zeroizing::new(r.get(2)?)))
            })?
            .collect::<Result<_, _>>()?;
        let chains = conn
            .prepare("SELECT contact_id, class_ms, secret FROM chain_secrets")?
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, Zeroizing::new(r.get(2)?)))
            })?
            .collect::<Result<_, _>>()?;
        Ok(Stored { transports, chains })
    }
}

impl Database {
    /// Whether a transport secret was replaced since the secrets key last changed, or secrets are
    /// still stored plain.
    pub fn secrets_owed(&self) -> Result<bool, StorageError> {
        Ok(self.conn.query_row(
            "SELECT secrets_owed != 0 OR secrets_generation = 0 FROM erasure WHERE id = 1",
            [],
            |r| r.get(0),
        )?)
    }

    /// Reads which secrets key the rows are under and takes it from the key file (after opening,
    /// and whenever this connection takes the key file again: the node may have re-sealed since).
    pub(super) fn load_secrets_key(&mut self) -> Result<(), StorageError> {
        let generation: i64 = self.conn.query_row(
            "SELECT secrets_generation FROM erasure WHERE id = 1",
            [],
            |r| r.get(0),
        )?;
        let generation = generation as u64;
        if self.secrets.as_ref().map(|s| s.generation) == Some(generation) {
            return Ok(());
        }
        self.secrets = match generation {
            0 => None,
            _ => {
                if self.keys.key_of(Holds::Secrets, generation).is_none() {
                    // Re-sealed by the node since this connection last read the key file.
                    self.keys.reload()?;
                }
                let key =
                    self.keys
                        .key_of(Holds::Secrets, generation)
                        .ok_or(StorageError::Corrupt(
                            "the key file lost the key the transport secrets are sealed under",
                        ))?;
                Some(SecretsKey {
                    generation,
                    key: Zeroizing::new(**key),
                })
            }
        };
        Ok(())
    }

    /// Re-seals every transport secret under a fresh key, then destroys the old key in the key
    /// file: no secret replaced before this returns opens again, wherever its copies are on the
    /// disk. The first re-seal of secrets stored plain owes a rotation of the database key for
    /// their plain copies. A crash at any point leaves every secret readable under the key the
    /// database names. `None` while another connection is in use: try again later.
    pub fn reseal_secrets(&mut self) -> Result<Option<Resealed>, StorageError> {
        let Some(_lock) = self.lock_keys_to_change()? else {
            return Ok(None);
        };
        let started = std::time::Instant::now();
        self.keys.reload()?;
        self.load_secrets_key()?;
        let old = self.secrets.clone();
        let current = old.as_ref().map_or(0, |s| s.generation);
        let (generation, key) = self.keys.add_beside_of(Holds::Secrets, current)?;
        let new = SecretsKey { generation, key };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let stored = Stored::read(&tx)?;
        for (contact, transport, bytes) in &stored.transports {
            let row = SecretRow::Transport(*contact, transport);
            let secret = open(old.as_ref(), row, bytes)?;
            tx.execute(
                "UPDATE transport_secrets SET secret = ?3 WHERE contact_id = ?1 AND transport = ?2",
                params![contact, transport, seal(Some(&new), row, &secret)],
            )?;
        }
        for (contact, class, bytes) in &stored.chains {
            let row = SecretRow::Chain(*contact, *class as u64);
            let secret = open(old.as_ref(), row, bytes)?;
            tx.execute(
                "UPDATE chain_secrets SET secret = ?3 WHERE contact_id = ?1 AND class_ms = ?2",
                params![contact, class, seal(Some(&new), row, &secret)],
            )?;
        }
        let secrets = stored.transports.len() + stored.chains.len();
        if old.is_none() && secrets > 0 {
            // They were stored plain: only a new database key makes those copies noise.
            tx.execute("UPDATE erasure SET owed = 1 WHERE id = 1", [])?;
        }
        tx.execute(
            "UPDATE erasure SET secrets_generation = ?1 WHERE id = 1",
            [generation as i64],
        )?;
        tx.commit()?;
        self.secrets = Some(new);
        self.keys.keep_only_of(Holds::Secrets, generation)?;
        // Only now: a crash before this leaves the re-seal owed, and the next one destroys the old
        // key if this one could not.
        self.conn
            .execute("UPDATE erasure SET secrets_owed = 0 WHERE id = 1", [])?;
        Ok(Some(Resealed {
            secrets,
            elapsed: started.elapsed(),
        }))
    }

    /// The key secrets are sealed under now, for a write.
    pub(super) fn secrets_key(&self) -> Option<SecretsKey> {
        self.secrets.clone()
    }
}

#[cfg(test)]
mod tests {
    use courier_proto::handshake::Agreement;
    use courier_proto::identity::Identity;
    use courier_proto::transport_security::transport_keys::{Role, TransportKeys};

    use super::*;
    use crate::Passphrase;

    const START: u64 = 1_700_000_000_000;
    const DAY: u64 = 86_400_000;

    fn passphrase() -> Passphrase {
        Passphrase::new("sealed secrets".into()).unwrap()
    }

    /// Alice's database with bob made as a contact at `START`, as her node keeps it.
    fn with_bob(path: &std::path::Path) -> (Database, ContactId) {
        let mut db = Database::open(path, &passphrase()).unwrap();
        db.create_identity(&Identity::generate("alice")).unwrap();
        db.add_pending_contact(&Identity::generate("bob").link(), "bob", 0)
            .unwrap();
        let agreement = Agreement {
            root: SecretKey::from_bytes([7; 32]),
            role: Role::Alice,
        };
        let bob = db.complete_handshake("bob", &agreement, START).unwrap();
        (db, bob)
    }

    /// Bob's day-class chain step as stored.
    fn stored_step(db: &Database, bob: ContactId) -> Vec<u8> {
        db.conn
            .query_row(
                "SELECT secret FROM chain_secrets WHERE contact_id = ?1 AND class_ms = ?2",
                params![bob, DAY as i64],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// Whether `sealed`, as row `row`, opens under any secrets key `keys` holds: what a thief with
    /// the passphrase would try.
    fn opens_under_a_held_key(
        keys: &super::super::key_file::KeyFile,
        row: SecretRow<'_>,
        sealed: &[u8],
    ) -> bool {
        keys.keys_of(Holds::Secrets)
            .into_iter()
            .any(|(generation, key)| {
                let key = SecretsKey {
                    generation,
                    key: Zeroizing::new(**key),
                };
                open(Some(&key), row, sealed).is_ok()
            })
    }

    fn tor_keys(db: &mut Database, bob: ContactId, at: u64) -> TransportKeys {
        db.transport_keys(bob, "tor", DAY, at).unwrap()
    }

    #[test]
    fn a_chain_step_is_erased_by_a_reseal_of_the_secrets_not_a_rotation_of_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("courier.db");
        let (mut db, bob) = with_bob(&path);
        db.follow_rotations();
        // The node's first round: the secrets sealed, the pending contact erased.
        assert!(
            db.secrets_owed().unwrap(),
            "stored plain until the node seals them"
        );
        db.reseal_secrets().unwrap().expect("no other connection");
        db.rotate_key().unwrap().expect("no other connection");
        assert!(!db.secrets_owed().unwrap());
        assert!(!db.erasure_owed().unwrap());
        let sealed_then = stored_step(&db, bob);
        assert_eq!(
            sealed_then.len(),
            NONCE_LEN + 32 + 16,
            "a nonce and a sealed key"
        );
        let key_then = db.secrets.clone().unwrap();
        let before = tor_keys(&mut db, bob, START);

        // A week on, the day chain steps forward: the old step must go.
        let later = tor_keys(&mut db, bob, START + 7 * DAY);
        assert!(db.secrets_owed().unwrap());
        assert!(
            !db.erasure_owed().unwrap(),
            "a stepped secret owes no rewrite of the history"
        );
        let resealed = db.reseal_secrets().unwrap().expect("no other connection");
        assert_eq!(resealed.secrets, 3, "one chain step per latency class");
        assert!(!db.secrets_owed().unwrap());
        assert!(!db.erasure_owed().unwrap());

        // What a seized disk keeps of the old step (its sealed row in a stale page) opens under no
        // key the key file holds: with the passphrase, only the new secrets key is there.
        let keys = super::super::key_file::KeyFile::open(
            &super::super::key_file::path_for(&path),
            &passphrase(),
        )
        .unwrap();
        let held = keys.keys_of(Holds::Secrets);
        assert_eq!(held.len(), 1);
        assert!(held[0].0 > key_then.generation);
        let row = SecretRow::Chain(bob, DAY);
        assert!(open(Some(&key_then), row, &sealed_then).is_ok());
        assert!(!opens_under_a_held_key(&keys, row, &sealed_then));

        // The keys go on as before, after a restart too; the old period's are gone.
        drop(db);
        let mut db = Database::open(&path, &passphrase()).unwrap();
        let again = tor_keys(&mut db, bob, START + 7 * DAY);
        assert_eq!(again.outgoing(), later.outgoing());
        assert_ne!(again.outgoing(), before.outgoing());
    }

    #[test]
    fn a_stale_copy_of_the_database_opens_with_the_passphrase_but_its_old_step_under_no_key_left() {
        use super::super::database::{Unlock, connect};
        use super::super::key_file::{KeyFile, path_for};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("courier.db");
        let (mut db, bob) = with_bob(&path);
        db.follow_rotations();
        db.reseal_secrets().unwrap().expect("nobody in use");
        db.rotate_key().unwrap().expect("nobody in use");
        // What a seized disk keeps of before the step: the database and its WAL as they were
        // (blocks the file system freed, a snapshot).
        let seized = tempfile::tempdir().unwrap();
        let stale = seized.path().join("courier.db");
        std::fs::copy(&path, &stale).unwrap();
        let wal = dir.path().join("courier.db-wal");
        if wal.exists() {
            std::fs::copy(&wal, seized.path().join("courier.db-wal")).unwrap();
        }
        tor_keys(&mut db, bob, START + 7 * DAY);
        db.reseal_secrets().unwrap().expect("nobody in use");
        // Seized now: the key file as it is, read with the passphrase.
        std::fs::copy(path_for(&path), path_for(&stale)).unwrap();
        let keys = KeyFile::open(&path_for(&stale), &passphrase()).unwrap();
        let database_key = keys.keys()[0].1.clone();
        let copy = connect(&stale, Unlock::Key(&database_key))
            .unwrap()
            .expect("the database key did not change: the stale copy opens");
        let old_step: Vec<u8> = copy
            .query_row(
                "SELECT secret FROM chain_secrets WHERE contact_id = ?1 AND class_ms = ?2",
                params![bob, DAY as i64],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old_step.len(), NONCE_LEN + 32 + 16, "sealed, not plain");
        let held = keys.keys_of(Holds::Secrets);
        assert_eq!(held.len(), 1);
        assert!(
            !opens_under_a_held_key(&keys, SecretRow::Chain(bob, DAY), &old_step),
            "the old step opens under no key the key file holds"
        );
        drop(copy);
        assert!(
            matches!(
                Database::open(&stale, &passphrase()),
                Err(StorageError::Corrupt(reason)) if reason.contains("transport secrets")
            ),
            "Courier itself refuses the copy: its secrets' key is gone"
        );
    }

    #[test]
    fn a_reseal_cut_short_before_its_commit_leaves_the_secrets_readable_and_the_next_one_a_single_key()
     {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("courier.db");
        let (mut db, bob) = with_bob(&path);
        db.follow_rotations();
        db.reseal_secrets().unwrap().expect("nobody in use");
        let current = db.secrets.clone().unwrap().generation;
        let keys = tor_keys(&mut db, bob, START + 7 * DAY);
        // What a crash between the new key's write and the rows' commit leaves: both keys.
        db.keys.add_beside_of(Holds::Secrets, current).unwrap();
        drop(db);

        let mut db = Database::open(&path, &passphrase()).unwrap();
        assert_eq!(db.keys.keys_of(Holds::Secrets).len(), 2);
        assert_eq!(
            tor_keys(&mut db, bob, START + 7 * DAY).outgoing(),
            keys.outgoing(),
            "still under the key the database names"
        );
        db.follow_rotations();
        assert!(db.secrets_owed().unwrap(), "the step before the crash");
        db.reseal_secrets().unwrap().expect("nobody in use");
        let held = db.keys.keys_of(Holds::Secrets);
        assert_eq!(
            held.len(),
            1,
            "the spare key is written over, the old one destroyed"
        );
        assert!(held[0].0 > current + 1);
        assert_eq!(
            tor_keys(&mut db, bob, START + 7 * DAY).outgoing(),
            keys.outgoing()
        );
    }

    #[test]
    fn a_second_node_holding_a_key_since_destroyed_refuses_to_write_a_secret_under_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("courier.db");
        let (mut first, bob) = with_bob(&path);
        first.follow_rotations();
        let mut second = Database::open(&path, &passphrase()).unwrap();
        second.follow_rotations();
        first.reseal_secrets().unwrap().expect("nobody in use");
        assert!(matches!(
            second.transport_keys(bob, "tor", DAY, START + 7 * DAY),
            Err(StorageError::SecretsResealed)
        ));
        second.hold_key().unwrap();
        tor_keys(&mut second, bob, START + 7 * DAY);
    }

    #[test]
    fn a_connection_beside_the_node_reads_the_secrets_after_the_node_reseals_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("courier.db");
        let (mut node, bob) = with_bob(&path);
        node.follow_rotations();
        let mut api = Database::open(&path, &passphrase()).unwrap();
        api.follow_rotations();
        api.hold_key().unwrap();
        assert_eq!(
            node.reseal_secrets().unwrap(),
            None,
            "not while another connection is in use"
        );
        api.release_key();
        node.reseal_secrets().unwrap().expect("nobody in use");
        tor_keys(&mut node, bob, START + 7 * DAY);
        node.reseal_secrets().unwrap().expect("nobody in use");
        api.hold_key().unwrap();
        let read = tor_keys(&mut api, bob, START + 7 * DAY);
        api.release_key();
        assert_eq!(
            read.outgoing(),
            tor_keys(&mut node, bob, START + 7 * DAY).outgoing()
        );
    }

    #[test]
    fn a_new_node_s_first_reseal_seals_nothing_and_owes_no_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(&dir.path().join("courier.db"), &passphrase()).unwrap();
        db.follow_rotations();
        assert!(db.secrets_owed().unwrap(), "no secrets key yet");
        let resealed = db.reseal_secrets().unwrap().expect("nobody in use");
        assert_eq!(resealed.secrets, 0);
        assert!(!db.secrets_owed().unwrap());
        assert!(!db.erasure_owed().unwrap(), "nothing was ever stored plain");
    }

    #[test]
    fn secrets_stored_plain_before_are_sealed_once_and_owe_one_rotation_for_their_plain_copies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("courier.db");
        let (mut db, bob) = with_bob(&path);
        db.follow_rotations();
        db.rotate_key().unwrap().expect("nobody in use");
        let plain = stored_step(&db, bob);
        assert_eq!(plain.len(), 32, "stored plain, as before migration 31");
        db.reseal_secrets().unwrap().expect("nobody in use");
        assert_ne!(stored_step(&db, bob), plain);
        assert!(
            db.erasure_owed().unwrap(),
            "the plain copies need a new database key"
        );
    }

    #[test]
    fn a_sealed_secret_opens_only_as_its_own_row_and_only_whole() {
        let key = SecretsKey {
            generation: 1,
            key: Zeroizing::new([5; 32]),
        };
        let secret = SecretKey::from_bytes([1; 32]);
        let row = SecretRow::Transport(1, "lan");
        let sealed = seal(Some(&key), row, &secret);
        assert_eq!(
            open(Some(&key), row, &sealed).unwrap().expose(),
            secret.expose()
        );
        for other in [
            SecretRow::Transport(2, "lan"),
            SecretRow::Transport(1, "tor"),
            SecretRow::Chain(1, 30_000),
        ] {
            assert!(open(Some(&key), other, &sealed).is_err(), "{other:?}");
        }
        assert!(open(Some(&key), row, &sealed[..20]).is_err());
        assert!(open(Some(&key), row, &sealed[..sealed.len() - 1]).is_err());
        assert_eq!(seal(None, row, &secret), secret.expose().to_vec());
        assert!(open(None, row, &[0; 31]).is_err());
    }
}
