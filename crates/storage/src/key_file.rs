//! The database key, kept apart from the database so that it can be destroyed.
//!
//! SQLCipher pages are encrypted under a random 256-bit key (`PRAGMA key = "x'…'"`), never under one
//! derived from the passphrase: a key derived from the passphrase can always be derived again, so
//! every stale copy of a page that a file system leaves in freed blocks (old WAL files, truncated
//! ones) would open for whoever learns the passphrase. The random key is kept, sealed under a key
//! derived from the passphrase (Argon2id), in this small file of fixed size that is only ever
//! overwritten in place: never renamed, truncated or journaled by SQLite. On ext4 and other file
//! systems that write a file's blocks in place, overwriting a slot leaves no copy of the key it held,
//! and with it every page, frame and chunk that key encrypted becomes noise.
//!
//! Layout (4096 bytes): a header (magic, Argon2 parameters, salt) and four slots, two for database
//! keys and two for the key that seals contacts' transport secrets inside the database
//! (`sealed_secrets.rs`). A slot is a nonce and, sealed under the passphrase's key with the header
//! (and, for a secrets key, a label) as associated data, a generation number and a key; an unused
//! slot is random bytes, so the file does not show how many keys it holds. Rotating a key writes the
//! new one into the other slot of its pair before what it encrypts is rewritten and destroys the old
//! slot only after; a crash in between leaves both: opening tries the newer database key first, and
//! the secrets key is the one the database names. A key file from before the secrets keys has
//! random bytes where their slots are: no secrets key yet.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::Aead;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::{Passphrase, StorageError};
use courier_local_fs::owner_only;

/// What the key file's name adds to the database's file stem.
pub(super) const KEYS_EXTENSION: &str = "keys";
/// The key file's whole size; it never changes.
const FILE_LEN: usize = 4096;
const MAGIC: &[u8; 8] = b"CRKEYS01";
const SALT_LEN: usize = 16;
/// Magic, three Argon2 parameters and the salt.
const HEADER_LEN: usize = 8 + 12 + SALT_LEN;
const SLOT_AT: [u64; 4] = [
    64,
    64 + SLOT_LEN as u64,
    64 + 2 * SLOT_LEN as u64,
    64 + 3 * SLOT_LEN as u64,
];
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// A generation (8 bytes) and a key (32).
const SECRET_LEN: usize = 8 + 32;
const SLOT_LEN: usize = NONCE_LEN + SECRET_LEN + TAG_LEN;

/// Argon2id's memory (KiB), passes and lanes for new key files: RFC 9106's second recommended
/// setting. A key file records its own, so these can grow without breaking older files.
const ARGON2_MEMORY_KIB: u32 = 64 * 1024;
const ARGON2_PASSES: u32 = 3;
const ARGON2_LANES: u32 = 1;

/// A database key: 32 random bytes, wiped from memory when dropped.
pub(super) type DbKey = Zeroizing<[u8; 32]>;

/// The key contacts' transport secrets are sealed under (`sealed_secrets.rs`), and its generation.
#[derive(Clone)]
pub(super) struct SecretsKey {
    pub generation: u64,
    pub key: DbKey,
}

/// What a key in the key file encrypts: each has a pair of slots of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Holds {
    /// The database's pages (SQLCipher).
    Database,
    /// Contacts' transport secrets, sealed inside the database.
    Secrets,
}

impl Holds {
    fn of_slot(slot: usize) -> Holds {
        if slot < 2 {
            Holds::Database
        } else {
            Holds::Secrets
        }
    }

    /// What a slot's seal binds besides the header: a secrets key never opens as a database key.
    fn label(self) -> &'static [u8] {
        match self {
            Holds::Database => b"",
            Holds::Secrets => b"courier secrets key",
        }
    }
}

/// The key file of the database at `database`: `courier.keys` beside `courier.db`.
pub(super) fn path_for(database: &Path) -> PathBuf {
    database.with_extension(KEYS_EXTENSION)
}

/// An open key file, unlocked: it can seal new keys without asking for the passphrase again.
pub(super) struct KeyFile {
    path: PathBuf,
    file: File,
    header: [u8; HEADER_LEN],
    /// The key derived from the passphrase, which seals the slots.
    sealing: Zeroizing<[u8; 32]>,
    /// What each slot holds: its generation and key, or nothing.
    slots: [Option<(u64, DbKey)>; 4],
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyFile(<redacted>)")
    }
}

