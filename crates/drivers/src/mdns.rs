//! mDNS (`mdns-sd`): announces our port under rotating per-contact tags and reports the tags it sees.
//!
//! What goes on the air is `TAG._courier._tcp.local.` with a random host name per announcement set and
//! our LAN addresses: no name, no stable key. Tags come from the node's keyring; this driver only
//! carries them.

use std::net::SocketAddr;

use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};

use super::DriverEvent;
use super::tcp::Sink;

/// The DNS-SD service type Courier announces.
pub const SERVICE_TYPE: &str = "_courier._tcp.local.";

/// Why mDNS could not start or announce.
#[derive(Debug, thiserror::Error)]
pub enum MdnsError {
    /// The daemon or a registration failed.
    #[error(
        "mDNS failed: {0}; LAN discovery is off (static peers in the transport's settings still work)"
    )]
    Daemon(#[from] mdns_sd::Error),
}

/// The mDNS driver of one node.
pub struct MdnsDriver {
    daemon: ServiceDaemon,
    sink: Sink,
    announced: Vec<String>,
    browsing: bool,
}

impl std::fmt::Debug for MdnsDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MdnsDriver")
            .field("announced", &self.announced.len())
            .field("browsing", &self.browsing)
            .finish_non_exhaustive()
    }
}

impl MdnsDriver {
    /// Starts the mDNS daemon; finds go to `sink`.
    pub fn start(sink: Sink) -> Result<Self, MdnsError> {
        Ok(MdnsDriver {
            daemon: ServiceDaemon::new()?,
            sink,
            announced: Vec::new(),
            browsing: false,
        })
    }

    /// Announces `port` under each of `tags`, replacing what was announced before.
    pub fn announce(&mut self, tags: &[String], port: u16) -> Result<(), MdnsError> {
        self.withdraw();
        let mut host = [0u8; 8];
        getrandom::fill(&mut host).expect("the OS random number generator is available");
        let host = format!("c{}.local.", hex::encode(host));
        for tag in tags {
            let info = ServiceInfo::new(
                SERVICE_TYPE,
                tag,
                &host,
                "",
                port,
                None::<std::collections::HashMap<String, String>>,
            )?
            .enable_addr_auto();
            self.announced.push(info.get_fullname().to_owned());
            self.daemon.register(info)?;
        }
        Ok(())
    }

    /// Stops announcing.
    pub fn withdraw(&mut self) {
        for fullname in self.announced.drain(..) {
            // A failed unregister only means the announcement expires on its own.
            let _ = self.daemon.unregister(&fullname);
        }
    }

    /// Starts or stops looking for announcements.
    pub fn browse(&mut self, enabled: bool) -> Result<(), MdnsError> {
        if enabled == self.browsing {
            return Ok(());
        }
        self.browsing = enabled;
        if !enabled {
            self.daemon.stop_browse(SERVICE_TYPE)?;
            return Ok(());
        }
        let events = self.daemon.browse(SERVICE_TYPE)?;
        let sink = self.sink.clone();
        std::thread::Builder::new()
            .name("mdns-browse".into())
            .spawn(move || {
                while let Ok(event) = events.recv() {
                    match event {
                        ServiceEvent::ServiceResolved(service) => {
                            let Some(tag) = service
                                .fullname
                                .strip_suffix(SERVICE_TYPE)
                                .and_then(|t| t.strip_suffix('.'))
                            else {
                                continue;
                            };
                            let addresses = service
                                .addresses
                                .iter()
                                .map(|ip| SocketAddr::new(ip.to_ip_addr(), service.port))
                                .collect();
                            sink(DriverEvent::Found {
                                tag: tag.to_owned(),
                                addresses,
                            });
                        }
                        ServiceEvent::SearchStopped(_) => break,
                        _ => {}
                    }
                }
            })
            .map_err(|e| MdnsError::Daemon(mdns_sd::Error::Msg(e.to_string())))?;
        Ok(())
    }
}

impl Drop for MdnsDriver {
    fn drop(&mut self) {
        self.withdraw();
        let _ = self.daemon.shutdown();
    }
}
