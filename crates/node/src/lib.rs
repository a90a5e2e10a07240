//! The running node (`courier serve`): one thread that owns the database, the transport plugins and
//! every link, fed by the I/O drivers through one queue.
//!
//! The node knows no medium. Drivers, one per medium, run as tasks on the node's tokio runtime and sit
//! behind [`courier_io::Driver`]; [`routes::Routes`] sends each checked request to the driver that
//! handles it and each channel's bytes to the driver that opened it. Addresses and properties are
//! opaque strings here, passed between drivers, plugins and contacts unread. The owner thread is not
//! one of the runtime's workers, so its SQLCipher commits and fsyncs never stall a socket.
//!
//! The loop: driver events and plugin actions move bytes between sockets and [`link::Link`]s; a
//! housekeeping pass every [`HOUSEKEEPING`] picks up what other processes wrote (a `courier send`,
//! a `contacts add`), offers new messages on live links, rotates keys, and dials contacts that were
//! found but are not connected, with backoff.

pub mod keyring;
pub mod link;
pub mod routes;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use courier_config::Config;
pub use courier_io::MediumState;
use courier_io::{
    ChannelIds, DriverContext, DriverError, DriverEvent, IoRequest, Meeting, StartDriver,
    TransportIndex,
};
use courier_plugin_host::PluginHost;
use courier_plugin_host::bindings::transport_types::{
    Action, ChannelFailure, ChannelId, Chunk, ConnectRequest, Discovery, Event, Listening, Mode,
    Property,
};
use courier_plugin_host::supervisor::Health;
use courier_plugin_host::transport_plugin::{MAX_CHUNK_BYTES, TransportPlugin, reveal_names};
use courier_proto::identity::Identity;
use courier_proto::sync::record::{ContentTypeRange, TransportProperties};
use courier_proto::transport_security::stream::MAX_FRAME_LEN;
use courier_proto::transport_security::transport_keys::{LATENCY_CLASSES_MS, latency_class};
use courier_storage::{ContactId, Database, Peer, StorageError};
use keyring::Keyring;
use link::{Link, LinkContext, Output};
use routes::{DriverIndex, Routes};

/// How often the node looks for work nobody told it about.
pub const HOUSEKEEPING: Duration = Duration::from_millis(200);
/// After this many dials in a row reached something that never answered as the contact, say so.
const UNANSWERED_WARNING: u32 = 3;

/// What reaches the node's loop.
#[derive(Debug)]
pub enum Input {
    /// A driver (by its index in the node's list) observed something.
    Driver(DriverIndex, DriverEvent),
    /// Something changed that the node should look at now (a message was queued).
    Wake,
    /// Report what each transport is doing.
    State(Sender<Vec<TransportState>>),
    /// Write now, on the simplex transport with this id, a stream to every contact owed one (a
    /// one-shot drive export); the reply comes once all of it is written.
    Flush {
        /// The transport's id (`drive`).
        transport: String,
        /// Answered when done: `false` if no simplex transport has that id.
        done: Sender<bool>,
    },
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
        /// Where it is bound, as its driver says it (`127.0.0.1:7001`).
        address: String,
    },
    /// A one-way stream was written for a contact (a file for a drive).
    Wrote {
        /// Transport id.
        transport: String,
        /// For whom.
        contact: ContactId,
    },
    /// A one-way stream was read (a file from a drive), or refused.
    Read {
        /// Transport id.
        transport: String,
        /// Where it came from, as its driver names it (a file's name), if it does.
        name: Option<String>,
        /// Whose it was, or why it was refused.
        outcome: ReadOutcome,
    },
    /// The medium a transport uses moved on (Tor bootstrapping, connected, unreachable).
    Medium {
        /// Transport id.
        transport: String,
        /// Where it stands now.
        state: MediumState,
    },
    /// A look through a transport's folder is over: every file it found has been read or refused.
    Scanned {
        /// Transport id.
        transport: String,
        /// Files read this time.
        files: usize,
        /// Why the folder could not be listed, if it could not.
        error: Option<String>,
    },
}