impl KeyFile {
    /// Makes a new key file at `path` holding one fresh key, on disk when this returns.
    pub fn create(path: &Path, passphrase: &Passphrase) -> Result<KeyFile, StorageError> {
        let io = io_error(path);
        let mut bytes = vec![0u8; FILE_LEN];
        fill_random(&mut bytes);
        bytes[..8].copy_from_slice(MAGIC);
        bytes[8..12].copy_from_slice(&ARGON2_MEMORY_KIB.to_le_bytes());
        bytes[12..16].copy_from_slice(&ARGON2_PASSES.to_le_bytes());
        bytes[16..20].copy_from_slice(&ARGON2_LANES.to_le_bytes());
        let header: [u8; HEADER_LEN] = bytes[..HEADER_LEN].try_into().expect("header length");
        let sealing = derive(&header, passphrase)?;
        // `create_new`: a key file is never written over by another; the blocks it gets now are
        // the only ones that ever hold its keys.
        let mut file = owner_only::file_options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(&io)?;
        file.write_all(&bytes).map_err(&io)?;
        let mut keys = KeyFile {
            path: path.to_path_buf(),
            file,
            header,
            sealing,
            slots: [None, None, None, None],
        };
        keys.write_slot(0, 1, fresh_key())?;
        if let Some(parent) = path.parent() {
            File::open(parent)
                .and_then(|dir| dir.sync_all())
                .map_err(&io)?;
        }
        Ok(keys)
    }

    /// Opens the key file at `path` with `passphrase`; refuses a wrong passphrase (no slot opens).
    pub fn open(path: &Path, passphrase: &Passphrase) -> Result<KeyFile, StorageError> {
        let io = io_error(path);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(&io)?;
        let mut bytes = vec![0u8; FILE_LEN];
        let damaged = || StorageError::KeyFileDamaged {
            path: path.display().to_string(),
        };
        file.read_exact(&mut bytes).map_err(|_| damaged())?;
        if &bytes[..8] != MAGIC {
            return Err(damaged());
        }
        let header: [u8; HEADER_LEN] = bytes[..HEADER_LEN].try_into().expect("header length");
        let sealing = derive(&header, passphrase)?;
        let slots = unseal_slots(&sealing, &header, &bytes);
        if slots[..2].iter().all(Option::is_none) {
            return Err(StorageError::WrongPassphrase {
                path: path.display().to_string(),
            });
        }
        Ok(KeyFile {
            path: path.to_path_buf(),
            file,
            header,
            sealing,
            slots,
        })
    }

    /// The database keys it holds, newest first.
    pub fn keys(&self) -> Vec<(u64, &DbKey)> {
        self.keys_of(Holds::Database)
    }

    /// The keys it holds for `holds`, newest first.
    pub fn keys_of(&self, holds: Holds) -> Vec<(u64, &DbKey)> {
        let mut keys: Vec<(u64, &DbKey)> = self
            .slots_of(holds)
            .flat_map(|slot| self.slots[slot].as_ref())
            .map(|(generation, key)| (*generation, key))
            .collect();
        keys.sort_by_key(|&(generation, _)| std::cmp::Reverse(generation));
        keys
    }

    /// The database key of `generation`, if held.
    pub fn key(&self, generation: u64) -> Option<&DbKey> {
        self.key_of(Holds::Database, generation)
    }

    /// The key for `holds` of `generation`, if held.
    pub fn key_of(&self, holds: Holds, generation: u64) -> Option<&DbKey> {
        self.keys_of(holds)
            .into_iter()
            .find(|(g, _)| *g == generation)
            .map(|(_, key)| key)
    }

    /// Seals a fresh database key beside `current`; see [`add_beside_of`](Self::add_beside_of).
    pub fn add_beside(&mut self, current: u64) -> Result<(u64, DbKey), StorageError> {
        self.add_beside_of(Holds::Database, current)
    }

