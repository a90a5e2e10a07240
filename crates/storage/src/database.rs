//! Opening, unlocking and migrating the database.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OptionalExtension};
use zeroize::Zeroizing;

use super::chunk_packs::{CHUNKS_SUFFIX, ChunkPacks, PackRef, Side};
use super::key_file::{self, DbKey, KeyFile};
use super::message_row::stored_message;
use super::migrations::MIGRATIONS;
use super::passphrase::Passphrase;
use crate::{ContactId, StorageError};
use courier_proto::sync::record::{Message, MessageId};

/// The files SQLite and the chunk packs keep beside a database, which only a database that held data
/// leaves behind, and which exist.
fn companions(path: &Path) -> Vec<PathBuf> {
    Database::files(path)
        .into_iter()
        .skip(1)
        .filter(|p| p.symlink_metadata().is_ok())
        .collect()
}

/// An open, unlocked, migrated database.
pub struct Database {
    pub(super) path: PathBuf,
    pub(super) conn: Connection,
    pub(super) packs: ChunkPacks,
    /// The key file, and the generation of its key that this connection reads and writes with.
    pub(super) keys: KeyFile,
    pub(super) key_generation: u64,
    /// A shared lock on the key file while this connection is in use: no rotation can pull the key
    /// from under it. `None` for a connection that follows rotations between uses
    /// ([`Database::follow_rotations`]).
    pub(super) hold: Option<key_file::Locked>,
    /// The key contacts' transport secrets are sealed under (`sealed_secrets.rs`); `None` while
    /// they are stored plain.
    pub(super) secrets: Option<key_file::SecretsKey>,
    /// Whether group records were queued to contacts since [`Database::take_relayed`] was last
    /// asked.
    pub(super) relayed: bool,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Database")
    }
}

/// A write transaction: its own, taking the write lock at once (so a `send` beside `serve` waits for
/// the lock instead of failing on a stale read), or a savepoint inside a [`Database::batch`].
pub(super) enum Write<'a> {
    Own(rusqlite::Transaction<'a>),
    Nested(rusqlite::Savepoint<'a>),
}

impl std::ops::Deref for Write<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            Write::Own(tx) => tx,
            Write::Nested(sp) => sp,
        }
    }
}

impl Write<'_> {
    pub(super) fn commit(self) -> rusqlite::Result<()> {
        match self {
            Write::Own(tx) => tx.commit(),
            Write::Nested(sp) => sp.commit(),
        }
    }
}

/// Starts a write on `conn`: its own transaction, or a savepoint inside a batch.
pub(super) fn begin_write(conn: &mut Connection) -> rusqlite::Result<Write<'_>> {
    if conn.is_autocommit() {
        conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map(Write::Own)
    } else {
        conn.savepoint().map(Write::Nested)
    }
}

/// Puts `message`, id `id`, into the outbox to `contact` in the place of `timestamp_ms` (once:
/// queuing it again changes nothing), with its body as the row keeps it and, for a chunk, where its
/// record is in its pack (what [`ChunkPacks::stow`] returned).
pub(super) fn queue_outgoing(
    conn: &Connection,
    contact: ContactId,
    (id, message): (&MessageId, &Message),
    timestamp_ms: u64,
    (body, packed): (&[u8], Option<PackRef>),
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO outgoing (contact_id, id, timestamp_ms, content_type, type_version,
             body, fallback, pack_offset, pack_len)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(rusqlite::params![
        contact,
        &id.0[..],
        timestamp_ms as i64,
        message.content_type,
        message.type_version,
        body,
        message.fallback,
        packed.map(|p| p.offset as i64),
        packed.map(|p| p.len as i64)
    ])
}

impl Database {
    /// Every file and folder the database at `path` is made of, whether there or not: the database
    /// first, then SQLite's journals, the chunk packs' folder and the key file.
    pub fn files(path: &Path) -> Vec<PathBuf> {
        let beside = |suffix: &str| {
            let mut name = path.file_name().unwrap_or_default().to_os_string();
            name.push(suffix);
            path.with_file_name(name)
        };
        std::iter::once(path.to_path_buf())
            .chain(["-wal", "-shm", "-journal", CHUNKS_SUFFIX].map(beside))
            .chain(std::iter::once(key_file::path_for(path)))
            .collect()
    }

