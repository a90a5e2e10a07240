//! The running node (`courier serve`): one thread that owns the database, the transport plugins and
//! every link, fed by the I/O drivers through one queue.
//!
//! The loop: driver events and plugin actions move bytes between sockets and [`link::Link`]s; a
//! housekeeping pass every [`HOUSEKEEPING`] picks up what other processes wrote (a `courier send`,
//! a `contacts add`), offers new messages on live links, rotates keys, and dials contacts that were
//! found but are not connected, with backoff.

pub mod keyring;
pub mod link;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use courier_config::Config;
use courier_drivers::DriverEvent;
use courier_drivers::mdns::MdnsDriver;
use courier_drivers::tcp::{ChannelIds, TcpDriver};
use courier_plugin_host::PluginHost;
use courier_plugin_host::bindings::transport_types::{
    Action, ChannelFailure, ChannelId, Chunk, ConnectRequest, Discovery, Event, Listening, Medium,
    Property,
};
use courier_plugin_host::capability::{Capability, TcpScope};
use courier_plugin_host::io_request::IoRequest;
use courier_plugin_host::manifest::World;
use courier_plugin_host::transport_plugin::{MAX_CHUNK_BYTES, TransportPlugin};
use courier_proto::identity::Identity;
use courier_proto::sync::record::{ContentTypeRange, TransportProperties};
use courier_proto::transport_security::stream::MAX_FRAME_LEN;
use courier_storage::{ContactId, Database, Peer, StorageError};
use keyring::Keyring;
use link::{Link, LinkContext, Output};

/// How often the node looks for work nobody told it about.
pub const HOUSEKEEPING: Duration = Duration::from_millis(200);
/// After this many dials in a row reached something that never answered as the contact, say so.
const UNANSWERED_WARNING: u32 = 3;
/// The property a LAN-style transport uses for `ip:port`.
const ADDRESS_PROPERTY: &str = "address";

/// What reaches the node's loop.
#[derive(Debug)]
pub enum Input {
    /// A driver observed something.
    Driver(DriverEvent),
    /// Something changed that the node should look at now (a message was queued).
    Wake,
    /// Stop cleanly.
    Stop,
}

/// Something the node tells whoever embeds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Messages arrived from a contact.
    Received {
        /// From whom.
        contact: ContactId,
        /// How many (resent duplicates included).
        count: usize,
    },
    /// A handshake completed.
    Introduced {
        /// The new contact.
        contact: ContactId,
    },
    /// A transport is listening.
    Listening {
        /// Transport id.
        transport: String,
        /// Where.
        address: SocketAddr,
    },
}

/// How patiently the node dials: the defaults suit people; tests that dial hundreds of times shorten
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// How long a dialed peer has, from the dial, to answer with a stream of its own. A dial that
    /// reached something else (a black hole, a middlebox, a port someone else now holds) is closed
    /// then, and counts as a failed attempt.
    pub answer_timeout: Duration,
    /// Longest wait between two attempts to reach a peer that did not answer.
    pub max_redial_backoff: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            answer_timeout: Duration::from_secs(15),
            max_redial_backoff: Duration::from_secs(30),
        }
    }
}

/// Talks to a running node from another thread.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    tx: Sender<Input>,
}

impl NodeHandle {
    /// Asks the node to look at the database now (after queueing a message through another connection).
    pub fn wake(&self) {
        let _ = self.tx.send(Input::Wake);
    }

    /// Asks the node to stop cleanly; `run` returns once it has.
    pub fn stop(&self) {
        let _ = self.tx.send(Input::Stop);
    }
}

/// A node running on its own thread.
#[derive(Debug)]
pub struct RunningNode {
    /// Wakes or stops it.
    pub handle: NodeHandle,
    /// What it reports.
    pub notices: Receiver<Notice>,
    /// The thread; join it after stopping.
    pub thread: std::thread::JoinHandle<Result<(), NodeError>>,
}

impl RunningNode {
    /// Stops the node and waits for it to finish cleanly.
    pub fn stop(self) -> Result<(), NodeError> {
        self.handle.stop();
        self.thread.join().expect("the node thread does not panic")
    }
}