    /// Seals a fresh key for `holds`, one generation newer than any it holds, into the slot of its
    /// pair not holding `current` (the key in use), on disk when this returns; its generation and
    /// the key.
    pub fn add_beside_of(
        &mut self,
        holds: Holds,
        current: u64,
    ) -> Result<(u64, DbKey), StorageError> {
        let slot = self
            .slots_of(holds)
            .find(|&slot| self.slots[slot].as_ref().map(|(g, _)| *g) != Some(current))
            .expect("a pair has two slots");
        let generation = self.keys_of(holds).first().map_or(0, |&(g, _)| g) + 1;
        let key = fresh_key();
        let copy = Zeroizing::new(*key);
        self.write_slot(slot, generation, key)?;
        Ok((generation, copy))
    }

    /// The slots of `holds`' pair.
    fn slots_of(&self, holds: Holds) -> impl Iterator<Item = usize> + use<> {
        (0..SLOT_AT.len()).filter(move |&slot| Holds::of_slot(slot) == holds)
    }

    /// Reads the slots again, as another process may have rotated the key.
    pub fn reload(&mut self) -> Result<(), StorageError> {
        let mut bytes = vec![0u8; FILE_LEN];
        self.file
            .read_exact_at(&mut bytes, 0)
            .map_err(io_error(&self.path))?;
        self.slots = unseal_slots(&self.sealing, &self.header, &bytes);
        Ok(())
    }

    /// Holds the key file for a rotation: no other process opens or rotates meanwhile.
    pub fn lock(&self) -> Result<Locked, StorageError> {
        // A second handle on the same open file: the lock is the file's, and the key file stays
        // usable while it is held.
        let file = self.file.try_clone().map_err(io_error(&self.path))?;
        file.lock().map_err(io_error(&self.path))?;
        Ok(Locked(file))
    }

    /// Holds the key file for a rotation if nobody else has it: `None` while another connection
    /// holds it in use.
    pub fn try_lock(&self) -> Result<Option<Locked>, StorageError> {
        let file = self.file.try_clone().map_err(io_error(&self.path))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Locked(file))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(io_error(&self.path)(e)),
        }
    }

    /// Holds the key file against a rotation: while its keys are tried, and while a connection
    /// opened with one of them is in use.
    pub fn lock_shared(&self) -> Result<Locked, StorageError> {
        let file = self.file.try_clone().map_err(io_error(&self.path))?;
        file.lock_shared().map_err(io_error(&self.path))?;
        Ok(Locked(file))
    }

    /// Destroys every database key but the one of `keep`, on disk when this returns.
    pub fn keep_only(&mut self, keep: u64) -> Result<(), StorageError> {
        self.keep_only_of(Holds::Database, keep)
    }

    /// Destroys every key for `holds` but the one of `keep`, on disk when this returns.
    pub fn keep_only_of(&mut self, holds: Holds, keep: u64) -> Result<(), StorageError> {
        for (index, (slot, at)) in self.slots.iter_mut().zip(SLOT_AT).enumerate() {
            if Holds::of_slot(index) == holds && slot.as_ref().is_some_and(|(g, _)| *g != keep) {
                let mut noise = [0u8; SLOT_LEN];
                fill_random(&mut noise);
                self.file
                    .write_all_at(&noise, at)
                    .and_then(|()| self.file.sync_data())
                    .map_err(io_error(&self.path))?;
                *slot = None;
            }
        }
        Ok(())
    }

    fn write_slot(&mut self, slot: usize, generation: u64, key: DbKey) -> Result<(), StorageError> {
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        secret[..8].copy_from_slice(&generation.to_le_bytes());
        secret[8..].copy_from_slice(&key[..]);
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let sealed = XChaCha20Poly1305::new((&*self.sealing).into())
            .encrypt(
                XNonce::from_slice(&nonce),
                chacha20poly1305::aead::Payload {
                    msg: &secret[..],
                    aad: &associated(&self.header, Holds::of_slot(slot)),
                },
            )
            .expect("40 bytes are far below the AEAD's limit");
        let mut raw = [0u8; SLOT_LEN];
        raw[..NONCE_LEN].copy_from_slice(&nonce);
        raw[NONCE_LEN..].copy_from_slice(&sealed);
        // In place, then synced: the slot's blocks are the file's blocks from its creation.
        self.file
            .write_all_at(&raw, SLOT_AT[slot])
            .and_then(|()| self.file.sync_data())
            .map_err(io_error(&self.path))?;
        self.slots[slot] = Some((generation, key));
        Ok(())
    }
}

