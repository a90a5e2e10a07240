//! TCP: listeners and connections for transport plugins, inside the address scope their grant allows.
//!
//! Each connection has a reader thread that forwards what arrives as [`DriverEvent::Received`]; the node
//! writes on its own thread. Readers always drain their socket into the node's queue, so two nodes that
//! write to each other at once cannot deadlock on full socket buffers.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::DriverEvent;
use crate::plugin::bindings::transport_types::ChannelId;
use crate::plugin::capability::TcpScope;

/// Where driver events go.
pub type Sink = Arc<dyn Fn(DriverEvent) + Send + Sync>;

/// How long an outgoing connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a listener checks whether it should stop.
const ACCEPT_POLL: Duration = Duration::from_millis(50);
/// Bytes one read may return.
const READ_BUFFER: usize = 256 * 1024;

/// Channel ids, shared between the node (outgoing) and listeners (incoming) so they never collide.
#[derive(Debug, Clone, Default)]
pub struct ChannelIds(Arc<AtomicU64>);

impl ChannelIds {
    /// A fresh, never reused channel id.
    pub fn next(&self) -> ChannelId {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Why the TCP driver could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum TcpError {
    /// Binding the listener failed.
    #[error(
        "cannot listen on port {port}: {source}; pick another port in the transport's settings"
    )]
    Listen {
        /// Requested port.
        port: u16,
        /// OS error.
        source: std::io::Error,
    },
}

struct Listener {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
}

/// The TCP driver of one node.
pub struct TcpDriver {
    sink: Sink,
    ids: ChannelIds,
    streams: HashMap<ChannelId, TcpStream>,
    listeners: HashMap<usize, Listener>,
}

impl std::fmt::Debug for TcpDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpDriver")
            .field("channels", &self.streams.len())
            .finish_non_exhaustive()
    }
}

impl TcpDriver {
    /// A driver that reports to `sink` and numbers incoming channels from `ids`.
    pub fn new(sink: Sink, ids: ChannelIds) -> Self {
        TcpDriver {
            sink,
            ids,
            streams: HashMap::new(),
            listeners: HashMap::new(),
        }
    }

    /// Listens for `transport` on `port` (0 = any), on loopback only if its scope is loopback, else on
    /// every interface. Connections from outside the scope are dropped. A second call for the same
    /// transport (a restarted plugin) reports the listener it already has.
    pub fn listen(&mut self, transport: usize, port: u16, scope: TcpScope) -> Result<(), TcpError> {
        if let Some(existing) = self.listeners.get(&transport) {
            (self.sink)(DriverEvent::Listening {
                transport,
                address: existing.address,
            });
            return Ok(());
        }
        let ip = match scope {
            TcpScope::Loopback => Ipv4Addr::LOCALHOST,
            TcpScope::Lan | TcpScope::Any => Ipv4Addr::UNSPECIFIED,
        };
        let listen_error = |source| TcpError::Listen { port, source };
        let listener = TcpListener::bind((ip, port)).map_err(listen_error)?;
        listener.set_nonblocking(true).map_err(listen_error)?;
        let address = listener.local_addr().map_err(listen_error)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (sink, ids, stopped) = (self.sink.clone(), self.ids.clone(), stop.clone());
        std::thread::Builder::new()
            .name("tcp-listener".into())
            .spawn(move || accept_loop(listener, transport, scope, sink, ids, stopped))
            .map_err(listen_error)?;
        self.listeners.insert(transport, Listener { address, stop });
        (self.sink)(DriverEvent::Listening { transport, address });
        Ok(())
    }

