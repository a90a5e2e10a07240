//! mDNS (`mdns-sd`): announces our port under rotating per-contact tags and reports the tags it sees.
//!
//! What goes on the air is `TAG._courier._tcp.local.` with a random host name per announcement set and
//! our LAN addresses: no name, no stable key. Tags come from the node's keyring; this driver only
//! carries them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crate::lock;
use courier_config::capability::TcpScope;
use courier_io::{
    ChannelId, Driver, DriverContext, DriverError, DriverEvent, IoRequest, Sink, TransportIndex,
};
use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};

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

/// The transports looking for contacts, with the addresses each one's grant reaches.
type Browsing = Arc<Mutex<HashMap<TransportIndex, TcpScope>>>;

/// The mDNS driver of one node; its daemon starts on the first request, so a node whose transports
/// never ask for mDNS sends nothing to the multicast group.
pub struct MdnsDriver {
    daemon: Option<ServiceDaemon>,
    runtime: tokio::runtime::Handle,
    sink: Sink,
    /// Per transport: the port announced and the full names it is announced under.
    announced: HashMap<TransportIndex, (u16, Vec<String>)>,
    browsing: Browsing,
}

impl std::fmt::Debug for MdnsDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MdnsDriver")
            .field("announced", &self.announced.len())
            .finish_non_exhaustive()
    }
}

impl MdnsDriver {
    /// A driver on the node's runtime; the daemon is not started yet.
    pub fn new(cx: DriverContext) -> Self {
        MdnsDriver {
            daemon: None,
            runtime: cx.runtime,
            sink: cx.sink,
            announced: HashMap::new(),
            browsing: Browsing::default(),
        }
    }

    fn daemon(&mut self) -> Result<&ServiceDaemon, MdnsError> {
        if self.daemon.is_none() {
            self.daemon = Some(ServiceDaemon::new()?);
        }
        Ok(self.daemon.as_ref().expect("started above"))
    }

    /// Announces `port` for `transport` under each of `tags`, replacing what it announced before.
    pub fn announce(
        &mut self,
        transport: TransportIndex,
        tags: &[String],
        port: u16,
    ) -> Result<(), MdnsError> {
        self.withdraw(transport);
        let mut host = [0u8; 8];
        getrandom::fill(&mut host).expect("the OS random number generator is available");
        let host = format!("c{}.local.", hex::encode(host));
        let mut names = Vec::new();
        for tag in tags {
            let info = ServiceInfo::new(
                SERVICE_TYPE,
                tag,
                &host,
                "",
                port,
                None::<HashMap<String, String>>,
            )?
            .enable_addr_auto();
            names.push(info.get_fullname().to_owned());
            self.daemon()?.register(info)?;
        }
        self.announced.insert(transport, (port, names));
        Ok(())
    }

    /// Stops announcing for `transport`.
    pub fn withdraw(&mut self, transport: TransportIndex) {
        let Some((_, names)) = self.announced.remove(&transport) else {
            return;
        };
        if let Some(daemon) = &self.daemon {
            for fullname in names {
                // A failed unregister only means the announcement expires on its own.
                let _ = daemon.unregister(&fullname);
            }
        }
    }

    /// Starts or stops looking for announcements on behalf of `transport`.
    pub fn browse(
        &mut self,
        transport: TransportIndex,
        enabled: bool,
        scope: TcpScope,
    ) -> Result<(), MdnsError> {
        let was_browsing = !lock(&self.browsing).is_empty();
        if enabled {
            lock(&self.browsing).insert(transport, scope);
        } else {
            lock(&self.browsing).remove(&transport);
        }
        let browsing = !lock(&self.browsing).is_empty();
        match (was_browsing, browsing) {
            (false, true) => {
                let events = self.daemon()?.browse(SERVICE_TYPE)?;
                let (sink, browsing) = (self.sink.clone(), self.browsing.clone());
                self.runtime.spawn(async move {
                    while let Ok(event) = events.recv_async().await {
                        match event {
                            ServiceEvent::ServiceResolved(service) => {
                                report(&sink, &browsing, &service)
                            }
                            ServiceEvent::SearchStopped(_) => break,
                            _ => {}
                        }
                    }
                });
            }
            (true, false) => self.daemon()?.stop_browse(SERVICE_TYPE)?,
            _ => {}
        }
        Ok(())
    }
}

/// Reports a resolved announcement to each browsing transport whose grant reaches one of its
/// addresses (IPv4 first: link-local IPv6 needs a scope id a plugin cannot spell).
fn report(sink: &Sink, browsing: &Browsing, service: &mdns_sd::ResolvedService) {
    let Some(tag) = service
        .fullname
        .strip_suffix(SERVICE_TYPE)
        .and_then(|t| t.strip_suffix('.'))
    else {
        return;
    };
    let mut addresses: Vec<SocketAddr> = service
        .addresses
        .iter()
        .map(|ip| SocketAddr::new(ip.to_ip_addr(), service.port))
        .collect();
    addresses.sort_by_key(|a| !a.is_ipv4());
    let browsing: Vec<(TransportIndex, TcpScope)> =
        lock(browsing).iter().map(|(t, s)| (*t, *s)).collect();
    for (transport, scope) in browsing {
        if let Some(address) = addresses.iter().find(|a| scope.permits(a)) {
            sink(DriverEvent::Found {
                transport,
                tag: tag.to_owned(),
                address: address.to_string(),
            });
        }
    }
}

impl Driver for MdnsDriver {
    fn name(&self) -> &'static str {
        "mdns"
    }

    fn handles(&self, request: &IoRequest) -> bool {
        matches!(
            request,
            IoRequest::MdnsAnnounce { .. } | IoRequest::MdnsWithdraw | IoRequest::MdnsBrowse { .. }
        )
    }

    fn carry_out(
        &mut self,
        transport: TransportIndex,
        request: IoRequest,
        tags: &[String],
    ) -> Result<(), DriverError> {
        let done = match request {
            IoRequest::MdnsAnnounce { port } => self.announce(transport, tags, port),
            IoRequest::MdnsWithdraw => {
                self.withdraw(transport);
                Ok(())
            }
            IoRequest::MdnsBrowse { enabled, scope } => self.browse(transport, enabled, scope),
            other => {
                return Err(DriverError(format!(
                    "the mDNS driver cannot carry out {other:?}"
                )));
            }
        };
        done.map_err(|e| DriverError(e.to_string()))
    }

    fn retag(&mut self, transport: TransportIndex, tags: &[String]) {
        if let Some((port, _)) = self.announced.get(&transport) {
            let port = *port;
            if let Err(e) = self.announce(transport, tags, port) {
                tracing::warn!("{e}");
            }
        }
    }

    fn write(&mut self, _channel: ChannelId, _data: Vec<u8>) -> bool {
        // mDNS opens no channels, so none is ever routed here.
        false
    }

    fn close(&mut self, _channel: ChannelId) {}

    fn shutdown(&mut self) {
        let transports: Vec<TransportIndex> = self.announced.keys().copied().collect();
        for transport in transports {
            self.withdraw(transport);
        }
        if let Some(daemon) = self.daemon.take() {
            let _ = daemon.shutdown();
        }
    }
}

impl Drop for MdnsDriver {
    fn drop(&mut self) {
        self.shutdown();
    }
}