    /// Whether a database with data is at `path`: `false` when there is none (or an empty file) and
    /// nothing beside it either, so the data directory is new. A missing or empty database beside
    /// the files one leaves (its WAL, its chunk packs) is an error: it was truncated or replaced,
    /// and treating it as new would orphan those.
    pub fn exists(path: &Path) -> Result<bool, StorageError> {
        let state = match std::fs::metadata(path) {
            Ok(meta) if meta.len() > 0 => return Ok(true),
            Ok(_) => "empty",
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "missing",
            Err(source) => {
                return Err(StorageError::File {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let others = companions(path);
        if others.is_empty() {
            return Ok(false);
        }
        let names: Vec<String> = others
            .iter()
            .map(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                if p.is_dir() {
                    format!("{name}/")
                } else {
                    name.into_owned()
                }
            })
            .collect();
        Err(StorageError::Vanished {
            path: path.display().to_string(),
            state,
            others: names.join(", "),
        })
    }

    /// Opens (creating if needed) the database at `path`, unlocks it with `passphrase`, and migrates it.
    pub fn open(path: &Path, passphrase: &Passphrase) -> Result<Database, StorageError> {
        let file_error = |source| StorageError::File {
            path: path.display().to_string(),
            source,
        };
        // Made owner-only here rather than by SQLite, which would take the umask; its WAL and
        // shared-memory files take the database's mode. Files from before are restricted too.
        // Opened here only when it is not there yet: closing any descriptor of the database file
        // drops every POSIX lock this process holds on it, those of SQLite's connections too (a
        // node's, when `serve` opens its second connection). Another process then believes it is
        // the last connection, checkpoints and removes the WAL under the node's feet.
        match courier_local_fs::owner_only::file_options()
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(file_error(e)),
        }
        for file in std::iter::once(path.to_path_buf()).chain(companions(path)) {
            courier_local_fs::owner_only::restrict(&file).map_err(file_error)?;
        }
        let (mut conn, keys, key_generation, hold) = unlock(path, passphrase)?;
        configure(&conn)?;
        migrate(&mut conn)?;
        let packs = ChunkPacks::new(path, pack_key(&conn)?);
        let mut db = Database {
            path: path.to_path_buf(),
            conn,
            packs,
            keys,
            key_generation,
            hold: Some(hold),
            secrets: None,
            relayed: false,
        };
        db.load_secrets_key()?;
        Ok(db)
    }

    /// Whether this connection queued group records to contacts (relaying what one member sent
    /// to the others) since it was last asked: a node offers them on its other links, since the
    /// link whose traffic it was taking is not theirs.
    pub fn take_relayed(&mut self) -> bool {
        std::mem::take(&mut self.relayed)
    }

    pub(super) fn write(&mut self) -> rusqlite::Result<Write<'_>> {
        begin_write(&mut self.conn)
    }

    /// Adds a contact by alias and returns its id.
    pub fn add_contact(&mut self, alias: &str) -> Result<ContactId, StorageError> {
        self.conn
            .execute("INSERT INTO contacts (alias) VALUES (?1)", [alias])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The contact called `alias`.
    pub fn contact(&self, alias: &str) -> Result<ContactId, StorageError> {
        self.conn
            .query_row("SELECT id FROM contacts WHERE alias = ?1", [alias], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| StorageError::UnknownContact(alias.to_owned()))
    }

    /// Queues `message` for `contact`; it is on disk when this returns. Queuing the same message twice
    /// queues it once.
    pub fn queue(
        &mut self,
        contact: ContactId,
        message: &Message,
    ) -> Result<MessageId, StorageError> {
        message.check()?;
        let id = message.id();
        let row = self.packs.stow(Side::Outgoing, contact, &id, message)?;
        if self.conn.is_autocommit() {
            self.packs.sync()?;
        }
        queue_outgoing(
            &self.conn,
            contact,
            (&id, message),
            message.timestamp_ms,
            row,
        )?;
        Ok(id)
    }

    /// The messages received from `contact`, in order of arrival.
    pub fn received(&self, contact: ContactId) -> Result<Vec<Message>, StorageError> {
        let mut statement = self.conn.prepare(
            "SELECT timestamp_ms, content_type, type_version, body, fallback, id, pack_offset, pack_len
               FROM incoming WHERE contact_id = ?1 ORDER BY received_seq",
        )?;
        let rows = statement.query_map([contact], stored_message)?;
        rows.map(|row| {
            let (message, id, packed) = row?;
            self.packs
                .unstow(Side::Incoming, contact, message, &id, packed)
        })
        .collect()
    }
}

/// Sets what every connection of ours runs with.
pub(super) fn configure(conn: &Connection) -> Result<(), StorageError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a commit is on disk when it returns, so "queued" survives a power cut.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // A deleted row's bytes are zeroed in its page, not left among the free space of the live
    // database; the stale copies elsewhere go with the key (`rotation.rs`).
    conn.pragma_update(None, "secure_delete", "ON")?;
    // 32 MiB of decrypted pages instead of SQLite's 2 MiB: a year of messages makes the id indexes
    // tens of MiB, and each page read past the cache is read and decrypted again (SQLCipher). Only
    // pages a connection touches take room.
    conn.pragma_update(None, "cache_size", -32_768)?;
    // `courier send` and `courier serve` share the file; a writer waits for the other. SQLite's own
    // busy timeout sleeps 1 ms and more per retry, which would be most of a send's latency when it
    // meets the node committing an ack; retry every 100 µs instead, for up to 10 s.
    conn.busy_handler(Some(|attempt: i32| {
        std::thread::sleep(std::time::Duration::from_micros(100));
        attempt < 100_000
    }))?;
    Ok(())
}

/// What unlocks a connection: the random key of a key file, or (for a database from before key
/// files) the passphrase, which SQLCipher stretches with PBKDF2.
pub(super) enum Unlock<'k> {
    Key(&'k DbKey),
    Passphrase(&'k Passphrase),
}

/// A connection to the database at `path` unlocked with `unlock`; `None` if that does not open it.
pub(super) fn connect(path: &Path, unlock: Unlock<'_>) -> Result<Option<Connection>, StorageError> {
    let conn = Connection::open(path)?;
    match unlock {
        Unlock::Key(key) => {
            let spec = raw_key(key);
            conn.pragma_update(None, "key", spec.as_str())?;
        }
        Unlock::Passphrase(passphrase) => {
            conn.pragma_update(None, "key", passphrase.expose())?;
        }
    }
    // SQLCipher prints its own lines to stderr on a wrong key; the error below says it better.
    // Only after `key`: the first key of the process starts SQLCipher, which then sets its log to
    // stderr at WARN unless a level other than NONE was chosen, so NONE set before is undone.
    conn.pragma_update(None, "cipher_log", "off")?;
    // Sorts and temporary tables stay in memory: a temporary file would be one more place on the
    // disk holding pages.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // The first read is where SQLCipher finds out whether the key is right.
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => Ok(Some(conn)),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::NotADatabase => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// SQLCipher's spelling of a raw key, `x'…'`, which it uses as it is (no key derivation).
fn raw_key(key: &DbKey) -> Zeroizing<String> {
    Zeroizing::new(format!("x'{}'", hex::encode(&key[..])))
}

/// The database at `path` unlocked: the connection, the key file, the generation of the key that
/// opened it, and the shared lock on the key file that keeps that key from rotating away. A new database gets a new key file; one from before key files is re-encrypted
/// under a random key, so that from then on its pages no longer depend on the passphrase alone.
fn unlock(
    path: &Path,
    passphrase: &Passphrase,
) -> Result<(Connection, KeyFile, u64, key_file::Locked), StorageError> {
    let keys_path = key_file::path_for(path);
    let has_data = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
    if !keys_path.exists() {
        if !has_data {
            let keys = KeyFile::create(&keys_path, passphrase)?;
            let hold = keys.lock_shared()?;
            let (generation, key) = keys.keys()[0];
            let conn = connect(path, Unlock::Key(key))?
                .ok_or(StorageError::Corrupt("a new database refused its own key"))?;
            return Ok((conn, keys, generation, hold));
        }
        let Some(conn) = connect(path, Unlock::Passphrase(passphrase))? else {
            return Err(StorageError::KeyFileMissing {
                path: path.display().to_string(),
                keys: keys_path.display().to_string(),
            });
        };
        let keys = KeyFile::create(&keys_path, passphrase)?;
        return onto_key_file(path, conn, keys);
    }
    let mut keys = KeyFile::open(&keys_path, passphrase).map_err(|e| match e {
        // The user knows the database, not its key file.
        StorageError::WrongPassphrase { .. } => StorageError::WrongPassphrase {
            path: path.display().to_string(),
        },
        other => other,
    })?;
    // Not while another process rotates: it may have written a key the database is not under yet.
    // The slots are read again under the lock, as a rotation may have ended while it was awaited.
    let hold = keys.lock_shared()?;
    keys.reload()?;
    let held: Vec<(u64, DbKey)> = keys
        .keys()
        .into_iter()
        .map(|(generation, key)| (generation, Zeroizing::new(**key)))
        .collect();
    // Newest first: a rotation cut short leaves a newer key the database may not use yet.
    let mut opened = None;
    for (generation, key) in &held {
        if let Some(conn) = connect(path, Unlock::Key(key))? {
            opened = Some((conn, *generation));
            break;
        }
    }
    if let Some((conn, generation)) = opened {
        return Ok((conn, keys, generation, hold));
    }
    drop(hold);
    // A move onto the key file cut short: the database is still under its passphrase.
    if has_data && let Some(conn) = connect(path, Unlock::Passphrase(passphrase))? {
        return onto_key_file(path, conn, keys);
    }
    Err(StorageError::KeyFileMismatch {
        path: path.display().to_string(),
        keys: keys_path.display().to_string(),
    })
}

/// Re-encrypts a database opened with its passphrase under the newest key of `keys`.
fn onto_key_file(
    path: &Path,
    conn: Connection,
    keys: KeyFile,
) -> Result<(Connection, KeyFile, u64, key_file::Locked), StorageError> {
    let hold = keys.lock()?;
    let (generation, key) = keys.keys()[0];
    let key = Zeroizing::new(**key);
    rekey(&conn, &key)?;
    drop(conn);
    let conn = connect(path, Unlock::Key(&key))?.ok_or(StorageError::Corrupt(
        "the database does not open under the key it was just encrypted with",
    ))?;
    drop(hold);
    let hold = keys.lock_shared()?;
    Ok((conn, keys, generation, hold))
}

/// Re-encrypts every page of the database under `key`. The connection is not to be used after:
/// SQLCipher leaves its write key set even when the rewrite failed, so the caller opens again.
pub(super) fn rekey(conn: &Connection, key: &DbKey) -> Result<(), StorageError> {
    let spec = raw_key(key);
    conn.pragma_update(None, "rekey", spec.as_str())?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), StorageError> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(StorageError::TooNew {
            found: version,
            supported: MIGRATIONS.len(),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// The key chunk packs are sealed under, made the first time the database opens with this migration.
fn pack_key(conn: &Connection) -> Result<Zeroizing<[u8; 32]>, StorageError> {
    let stored = || -> Result<Option<Zeroizing<Vec<u8>>>, StorageError> {
        Ok(conn
            .query_row("SELECT key FROM pack_key", [], |r| r.get(0))
            .optional()?
            .map(Zeroizing::new))
    };
    let key = match stored()? {
        Some(key) => key,
        None => {
            let mut fresh = Zeroizing::new([0u8; 32]);
            getrandom::fill(&mut fresh[..]).expect("the OS random number generator is available");
            // OR IGNORE: a second process opening the new database at the same time made one first.
            conn.execute(
                "INSERT OR IGNORE INTO pack_key (id, key) VALUES (1, ?1)",
                [&fresh[..]],
            )?;
            stored()?.ok_or(StorageError::Corrupt("the chunk pack key is missing"))?
        }
    };
    let key: [u8; 32] = key
        .as_slice()
        .try_into()
        .map_err(|_| StorageError::Corrupt("the chunk pack key is not 32 bytes"))?;
    Ok(Zeroizing::new(key))
}
