//! The running node (`courier serve`): one thread that owns the database, the transport plugins and
//! every link, fed by the I/O drivers through one queue.
//!
//! The node knows no medium. Drivers, one per medium, run as tasks on the node's tokio runtime and sit
//! behind [`courier_io::Driver`]; [`routes::Routes`] sends each checked request to the driver that
//! handles it and each channel's bytes to the driver that opened it. Addresses and properties are
//! opaque strings here, passed between drivers, plugins and contacts unread. The owner thread is not
//! one of the runtime's workers, so its SQLCipher commits and fsyncs never stall a socket.
//!
//! The loop ([`Node::run`]) takes one [`Input`] at a time and hands it to the module that owns its
//! family: driver events to `on_driver`, what a plugin returns to `on_plugin`, what a link step
//! produced to `on_link`; dialing and backoff live in `dialer`, what the node tells its embedder in
//! `report`, and the periodic pass (other processes' writes, key rotation, dials that are due) in
//! `housekeeping`. A new medium is a driver; a new wire record is the link's and the session's:
//! neither edits this file.

mod dialer;
mod error;
mod housekeeping;
pub mod keyring;
pub mod link;
mod mailboxes;
mod on_driver;
mod on_link;
mod on_plugin;
mod report;
pub mod routes;
mod running;
mod slot;
mod transport;
mod uploads;

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use courier_config::Config;
pub use courier_io::MediumState;
use courier_io::{ChannelId, ChannelIds, DriverContext, DriverEvent, StartDriver, TransportIndex};
use courier_plugin_host::PluginHost;
use courier_plugin_host::bindings::transport_types::{Event, Property};
use courier_plugin_host::transport_plugin::MAX_CHUNK_BYTES;
use courier_proto::identity::Identity;
use courier_proto::sync::receipt::{RECEIPT_TYPE, RECEIPT_VERSION};
use courier_proto::sync::record::{ContentTypeRange, TransportProperties};
use courier_proto::sync::timer::Timer;
use courier_storage::{Database, Peer};

pub use dialer::Pacing;
pub use error::NodeError;
pub use report::{Notice, ReadOutcome, TransportState};
use routes::{DriverIndex, Routes};
pub use running::{NodeHandle, RunningNode};
use slot::Slots;
use transport::Transports;
use uploads::Uploads;

/// How often the node looks for work nobody told it about: a commit of another process (a command
/// beside a `serve` without the API), and what its clock made due (messages to sweep, a rotation).
/// A dial to retry or an unanswered one to close brings the round forward; a driver event, a
/// plugin's own wake-up time, a send and an API request wake the node at once.
pub const HOUSEKEEPING: Duration = Duration::from_secs(1);

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

/// Work that cannot be done where it arose: a plugin event raised while another plugin call's
/// outcome is being carried out (the plugin is not re-entered), or a channel to forget while the
/// channel table is being walked.
enum Deferred {
    /// Feed an event to a transport plugin.
    Plugin(TransportIndex, Event),
    /// Forget a channel; `tell` when the plugin does not know yet (the host decided to close it).
    Close { channel: ChannelId, tell: bool },
    /// Open another channel to `peer` at once (a simplex stream was full and more is owed).
    Redial {
        transport: TransportIndex,
        peer: Peer,
        properties: Vec<Property>,
    },
    /// Offer what is queued on every live link but `except` (a group record it brought was
    /// relayed to the members behind the others).
    PollOthers { except: ChannelId },
}

