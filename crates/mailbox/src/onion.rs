//! The mailbox as an onion service (`[tor]` in its config): its identity key in its data directory
//! (`onion.key`, readable by its owner alone), Tor's state and cache beside it, and the service's
//! incoming streams as the connections it serves. It then listens on no TCP port, so nobody on its
//! network can find it by scanning, and a client shows it no address.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use courier_config::tor::TorConfig;
use courier_drivers::tor::{Tor, TorSettings, onion_identity, onion_service};
use courier_local_fs::owner_only;
use zeroize::Zeroizing;

use crate::MailboxError;

/// The identity key's file in the data directory.
pub const KEY_FILE: &str = "onion.key";
/// The port the pairing link names (the service takes a stream to any).
pub const PORT: u16 = 80;

/// The onion service key of the mailbox in `dir`, made the first time: its address stays the same
/// across restarts, so its owner and contacts need nothing new.
pub fn key(dir: &Path) -> Result<Zeroizing<[u8; 32]>, MailboxError> {
    let path = dir.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            <[u8; 32]>::try_from(bytes.as_slice())
                .map(Zeroizing::new)
                .map_err(|_| {
                    MailboxError::Damaged(format!(
                        "{KEY_FILE} is not a 32-byte key; restore it, or remove it for a new address (pair again)"
                    ))
                })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = Zeroizing::new([0; 32]);
            getrandom::fill(&mut *seed).map_err(|e| MailboxError::Tor(e.to_string()))?;
            let mut file = owner_only::file_options()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(MailboxError::disk("making onion.key"))?;
            std::io::Write::write_all(&mut file, &*seed)
                .and_then(|()| file.sync_all())
                .map_err(MailboxError::disk("writing onion.key"))?;
            Ok(seed)
        }
        Err(e) => Err(MailboxError::disk("reading onion.key")(e)),
    }
}

/// Launches the onion service of the mailbox in `dir` on `runtime`, its Tor client on `network`:
/// the connections it will serve, and its address (`NAME.onion:80`). Tor bootstraps and publishes
/// the service in the background; clients retry until it is reachable.
pub fn listen(
    dir: &Path,
    network: TorConfig,
    runtime: &tokio::runtime::Handle,
) -> Result<(impl courier_http_serving::Accept, String), MailboxError> {
    let seed = key(dir)?;
    let (hsid, onion) = onion_identity(&seed);
    let tor = dir.join("tor");
    let settings = TorSettings {
        state_dir: tor.join("state"),
        cache_dir: tor.join("cache"),
        network,
        onion_key: Some(seed),
    };
    let tor = Arc::new(Tor::new(runtime.clone(), settings, None));
    let (service, streams) = onion_service::launch(&tor, hsid, "mailbox")
        .map_err(|e| MailboxError::Tor(e.to_string()))?;
    // Every client arrives through Tor with no address: one source to the connection budget.
    let incoming = courier_http_serving::Incoming::new(
        streams,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        (tor, service),
    );
    Ok((incoming, format!("{onion}:{PORT}")))
}