/// What reading one one-way stream came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOutcome {
    /// A contact's stream, read to its end; `messages` counts what it carried (acks carry none).
    From {
        /// Whose.
        contact: ContactId,
        /// Messages in it, a duplicate included (it is stored once).
        messages: usize,
    },
    /// Not a stream for us: a stranger's, one already read, or no stream at all. It is left alone.
    NotOurs,
    /// A contact's stream that could not be read whole (cut short or tampered with). What came
    /// before the damage is kept, as authentic as ever; the rest comes again when the contact
    /// writes it again.
    Damaged {
        /// What was wrong.
        reason: String,
    },
}

/// What one transport is doing now, as the service layer (and the desktop API) shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportState {
    /// The transport's id (`lan`).
    pub transport: String,
    /// The plugin that runs it.
    pub plugin: String,
    /// Whether it carries one-way streams.
    pub simplex: bool,
    /// Channels open now.
    pub links: usize,
    /// Contacts a sync session runs with now, each once, in id order.
    pub contacts_linked: Vec<ContactId>,
    /// Whether it published how contacts can reach us.
    pub published: bool,
    /// Where its plugin stands (up, backing off after a fault, disabled).
    pub health: Health,
    /// Where the medium it uses stands, for one that must reach a network first (Tor).
    pub medium: Option<MediumState>,
    /// What using it reveals to an observer, as its plugin declares: `ip-address`, `presence`,
    /// `location`.
    pub reveals: Vec<&'static str>,
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

    /// What each transport is doing; `None` if the node has stopped.
    pub fn transports(&self) -> Option<Vec<TransportState>> {
        let (tx, rx) = mpsc::channel();
        self.tx.send(Input::State(tx)).ok()?;
        rx.recv().ok()
    }

    /// Writes, on the simplex transport `transport`, a stream to every contact owed one, and waits
    /// until all are written; false if the node has no such transport or has stopped.
    pub fn flush(&self, transport: &str) -> bool {
        let (done, rx) = mpsc::channel();
        let transport = transport.to_owned();
        self.tx.send(Input::Flush { transport, done }).is_ok() && rx.recv().unwrap_or(false)
    }

    /// Asks the node to stop cleanly; `run` returns once it has.
    pub fn stop(&self) {
        let _ = self.tx.send(Input::Stop);
    }
}

/// A node running on its own thread, its drivers on a tokio runtime.
#[derive(Debug)]
pub struct RunningNode {
    /// Wakes or stops it.
    pub handle: NodeHandle,
    /// What it reports.
    pub notices: Receiver<Notice>,
    /// The thread; join it after stopping.
    pub thread: std::thread::JoinHandle<Result<(), NodeError>>,
    /// The runtime the node started for its drivers, if it was given none.
    runtime: Option<tokio::runtime::Runtime>,
}

impl RunningNode {
    /// The runtime its drivers run on, if the node started its own: an embedder's HTTP server can
    /// run there too.
    pub fn runtime(&self) -> Option<tokio::runtime::Handle> {
        self.runtime.as_ref().map(|r| r.handle().clone())
    }

    /// Stops the node and waits for it to finish cleanly.
    pub fn stop(self) -> Result<(), NodeError> {
        self.handle.stop();
        self.wait()
    }

    /// Waits until the node stops (after [`NodeHandle::stop`] from elsewhere, e.g. a signal).
    pub fn wait(self) -> Result<(), NodeError> {
        let result = self.thread.join().expect("the node thread does not panic");
        if let Some(runtime) = self.runtime {
            // Every driver has shut down with the node; what is left are tasks ending on their own.
            runtime.shutdown_background();
        }
        result
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
    /// A driver could not start.
    #[error("an I/O driver could not start: {0}")]
    Driver(#[from] DriverError),
    /// The runtime the drivers run on could not start.
    #[error("cannot start the node's runtime: {0}")]
    Runtime(std::io::Error),
    /// The data directory has no identity.
    #[error("this data directory has no identity yet; run `courier init --name NAME` first")]
    NoIdentity,
    /// No transport loaded, so the node could reach nobody.
    #[error(
        "no transport can run, so nothing would ever be sent; not starting.{}",
        if .0.is_empty() {
            " The config has no [transports] section: add one (see config/*.toml)".to_owned()
        } else {
            .0.iter().map(|r| format!("\n  {r}")).collect::<String>()
        }
    )]
    NoTransport(Vec<String>),
}

