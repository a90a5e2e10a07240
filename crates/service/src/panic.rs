//! Panic wipe: the data directory made unreadable at once, for someone under duress. No passphrase
//! is asked. First every process holding the directory's files (a running `serve`, a `send`) is
//! killed, so none writes anything after; then what decrypts the database is destroyed in place
//! (SQLCipher's salt, and with it the key to every page and to the chunk-pack key inside them);
//! then every file goes.

use std::time::{Duration, Instant};

use courier_local_fs::holders;

use crate::DataDir;
use crate::error::ServiceError;

/// How long a killed process may take to let go of its files.
const PATIENCE: Duration = Duration::from_millis(500);

/// What a panic wipe did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wiped {
    /// Processes that held the directory's files and were killed.
    pub stopped: usize,
    /// Time from the start to the last file removed.
    pub elapsed: Duration,
}

impl DataDir {
    /// Kills whatever holds this directory's files, destroys the database's keys and removes
    /// everything in it, the directory included.
    pub fn panic_wipe(&self) -> Result<Wiped, ServiceError> {
        let started = Instant::now();
        let path = self.path();
        if !path.is_dir() {
            return Err(ServiceError::NotInitialised {
                path: path.to_path_buf(),
            });
        }
        let holders = holders::holding(path);
        let left = holders::kill(&holders, PATIENCE);
        if !left.is_empty() {
            // Destroying the keys matters most: carry on, and say so.
            tracing::error!(
                "{} process(es) holding the data directory did not stop; wiping anyway",
                left.len()
            );
        }
        let database = self.database_file();
        if database.exists() {
            courier_storage::wipe::destroy_keys(&database)?;
        }
        std::fs::remove_dir_all(path).map_err(|source| ServiceError::DataDir {
            doing: "wiping",
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Wiped {
            stopped: holders.len(),
            elapsed: started.elapsed(),
        })
    }
}
