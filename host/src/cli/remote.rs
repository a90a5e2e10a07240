//! Commands through a running node: with `serve --api` up for the data directory, `send`,
//! `messages` and `contacts list` go through its API (no passphrase, no key derivation, no plugin
//! load), over its Unix socket; with none, they open the database themselves.

use courier_api::client::{Client, ClientError};
use courier_service::DataDir;

/// The running node's API for `dir`, if one answers, over its Unix socket (a local user flooding
/// the TCP port does not stand in the way); `None` sends the command to the database.
pub fn running(dir: &DataDir) -> Option<Client> {
    Client::local_of_data_dir(dir.path())
}

/// What a call through the API came to: done, or no node there after all (it stopped and left
/// its files behind), so the caller opens the database instead.
pub fn fell_through<T>(result: Result<T, ClientError>) -> anyhow::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ClientError::Unreachable(why)) => {
            tracing::debug!("no node answers at the API's address ({why}); opening the database");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}
