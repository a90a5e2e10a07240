//! The files, one directory per folder under `folders/`, each file named by when it arrived and a
//! random suffix, so a listing sorted by name is oldest first. A file is written to a temporary
//! name, synced, renamed into place and its directory synced before the upload is acknowledged: an
//! acknowledged file survives a crash or a power cut. What a crash leaves half-written is a
//! temporary file, removed when the mailbox opens.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use courier_local_fs::owner_only;
use serde::Serialize;

use crate::MailboxError;
use crate::registry::FolderId;
use crate::token::random;

/// The directory of every folder, in the data directory.
pub const FOLDERS_DIR: &str = "folders";

/// What a temporary file's name starts with.
const TEMPORARY: &str = ".new-";

/// A file in a folder, as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FileEntry {
    /// Its name: when it arrived (ms, 16 hex digits), a dash, 16 random hex digits.
    pub name: String,
    /// When it arrived, in ms since the epoch.
    pub time_ms: u64,
    /// Its size in bytes.
    pub size: u64,
}

/// The folders of one mailbox, and how much each holds.
#[derive(Debug)]
pub struct Folders {
    dir: PathBuf,
    usage: HashMap<FolderId, u64>,
}

/// A file name the mailbox issues, checked.
fn file_name(name: &str) -> Result<u64, MailboxError> {
    let bad = || MailboxError::BadName {
        what: "file name",
        name: name.chars().take(80).collect(),
    };
    let (time, suffix) = name.split_once('-').ok_or_else(bad)?;
    let hex = |s: &str| s.len() == 16 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !hex(time) || !hex(suffix) {
        return Err(bad());
    }
    u64::from_str_radix(time, 16).map_err(|_| bad())
}

impl Folders {
    /// The folders under `data_dir`, made if absent; half-written files of a crash are removed and
    /// what each folder holds is counted.
    pub fn open(data_dir: &Path) -> Result<Folders, MailboxError> {
        let dir = data_dir.join(FOLDERS_DIR);
        owner_only::create_dir_all(&dir).map_err(MailboxError::disk("making the folders"))?;
        let mut folders = Folders {
            dir,
            usage: HashMap::new(),
        };
        let entries =
            std::fs::read_dir(&folders.dir).map_err(MailboxError::disk("listing the folders"))?;
        for entry in entries {
            let entry = entry.map_err(MailboxError::disk("listing the folders"))?;
            let Ok(folder) = FolderId::parse(&entry.file_name().to_string_lossy()) else {
                continue;
            };
            let mut bytes = 0;
            let files =
                std::fs::read_dir(entry.path()).map_err(MailboxError::disk("listing a folder"))?;
            for file in files {
                let file = file.map_err(MailboxError::disk("listing a folder"))?;
                if file.file_name().to_string_lossy().starts_with(TEMPORARY) {
                    let _ = std::fs::remove_file(file.path());
                } else if let Ok(meta) = file.metadata() {
                    bytes += meta.len();
                }
            }
            folders.usage.insert(folder, bytes);
        }
        Ok(folders)
    }

    fn path(&self, folder: &FolderId) -> PathBuf {
        self.dir.join(folder.as_str())
    }

    /// What `folder` holds, in bytes.
    pub fn usage(&self, folder: &FolderId) -> u64 {
        self.usage.get(folder).copied().unwrap_or(0)
    }

    /// What every folder holds, in bytes.
    pub fn total(&self) -> u64 {
        self.usage.values().sum()
    }

    /// Stores `bytes` as a new file of `folder`, arrived at `now_ms`; on disk when this returns.
    pub fn put(
        &mut self,
        folder: &FolderId,
        bytes: &[u8],
        now_ms: u64,
    ) -> Result<String, MailboxError> {
        let dir = self.path(folder);
        let name = format!("{now_ms:016x}-{}", hex::encode(&random()[..8]));
        let temporary = dir.join(format!("{TEMPORARY}{name}"));
        let write = || -> std::io::Result<()> {
            owner_only::create_dir_all(&dir)?;
            let mut file = owner_only::file_options()
                .write(true)
                .create_new(true)
                .open(&temporary)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&temporary, dir.join(&name))?;
            std::fs::File::open(&dir)?.sync_all()?;
            // A new folder's own entry must survive too.
            std::fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(MailboxError::disk("storing a file"))?;
        *self.usage.entry(folder.clone()).or_default() += bytes.len() as u64;
        Ok(name)
    }

