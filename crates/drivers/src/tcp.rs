//! TCP: listeners and connections for transport plugins, inside the address scope their grant allows.
//!
//! The driver runs its sockets as tasks on the node's tokio runtime; the node calls it from its own
//! thread and hears back through [`DriverEvent`]s. Each connection has a reader task that always drains
//! its socket into the node's queue (so two nodes writing to each other at once cannot deadlock on full
//! socket buffers) and, once the node writes, a writer task fed by a short queue.
//!
//! What an address means on TCP lives here too: a listener binds on loopback or every interface by the
//! grant's scope, and a wildcard bind is told to contacts as this machine's address on the route to
//! the local network, or not at all (see [`reachable_address`]).
//!
//! Connections someone else opened are *strangers* until the node [vouches](TcpDriver::vouch) for
//! them (it recognised a tag). Strangers are what a hostile network can pile up, so they are bounded:
//! see [`courier_io::budget`].

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::pump::{Queue, Writers, WritersHandle, carry};

use courier_config::capability::TcpScope;
use courier_io::budget::{Budget, Limits, Stranger};
use courier_io::{
    ChannelId, ChannelIds, Driver, DriverContext, DriverError, DriverEvent, IoRequest, Medium,
    Sink, TransportIndex,
};

pub use courier_io::budget::descriptor_limit;

/// How long an outgoing connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes one read of a stranger may return: a tag and a header fit, a flood does not.
const STRANGER_READ_BUFFER: usize = 1024;
/// How long the node waits at most for queued writes to leave when it stops.
const FLUSH_ON_SHUTDOWN: Duration = Duration::from_secs(2);

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
    task: tokio::task::AbortHandle,
}

/// The TCP driver of one node.
pub struct TcpDriver {
    runtime: tokio::runtime::Handle,
    sink: Sink,
    ids: ChannelIds,
    budget: Arc<Budget>,
    writers: Writers,
    listeners: HashMap<TransportIndex, Listener>,
}

impl std::fmt::Debug for TcpDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpDriver")
            .field("listeners", &self.listeners.len())
            .finish_non_exhaustive()
    }
}

impl TcpDriver {
    /// A driver on the node's runtime, with stranger limits fitted to this process's descriptor limit.
    pub fn new(cx: DriverContext) -> Self {
        TcpDriver::with_limits(cx, Limits::for_descriptors(descriptor_limit()))
    }

    fn with_limits(cx: DriverContext, limits: Limits) -> Self {
        TcpDriver {
            runtime: cx.runtime,
            sink: cx.sink,
            ids: cx.ids,
            budget: Arc::new(Budget::new(limits)),
            writers: Writers::default(),
            listeners: HashMap::new(),
        }
    }

    /// Listens for `transport` on `port` (0 = any), on loopback only if its scope is loopback, else on
    /// every interface. Connections from outside the scope are dropped. A second call for the same
    /// transport (a restarted plugin) reports the listener it already has.
    pub fn listen(
        &mut self,
        transport: TransportIndex,
        port: u16,
        scope: TcpScope,
    ) -> Result<(), TcpError> {
        if let Some(existing) = self.listeners.get(&transport) {
            (self.sink)(listening(transport, existing.address, scope));
            return Ok(());
        }
        let ip = match scope {
            TcpScope::Loopback => Ipv4Addr::LOCALHOST,
            TcpScope::Lan | TcpScope::Any => Ipv4Addr::UNSPECIFIED,
        };
        let listen_error = |source| TcpError::Listen { port, source };
        let listener = std::net::TcpListener::bind((ip, port)).map_err(listen_error)?;
        listener.set_nonblocking(true).map_err(listen_error)?;
        let address = listener.local_addr().map_err(listen_error)?;
        let listener = {
            let _runtime = self.runtime.enter();
            TcpListener::from_std(listener).map_err(listen_error)?
        };
        let accepting = Accepting {
            transport,
            scope,
            sink: self.sink.clone(),
            ids: self.ids.clone(),
            budget: self.budget.clone(),
            writers: self.writers.handle(),
        };
        let task = self.runtime.spawn(accepting.run(listener)).abort_handle();
        self.listeners.insert(transport, Listener { address, task });
        (self.sink)(listening(transport, address, scope));
        Ok(())
    }

    /// Starts connecting `channel` to `address`; reports `Opened` or `Failed`.
    pub fn connect(&mut self, channel: ChannelId, address: SocketAddr) {
        let sink = self.sink.clone();
        let budget = self.budget.clone();
        let writers = self.writers.handle();
        self.runtime.spawn(async move {
            let Some(slot) = budget.open_outgoing() else {
                sink(DriverEvent::Failed {
                    channel,
                    reason: "too many open connections".into(),
                });
                return;
            };
            let stream =
                match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        return sink(DriverEvent::Failed {
                            channel,
                            reason: e.kind().to_string(),
                        });
                    }
                    Err(_) => {
                        return sink(DriverEvent::Failed {
                            channel,
                            reason: "timed out".into(),
                        });
                    }
                };
            let _ = stream.set_nodelay(true);
            let queue = writers.open(channel);
            sink(DriverEvent::Opened { channel });
            carry(stream, channel, None, queue, sink, writers.alive(), slot).await;
        });
    }

    /// The node recognised a contact (or a pending contact) on `channel`: it is no stranger, and no
    /// stranger limit applies to it from now on.
    pub fn vouch(&mut self, channel: ChannelId) {
        self.budget.vouch(channel);
    }

    /// Queues all of `data` for `channel` without waiting; false if the channel is gone, broke, or
    /// its peer stopped reading (see [`crate::pump`] for what a stalled peer costs).
    pub fn write(&mut self, channel: ChannelId, data: Vec<u8>) -> bool {
        self.writers.write(channel, data)
    }

    /// Closes `channel` once what was queued for it is written; its reader then reports `Closed`.
    pub fn close(&mut self, channel: ChannelId) {
        self.writers.close(channel);
    }

    /// Closes every channel, waiting briefly for queued writes to leave, and stops every listener.
    pub fn shutdown(&mut self) {
        for (_, listener) in self.listeners.drain() {
            listener.task.abort();
        }
        self.writers.shutdown(&self.runtime, FLUSH_ON_SHUTDOWN);
    }
}