/// Why the node could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The wasm engine could not start.
    #[error(transparent)]
    Engine(#[from] courier_plugin_host::loader::EngineError),
    /// The TCP driver could not start.
    #[error(transparent)]
    Tcp(#[from] courier_drivers::tcp::TcpError),
    /// The data directory has no identity.
    #[error("this data directory has no identity yet; run `courier init --name NAME` first")]
    NoIdentity,
    /// No transport loaded, so the node could reach nobody.
    #[error(
        "no transport plugin loaded; check the config's [transports] sections and the plugin directory"
    )]
    NoTransport,
}

/// One transport plugin with what the node keeps beside it.
struct Transport {
    plugin: TransportPlugin,
    keyring: Keyring,
    scope: TcpScope,
    frame_len: usize,
    max_latency_ms: u64,
    wake_at: Option<u64>,
    announced_port: Option<u16>,
    /// Where mDNS last saw each peer.
    found: HashMap<Peer, SocketAddr>,
    /// When each peer may be dialed again, and how many attempts failed in a row.
    backoff: HashMap<Peer, (u64, u32)>,
    /// Dials in a row that connected but were never answered by the peer.
    unanswered: HashMap<Peer, u32>,
    /// What the plugin published for contacts to reach us, as they can dial it.
    published: Vec<(String, String)>,
}

struct Slot {
    transport: usize,
    link: Link,
    address: Option<SocketAddr>,
    /// For a dial: when the peer must have answered by (Unix ms).
    answer_by: Option<u64>,
}

enum Work {
    /// Feed an event to a transport plugin.
    Plugin(usize, Event),
    /// Forget a channel; `tell` when the plugin does not know yet (the host decided to close it).
    Close { channel: ChannelId, tell: bool },
}