/// One transport plugin with what the node keeps beside it.
struct Transport {
    plugin: TransportPlugin,
    keyring: Keyring,
    /// One-way streams (a drive, a mailbox): nobody answers, so a link writes or reads one stream.
    simplex: bool,
    frame_len: usize,
    max_latency_ms: u64,
    wake_at: Option<u64>,
    /// Where each peer can be reached, as last seen or told.
    found: HashMap<Peer, Whereabouts>,
    /// When each peer may be dialed again, and how many attempts failed in a row.
    backoff: HashMap<Peer, (u64, u32)>,
    /// Dials in a row that connected but were never answered by the peer.
    unanswered: HashMap<Peer, u32>,
    /// What the plugin published for contacts to reach us.
    published: Vec<(String, String)>,
    /// Where its medium stands, if the medium says.
    medium: Option<MediumState>,
    /// Contacts just made at a meeting point (Tor), with it and until when it is kept: the next
    /// connection goes there too, until they have told us where they are.
    just_met: Vec<(ContactId, Meeting, u64)>,
    /// How many meeting points the drivers were last told of.
    meetings_told: usize,
}

/// Where a peer is, in the transport's own terms: the node compares these, never reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Whereabouts {
    /// Discovery saw them at this address; the plugin decides how to dial it.
    Seen(String),
    /// Connect with these properties (the peer told them, or they worked before).
    Reach(Vec<Property>),
}

impl Whereabouts {
    /// Whether a plugin's dial of `properties` is a dial of this peer.
    fn matches(&self, properties: &[Property]) -> bool {
        match self {
            Whereabouts::Seen(address) => properties.iter().any(|p| p.value == *address),
            Whereabouts::Reach(reach) => reach == properties,
        }
    }
}

struct Slot {
    transport: usize,
    link: Link,
    /// For a dial: the properties it connected with.
    properties: Option<Vec<Property>>,
    /// For a dial: when the peer must have answered by (Unix ms).
    answer_by: Option<u64>,
    /// What the driver named the channel (a file's name), for a read's outcome.
    name: Option<String>,
    /// Messages delivered on it so far.
    delivered: usize,
    /// For a one-way read: whether its outcome was told.
    reported: bool,
}

impl Slot {
    fn new(transport: usize, link: Link) -> Slot {
        Slot {
            transport,
            link,
            properties: None,
            answer_by: None,
            name: None,
            delivered: 0,
            reported: false,
        }
    }
}

enum Work {
    /// Feed an event to a transport plugin.
    Plugin(usize, Event),
    /// Forget a channel; `tell` when the plugin does not know yet (the host decided to close it).
    Close { channel: ChannelId, tell: bool },
    /// Open another channel to `peer` at once (a simplex stream was full and more is owed).
    Redial {
        transport: usize,
        peer: Peer,
        properties: Vec<Property>,
    },
}

/// The shortest time between two rotations of the database key.
const ROTATE_EVERY: Duration = Duration::from_secs(60);