impl Drop for TcpDriver {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What one listener's accept loop needs.
struct Accepting {
    transport: TransportIndex,
    scope: TcpScope,
    sink: Sink,
    ids: ChannelIds,
    budget: Arc<Budget>,
    writers: WritersHandle,
}

impl Accepting {
    async fn run(self, listener: TcpListener) {
        loop {
            let (stream, remote) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or memory: the budget should prevent it; wait, do not spin.
                    tracing::debug!("accepting a TCP connection failed: {}", e.kind());
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if !self.scope.permits(&remote) {
                tracing::debug!("dropped a connection from outside the transport's address scope");
                continue;
            }
            let channel = self.ids.next();
            let Some(stranger) = self.budget.admit(channel, remote.ip()) else {
                tracing::debug!("dropped a connection: every descriptor is taken by contacts");
                continue;
            };
            let _ = stream.set_nodelay(true);
            let queue = self.writers.open(channel);
            (self.sink)(DriverEvent::Accepted {
                transport: self.transport,
                channel,
                name: None,
            });
            tokio::spawn(accepted(
                stream,
                channel,
                queue,
                self.sink.clone(),
                self.writers.alive(),
                stranger,
            ));
        }
    }
}

/// An accepted connection: a stranger until vouched for. A stranger is read a little at a time and
/// dropped when its deadline passes or the budget evicts it; the node never writes to one.
async fn accepted(
    mut stream: TcpStream,
    channel: ChannelId,
    mut queue: Queue,
    sink: Sink,
    writers_alive: Option<mpsc::Sender<()>>,
    stranger: Stranger,
) {
    let mut buffer = vec![0u8; STRANGER_READ_BUFFER];
    let deadline = tokio::time::sleep(stranger.deadline());
    tokio::pin!(deadline);
    let first_write = loop {
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return sink(DriverEvent::Closed { channel }),
                Ok(n) => sink(DriverEvent::Received { channel, data: buffer[..n].to_vec() }),
            },
            // The node writes only to a peer whose tag it recognised.
            write = queue.recv() => match write {
                Some(data) => break Some(data),
                None => return sink(DriverEvent::Closed { channel }),
            },
            () = stranger.vouched() => break None,
            () = stranger.evicted() => {
                tracing::debug!("closed a stranger's connection to make room");
                return sink(DriverEvent::Closed { channel });
            }
            () = &mut deadline => {
                tracing::debug!("closed a connection that showed no tag in time");
                return sink(DriverEvent::Closed { channel });
            }
        }
    };
    let slot = stranger.into_slot();
    carry(
        stream,
        channel,
        first_write,
        queue,
        sink,
        writers_alive,
        slot,
    )
    .await;
}

impl Driver for TcpDriver {
    fn name(&self) -> &'static str {
        "tcp"
    }

    fn handles(&self, request: &IoRequest) -> bool {
        matches!(
            request,
            IoRequest::TcpListen { .. } | IoRequest::TcpConnect { .. }
        )
    }

    fn carry_out(
        &mut self,
        transport: TransportIndex,
        request: IoRequest,
        _tags: &[String],
    ) -> Result<(), DriverError> {
        match request {
            IoRequest::TcpListen { port, scope } => self
                .listen(transport, port, scope)
                .map_err(|e| DriverError(e.to_string())),
            IoRequest::TcpConnect { channel, address } => {
                self.connect(channel, address);
                Ok(())
            }
            other => Err(DriverError(format!(
                "the TCP driver cannot carry out {other:?}"
            ))),
        }
    }

    fn write(&mut self, channel: ChannelId, data: Vec<u8>) -> bool {
        TcpDriver::write(self, channel, data)
    }

    fn backlogged(&self, channel: ChannelId) -> bool {
        self.writers.backlogged(channel)
    }

    fn vouch(&mut self, channel: ChannelId) {
        TcpDriver::vouch(self, channel);
    }

    fn close(&mut self, channel: ChannelId) {
        TcpDriver::close(self, channel);
    }

    fn shutdown(&mut self) {
        TcpDriver::shutdown(self);
    }
}

/// A `Listening` event for a listener bound to `address` under `scope`.
fn listening(transport: TransportIndex, address: SocketAddr, scope: TcpScope) -> DriverEvent {
    DriverEvent::Listening {
        transport,
        medium: Medium::Tcp,
        bound: address.to_string(),
        reachable: reachable_address(address, scope).map(|a| a.to_string()),
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
