//! The data directory: where it is, its passphrase, its database and its config.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use courier_host::config::Config;
use courier_host::owner_only;
use courier_host::storage::{Database, Passphrase};

/// The database file inside a data directory.
const DATABASE: &str = "courier.db";
/// An optional node config inside a data directory.
const CONFIG: &str = "config.toml";

/// A resolved data directory.
pub struct DataDir {
    path: PathBuf,
}

impl DataDir {
    /// `--data-dir`, or `COURIER_DATA_DIR`, or `~/.local/share/courier`.
    pub fn resolve(given: Option<PathBuf>) -> Result<DataDir> {
        let path = match given {
            Some(path) => path,
            None => match std::env::var_os("HOME") {
                Some(home) => PathBuf::from(home).join(".local/share/courier"),
                None => bail!("no --data-dir given and HOME is not set; pass --data-dir DIR"),
            },
        };
        Ok(DataDir { path })
    }

    /// Creates the directory (readable by the user only) if missing.
    pub fn create(&self) -> Result<()> {
        owner_only::create_dir_all(&self.path)
            .with_context(|| format!("creating data directory {}", self.path.display()))?;
        owner_only::restrict(&self.path)
            .with_context(|| format!("restricting {} to its owner", self.path.display()))
    }

    /// Opens the database, asking for the passphrase; refuses a directory `init` never ran in.
    pub fn open(&self) -> Result<Database> {
        let file = self.path.join(DATABASE);
        if !Database::exists(&file)? {
            bail!(
                "{} is not initialised; run `courier --data-dir {} init --name NAME`",
                self.path.display(),
                self.path.display()
            );
        }
        Ok(Database::open(&file, &passphrase(false)?)?)
    }

    /// Opens the database for `init`: a new one (asking for a new passphrase) in a new directory, the
    /// existing one otherwise; never one in place of a database that was truncated or removed.
    pub fn open_new(&self) -> Result<Database> {
        let file = self.path.join(DATABASE);
        let exists = Database::exists(&file)?;
        self.create()?;
        Ok(Database::open(&file, &passphrase(!exists)?)?)
    }

    /// The node config: `explicit`, else `config.toml` in the directory, else the built-in default with
    /// plugins from `COURIER_PLUGIN_DIR` or the `plugins` folder beside the binary's.
    pub fn config(&self, explicit: Option<&Path>) -> Result<Config> {
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

fn default_plugin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("COURIER_PLUGIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("finding the courier binary")?;
    // target/debug/courier → target/plugins, where `cargo xtask build-plugins` puts them.
    let beside = exe
        .parent()
        .and_then(Path::parent)
        .map(|p| p.join("plugins"))
        .filter(|p| p.is_dir());
    beside.context(
        "cannot find the plugin directory; set COURIER_PLUGIN_DIR or pass --config with [plugins] dir",
    )
}

/// `COURIER_PASSPHRASE`, or a prompt on the terminal (twice when `new`, and then held to the minimum
/// length).
fn passphrase(new: bool) -> Result<Passphrase> {
    let wrap = if new {
        Passphrase::for_new_database
    } else {
        Passphrase::new
    };
    if let Ok(value) = std::env::var("COURIER_PASSPHRASE") {
        return Ok(wrap(value)?);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no passphrase: set COURIER_PASSPHRASE, or run courier from a terminal to be asked");
    }
    let first = rpassword::prompt_password("Passphrase: ").context("reading the passphrase")?;
    if new {
        let again =
            rpassword::prompt_password("Passphrase again: ").context("reading the passphrase")?;
        if again != first {
            bail!("the two passphrases differ; nothing was created");
        }
    }
    Ok(wrap(first)?)
}
