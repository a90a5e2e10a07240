//! Unlocking the data directory's database with `COURIER_PASSPHRASE` or a passphrase typed at the
//! terminal.

use std::io::IsTerminal;

use anyhow::{Context, Result};
use courier_service::{DataDir, ErrorKind, LockedDatabase, Service};

use super::CliError;

/// The service over the database of a directory `init` ran in.
pub fn open(dir: &DataDir) -> Result<Service> {
    unlock(dir.existing()?)
}

/// The service over the database `init` makes (or the existing one, which then refuses a second
/// identity).
pub fn create(dir: &DataDir) -> Result<Service> {
    unlock(dir.create()?)
}

/// Two services over the database of `dir`, unlocked with one passphrase: one for the node, one
/// for the front end beside it (the feed of events, the API).
pub fn open_twice(dir: &DataDir) -> Result<(Service, Service)> {
    let passphrase = passphrase(false)?;
    let first = dir.existing()?.unlock(passphrase.clone())?;
    Ok((first, dir.existing()?.unlock(passphrase)?))
}

fn unlock(locked: LockedDatabase) -> Result<Service> {
    let passphrase = passphrase(locked.is_new())?;
    Ok(locked.unlock(passphrase)?)
}

/// `COURIER_PASSPHRASE`, or a prompt on the terminal (twice when `new`).
fn passphrase(new: bool) -> Result<String> {
    if let Ok(value) = std::env::var("COURIER_PASSPHRASE") {
        return Ok(value);
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(
            ErrorKind::Locked,
            "no passphrase: set COURIER_PASSPHRASE, or run courier from a terminal to be asked",
        )
        .into());
    }
    let first = rpassword::prompt_password("Passphrase: ").context("reading the passphrase")?;
    if new {
        let again =
            rpassword::prompt_password("Passphrase again: ").context("reading the passphrase")?;
        if again != first {
            return Err(CliError::new(
                ErrorKind::InvalidInput,
                "the two passphrases differ; nothing was created",
            )
            .into());
        }
    }
    Ok(first)
}