    /// The files of `folder`, oldest first.
    pub fn list(&self, folder: &FolderId) -> Result<Vec<FileEntry>, MailboxError> {
        let entries = match std::fs::read_dir(self.path(folder)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(MailboxError::disk("listing a folder")(e)),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(MailboxError::disk("listing a folder"))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(time_ms) = file_name(&name) else {
                continue;
            };
            let size = entry
                .metadata()
                .map_err(MailboxError::disk("listing a folder"))?
                .len();
            files.push(FileEntry {
                name,
                time_ms,
                size,
            });
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }

    /// The bytes of file `name` of `folder`.
    pub fn get(&self, folder: &FolderId, name: &str) -> Result<Vec<u8>, MailboxError> {
        file_name(name)?;
        match std::fs::read(self.path(folder).join(name)) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(MailboxError::NotFound("file"))
            }
            Err(e) => Err(MailboxError::disk("reading a file")(e)),
        }
    }

    /// Deletes file `name` of `folder`.
    pub fn delete(&mut self, folder: &FolderId, name: &str) -> Result<(), MailboxError> {
        file_name(name)?;
        let path = self.path(folder).join(name);
        let size = match std::fs::metadata(&path) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(MailboxError::NotFound("file"));
            }
            Err(e) => return Err(MailboxError::disk("deleting a file")(e)),
        };
        std::fs::remove_file(&path).map_err(MailboxError::disk("deleting a file"))?;
        if let Some(usage) = self.usage.get_mut(folder) {
            *usage = usage.saturating_sub(size);
        }
        Ok(())
    }

    /// Deletes every file that arrived before `before_ms`; returns how many.
    pub fn sweep(&mut self, before_ms: u64) -> Result<usize, MailboxError> {
        let folders: Vec<FolderId> = self.usage.keys().cloned().collect();
        let mut deleted = 0;
        for folder in folders {
            for file in self.list(&folder)? {
                if file.time_ms < before_ms {
                    self.delete(&folder, &file.name)?;
                    deleted += 1;
                }
            }
        }
        Ok(deleted)
    }

    /// Deletes `folder` and everything in it.
    pub fn remove(&mut self, folder: &FolderId) -> Result<(), MailboxError> {
        match std::fs::remove_dir_all(self.path(folder)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(MailboxError::disk("deleting a folder")(e)),
        }
        self.usage.remove(folder);
        Ok(())
    }

    /// Deletes every folder.
    pub fn wipe(&mut self) -> Result<(), MailboxError> {
        let folders: Vec<FolderId> = self.usage.keys().cloned().collect();
        for folder in folders {
            self.remove(&folder)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(n: u8) -> FolderId {
        FolderId::parse(&format!("{n:02x}").repeat(16)).unwrap()
    }

    #[test]
    fn files_list_oldest_first_read_back_and_are_counted_until_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let mut folders = Folders::open(dir.path()).unwrap();
        let later = folders.put(&folder(1), b"second", 2_000).unwrap();
        let earlier = folders.put(&folder(1), b"first", 1_000).unwrap();
        folders.put(&folder(2), b"elsewhere", 1_500).unwrap();
        let listed = folders.list(&folder(1)).unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|f| (&f.name[..], f.time_ms, f.size))
                .collect::<Vec<_>>(),
            [(&earlier[..], 1_000, 5), (&later[..], 2_000, 6)]
        );
        assert_eq!(folders.get(&folder(1), &earlier).unwrap(), b"first");
        assert_eq!((folders.usage(&folder(1)), folders.total()), (11, 20));
        folders.delete(&folder(1), &earlier).unwrap();
        assert!(matches!(
            folders.get(&folder(1), &earlier),
            Err(MailboxError::NotFound(_))
        ));
        assert!(matches!(
            folders.delete(&folder(1), &earlier),
            Err(MailboxError::NotFound(_))
        ));
        assert_eq!(folders.usage(&folder(1)), 6);
        assert!(folders.list(&folder(3)).unwrap().is_empty());
    }

    #[test]
    fn reopening_counts_what_is_there_and_drops_what_a_crash_left_half_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut folders = Folders::open(dir.path()).unwrap();
        folders.put(&folder(1), b"kept", 1_000).unwrap();
        let half = dir
            .path()
            .join(FOLDERS_DIR)
            .join(folder(1).as_str())
            .join(format!("{TEMPORARY}0000000000000001-0000000000000000"));
        std::fs::write(&half, b"half written").unwrap();
        let folders = Folders::open(dir.path()).unwrap();
        assert_eq!(folders.usage(&folder(1)), 4);
        assert!(!half.exists());
        assert_eq!(folders.list(&folder(1)).unwrap().len(), 1);
    }

    #[test]
    fn the_sweep_deletes_what_arrived_before_its_time_and_a_bad_name_reaches_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut folders = Folders::open(dir.path()).unwrap();
        folders.put(&folder(1), b"old", 1_000).unwrap();
        let new = folders.put(&folder(2), b"new", 5_000).unwrap();
        assert_eq!(folders.sweep(2_000).unwrap(), 1);
        assert!(folders.list(&folder(1)).unwrap().is_empty());
        assert_eq!(folders.list(&folder(2)).unwrap()[0].name, new);
        for bad in [
            "../registry.json",
            "0000000000001388-zz",
            "",
            &new.to_uppercase(),
        ] {
            assert!(
                matches!(
                    folders.get(&folder(2), bad),
                    Err(MailboxError::BadName { .. })
                ),
                "{bad}"
            );
        }
        folders.wipe().unwrap();
        assert_eq!(folders.total(), 0);
        assert!(folders.list(&folder(2)).unwrap().is_empty());
    }
}
