//! The data directory: where it is, its database (found, then unlocked with the passphrase the front
//! end asked for) and its node config.

use std::path::{Path, PathBuf};

use courier_config::Config;
use courier_local_fs::owner_only;
use courier_storage::Database;

use crate::error::ServiceError;

/// The database file inside a data directory.
const DATABASE: &str = "courier.db";
/// An optional node config inside a data directory.
const CONFIG: &str = "config.toml";

/// A resolved data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    path: PathBuf,
}

/// A data directory's database, found (or about to be made) but not yet unlocked: the front end asks
/// for the passphrase only once it knows whether the database is new.
#[derive(Debug)]
pub struct LockedDatabase {
    pub(crate) dir: DataDir,
    pub(crate) file: PathBuf,
    pub(crate) new: bool,
}

impl DataDir {
    /// `given` (the front end's `--data-dir` or `COURIER_DATA_DIR`), else `~/.local/share/courier`.
    pub fn resolve(given: Option<PathBuf>) -> Result<DataDir, ServiceError> {
        let path = match given {
            Some(path) => path,
            None => std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".local/share/courier"))
                .ok_or(ServiceError::NoHome)?,
        };
        Ok(DataDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plugin directory of its config (or of `explicit`).
    pub fn plugin_dir(&self, explicit: Option<&Path>) -> Result<PathBuf, ServiceError> {
        Ok(self.config(explicit)?.plugin_dir)
    }

    /// The database file in it.
    pub fn database_file(&self) -> PathBuf {
        self.path.join(DATABASE)
    }

    /// What a user who may have their device seized should know about erasure where this directory
    /// is: panic and disappearing messages destroy keys by overwriting them in place, which some
    /// file systems and all flash storage do not honour. Empty where it holds.
    pub fn erasure_warnings(&self) -> Vec<String> {
        use courier_local_fs::erasure::{self, Erasure};
        let mut warnings = Vec::new();
        if let Some(Erasure::Kept { file_system, why }) = erasure::assess(&self.path) {
            warnings.push(format!(
                "{} is on {file_system}: {why}; old copies of the key file can stay on the disk, so after `courier panic` or a disappearing message someone with your passphrase may still decrypt them; keep the data directory on ext4 (default mode) or XFS",
                self.path.display()
            ));
        }
        if erasure::on_flash(&self.path) {
            warnings.push(format!(
                "{} is on flash storage (an SSD or SD card), whose controller may keep old copies of overwritten blocks; use full-disk encryption too, so that those copies are of no use without its key",
                self.path.display()
            ));
        }
        warnings
    }

    /// The database of a directory `init` ran in; refuses any other.
    pub fn existing(&self) -> Result<LockedDatabase, ServiceError> {
        let file = self.database_file();
        if !Database::exists(&file)? {
            return Err(ServiceError::NotInitialised {
                path: self.path.clone(),
            });
        }
        Ok(LockedDatabase {
            dir: self.clone(),
            file,
            new: false,
        })
    }

    /// The database for `init`: a new one in a new directory (made readable by the user only), the
    /// existing one otherwise; never one in place of a database that was truncated or removed (then
    /// `Database::exists` refuses).
    pub fn create(&self) -> Result<LockedDatabase, ServiceError> {
        let file = self.database_file();
        let exists = Database::exists(&file)?;
        let failed = |doing| {
            let path = self.path.clone();
            move |source| ServiceError::DataDir {
                doing,
                path,
                source,
            }
        };
        owner_only::create_dir_all(&self.path).map_err(failed("creating"))?;
        owner_only::restrict(&self.path).map_err(failed("restricting"))?;
        Ok(LockedDatabase {
            dir: self.clone(),
            file,
            new: !exists,
        })
    }

    /// The node config: `explicit`, else `config.toml` in the directory, else the built-in default with
    /// plugins from `COURIER_PLUGIN_DIR` or the `plugins` folder beside the binary's.
    pub fn config(&self, explicit: Option<&Path>) -> Result<Config, ServiceError> {
        if let Some(path) = explicit {
            return Ok(Config::read(path)?);
        }
        let own = self.path.join(CONFIG);
        if own.exists() {
            return Ok(Config::read(&own)?);
        }
        Ok(Config::default_with_plugins(&default_plugin_dir()?)?)
    }
}

impl LockedDatabase {
    /// Whether unlocking makes a new database, whose passphrase is held to the minimum length (a front
    /// end prompting for it asks twice).
    pub fn is_new(&self) -> bool {
        self.new
    }

    /// The directory it is in.
    pub fn dir(&self) -> &DataDir {
        &self.dir
    }
}

fn default_plugin_dir() -> Result<PathBuf, ServiceError> {
    if let Some(dir) = std::env::var_os("COURIER_PLUGIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().map_err(|_| ServiceError::NoPluginDir)?;
    // target/debug/courier → target/plugins, where `cargo xtask build-plugins` puts them.
    exe.parent()
        .and_then(Path::parent)
        .map(|p| p.join("plugins"))
        .filter(|p| p.is_dir())
        .ok_or(ServiceError::NoPluginDir)
}