/// A lock on the key file, let go when dropped.
pub(crate) struct Locked(File);

impl Drop for Locked {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// What a slot's seal binds: the header, and what the slot's key is for.
fn associated(header: &[u8; HEADER_LEN], holds: Holds) -> Vec<u8> {
    [&header[..], holds.label()].concat()
}

/// What each slot of the key file `bytes` holds, unsealed with `sealing`.
fn unseal_slots(
    sealing: &[u8; 32],
    header: &[u8; HEADER_LEN],
    bytes: &[u8],
) -> [Option<(u64, DbKey)>; 4] {
    let cipher = XChaCha20Poly1305::new(sealing.into());
    std::array::from_fn(|slot| {
        let at = SLOT_AT[slot] as usize;
        let raw = &bytes[at..at + SLOT_LEN];
        let secret = cipher
            .decrypt(
                XNonce::from_slice(&raw[..NONCE_LEN]),
                chacha20poly1305::aead::Payload {
                    msg: &raw[NONCE_LEN..],
                    aad: &associated(header, Holds::of_slot(slot)),
                },
            )
            .ok()
            .map(Zeroizing::new)?;
        let generation = u64::from_le_bytes(secret[..8].try_into().expect("8 bytes"));
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&secret[8..]);
        Some((generation, key))
    })
}

/// Overwrites the whole key file at `path` with random bytes, in place, on disk when this returns: no
/// key it held can be derived again, by any passphrase. No passphrase is needed. Nothing if missing.
pub fn destroy(path: &Path) -> Result<(), StorageError> {
    let mut file = match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(path)(e)),
    };
    let len = file
        .metadata()
        .map_err(io_error(path))?
        .len()
        .max(FILE_LEN as u64);
    let mut noise = vec![0u8; usize::try_from(len).unwrap_or(FILE_LEN)];
    fill_random(&mut noise);
    file.write_all(&noise)
        .and_then(|()| file.sync_all())
        .map_err(io_error(path))
}

/// The key that seals the slots: Argon2id of the passphrase under the header's salt and parameters.
fn derive(
    header: &[u8; HEADER_LEN],
    passphrase: &Passphrase,
) -> Result<Zeroizing<[u8; 32]>, StorageError> {
    let word = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    let params = argon2::Params::new(word(8), word(12), word(16), Some(32))
        .map_err(|_| StorageError::Corrupt("the key file's Argon2 parameters are invalid"))?;
    let argon2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon2
        .hash_password_into(passphrase.expose().as_bytes(), &header[20..], &mut key[..])
        .map_err(|_| StorageError::Corrupt("the key file's Argon2 parameters are invalid"))?;
    Ok(key)
}

fn fresh_key() -> DbKey {
    let mut key = Zeroizing::new([0u8; 32]);
    fill_random(&mut key[..]);
    key
}