/// A running node.
pub struct Node {
    db: Database,
    identity: Identity,
    transports: Vec<Transport>,
    slots: HashMap<ChannelId, Slot>,
    routes: Routes,
    ids: ChannelIds,
    tx: Sender<Input>,
    rx: Receiver<Input>,
    notices: Option<Sender<Notice>>,
    /// The content types our message-type plugins read, announced to every contact we sync with.
    content_types: Vec<ContentTypeRange>,
    /// How contacts can reach us over each transport, told to every contact we sync with.
    advertised: Vec<TransportProperties>,
    /// Whether contacts may have told us new addresses since we last read them (at start, and when
    /// a sync session ends).
    told_addresses_stale: bool,
    data_version: i64,
    /// When the database key last rotated (`Database::rotate_key`), which rewrites every page.
    last_rotation: Option<Instant>,
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
    /// Opens a node on `db` with the transports in `config`, starting `drivers` on `runtime`.
    pub fn new(
        mut db: Database,
        config: &Config,
        drivers: Vec<StartDriver>,
        runtime: tokio::runtime::Handle,
    ) -> Result<Node, NodeError> {
        let identity = db.identity()?.ok_or(NodeError::NoIdentity)?;
        db.set_longest_timer(config.policy.longest_timer());
        let mut plugins = PluginHost::load(config)?;
        let (tx, rx) = mpsc::channel();
        let ids = ChannelIds::default();
        let mut started = Vec::new();
        for (index, start) in drivers.into_iter().enumerate() {
            let sink_tx = tx.clone();
            started.push(start(DriverContext {
                sink: std::sync::Arc::new(move |event| {
                    let _ = sink_tx.send(Input::Driver(index, event));
                }),
                ids: ids.clone(),
                runtime: runtime.clone(),
            })?);
        }
        let now = now_ms();
        let mut transports = Vec::new();
        for plugin in std::mem::take(&mut plugins.transports) {
            let description = plugin.description().clone();
            if latency_class(description.max_latency_ms).is_none() {
                tracing::error!(
                    "transport {:?} declares a max latency of {} days, longer than any key period \
                     lasts ({} days); it is not started",
                    description.id,
                    description.max_latency_ms / 86_400_000,
                    LATENCY_CLASSES_MS[LATENCY_CLASSES_MS.len() - 1] / 86_400_000
                );
                continue;
            }
            let mut keyring = Keyring::new(&description.id, description.max_latency_ms);
            keyring.refresh(&mut db, &identity, now)?;
            transports.push(Transport {
                plugin,
                keyring,
                simplex: description.mode == Mode::Simplex,
                frame_len: (description.frame_size as usize).min(MAX_FRAME_LEN),
                max_latency_ms: description.max_latency_ms,
                wake_at: Some(now),
                found: HashMap::new(),
                backoff: HashMap::new(),
                unanswered: HashMap::new(),
                published: Vec::new(),
                medium: None,
                just_met: Vec::new(),
                meetings_told: 0,
            });
        }
        if transports.is_empty() {
            let reasons = plugins
                .failures
                .iter()
                .filter(|f| f.at.key.starts_with("transports."))
                .map(ToString::to_string)
                .collect();
            return Err(NodeError::NoTransport(reasons));
        }
        let data_version = db.data_version()?;
        Ok(Node {
            content_types: content_types(&plugins),
            advertised: Vec::new(),
            told_addresses_stale: true,
            db,
            identity,
            transports,
            slots: HashMap::new(),
            routes: Routes::new(started),
            ids,
            tx,
            rx,
            notices: None,
            data_version,
            last_rotation: None,
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

    /// Starts a node on its own thread (the way a desktop backend embeds it), its `drivers` on a
    /// runtime of its own: returns its handle, its notices, and the thread, which ends with `run`'s
    /// result after [`NodeHandle::stop`].
    pub fn spawn(
        db: Database,
        config: &Config,
        drivers: Vec<StartDriver>,
    ) -> Result<RunningNode, NodeError> {
        Node::spawn_paced(db, config, drivers, Pacing::default())
    }

    /// [`spawn`](Self::spawn), dialing with `pacing`.
    pub fn spawn_paced(
        db: Database,
        config: &Config,
        drivers: Vec<StartDriver>,
        pacing: Pacing,
    ) -> Result<RunningNode, NodeError> {
        // One worker: sockets are I/O-bound, and the node's own thread does the crypto; on two cores a
        // second worker only competes with the node threads.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("courier-io")
            .enable_all()
            .build()
            .map_err(NodeError::Runtime)?;
        let mut running = Node::spawn_on(runtime.handle().clone(), db, config, drivers, pacing)?;
        running.runtime = Some(runtime);
        Ok(running)
    }

    /// [`spawn_paced`](Self::spawn_paced) on a runtime the caller owns (an embedder that runs an
    /// HTTP server beside the node).
    pub fn spawn_on(
        runtime: tokio::runtime::Handle,
        db: Database,
        config: &Config,
        drivers: Vec<StartDriver>,
        pacing: Pacing,
    ) -> Result<RunningNode, NodeError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let config = config.clone();
        let thread = std::thread::Builder::new()
            .name("courier-node".into())
            .spawn(move || {
                let mut node = match Node::new(db, &config, drivers, runtime) {
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
            runtime: None,
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
                Ok(Input::State(reply)) => {
                    let _ = reply.send(self.transport_states());
                }
                Ok(Input::Flush { transport, done }) => {
                    let flushed = self.flush(&transport);
                    self.drain_work()?;
                    let _ = done.send(flushed);
                }
                Ok(Input::Driver(driver, DriverEvent::Received { channel, mut data })) => {
                    held = self.gather(channel, &mut data);
                    self.on_driver(driver, DriverEvent::Received { channel, data })?;
                }
                Ok(Input::Driver(driver, event)) => self.on_driver(driver, event)?,
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
                Ok(Input::Driver(
                    _,
                    DriverEvent::Received {
                        channel: next,
                        data: more,
                    },
                )) if next == channel && data.len() + more.len() <= MAX_CHUNK_BYTES => {
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
        self.routes.shutdown();
        tracing::info!("node stopped; every stream ended cleanly");
    }

    fn transport_states(&self) -> Vec<TransportState> {
        self.transports
            .iter()
            .enumerate()
            .map(|(index, t)| {
                let slots = self.slots.values().filter(|s| s.transport == index);
                TransportState {
                    transport: t.keyring.transport().to_owned(),
                    plugin: t.plugin.name().to_owned(),
                    simplex: t.simplex,
                    links: slots.clone().count(),
                    contacts_linked: slots
                        .filter_map(|s| s.link.syncing_with())
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect(),
                    published: !t.published.is_empty(),
                    health: t.plugin.instance().health().clone(),
                    medium: t.medium.clone(),
                    reveals: reveal_names(t.plugin.description().reveals),
                }
            })
            .collect()
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

    /// Rotates the database key once something was deleted (a message that disappeared, a contact,
    /// an old transport key), so that the copies of it left in freed disk blocks become noise: at
    /// once the first time, then at most every [`ROTATE_EVERY`], as a rotation rewrites every page.
    fn erase_deleted(&mut self) -> Result<(), NodeError> {
        // Only a node whose connection follows rotations (`serve`'s) rotates: a command that runs a
        // node (a drive import) holds the key file like any command.
        if !self.db.follows_rotations()
            || self
                .last_rotation
                .is_some_and(|at| at.elapsed() < ROTATE_EVERY)
            || !self.db.erasure_owed()?
        {
            return Ok(());
        }
        // A command or an API request has the database open: the next round tries again.
        let Some(rotated) = self.db.rotate_key()? else {
            return Ok(());
        };
        self.last_rotation = Some(Instant::now());
        tracing::info!(
            pages = rotated.pages,
            ms = rotated.elapsed.as_millis() as u64,
            "re-encrypted the database under a new key and destroyed the old one"
        );
        Ok(())
    }

    fn housekeeping(&mut self) -> Result<(), NodeError> {
        let now = now_ms();
        // Disappearing messages go on time while the node runs, here and on the contact's side.
        self.db.sweep_expired(now)?;
        self.erase_deleted()?;
        let version = self.db.data_version()?;
        let changed_outside = version != self.data_version;
        self.data_version = version;
        for index in 0..self.transports.len() {
            let t = &mut self.transports[index];
            let tags_changed = t.keyring.refresh(&mut self.db, &self.identity, now)?;
            let met = t.just_met.len();
            if met > 0 {
                let told: HashSet<ContactId> = self
                    .db
                    .peer_properties(t.keyring.transport())?
                    .into_iter()
                    .map(|(contact, _)| contact)
                    .collect();
                t.just_met
                    .retain(|(contact, _, until)| !told.contains(contact) && now < *until);
            }
            if tags_changed {
                let tags = t.keyring.announced_tags(now);
                self.routes.retag(index, &tags);
            }
            // Meeting points also end by the clock (48 hours after a contact was added).
            let meetings = self.meetings(index, now);
            let t = &mut self.transports[index];
            if tags_changed || t.just_met.len() != met || meetings.len() != t.meetings_told {
                t.meetings_told = meetings.len();
                self.routes.meet(index, &meetings);
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

    /// Offers newly queued messages on every live sync link.
    fn poll_links(&mut self) -> Result<(), NodeError> {
        let channels: Vec<ChannelId> = self.slots.keys().copied().collect();
        for channel in channels {
            self.step_link(channel, |link, cx| link.poll(cx));
        }
        self.drain_work()
    }

    /// Peers found or told that have no live link and whose backoff is over: a peer discovery saw is
    /// the plugin's to dial; one whose properties we hold is connected with them.
    fn dial_found(&mut self, now: u64) {
        for index in 0..self.transports.len() {
            let t = &self.transports[index];
            let due: Vec<(Peer, Whereabouts)> = t
                .found
                .iter()
                .filter(|(peer, _)| self.wants_link(index, **peer))
                .filter(|(peer, _)| t.backoff.get(peer).is_none_or(|(at, _)| *at <= now))
                .map(|(peer, whereabouts)| (*peer, whereabouts.clone()))
                .collect();
            for (peer, whereabouts) in due {
                match whereabouts {
                    Whereabouts::Seen(address) => self.work.push_back(Work::Plugin(
                        index,
                        Event::Discovered(Discovery { address }),
                    )),
                    Whereabouts::Reach(properties) => self.open_dial(index, peer, properties, now),
                }
            }
        }
    }

    /// Whether we should dial `peer`: they are known to the transport and have no live link with us.
    /// (Both sides may dial at once; see `LinkError::Superseded` for which channel goes on.)
    fn wants_link(&self, transport: usize, peer: Peer) -> bool {
        if self.slots.values().any(|s| s.link.peer() == Some(peer)) {
            return false;
        }
        let t = &self.transports[transport];
        // A handshake needs both directions: a pending contact is met on a duplex medium first.
        let reachable = !(t.simplex && matches!(peer, Peer::Pending(_)));
        reachable && t.keyring.role(peer).is_some()
    }

    fn on_driver(&mut self, driver: DriverIndex, event: DriverEvent) -> Result<(), NodeError> {
        match event {
            DriverEvent::Listening {
                transport,
                medium,
                bound,
                reachable,
            } => {
                self.notice(Notice::Listening {
                    transport: self.transports[transport].keyring.transport().to_owned(),
                    address: bound.clone(),
                });
                self.work.push_back(Work::Plugin(
                    transport,
                    Event::Listening(Listening {
                        medium: medium.into(),
                        address: reachable.unwrap_or(bound),
                    }),
                ));
            }
            DriverEvent::Opened { channel } => {
                if let Some(slot) = self.slots.get(&channel) {
                    self.work
                        .push_back(Work::Plugin(slot.transport, Event::ChannelOpened(channel)));
                } else {
                    self.routes.close(channel);
                }
            }
            DriverEvent::Accepted {
                transport,
                channel,
                name,
            } => {
                self.routes.accepted(driver, channel);
                let t = &self.transports[transport];
                let link = if t.simplex {
                    Link::read_simplex(t.frame_len, t.max_latency_ms)
                } else {
                    Link::accept(t.frame_len, t.max_latency_ms)
                };
                self.slots.insert(
                    channel,
                    Slot {
                        name,
                        ..Slot::new(transport, link)
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
            DriverEvent::Medium { transport, state } => {
                let t = &mut self.transports[transport];
                t.medium = Some(state.clone());
                let transport = t.keyring.transport().to_owned();
                self.notice(Notice::Medium { transport, state });
            }
            DriverEvent::Scanned {
                transport,
                files,
                error,
            } => self.notice(Notice::Scanned {
                transport: self.transports[transport].keyring.transport().to_owned(),
                files,
                error,
            }),
            DriverEvent::Found {
                transport,
                tag,
                address,
            } => {
                let now = now_ms();
                let t = &mut self.transports[transport];
                if let Some(peer) = t.keyring.peer_for_tag(&tag, now) {
                    t.found.insert(peer, Whereabouts::Seen(address));
                    self.dial_found(now);
                }
            }
        }
        self.drain_work()
    }

    fn drain_work(&mut self) -> Result<(), NodeError> {
        while let Some(work) = self.work.pop_front() {
            match work {
                Work::Plugin(index, event) => self.feed(index, event),
                Work::Close { channel, tell } => self.close(channel, tell)?,
                Work::Redial {
                    transport,
                    peer,
                    properties,
                } => self.open_dial(transport, peer, properties, now_ms()),
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

    fn carry_out(&mut self, index: TransportIndex, request: IoRequest) {
        if let Some(channel) = request.channel()
            && !self.slots.contains_key(&channel)
        {
            tracing::warn!("a transport plugin connected a channel the host never opened");
            return;
        }
        // Only announcements carry tags; computing every contact's for each dial would be waste.
        let tags = if request.announces() {
            self.transports[index].keyring.announced_tags(now_ms())
        } else {
            Vec::new()
        };
        let announces = request.announces();
        if let Err(e) = self.routes.carry_out(index, request, &tags) {
            tracing::warn!("{e}");
        } else if announces {
            let meetings = self.meetings(index, now_ms());
            self.routes.meet(index, &meetings);
        }
    }

    fn act(&mut self, index: usize, action: Action) {
        match action {
            Action::Write(Chunk { channel, data }) => {
                if !self.routes.write(channel, data) {
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

    /// Keeps what a transport published, to tell contacts in every sync session from now on.
    fn publish(&mut self, index: usize, properties: Vec<Property>) {
        let t = &mut self.transports[index];
        let published: Vec<(String, String)> =
            properties.into_iter().map(|p| (p.key, p.value)).collect();
        if published == t.published {
            return;
        }
        t.published = published;
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
        // Contacts in a session now hear it now, not at their next session.
        let channels: Vec<ChannelId> = self.slots.keys().copied().collect();
        for channel in channels {
            self.step_link(channel, |link, cx| link.advertise(cx));
        }
    }

    /// Adds how contacts told us to reach them to the peers to dial, where discovery found nothing newer.
    fn remember_told_addresses(&mut self) -> Result<(), NodeError> {
        for t in &mut self.transports {
            for (contact, told) in self.db.peer_properties(t.keyring.transport())? {
                let properties = told
                    .into_iter()
                    .map(|(key, value)| Property { key, value })
                    .collect();
                // What they told us beats where we dialed them before (a pending contact's
                // meeting point on Tor is gone once they are a contact); discovery's finds stay.
                let found = t
                    .found
                    .entry(Peer::Contact(contact))
                    .or_insert(Whereabouts::Reach(Vec::new()));
                if matches!(found, Whereabouts::Reach(_)) {
                    *found = Whereabouts::Reach(properties);
                }
            }
        }
        Ok(())
    }

    /// Opens channels for a plugin's dial: to the peers last found there, or, for properties nobody
    /// announced (a static peer), one to each peer that may be there and has no link yet.
    fn dial(&mut self, index: usize, properties: Vec<Property>) {
        let now = now_ms();
        let t = &self.transports[index];
        let known: Vec<Peer> = t
            .found
            .iter()
            .filter(|(_, w)| w.matches(&properties))
            .map(|(p, _)| *p)
            .collect();
        let candidates: Vec<Peer> = if known.is_empty() {
            t.keyring.peers().collect()
        } else {
            known
        };
        for peer in candidates {
            self.open_dial(index, peer, properties.clone(), now);
        }
    }

    /// Opens a channel to `peer` with `properties`, unless it has a link or is backing off.
    fn open_dial(&mut self, index: usize, peer: Peer, properties: Vec<Property>, now: u64) {
        if !self.wants_link(index, peer)
            || self.transports[index]
                .backoff
                .get(&peer)
                .is_some_and(|(at, _)| *at > now)
        {
            return;
        }
        let t = &self.transports[index];
        let channel = self.ids.next();
        // A simplex stream is never answered; a duplex dial must be, in time.
        let (link, answer_by) = if t.simplex {
            (
                Link::write_simplex_to(peer, t.frame_len, t.max_latency_ms),
                None,
            )
        } else {
            (
                Link::dial(peer, t.frame_len, t.max_latency_ms),
                Some(now + self.pacing.answer_timeout.as_millis() as u64),
            )
        };
        self.slots.insert(
            channel,
            Slot {
                properties: Some(properties.clone()),
                answer_by,
                ..Slot::new(index, link)
            },
        );
        self.work.push_back(Work::Plugin(
            index,
            Event::Connect(ConnectRequest {
                channel,
                properties,
            }),
        ));
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
            content_types: &self.content_types,
            advertised: &self.advertised,
        };
        let result = step(&mut slot.link, &mut cx);
        let peer = slot.link.peer();
        let properties = slot.properties.clone();
        let reading = t.simplex && properties.is_none();
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
                    self.routes.vouch(channel);
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
                slot.delivered += output.delivered;
                let messages = slot.delivered;
                // The recognised peer, not the sync session: a simplex read delivers without one.
                if let Some(Peer::Contact(contact)) = slot.link.peer() {
                    let wrote = !reading && t.simplex && !output.wire.is_empty();
                    let transport = t.keyring.transport().to_owned();
                    if output.delivered > 0 {
                        self.notice(Notice::Received {
                            contact,
                            count: output.delivered,
                        });
                    }
                    if reading && output.close {
                        self.report_read(channel, ReadOutcome::From { contact, messages });
                    } else if wrote {
                        self.notice(Notice::Wrote { transport, contact });
                    }
                }
                if let Some(contact) = output.introduced {
                    tracing::info!("a handshake completed; a pending contact is now a contact");
                    let now = now_ms();
                    let t = &mut self.transports[index];
                    if let Some(meeting) = peer.and_then(|p| t.keyring.meeting(p, now)) {
                        let until = now + keyring::MEETING_LIFETIME_MS;
                        t.just_met.push((contact, meeting, until));
                    }
                    if let Some(properties) = properties.clone() {
                        self.transports[index]
                            .found
                            .insert(Peer::Contact(contact), Whereabouts::Reach(properties));
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
                // After the close, so the peer has no live link and can be dialed again.
                if output.more
                    && let (Some(peer), Some(properties)) = (peer, properties)
                {
                    self.work.push_back(Work::Redial {
                        transport: index,
                        peer,
                        properties,
                    });
                }
            }
            Err(error) => {
                let unknown = matches!(error, link::LinkError::UnknownTag);
                if unknown {
                    // Strangers and scanners: normal on a network, and a flood must not fill the log.
                    tracing::debug!("dropped a link: {error}");
                } else {
                    tracing::info!("dropped a link: {error}");
                }
                if reading {
                    let outcome = if unknown {
                        ReadOutcome::NotOurs
                    } else {
                        ReadOutcome::Damaged {
                            reason: error.to_string(),
                        }
                    };
                    self.report_read(channel, outcome);
                }
                self.work.push_back(Work::Close {
                    channel,
                    tell: true,
                });
            }
        }
    }

    /// The meeting points of transport `index`: its pending contacts', and those of contacts just
    /// made at one that have not told us yet where else to reach them.
    fn meetings(&self, index: usize, now: u64) -> Vec<Meeting> {
        let t = &self.transports[index];
        let mut meetings = t.keyring.meetings(now);
        meetings.extend(t.just_met.iter().map(|(_, m, _)| m.clone()));
        meetings
    }

    /// Tells what reading the one-way stream on `channel` came to, once.
    fn report_read(&mut self, channel: ChannelId, outcome: ReadOutcome) {
        let Some(slot) = self.slots.get_mut(&channel) else {
            return;
        };
        if std::mem::replace(&mut slot.reported, true) {
            return;
        }
        let notice = Notice::Read {
            transport: self.transports[slot.transport]
                .keyring
                .transport()
                .to_owned(),
            name: slot.name.clone(),
            outcome,
        };
        self.notice(notice);
    }

    /// Opens a channel to every contact on the simplex transport `id`, each to write what it is
    /// owed; false if there is no such transport.
    fn flush(&mut self, id: &str) -> bool {
        let Some(index) = self
            .transports
            .iter()
            .position(|t| t.simplex && t.keyring.transport() == id)
        else {
            return false;
        };
        let now = now_ms();
        let contacts: Vec<Peer> = self.transports[index]
            .keyring
            .peers()
            .filter(|p| matches!(p, Peer::Contact(_)))
            .collect();
        for peer in contacts {
            self.open_dial(index, peer, Vec::new(), now);
        }
        true
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
        self.routes.close(channel);
        if self.slots.get(&channel).is_some_and(|s| {
            self.transports[s.transport].simplex && s.properties.is_none() && !s.reported
        }) {
            // Closed before its stream ended: a file cut short, or too short to be a stream at all.
            let outcome = match self.slots[&channel].link.peer() {
                Some(_) => ReadOutcome::Damaged {
                    reason: "it ends before its stream does (cut short)".into(),
                },
                None => ReadOutcome::NotOurs,
            };
            self.report_read(channel, outcome);
        }
        let Some(slot) = self.slots.remove(&channel) else {
            return Ok(());
        };
        let now = now_ms();
        if let Some(peer) = slot.link.dialing()
            && !slot.link.answered()
            && !self.transports[slot.transport].simplex
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