/// A running node.
pub struct Node {
    db: Database,
    identity: Identity,
    transports: Transports,
    slots: Slots,
    routes: Routes,
    ids: ChannelIds,
    tx: Sender<Input>,
    rx: Receiver<Input>,
    notices: Option<Sender<Notice>>,
    /// The content types our message-type plugins read, announced to every contact we sync with.
    content_types: Vec<ContentTypeRange>,
    /// How contacts can reach us over each transport, told to every contact we sync with.
    advertised: Vec<TransportProperties>,
    /// The longest this device keeps a message (the profile's `disappear-within`).
    longest: Timer,
    /// Whether contacts may have told us new addresses since we last read them (at start, and when
    /// a sync session ends).
    told_addresses_stale: bool,
    data_version: i64,
    /// What the embedder was last told changed from.
    told: report::Told,
    /// When the keyrings next change by the clock alone (Unix ms); see `Keyring::next_change`.
    keys_due_at: u64,
    /// When the database key may rotate again (`Database::rotate_key`, which rewrites every page).
    rotation: housekeeping::RotationPacing,
    /// Whether a plugin call's outcome is being carried out: plugin events wait in `deferred`.
    feeding: bool,
    deferred: VecDeque<Deferred>,
    pacing: Pacing,
    /// Streams written for mailboxes, until the mailbox says whether it took each.
    uploads: Uploads,
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

/// Wall clock, Unix ms.
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
        let mut plugins = PluginHost::load(config)?;
        let (tx, rx) = mpsc::channel();
        let ids = ChannelIds::default();
        let mut started = Vec::new();
        for (index, start) in drivers.into_iter().enumerate() {
            let sink_tx = tx.clone();
            started.push(start(DriverContext {
                sink: std::sync::Arc::new(move |event| {
                    let _ = sink_tx.send(Input::Driver(DriverIndex(index), event));
                }),
                ids: ids.clone(),
                runtime: runtime.clone(),
            })?);
        }
        let transports = Transports::load(&mut plugins, &mut db, &identity, now_ms())?;
        let data_version = db.data_version()?;
        Ok(Node {
            content_types: content_types(&plugins),
            advertised: Vec::new(),
            longest: config.policy.longest_timer(),
            told_addresses_stale: true,
            db,
            identity,
            transports,
            slots: Slots::default(),
            routes: Routes::new(started),
            ids,
            tx,
            rx,
            notices: None,
            data_version,
            // Empty: the first step tells its transports' states as a change, whatever the version.
            told: report::Told::default(),
            keys_due_at: 0,
            rotation: housekeeping::RotationPacing::default(),
            feeding: false,
            deferred: VecDeque::new(),
            pacing: Pacing::default(),
            uploads: Uploads::default(),
            _plugins: plugins,
        })
    }

    /// A handle to wake or stop the node from another thread.
    pub fn handle(&self) -> NodeHandle {
        NodeHandle::new(self.tx.clone())
    }

    /// Dials with `pacing` instead of the defaults.
    pub fn pace(&mut self, pacing: Pacing) {
        self.pacing = pacing;
    }

    /// Sends notices (arrivals, handshakes, listeners) to `tx`.
    pub fn notify(&mut self, tx: Sender<Notice>) {
        self.notices = Some(tx);
    }

    /// Runs until [`NodeHandle::stop`]; then ends every stream cleanly and closes every channel.
    pub fn run(mut self) -> Result<(), NodeError> {
        let mut next_housekeeping = Instant::now();
        // An input taken from the queue while gathering bytes, to handle next.
        let mut held = None;
        // Whether the last step may have opened, ended or answered a dial: bytes arriving and a
        // question about the transports do not, so a busy link does not look through every
        // contact's backoff at each step.
        let mut dials_moved = true;
        loop {
            let now = Instant::now();
            // Whether this step was a round, which looks for other connections' commits, and
            // whether it rotated the key: a new connection, whose `data_version` is no measure.
            let (mut round, mut rotated) = (false, false);
            if now >= next_housekeeping {
                rotated = self.housekeeping()?;
                next_housekeeping = now + HOUSEKEEPING;
                round = true;
            }
            // Sooner when a dial is due or an unanswered one is to be closed before the round.
            if round || dials_moved {
                let wall = now_ms();
                if let Some(at) = self.next_dial_work(wall) {
                    let due = now + Duration::from_millis(at.saturating_sub(wall));
                    next_housekeeping = next_housekeeping.min(due);
                }
            }
            let plugin_wait = self
                .transports
                .next_wake()
                .map(|at| Duration::from_millis(at.saturating_sub(now_ms())));
            let wait = plugin_wait
                .unwrap_or(HOUSEKEEPING)
                .min(next_housekeeping.saturating_duration_since(now));
            let input = match held.take() {
                Some(input) => Ok(input),
                None => self.rx.recv_timeout(wait),
            };
            // An API request that wrote wakes the node.
            let woken = matches!(input, Ok(Input::Wake));
            dials_moved = !matches!(
                input,
                Ok(Input::State(_) | Input::Driver(_, DriverEvent::Received { .. }))
            );
            match input {
                Ok(Input::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Input::Wake) => self.poll_links()?,
                Ok(Input::State(reply)) => {
                    let _ = reply.send(self.transport_states());
                }
                Ok(Input::Flush { transport, done }) => {
                    let flushed = self.flush(&transport);
                    self.run_deferred()?;
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
            self.run_deferred()?;
            self.tell_changes(woken || rotated, round)?;
        }
        self.shutdown();
        Ok(())
    }

    /// Appends to `data` the bytes already queued behind it for `channel`, up to what one plugin
    /// event may carry, and returns the first other input it met. A receiver that fell behind (an
    /// fsync) then stores what piled up in one commit instead of one per socket read. A channel
    /// that carries packets keeps each read whole: its plugin reads them one by one.
    fn gather(&mut self, channel: ChannelId, data: &mut Vec<u8>) -> Option<Input> {
        if self.slots.get(channel).is_some_and(|s| s.packets) {
            return None;
        }
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

    /// Carries out what waited, in order, until nothing does.
    fn run_deferred(&mut self) -> Result<(), NodeError> {
        while let Some(work) = self.deferred.pop_front() {
            match work {
                Deferred::Plugin(index, event) => self.feed(index, event),
                Deferred::Close { channel, tell } => self.close(channel, tell)?,
                Deferred::Redial {
                    transport,
                    peer,
                    properties,
                } => self.open_dial(transport, peer, properties, now_ms()),
                Deferred::PollOthers { except } => {
                    for channel in self.slots.channels() {
                        if channel != except && !self.routes.backlogged(channel) {
                            self.step_link(channel, |link, cx| link.poll(cx));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Ends every stream cleanly and stops the drivers.
    fn shutdown(&mut self) {
        for channel in self.slots.channels() {
            if let Some(slot) = self.slots.get_mut(channel) {
                let wire = slot.link.finish();
                let transport = slot.transport;
                self.send_wire(transport, channel, wire);
            }
        }
        // Errors here only mean a channel is already gone; the peer retransmits what was not acked.
        let _ = self.run_deferred();
        self.routes.shutdown();
        tracing::info!("node stopped; every stream ended cleanly");
    }
}

/// The content types the loaded plugins read and write, and the host's read receipts, to
/// announce to contacts (a contact sends receipts only to a node that announced it reads them).
pub fn content_types(plugins: &PluginHost) -> Vec<ContentTypeRange> {
    let receipts = ContentTypeRange {
        content_type: RECEIPT_TYPE.to_owned(),
        min: RECEIPT_VERSION,
        max: RECEIPT_VERSION,
    };
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
        .chain([receipts])
        .collect()
}
