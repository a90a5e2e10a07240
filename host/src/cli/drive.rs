//! `drive export` and `drive import`: a removable drive, one shot at a time.

use std::path::Path;

use anyhow::Result;
use courier_service::DataDir;

use super::unlock;

/// Writes into `folder` what every contact is owed, and says for whom.
pub fn export(dir: &DataDir, folder: &Path, config: Option<&Path>) -> Result<()> {
    let service = unlock::open(dir)?;
    let config = dir.config(config)?;
    println!("{}", service.drive_export(&config, folder)?);
    Ok(())
}

/// Reads every file in `folder`, and says in one line what it read and what it left.
pub fn import(dir: &DataDir, folder: &Path, config: Option<&Path>) -> Result<()> {
    let service = unlock::open(dir)?;
    let config = dir.config(config)?;
    println!("{}", service.drive_import(&config, folder)?);
    Ok(())
}
