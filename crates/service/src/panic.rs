//! Panic wipe: the data directory made unreadable at once, for someone under duress. No passphrase
//! is asked. It refuses a folder that is not a Courier data directory. First every Courier process of
//! this user holding the directory's files (a running `serve`, a `send`) is killed, so none writes
//! anything after; then the key file is overwritten in place, and with its keys every page, frame
//! and chunk Courier ever wrote there, wherever the file system left copies, is noise; then what
//! Courier wrote is removed, and nothing else.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use courier_local_fs::holders;

use crate::DataDir;
use crate::error::ServiceError;

/// How long a killed process may take to let go of its files.
const PATIENCE: Duration = Duration::from_millis(500);

/// What Courier writes in a data directory besides the database's own files: the config, the local
/// API's address, socket and token (`courier-api-client` names them; a test there pins them here),
/// arti's state, and installed plugins with their compiled cache.
pub const WRITTEN_BESIDE_DATABASE: &[&str] = &[
    "config.toml",
    "api.addr",
    "api.sock",
    "api.token",
    "tor",
    "plugins/.cache",
];

/// What a panic wipe did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wiped {
    /// Courier processes that held the directory's files and were killed.
    pub stopped: usize,
    /// Courier processes of other users that hold its files: named, not killed.
    pub others: Vec<holders::Holder>,
    /// What is left in the directory that Courier did not write, by name.
    pub left: Vec<String>,
    /// Time from the start to the last file removed.
    pub elapsed: Duration,
}

impl DataDir {
    /// Kills the Courier processes of this user holding this directory's files, destroys the
    /// database's keys and removes what Courier wrote there (the directory too, if nothing else is
    /// left in it). Refuses a directory that holds no Courier database, removing nothing.
    pub fn panic_wipe(&self) -> Result<Wiped, ServiceError> {
        let started = Instant::now();
        let path = self.path();
        let database = self.database_file();
        let ours = courier_storage::Database::files(&database);
        if !path.is_dir() || !ours.iter().any(|f| f.symlink_metadata().is_ok()) {
            return Err(ServiceError::NotADataDir {
                path: path.to_path_buf(),
            });
        }
        let me = holders::current_uid();
        let (mine, others): (Vec<_>, Vec<_>) = holders::holding(path)
            .into_iter()
            .filter(|h| h.courier)
            .partition(|h| h.uid == me);
        let pids: Vec<u32> = mine.iter().map(|h| h.pid).collect();
        let left = holders::kill(&pids, PATIENCE);
        if !left.is_empty() {
            // Destroying the keys matters most: carry on, and say so.
            tracing::error!(
                "{} Courier process(es) holding the data directory did not stop; wiping anyway",
                left.len()
            );
        }
        courier_storage::wipe::destroy_keys(&database)?;
        let failed = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ServiceError::DataDir {
                doing: "wiping",
                path,
                source,
            }
        };
        let beside = WRITTEN_BESIDE_DATABASE.iter().map(|name| path.join(name));
        for file in ours.into_iter().chain(beside) {
            remove(&file).map_err(failed(&file))?;
        }
        remove_plugins(&path.join("plugins")).map_err(failed(path))?;
        let left = remaining(path).map_err(failed(path))?;
        if left.is_empty() {
            std::fs::remove_dir(path).map_err(failed(path))?;
        }
        Ok(Wiped {
            stopped: pids.len(),
            others,
            left,
            elapsed: started.elapsed(),
        })
    }
}

/// Removes `path`, a file, a link or a folder with all in it; nothing if missing.
fn remove(path: &Path) -> std::io::Result<()> {
    let result = match path.symlink_metadata() {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Removes the components and manifests `plugins install` put in `dir`, and `dir` if that empties it.
fn remove_plugins(dir: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let file: PathBuf = entry.path();
        let installed = entry.file_type()?.is_file()
            && file.extension().is_some_and(|e| e == "wasm" || e == "toml");
        if installed {
            remove(&file)?;
        }
    }
    if remaining(dir)?.is_empty() {
        std::fs::remove_dir(dir)?;
    }
    Ok(())
}

/// The names in `dir`, sorted.
fn remaining(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::service::testing::initialised;

    #[test]
    fn a_folder_without_a_database_is_refused_and_keeps_everything() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("photos");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("holiday.jpg"), b"jpeg").unwrap();
        std::fs::write(folder.join("config.toml"), b"mine").unwrap();
        let dir = DataDir::resolve(Some(folder.clone())).unwrap();
        let err = dir.panic_wipe().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert!(
            err.to_string().contains("not a Courier data directory"),
            "{err}"
        );
        assert_eq!(std::fs::read(folder.join("holiday.jpg")).unwrap(), b"jpeg");
        assert_eq!(std::fs::read(folder.join("config.toml")).unwrap(), b"mine");
        let missing = DataDir::resolve(Some(root.path().join("none"))).unwrap();
        assert_eq!(
            missing.panic_wipe().unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }

    #[test]
    fn what_courier_wrote_goes_and_a_user_s_own_file_beside_it_stays() {
        let (_root, service) = initialised();
        let dir = service.dir().clone();
        let path = dir.path().to_path_buf();
        std::fs::write(path.join("notes.txt"), b"my own notes").unwrap();
        std::fs::create_dir_all(path.join("plugins/.cache")).unwrap();
        std::fs::write(path.join("plugins/poll.wasm"), b"\0asm").unwrap();
        std::fs::write(path.join("plugins/poll.toml"), b"name = \"poll\"").unwrap();
        std::fs::write(path.join("plugins/README"), b"mine too").unwrap();
        std::fs::create_dir_all(path.join("tor")).unwrap();
        drop(service);
        let wiped = dir.panic_wipe().unwrap();
        assert_eq!(
            wiped.left,
            vec!["notes.txt".to_owned(), "plugins".to_owned()]
        );
        assert_eq!(
            std::fs::read(path.join("notes.txt")).unwrap(),
            b"my own notes"
        );
        assert_eq!(
            std::fs::read(path.join("plugins/README")).unwrap(),
            b"mine too"
        );
        let mut names = remaining(&path).unwrap();
        names.extend(remaining(&path.join("plugins")).unwrap());
        assert_eq!(names, ["notes.txt", "plugins", "README"]);

        // With nothing of the user's left, the folder goes too.
        let (_root, service) = initialised();
        let dir = service.dir().clone();
        drop(service);
        let wiped = dir.panic_wipe().unwrap();
        assert!(wiped.left.is_empty());
        assert!(!dir.path().exists());
    }
}