fn fill_random(bytes: &mut [u8]) {
    getrandom::fill(bytes).expect("the OS random number generator is available");
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> StorageError + use<> {
    let path = path.display().to_string();
    move |source| StorageError::File {
        path: path.clone(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passphrase(p: &str) -> Passphrase {
        Passphrase::new(p.into()).unwrap()
    }

    #[test]
    fn a_new_key_file_opens_with_its_passphrase_only_and_holds_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("courier.keys");
        let made = KeyFile::create(&path, &passphrase("right one")).unwrap();
        let key = *made.keys()[0].1.clone();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), FILE_LEN as u64);
        let opened = KeyFile::open(&path, &passphrase("right one")).unwrap();
        assert_eq!(opened.keys().len(), 1);
        assert_eq!(opened.keys()[0].0, 1);
        assert_eq!(*opened.keys()[0].1.clone(), key);
        assert!(matches!(
            KeyFile::open(&path, &passphrase("wrong one")),
            Err(StorageError::WrongPassphrase { .. })
        ));
        assert!(
            KeyFile::create(&path, &passphrase("right one")).is_err(),
            "never made over an existing one"
        );
    }

    #[test]
    fn the_secrets_keys_have_slots_of_their_own_and_never_pass_for_a_database_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("courier.keys");
        let mut keys = KeyFile::create(&path, &passphrase("right one")).unwrap();
        let database = *keys.keys()[0].1.clone();
        assert!(
            keys.keys_of(Holds::Secrets).is_empty(),
            "none until the first re-seal"
        );
        let (first, _) = keys.add_beside_of(Holds::Secrets, 0).unwrap();
        let (second, key) = keys.add_beside_of(Holds::Secrets, first).unwrap();
        assert_eq!((first, second), (1, 2));
        let opened = KeyFile::open(&path, &passphrase("right one")).unwrap();
        let held: Vec<u64> = opened.keys_of(Holds::Secrets).iter().map(|k| k.0).collect();
        assert_eq!(held, vec![2, 1]);
        let databases: Vec<(u64, [u8; 32])> =
            opened.keys().iter().map(|(g, k)| (*g, ***k)).collect();
        assert_eq!(
            databases,
            vec![(1, database)],
            "the database's pair untouched"
        );
        keys.keep_only_of(Holds::Secrets, 2).unwrap();
        let opened = KeyFile::open(&path, &passphrase("right one")).unwrap();
        assert_eq!(opened.keys_of(Holds::Secrets).len(), 1);
        assert_eq!(**opened.key_of(Holds::Secrets, 2).unwrap(), *key);
        assert_eq!(
            opened.keys().len(),
            1,
            "keep_only_of leaves the other pair alone"
        );
        // The same bytes under the other kind's label open nothing.
        let bytes = std::fs::read(&path).unwrap();
        let mut swapped = bytes.clone();
        let (database_at, secrets_at) = (SLOT_AT[0] as usize, SLOT_AT[2] as usize);
        swapped[secrets_at..secrets_at + SLOT_LEN]
            .copy_from_slice(&bytes[database_at..database_at + SLOT_LEN]);
        swapped[database_at..database_at + SLOT_LEN]
            .copy_from_slice(&bytes[secrets_at..secrets_at + SLOT_LEN]);
        let header: [u8; HEADER_LEN] = bytes[..HEADER_LEN].try_into().unwrap();
        let slots = unseal_slots(&keys.sealing, &header, &swapped);
        assert!(slots[0].is_none() && slots[2].is_none());
    }

    #[test]
    fn a_rotation_keeps_both_keys_until_the_old_one_is_destroyed_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("courier.keys");
        let mut keys = KeyFile::create(&path, &passphrase("right one")).unwrap();
        let old = *keys.keys()[0].1.clone();
        let before = std::fs::read(&path).unwrap();
        let (generation, new) = keys.add_beside(1).unwrap();
        assert_eq!(generation, 2);
        let both = KeyFile::open(&path, &passphrase("right one")).unwrap();
        let held: Vec<(u64, [u8; 32])> = both.keys().iter().map(|(g, k)| (*g, ***k)).collect();
        assert_eq!(held, vec![(2, *new), (1, old)], "newest first");
        keys.keep_only(2).unwrap();
        let after = std::fs::read(&path).unwrap();
        assert_eq!(after.len(), FILE_LEN, "never grows or shrinks");
        assert_eq!(after[..HEADER_LEN], before[..HEADER_LEN]);
        let reopened = KeyFile::open(&path, &passphrase("right one")).unwrap();
        assert_eq!(reopened.keys().len(), 1);
        assert_eq!(**reopened.keys()[0].1, *new);
        // A third key goes into the slot the first one left.
        let mut again = reopened;
        assert_eq!(again.add_beside(2).unwrap().0, 3);
        assert_eq!(again.keys().len(), 2);
    }

    #[test]
    fn destroyed_it_opens_for_no_passphrase_and_keeps_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("courier.keys");
        KeyFile::create(&path, &passphrase("right one")).unwrap();
        let before = std::fs::read(&path).unwrap();
        destroy(&path).unwrap();
        let after = std::fs::read(&path).unwrap();
        assert_eq!(after.len(), before.len());
        assert!(
            !before.chunks(16).any(|b| after.windows(16).any(|w| w == b)),
            "nothing of it is left"
        );
        assert!(KeyFile::open(&path, &passphrase("right one")).is_err());
        destroy(&dir.path().join("none.keys")).unwrap();
    }
}
