//! `init` and `link`.

use anyhow::{Context, Result};
use courier_host::identity::Identity;
use courier_host::storage::check_name;

use super::data_dir::DataDir;

/// Creates the identity of a new data directory and prints its link.
pub fn init(dir: &DataDir, name: &str) -> Result<()> {
    let name = check_name(name).context("choose another --name")?;
    let mut db = dir.open_new()?;
    let identity = Identity::generate(name);
    db.create_identity(&identity)?;
    println!("created identity {name:?}");
    println!("your link: {}", identity.link());
    Ok(())
}

/// Prints the link to give to contacts.
pub fn link(dir: &DataDir) -> Result<()> {
    let db = dir.open()?;
    let identity = db
        .identity()?
        .ok_or(courier_host::storage::StorageError::NoIdentity)?;
    println!("{}", identity.link());
    Ok(())
}