    /// Starts connecting `channel` to `address`; reports `Opened` or `Failed`.
    pub fn connect(&mut self, channel: ChannelId, address: SocketAddr) {
        let sink = self.sink.clone();
        let spawned = std::thread::Builder::new()
            .name("tcp-connect".into())
            .spawn(
                move || match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
                    Ok(stream) => {
                        let _ = stream.set_nodelay(true);
                        match stream.try_clone() {
                            Ok(reader) => {
                                spawn_reader(reader, channel, sink.clone());
                                sink(DriverEvent::Opened { channel, stream });
                            }
                            Err(e) => sink(DriverEvent::Failed {
                                channel,
                                reason: e.kind().to_string(),
                            }),
                        }
                    }
                    Err(e) => sink(DriverEvent::Failed {
                        channel,
                        reason: e.kind().to_string(),
                    }),
                },
            );
        if let Err(e) = spawned {
            (self.sink)(DriverEvent::Failed {
                channel,
                reason: e.to_string(),
            });
        }
    }

    /// Takes the writing half of a channel that an `Opened` or `Accepted` event brought.
    pub fn adopt(&mut self, channel: ChannelId, stream: TcpStream) {
        self.streams.insert(channel, stream);
    }

    /// Writes all of `data` to `channel`; false if the channel is gone or broke (it is then closed).
    pub fn write(&mut self, channel: ChannelId, data: &[u8]) -> bool {
        let Some(stream) = self.streams.get_mut(&channel) else {
            return false;
        };
        if stream.write_all(data).is_ok() {
            return true;
        }
        self.close(channel);
        false
    }

    /// Closes `channel`; its reader then reports `Closed`.
    pub fn close(&mut self, channel: ChannelId) {
        if let Some(stream) = self.streams.remove(&channel) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Closes every channel and stops every listener.
    pub fn shutdown(&mut self) {
        for (_, stream) in self.streams.drain() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for (_, listener) in self.listeners.drain() {
            listener.stop.store(true, Ordering::Relaxed);
        }
    }
}

impl Drop for TcpDriver {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(
    listener: TcpListener,
    transport: usize,
    scope: TcpScope,
    sink: Sink,
    ids: ChannelIds,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, remote)) => {
                if !scope.permits(&remote) {
                    tracing::info!(
                        "dropped a connection from outside the transport's address scope"
                    );
                    continue;
                }
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                let Ok(reader) = stream.try_clone() else {
                    continue;
                };
                let channel = ids.next();
                spawn_reader(reader, channel, sink.clone());
                sink(DriverEvent::Accepted {
                    transport,
                    channel,
                    stream,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(ACCEPT_POLL);
            }
            Err(e) => {
                tracing::warn!("accepting a TCP connection failed: {}", e.kind());
                std::thread::sleep(ACCEPT_POLL);
            }
        }
    }
}

fn spawn_reader(mut stream: TcpStream, channel: ChannelId, sink: Sink) {
    let spawned = std::thread::Builder::new()
        .name("tcp-reader".into())
        .spawn(move || {
            let mut buffer = vec![0u8; READ_BUFFER];
            loop {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink(DriverEvent::Received {
                        channel,
                        data: buffer[..n].to_vec(),
                    }),
                }
            }
            sink(DriverEvent::Closed { channel });
        });
    if spawned.is_err() {
        tracing::warn!("could not start a reader thread; the channel is dropped");
    }
}

/// The address contacts can dial for a listener bound to `listening`: itself, or, for a wildcard
/// bind, this machine's address on the route to the local network; `None` if that is outside `scope`.
pub fn reachable_address(listening: SocketAddr, scope: TcpScope) -> Option<SocketAddr> {
    if !listening.ip().is_unspecified() {
        return scope.permits(&listening).then_some(listening);
    }
    // Connecting a UDP socket sends nothing; it only asks the kernel which local address it would use.
    let probe = std::net::UdpSocket::bind(("0.0.0.0", 0)).ok()?;
    probe.connect(("192.168.0.1", 9)).ok()?;
    let found = SocketAddr::new(probe.local_addr().ok()?.ip(), listening.port());
    scope.permits(&found).then_some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_concrete_listener_is_told_as_is_and_a_wildcard_only_within_the_scope() {
        let loopback: SocketAddr = "127.0.0.1:7001".parse().unwrap();
        assert_eq!(
            reachable_address(loopback, TcpScope::Loopback),
            Some(loopback)
        );
        let wildcard: SocketAddr = "0.0.0.0:7001".parse().unwrap();
        // The route to a LAN never leaves through loopback, so a loopback-only grant tells nothing.
        assert_eq!(reachable_address(wildcard, TcpScope::Loopback), None);
        if let Some(found) = reachable_address(wildcard, TcpScope::Any) {
            assert_eq!(found.port(), 7001);
            assert!(!found.ip().is_unspecified());
        }
    }
}