/// A running node.
pub struct Node {
    db: Database,
    identity: Identity,
    transports: Vec<Transport>,
    slots: HashMap<ChannelId, Slot>,
    tcp: TcpDriver,
    mdns: Option<MdnsDriver>,
    ids: ChannelIds,
    tx: Sender<Input>,
    rx: Receiver<Input>,
    notices: Option<Sender<Notice>>,
    /// (id, max latency) of every transport, for the keys a handshake derives.
    transport_ids: Vec<(String, u64)>,
    /// The content types our message-type plugins read, announced to every contact we sync with.
    content_types: Vec<ContentTypeRange>,
    /// How contacts can reach us over each transport, told to every contact we sync with.
    advertised: Vec<TransportProperties>,
    /// Whether contacts may have told us new addresses since we last read them (at start, and when
    /// a sync session ends).
    told_addresses_stale: bool,
    data_version: i64,
    work: VecDeque<Work>,
    pacing: Pacing,
    // Keeps the wasm engine alive as long as the plugins it runs.
    _plugins: PluginHost,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("transports", &self.transports.len())
            .field("links", &self.slots.len())
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Node {
    /// Opens a node on `db` with the transports in `config`.
    pub fn new(mut db: Database, config: &Config) -> Result<Node, NodeError> {
        let identity = db.identity()?.ok_or(NodeError::NoIdentity)?;
        let mut plugins = PluginHost::load(config)?;
        let (tx, rx) = mpsc::channel();
        let ids = ChannelIds::default();
        let sink_tx = tx.clone();
        let tcp = TcpDriver::new(
            std::sync::Arc::new(move |event| {
                let _ = sink_tx.send(Input::Driver(event));
            }),
            ids.clone(),
        )?;
        let now = now_ms();
        let mut transports = Vec::new();
        for plugin in std::mem::take(&mut plugins.transports) {
            let description = plugin.description().clone();
            let scope = config
                .plugins
                .iter()
                .find(|e| e.world == World::Transport && e.plugin == plugin.name())
                .filter(|e| e.grants.has(Capability::Tcp))
                .map_or(TcpScope::Loopback, |e| e.grants.tcp_scope);
            let mut keyring = Keyring::new(&description.id, description.max_latency_ms);
            keyring.refresh(&mut db, &identity, now)?;
            transports.push(Transport {
                plugin,
                keyring,
                scope,
                frame_len: (description.frame_size as usize).min(MAX_FRAME_LEN),
                max_latency_ms: description.max_latency_ms,
                wake_at: Some(now),
                announced_port: None,
                found: HashMap::new(),
                backoff: HashMap::new(),
                unanswered: HashMap::new(),
                published: Vec::new(),
            });
        }
        if transports.is_empty() {
            return Err(NodeError::NoTransport);
        }
        let data_version = db.data_version()?;
        let transport_ids = transports
            .iter()
            .map(|t| (t.keyring.transport().to_owned(), t.max_latency_ms))
            .collect();
        Ok(Node {
            transport_ids,
            content_types: content_types(&plugins),
            advertised: Vec::new(),
            told_addresses_stale: true,
            db,
            identity,
            transports,
            slots: HashMap::new(),
            tcp,
            mdns: None,
            ids,
            tx,
            rx,
            notices: None,
            data_version,
            work: VecDeque::new(),
            pacing: Pacing::default(),
            _plugins: plugins,
        })
    }

    /// A handle to wake or stop the node from another thread.
    pub fn handle(&self) -> NodeHandle {
        NodeHandle {
            tx: self.tx.clone(),
        }
    }

    /// Dials with `pacing` instead of the defaults.
    pub fn pace(&mut self, pacing: Pacing) {
        self.pacing = pacing;
    }

    /// Sends notices (arrivals, handshakes, listeners) to `tx`.
    pub fn notify(&mut self, tx: Sender<Notice>) {
        self.notices = Some(tx);
    }

    /// Starts a node on its own thread (the way a desktop backend embeds it): returns its handle, its
    /// notices, and the thread, which ends with `run`'s result after [`NodeHandle::stop`].
    pub fn spawn(db: Database, config: &Config) -> Result<RunningNode, NodeError> {
        Node::spawn_paced(db, config, Pacing::default())
    }

    /// [`spawn`](Self::spawn), dialing with `pacing`.
    pub fn spawn_paced(
        db: Database,
        config: &Config,
        pacing: Pacing,
    ) -> Result<RunningNode, NodeError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let config = config.clone();
        let thread = std::thread::Builder::new()
            .name("courier-node".into())
            .spawn(move || {
                let mut node = match Node::new(db, &config) {
                    Ok(node) => node,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return Ok(());
                    }
                };
                let (tx, notices) = mpsc::channel();
                node.notify(tx);
                node.pace(pacing);
                let _ = ready_tx.send(Ok((node.handle(), notices)));
                node.run()
            })
            .expect("the OS can start a thread");
        let (handle, notices) = ready_rx
            .recv()
            .expect("the node thread reports whether it started")?;
        Ok(RunningNode {
            handle,
            notices,
            thread,
        })
    }

    /// Runs until [`NodeHandle::stop`]; then ends every stream cleanly and closes every channel.
    pub fn run(mut self) -> Result<(), NodeError> {
        let mut next_housekeeping = Instant::now();
        // An input taken from the queue while gathering bytes, to handle next.
        let mut held = None;
        loop {
            let now = Instant::now();
            if now >= next_housekeeping {
                self.housekeeping()?;
                next_housekeeping = now + HOUSEKEEPING;
            }
            let plugin_wait = self
                .transports
                .iter()
                .filter_map(|t| t.wake_at)
                .min()
                .map(|at| Duration::from_millis(at.saturating_sub(now_ms())));
            let wait = plugin_wait
                .unwrap_or(HOUSEKEEPING)
                .min(next_housekeeping.saturating_duration_since(now));
            let input = match held.take() {
                Some(input) => Ok(input),
                None => self.rx.recv_timeout(wait),
            };
            match input {
                Ok(Input::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Input::Wake) => self.poll_links()?,
                Ok(Input::Driver(DriverEvent::Received { channel, mut data })) => {
                    held = self.gather(channel, &mut data);
                    self.on_driver(DriverEvent::Received { channel, data })?;
                }
                Ok(Input::Driver(event)) => self.on_driver(event)?,
                Err(RecvTimeoutError::Timeout) => {}
            }
            self.tick_plugins();
            self.drain_work()?;
        }
        self.shutdown();
        Ok(())
    }

    /// Appends to `data` the bytes already queued behind it for `channel`, up to what one plugin
    /// event may carry, and returns the first other input it met. A receiver that fell behind (an
    /// fsync) then stores what piled up in one commit instead of one per socket read.
    fn gather(&mut self, channel: ChannelId, data: &mut Vec<u8>) -> Option<Input> {
        while data.len() < MAX_CHUNK_BYTES {
            match self.rx.try_recv() {
                Ok(Input::Driver(DriverEvent::Received {
                    channel: next,
                    data: more,
                })) if next == channel && data.len() + more.len() <= MAX_CHUNK_BYTES => {
                    data.extend_from_slice(&more);
                }
                Ok(other) => return Some(other),
                Err(_) => return None,
            }
        }
        None
    }

    fn shutdown(&mut self) {
        let channels: Vec<ChannelId> = self.slots.keys().copied().collect();
        for channel in channels {
            if let Some(slot) = self.slots.get_mut(&channel) {
                let wire = slot.link.finish();
                let transport = slot.transport;
                self.queue_wire(transport, channel, wire);
            }
        }
        // Errors here only mean a channel is already gone; the peer retransmits what was not acked.
        let _ = self.drain_work();
        self.tcp.shutdown();
        self.mdns = None;
        tracing::info!("node stopped; every stream ended cleanly");
    }

    fn notice(&self, notice: Notice) {
        if let Some(tx) = &self.notices {
            let _ = tx.send(notice);
        }
    }

    fn tick_plugins(&mut self) {
        let now = now_ms();
        for index in 0..self.transports.len() {
            if self.transports[index].wake_at.is_some_and(|at| at <= now) {
                self.transports[index].wake_at = None;
                self.work.push_back(Work::Plugin(index, Event::Tick(now)));
            }
        }
    }

    fn housekeeping(&mut self) -> Result<(), NodeError> {
        let now = now_ms();
        let version = self.db.data_version()?;
        let changed_outside = version != self.data_version;
        self.data_version = version;
        for index in 0..self.transports.len() {
            let t = &mut self.transports[index];
            let tags_changed = t.keyring.refresh(&mut self.db, &self.identity, now)?;
            if tags_changed {
                self.reannounce(index);
            }
        }
        if changed_outside {
            self.poll_links()?;
        }
        if std::mem::take(&mut self.told_addresses_stale) {
            self.remember_told_addresses()?;
        }
        self.close_unanswered(now);
        self.dial_found(now);
        self.drain_work()
    }

    /// Closes dials whose peer did not answer in time: whatever took the connection is not them.
    fn close_unanswered(&mut self, now: u64) {
        for (channel, slot) in &self.slots {
            if slot.answer_by.is_some_and(|by| by <= now) && !slot.link.answered() {
                self.work.push_back(Work::Close {
                    channel: *channel,
                    tell: true,
                });
            }
        }
    }

    fn reannounce(&mut self, index: usize) {
        let t = &self.transports[index];
        if let (Some(port), Some(mdns)) = (t.announced_port, &mut self.mdns) {
            let tags = t.keyring.announced_tags(now_ms());
            if let Err(e) = mdns.announce(&tags, port) {
                tracing::warn!("{e}");
            }
        }
    }

    /// Offers newly queued messages on every live sync link.
    fn poll_links(&mut self) -> Result<(), NodeError> {
        let channels: Vec<ChannelId> = self.slots.keys().copied().collect();
        for channel in channels {
            self.step_link(channel, |link, cx| link.poll(cx));
        }
        self.drain_work()
    }

    /// Peers mDNS found that have no live link and whose backoff is over: tell the plugin, which dials.
    fn dial_found(&mut self, now: u64) {
        for index in 0..self.transports.len() {
            let t = &self.transports[index];
            let due: Vec<SocketAddr> = t
                .found
                .iter()
                .filter(|(peer, _)| self.wants_link(index, **peer))
                .filter(|(peer, _)| t.backoff.get(peer).is_none_or(|(at, _)| *at <= now))
                .map(|(_, address)| *address)
                .collect();
            for address in due {
                self.work.push_back(Work::Plugin(
                    index,
                    Event::Discovered(Discovery {
                        address: address.to_string(),
                    }),
                ));
            }
        }
    }

    /// Whether we should dial `peer`: they are known to the transport and have no live link with us.
    /// (Both sides may dial at once; see `LinkError::Superseded` for which channel goes on.)
    fn wants_link(&self, transport: usize, peer: Peer) -> bool {
        if self.slots.values().any(|s| s.link.peer() == Some(peer)) {
            return false;
        }
        self.transports[transport].keyring.role(peer).is_some()
    }

    fn on_driver(&mut self, event: DriverEvent) -> Result<(), NodeError> {
        match event {
            DriverEvent::Listening { transport, address } => {
                self.notice(Notice::Listening {
                    transport: self.transports[transport].keyring.transport().to_owned(),
                    address,
                });
                self.work.push_back(Work::Plugin(
                    transport,
                    Event::Listening(Listening {
                        medium: Medium::Tcp,
                        address: address.to_string(),
                    }),
                ));
            }
            DriverEvent::Opened {
                channel,
                connection,
            } => {
                self.tcp.adopt(channel, connection);
                if let Some(slot) = self.slots.get(&channel) {
                    self.work
                        .push_back(Work::Plugin(slot.transport, Event::ChannelOpened(channel)));
                } else {
                    self.tcp.close(channel);
                }
            }
            DriverEvent::Accepted {
                transport,
                channel,
                connection,
            } => {
                self.tcp.adopt(channel, connection);
                let t = &self.transports[transport];
                self.slots.insert(
                    channel,
                    Slot {
                        transport,
                        link: Link::accept(t.frame_len, t.max_latency_ms),
                        address: None,
                        answer_by: None,
                    },
                );
                self.work
                    .push_back(Work::Plugin(transport, Event::ChannelAccepted(channel)));
            }
            DriverEvent::Received { channel, data } => {
                if let Some(slot) = self.slots.get(&channel) {
                    self.work.push_back(Work::Plugin(
                        slot.transport,
                        Event::Received(Chunk { channel, data }),
                    ));
                }
            }
            DriverEvent::Closed { channel } => {
                if let Some(slot) = self.slots.get(&channel) {
                    self.work
                        .push_back(Work::Plugin(slot.transport, Event::ChannelClosed(channel)));
                    self.work.push_back(Work::Close {
                        channel,
                        tell: false,
                    });
                }
            }
            DriverEvent::Failed { channel, reason } => {
                if let Some(slot) = self.slots.get(&channel) {
                    self.work.push_back(Work::Plugin(
                        slot.transport,
                        Event::ChannelFailed(ChannelFailure { channel, reason }),
                    ));
                    self.work.push_back(Work::Close {
                        channel,
                        tell: false,
                    });
                }
            }
            DriverEvent::Found { tag, addresses } => self.on_found(&tag, &addresses),
        }
        self.drain_work()
    }

    fn on_found(&mut self, tag: &str, addresses: &[SocketAddr]) {
        let now = now_ms();
        for t in &mut self.transports {
            let Some(peer) = t.keyring.peer_for_tag(tag, now) else {
                continue;
            };
            // Prefer IPv4, then any address the grant lets the plugin reach.
            let mut usable: Vec<SocketAddr> = addresses
                .iter()
                .copied()
                .filter(|a| t.scope.permits(a))
                .collect();
            usable.sort_by_key(|a| !a.is_ipv4());
            if let Some(address) = usable.first() {
                t.found.insert(peer, *address);
            }
        }
        self.dial_found(now);
    }

    fn drain_work(&mut self) -> Result<(), NodeError> {
        while let Some(work) = self.work.pop_front() {
            match work {
                Work::Plugin(index, event) => self.feed(index, event),
                Work::Close { channel, tell } => self.close(channel, tell)?,
            }
        }
        Ok(())
    }

    /// Feeds one event to a transport plugin and carries out what it asks.
    fn feed(&mut self, index: usize, event: Event) {
        let outcome = match self.transports[index].plugin.handle(&event) {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::warn!("{error}");
                let orphaned = self.transports[index].plugin.take_orphaned();
                for channel in orphaned {
                    self.work.push_back(Work::Close {
                        channel,
                        tell: false,
                    });
                }
                // Wake it again soon: a restarted instance must set up its listener anew.
                let retry = now_ms() + 1_000;
                let t = &mut self.transports[index];
                t.wake_at = Some(t.wake_at.map_or(retry, |at| at.min(retry)));
                return;
            }
        };
        for request in outcome.requests {
            self.carry_out(index, request);
        }
        for action in outcome.actions {
            self.act(index, action);
        }
    }

    fn carry_out(&mut self, index: usize, request: IoRequest) {
        let scope = self.transports[index].scope;
        match request {
            IoRequest::TcpListen { port } => {
                if let Err(e) = self.tcp.listen(index, port, scope) {
                    tracing::error!("{e}");
                }
            }
            IoRequest::TcpConnect { channel, address } => {
                if self.slots.contains_key(&channel) {
                    self.tcp.connect(channel, address);
                } else {
                    tracing::warn!("a transport plugin connected a channel the host never opened");
                }
            }
            IoRequest::MdnsAnnounce { port } => {
                self.transports[index].announced_port = Some(port);
                if self.ensure_mdns() {
                    self.reannounce(index);
                }
            }
            IoRequest::MdnsWithdraw => {
                self.transports[index].announced_port = None;
                if let Some(mdns) = &mut self.mdns {
                    mdns.withdraw();
                }
            }
            IoRequest::MdnsBrowse { enabled } => {
                if self.ensure_mdns()
                    && let Some(Err(e)) = self.mdns.as_mut().map(|m| m.browse(enabled))
                {
                    tracing::warn!("{e}");
                }
            }
            other => {
                tracing::warn!("this build has no driver for {other:?} yet; the request is ignored")
            }
        }
    }

    fn ensure_mdns(&mut self) -> bool {
        if self.mdns.is_none() {
            let tx = self.tx.clone();
            match MdnsDriver::start(std::sync::Arc::new(move |event| {
                let _ = tx.send(Input::Driver(event));
            })) {
                Ok(driver) => self.mdns = Some(driver),
                Err(e) => tracing::warn!("{e}"),
            }
        }
        self.mdns.is_some()
    }

    fn act(&mut self, index: usize, action: Action) {
        match action {
            Action::Write(Chunk { channel, data }) => {
                if !self.tcp.write(channel, &data) {
                    self.work.push_back(Work::Close {
                        channel,
                        tell: true,
                    });
                }
            }
            Action::Deliver(Chunk { channel, data }) => {
                self.step_link(channel, |link, cx| link.receive(cx, &data));
            }
            Action::Ready(channel) => self.step_link(channel, |link, cx| link.ready(cx)),
            Action::Close(channel) => self.work.push_back(Work::Close {
                channel,
                tell: false,
            }),
            Action::Publish(properties) => self.publish(index, properties),
            Action::WakeAt(at) => {
                let t = &mut self.transports[index];
                t.wake_at = Some(t.wake_at.map_or(at, |old| old.min(at)));
            }
            Action::Dial(properties) => self.dial(index, properties),
        }
    }

    /// Keeps what a transport published, to tell contacts in every sync session from now on. A
    /// wildcard listening address becomes the one contacts can dial, or is left out.
    fn publish(&mut self, index: usize, properties: Vec<Property>) {
        let t = &mut self.transports[index];
        t.published = properties
            .into_iter()
            .filter_map(|p| {
                if p.key != ADDRESS_PROPERTY {
                    return Some((p.key, p.value));
                }
                let address = p.value.parse().ok()?;
                let reachable = courier_drivers::tcp::reachable_address(address, t.scope)?;
                Some((p.key, reachable.to_string()))
            })
            .collect();
        tracing::debug!(
            "transport published {} properties for contacts",
            t.published.len()
        );
        self.advertised = self
            .transports
            .iter()
            .filter(|t| !t.published.is_empty())
            .map(|t| TransportProperties {
                transport: t.keyring.transport().to_owned(),
                properties: t.published.clone(),
            })
            .collect();
    }

    /// Adds the addresses contacts told us to the peers to dial, where discovery found nothing newer.
    fn remember_told_addresses(&mut self) -> Result<(), NodeError> {
        for t in &mut self.transports {
            for (contact, value) in self
                .db
                .peer_property(t.keyring.transport(), ADDRESS_PROPERTY)?
            {
                if let Ok(address) = value.parse::<SocketAddr>()
                    && t.scope.permits(&address)
                {
                    t.found.entry(Peer::Contact(contact)).or_insert(address);
                }
            }
        }
        Ok(())
    }

    /// Opens channels for a plugin's dial: to the peer mDNS saw at that address, or, for an address
    /// nobody announced (a static peer), one to each peer that may be there and has no link yet.
    fn dial(&mut self, index: usize, properties: Vec<Property>) {
        let now = now_ms();
        let address: Option<SocketAddr> = properties
            .iter()
            .find(|p| p.key == ADDRESS_PROPERTY)
            .and_then(|p| p.value.parse().ok());
        let t = &self.transports[index];
        let known: Vec<Peer> = t
            .found
            .iter()
            .filter(|(_, a)| Some(**a) == address)
            .map(|(p, _)| *p)
            .collect();
        let candidates: Vec<Peer> = if known.is_empty() {
            t.keyring.peers().collect()
        } else {
            known
        };
        for peer in candidates {
            if !self.wants_link(index, peer)
                || self.transports[index]
                    .backoff
                    .get(&peer)
                    .is_some_and(|(at, _)| *at > now)
            {
                continue;
            }
            let t = &self.transports[index];
            let channel = self.ids.next();
            self.slots.insert(
                channel,
                Slot {
                    transport: index,
                    link: Link::dial(peer, t.frame_len, t.max_latency_ms),
                    address,
                    answer_by: Some(now + self.pacing.answer_timeout.as_millis() as u64),
                },
            );
            self.work.push_back(Work::Plugin(
                index,
                Event::Connect(ConnectRequest {
                    channel,
                    properties: properties.clone(),
                }),
            ));
        }
    }

    /// Runs one link step and queues what it produced; a failed link is closed.
    fn step_link(
        &mut self,
        channel: ChannelId,
        step: impl FnOnce(&mut Link, &mut LinkContext<'_>) -> Result<Output, link::LinkError>,
    ) {
        let dialing: HashSet<Peer> = self
            .slots
            .iter()
            .filter(|(c, _)| **c != channel)
            .filter_map(|(_, s)| s.link.dialing())
            .collect();
        let Some(slot) = self.slots.get_mut(&channel) else {
            return;
        };
        let index = slot.transport;
        let t = &mut self.transports[index];
        let mut cx = LinkContext {
            db: &mut self.db,
            keyring: &mut t.keyring,
            identity: &self.identity,
            now_ms: now_ms(),
            dialing: &dialing,
            transports: &self.transport_ids,
            content_types: &self.content_types,
            advertised: &self.advertised,
        };
        let result = step(&mut slot.link, &mut cx);
        let peer = slot.link.peer();
        let address = slot.address;
        if let Some(accepted) = slot.link.accepted() {
            // The other side's channel goes on (we are Bob, or we were not dialing): drop ours.
            let ours: Vec<ChannelId> = self
                .slots
                .iter()
                .filter(|(c, s)| **c != channel && s.link.dialing() == Some(accepted))
                .map(|(c, _)| *c)
                .collect();
            for other in ours {
                self.work.push_back(Work::Close {
                    channel: other,
                    tell: true,
                });
            }
        }
        let Some(slot) = self.slots.get_mut(&channel) else {
            return;
        };
        let t = &mut self.transports[index];
        match result {
            Ok(output) => {
                if let Some(peer) = peer.filter(|_| slot.link.answered()) {
                    // The peer's own stream came back: this is them, not a stranger, not a black hole.
                    self.tcp.vouch(channel);
                    t.backoff.remove(&peer);
                    if let Some(missed) = t.unanswered.remove(&peer)
                        && missed >= UNANSWERED_WARNING
                    {
                        tracing::info!(
                            "a contact answered again on {} after {missed} unanswered connections",
                            t.keyring.transport()
                        );
                    }
                }
                if output.delivered > 0
                    && let Some(contact) = slot.link.syncing_with()
                {
                    self.notice(Notice::Received {
                        contact,
                        count: output.delivered,
                    });
                }
                if let Some(contact) = output.introduced {
                    tracing::info!("a handshake completed; a pending contact is now a contact");
                    if let Some(address) = address {
                        self.transports[index]
                            .found
                            .insert(Peer::Contact(contact), address);
                    }
                    self.notice(Notice::Introduced { contact });
                }
                let close = output.close;
                self.queue_wire(index, channel, output.wire);
                if close {
                    self.work.push_back(Work::Close {
                        channel,
                        tell: true,
                    });
                }
            }
            Err(error) => {
                if matches!(error, link::LinkError::UnknownTag) {
                    // Strangers and scanners: normal on a network, and a flood must not fill the log.
                    tracing::debug!("dropped a link: {error}");
                } else {
                    tracing::info!("dropped a link: {error}");
                }
                self.work.push_back(Work::Close {
                    channel,
                    tell: true,
                });
            }
        }
    }

    fn queue_wire(&mut self, index: usize, channel: ChannelId, wire: Vec<u8>) {
        for piece in wire.chunks(MAX_CHUNK_BYTES) {
            self.work.push_back(Work::Plugin(
                index,
                Event::Outgoing(Chunk {
                    channel,
                    data: piece.to_vec(),
                }),
            ));
        }
    }

    /// Forgets a channel: closes the socket, tells nobody twice, and lets unacked messages go out again.
    fn close(&mut self, channel: ChannelId, tell: bool) -> Result<(), NodeError> {
        self.tcp.close(channel);
        let Some(slot) = self.slots.remove(&channel) else {
            return Ok(());
        };
        let now = now_ms();
        if let Some(peer) = slot.link.dialing()
            && !slot.link.answered()
        {
            // Our dial never reached the peer: back off before trying them again.
            let t = &mut self.transports[slot.transport];
            let failures = t.backoff.get(&peer).map_or(0, |(_, n)| *n) + 1;
            let max = self.pacing.max_redial_backoff.as_millis() as u64;
            let delay = (500u64 << failures.min(6)).min(max);
            t.backoff.insert(peer, (now + delay, failures));
            if slot.link.wrote() {
                // It connected and took our stream, yet never answered as them.
                let missed = t.unanswered.entry(peer).or_default();
                *missed += 1;
                if *missed == UNANSWERED_WARNING {
                    tracing::warn!(
                        "{missed} connections in a row to one contact on {} reached something that \
                         never answered as them (a black hole, or another device holding their \
                         address); their messages wait, and dialing them backs off",
                        t.keyring.transport()
                    );
                }
            }
        }
        if let Some(contact) = slot.link.syncing_with() {
            self.db.retry_unacked_now(contact)?;
            // The session may have told us where the contact listens; read it before dialing again.
            self.told_addresses_stale = true;
        }
        if tell {
            self.work
                .push_back(Work::Plugin(slot.transport, Event::ChannelClosed(channel)));
        }
        Ok(())
    }
}

/// The content types the loaded plugins read and write, to announce to contacts.
pub fn content_types(plugins: &PluginHost) -> Vec<ContentTypeRange> {
    plugins
        .message_types()
        .map(|p| {
            let d = p.description();
            ContentTypeRange {
                content_type: d.content_type.clone(),
                min: d.versions.min,
                max: d.versions.max,
            }
        })
        .collect()
}
