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
//! see [`budget`].

mod budget;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};

use budget::{Budget, Limits, Stranger};
use courier_config::capability::TcpScope;
use courier_io::{
    ChannelId, ChannelIds, Driver, DriverContext, DriverError, DriverEvent, IoRequest, Medium,
    Sink, TransportIndex,
};

pub use budget::descriptor_limit;

/// How long an outgoing connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one write may wait for the peer to take bytes before the channel counts as dead.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Writes queued per channel before the node waits for the socket.
const WRITE_QUEUE: usize = 4;
/// Bytes one read may return once a channel carries a contact's streams.
const READ_BUFFER: usize = 256 * 1024;
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

/// Where each open channel's writes go; the task that opens a channel adds it before reporting it.
type Channels = Arc<Mutex<HashMap<ChannelId, mpsc::Sender<Vec<u8>>>>>;

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
    channels: Channels,
    listeners: HashMap<TransportIndex, Listener>,
    /// Every writer task holds a clone; when all are gone, every queued write has left.
    writers_alive: Option<mpsc::Sender<()>>,
    writers_done: mpsc::Receiver<()>,
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
        let (writers_alive, writers_done) = mpsc::channel(1);
        TcpDriver {
            runtime: cx.runtime,
            sink: cx.sink,
            ids: cx.ids,
            budget: Arc::new(Budget::new(limits)),
            channels: Channels::default(),
            listeners: HashMap::new(),
            writers_alive: Some(writers_alive),
            writers_done,
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
            channels: self.channels.clone(),
            writers_alive: self.writers_alive.clone(),
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
        let channels = self.channels.clone();
        let writers_alive = self.writers_alive.clone();
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
            let (writes, queue) = mpsc::channel(WRITE_QUEUE);
            lock(&channels).insert(channel, writes);
            sink(DriverEvent::Opened { channel });
            carry(stream, channel, None, queue, sink, writers_alive, slot).await;
        });
    }

    /// The node recognised a contact (or a pending contact) on `channel`: it is no stranger, and no
    /// stranger limit applies to it from now on.
    pub fn vouch(&mut self, channel: ChannelId) {
        self.budget.vouch(channel);
    }

    /// Queues all of `data` for `channel`; false if the channel is gone or broke (it is then closed).
    ///
    /// Waits while the channel's short queue is full, so a peer that reads slowly slows the node's
    /// writes to it instead of filling memory; a peer that stops reading for [`WRITE_TIMEOUT`] is cut.
    pub fn write(&mut self, channel: ChannelId, data: Vec<u8>) -> bool {
        let Some(writes) = lock(&self.channels).get(&channel).cloned() else {
            return false;
        };
        // Not under the lock: the queue may be full, and accepting tasks add channels meanwhile.
        if writes.blocking_send(data).is_ok() {
            return true;
        }
        self.close(channel);
        false
    }

    /// Closes `channel` once what was queued for it is written; its reader then reports `Closed`.
    pub fn close(&mut self, channel: ChannelId) {
        lock(&self.channels).remove(&channel);
    }

    /// Closes every channel, waiting briefly for queued writes to leave, and stops every listener.
    pub fn shutdown(&mut self) {
        for (_, listener) in self.listeners.drain() {
            listener.task.abort();
        }
        lock(&self.channels).clear();
        if self.writers_alive.take().is_some() {
            let done = &mut self.writers_done;
            // The timer must be made inside the runtime: hence the async block.
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(FLUSH_ON_SHUTDOWN, done.recv()).await });
        }
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
    channels: Channels,
    writers_alive: Option<mpsc::Sender<()>>,
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
            let (writes, queue) = mpsc::channel(WRITE_QUEUE);
            lock(&self.channels).insert(channel, writes);
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
                self.writers_alive.clone(),
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
    mut queue: mpsc::Receiver<Vec<u8>>,
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

/// A connection that carries a contact's streams: a reader that always drains, and a writer.
async fn carry(
    stream: TcpStream,
    channel: ChannelId,
    first_write: Option<Vec<u8>>,
    mut queue: mpsc::Receiver<Vec<u8>>,
    sink: Sink,
    writers_alive: Option<mpsc::Sender<()>>,
    slot: budget::Slot,
) {
    let (mut reader, mut writer) = stream.into_split();
    let writer_gone = Arc::new(Notify::new());
    let gone = writer_gone.clone();
    tokio::spawn(async move {
        let _alive = writers_alive;
        let mut next = first_write;
        if next.is_none() {
            next = queue.recv().await;
        }
        while let Some(data) = next {
            match tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(&data)).await {
                Ok(Ok(())) => {}
                _ => break,
            }
            next = queue.recv().await;
        }
        let _ = writer.shutdown().await;
        // `notify_one` keeps the wake-up for a reader not waiting yet.
        gone.notify_one();
    });
    let mut buffer = vec![0u8; READ_BUFFER];
    loop {
        tokio::select! {
            read = reader.read(&mut buffer) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => sink(DriverEvent::Received { channel, data: buffer[..n].to_vec() }),
            },
            // The node closed the channel or a write failed: stop reading, so the socket closes.
            () = writer_gone.notified() => break,
        }
    }
    drop(slot);
    sink(DriverEvent::Closed { channel });
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

/// The channel table, whose holders never panic while holding it.
fn lock(
    channels: &Channels,
) -> std::sync::MutexGuard<'_, HashMap<ChannelId, mpsc::Sender<Vec<u8>>>> {
    channels
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
