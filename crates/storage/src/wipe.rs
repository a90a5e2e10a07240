//! Destroying what decrypts a database, for a panic wipe. Every page is encrypted under a random key
//! that only the key file keeps (`key_file.rs`): overwritten in place, the key file holds no key any
//! passphrase can unseal, and every page, every WAL frame and every stale copy of either that the file
//! system left in freed blocks, and the chunk-pack key inside them, is noise.
//!
//! A database from before key files was encrypted under a key SQLCipher derives from the passphrase
//! and a salt it keeps as the first 16 bytes of the file and of each page 1 in the WAL; those salts
//! are overwritten too, though copies of them in blocks the file system already freed stay.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::StorageError;

/// Bytes of salt at the start of page 1.
const SALT_LEN: u64 = 16;
/// The WAL file's header, and each frame's.
const WAL_HEADER: u64 = 32;
const FRAME_HEADER: u64 = 24;

/// Overwrites the key file of the database at `path`, then the salt of the database and of every page
/// 1 its WAL holds, with random bytes, on disk when this returns. The files stay, unreadable, for the
/// caller to remove.
pub fn destroy_keys(path: &Path) -> Result<(), StorageError> {
    super::key_file::destroy(&super::key_file::path_for(path))?;
    let file_error = |path: &Path| {
        let path = path.display().to_string();
        move |source| StorageError::File { path, source }
    };
    overwrite(path, &[0]).map_err(file_error(path))?;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal = Path::new(&wal);
    let frames = match page_one_frames(wal) {
        Ok(frames) => frames,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(file_error(wal)(e)),
    };
    overwrite(wal, &frames).map_err(file_error(wal))
}

/// Writes `SALT_LEN` random bytes at each of `offsets` of `path`, in place, and syncs it.
fn overwrite(path: &Path, offsets: &[u64]) -> std::io::Result<()> {
    // Opened for writing without truncation: the same blocks are written over, not new ones.
    let mut file = OpenOptions::new().write(true).open(path)?;
    for &offset in offsets {
        let mut noise = [0u8; SALT_LEN as usize];
        getrandom::fill(&mut noise).map_err(|e| std::io::Error::other(e.to_string()))?;
        file.seek(SeekFrom::Start(offset))?;
        file.write_all(&noise)?;
    }
    file.sync_all()
}

/// Where the data of each frame of page 1 starts in the WAL at `path`.
fn page_one_frames(path: &Path) -> std::io::Result<Vec<u64>> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut header = [0u8; WAL_HEADER as usize];
    if len < WAL_HEADER {
        return Ok(Vec::new());
    }
    file.read_exact(&mut header)?;
    let page_size = u64::from(u32::from_be_bytes([
        header[8], header[9], header[10], header[11],
    ]));
    // 1 stands for 65536 in SQLite's format; anything else not a power of two is no WAL of ours,
    // and then every frame-sized step is overwritten rather than none.
    let page_size = match page_size {
        1 => 65_536,
        n if n.is_power_of_two() && (512..=65_536).contains(&n) => n,
        _ => 4_096,
    };
    let mut frames = Vec::new();
    let mut at = WAL_HEADER;
    while at + FRAME_HEADER + SALT_LEN <= len {
        let mut page = [0u8; 4];
        file.seek(SeekFrom::Start(at))?;
        file.read_exact(&mut page)?;
        if u32::from_be_bytes(page) == 1 {
            frames.push(at + FRAME_HEADER);
        }
        at += FRAME_HEADER + page_size;
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Database, Passphrase};

    #[test]
    fn after_the_keys_are_destroyed_the_passphrase_opens_nothing_of_the_database_or_its_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("courier.db");
        let passphrase = Passphrase::for_new_database("a long enough passphrase".into()).unwrap();
        let db = Database::open(&path, &passphrase).unwrap();
        let before = std::fs::read(&path).unwrap();
        // The WAL holds page 1 too while the connection is open.
        let wal = dir.path().join("courier.db-wal");
        let frames = page_one_frames(&wal).unwrap();
        assert!(!frames.is_empty(), "a fresh database's WAL holds page 1");
        let salt = &before[..16];
        let wal_before = std::fs::read(&wal).unwrap();
        for &f in &frames {
            assert_eq!(
                &wal_before[f as usize..f as usize + 16],
                salt,
                "page 1 in the WAL starts with the salt"
            );
        }
        // Keep the blocks reachable, as a raw read of the disk would.
        let remains = dir.path().join("remains");
        std::fs::create_dir(&remains).unwrap();
        std::fs::hard_link(&path, remains.join("courier.db")).unwrap();
        std::fs::hard_link(&wal, remains.join("courier.db-wal")).unwrap();
        let keys = dir.path().join("courier.keys");
        std::fs::hard_link(&keys, remains.join("courier.keys")).unwrap();
        // A stale copy with its salt intact, as freed blocks of an old WAL keep one.
        let stale = dir.path().join("stale.db");
        std::fs::copy(&path, &stale).unwrap();

        // As after a panic wipe killed the node: the connection never closes (nor checkpoints).
        std::mem::forget(db);
        destroy_keys(&path).unwrap();
        let after = std::fs::read(remains.join("courier.db")).unwrap();
        assert_ne!(&after[..16], salt);
        assert!(after[16..] == before[16..], "only the salt is written over");
        let wal_after = std::fs::read(remains.join("courier.db-wal")).unwrap_or_default();
        assert!(
            !wal_after.windows(16).any(|w| w == salt),
            "no copy of the salt is left"
        );
        let reopened = Database::open(&remains.join("courier.db"), &passphrase);
        assert!(
            matches!(reopened, Err(StorageError::KeyFileDamaged { .. })),
            "the right passphrase must open nothing: {reopened:?}"
        );
        // The passphrase never was the database's key: with the salt it still opens no stale copy.
        let conn = rusqlite::Connection::open(&stale).unwrap();
        conn.pragma_update(None, "key", "a long enough passphrase")
            .unwrap();
        assert!(
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r
                .get::<_, i64>(0))
                .is_err(),
            "the passphrase under the old salt opens the stale copy"
        );
    }
}
