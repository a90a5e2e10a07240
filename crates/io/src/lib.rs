//! The seam between the node and its I/O drivers.
//!
//! A transport plugin asks for I/O through its capabilities; the plugin runtime checks each call
//! against the grant and turns it into an [`IoRequest`]. The node hands every request to the one
//! [`Driver`] that [handles](Driver::handles) it, routes each channel's writes and closes to the
//! driver that opened it, and hears back through [`DriverEvent`]s. Addresses travel as opaque
//! strings: what one means is the business of the driver that made it and the plugin that reads it.
//!
//! Architecture Invariant: nothing here names a WIT type; the plugin runtime converts at its edge.

use courier_error::{ErrorKind, HasKind};
pub mod budget;
mod request;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use request::{IoRequest, MailboxFolder, MailboxReach, MailboxRegistration, is_onion_v3};

/// A channel, as the node numbers it; the same number the transport plugin sees.
pub type ChannelId = u64;

/// Largest file the `files` capability writes and a scan reads: one simplex stream.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// How long a driver tries one mailbox upload (again and again while the mailbox does not answer)
/// before it reports the stream not taken.
pub const MAILBOX_UPLOAD_PATIENCE: std::time::Duration = std::time::Duration::from_secs(300);

/// A transport, as the node numbers its loaded transport plugins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransportIndex(pub usize);

/// Channel ids, shared between the node (outgoing) and drivers (incoming) so they never collide.
#[derive(Debug, Clone, Default)]
pub struct ChannelIds(Arc<AtomicU64>);

impl ChannelIds {
    /// A fresh, never reused channel id.
    pub fn next(&self) -> ChannelId {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// The medium a listener or a find came from, as a transport plugin is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Medium {
    /// TCP/IP.
    Tcp,
    /// Tor onion services.
    Tor,
    /// Bluetooth.
    Ble,
}

/// Where a medium that must connect to a network first (Tor) stands, as a person is told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediumState {
    /// Connecting to the network: this far along.
    Starting {
        /// Percent done.
        percent: u8,
    },
    /// Connected: channels can open.
    Ready,
    /// Not reached in the time allowed; still trying.
    Unreachable {
        /// Why, as far as the medium can tell, and what to try.
        reason: String,
    },
}

impl std::fmt::Display for MediumState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediumState::Starting { percent } => write!(f, "bootstrapping ({percent}%)"),
            MediumState::Ready => f.write_str("connected"),
            MediumState::Unreachable { reason } => write!(f, "unreachable: {reason}"),
        }
    }
}

/// A meeting point for a pending contact on a medium that meets by address, not by announcement
/// (Tor): a secret only the two share, from which both make the same address. One side hosts it;
/// the other looks for it and, having made its address, reports it `Found` under `their_tag`.
#[derive(Clone)]
pub struct Meeting {
    /// The shared secret (an Ed25519 seed on Tor).
    pub secret: zeroize::Zeroizing<[u8; 32]>,
    /// Whether we host it (we wait for the handshake) or look for it (we dial).
    pub host: bool,
    /// The tag the node knows the contact by, for the `Found` that reports the address.
    pub their_tag: String,
}

impl std::fmt::Debug for Meeting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meeting")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

/// Something a driver observed, for the node's event loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverEvent {
    /// A listener is up for a transport.
    Listening {
        /// The transport whose plugin asked for it.
        transport: TransportIndex,
        /// Which medium.
        medium: Medium,
        /// Where it is bound, for the person running the node (`127.0.0.1:7001`).
        bound: String,
        /// Where contacts can reach it, for the plugin to publish; `None` when nowhere the grant
        /// allows (a wildcard bind whose local address is outside the scope).
        reachable: Option<String>,
    },
    /// An outgoing channel is open.
    Opened {
        /// The channel.
        channel: ChannelId,
    },
    /// Someone opened a channel to a transport's listener, or a file was found to read; the channel
    /// is new.
    Accepted {
        /// The transport whose listener it was.
        transport: TransportIndex,
        /// The new channel.
        channel: ChannelId,
        /// What the person running the node may be told it came from: a file's name, never an
        /// address.
        name: Option<String>,
    },
    /// Bytes arrived on a channel.
    Received {
        /// The channel.
        channel: ChannelId,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A channel whose writes had piled up past [`Driver::backlogged`] took most of them: the node
    /// may offer it more.
    Drained {
        /// The channel.
        channel: ChannelId,
    },
    /// The channel ended (the peer closed, or an error broke it).
    Closed {
        /// The channel.
        channel: ChannelId,
    },
    /// An outgoing channel could not be opened.
    Failed {
        /// The channel.
        channel: ChannelId,
        /// Why, without the address.
        reason: String,
    },
    /// A [`IoRequest::FilesScan`] is over: every file it found has been accepted, read and closed.
    Scanned {
        /// The transport that asked.
        transport: TransportIndex,
        /// Files read this time.
        files: usize,
        /// Why the directory could not be listed, if it could not.
        error: Option<String>,
    },
    /// A [`IoRequest::MailboxFetch`] is over: which mailboxes did not answer, so that nothing is
    /// written for them until they do.
    MailboxesPolled {
        /// The transport that asked.
        transport: TransportIndex,
        /// The addresses (`host:port`) of the mailboxes that did not answer.
        unreachable: Vec<String>,
        /// The keys of the registrations our mailbox took.
        registered: Vec<i64>,
    },
    /// A packet medium knows how large a packet `channel` carries (a BLE connection's ATT MTU less 3).
    PacketSize {
        /// The channel.
        channel: ChannelId,
        /// Bytes.
        bytes: u32,
    },
    /// A [`IoRequest::MailboxUpload`] with a receipt is over: the mailbox took the stream (it is
    /// on its disk), or it refused it or did not answer within [`MAILBOX_UPLOAD_PATIENCE`].
    MailboxUploaded {
        /// The request's receipt.
        receipt: u64,
        /// Whether the mailbox took it.
        taken: bool,
    },
    /// The medium a transport uses moved on (bootstrapping, connected, unreachable).
    Medium {
        /// The transport that uses it.
        transport: TransportIndex,
        /// Where it stands now.
        state: MediumState,
    },
    /// Discovery found an announcement of `tag` for a transport that looks for its contacts.
    Found {
        /// The transport that asked to look.
        transport: TransportIndex,
        /// The announced tag.
        tag: String,
        /// Where it can be reached, as the transport's plugin dials it.
        address: String,
    },
}

/// Where a driver's events go (into the node's one queue).
pub type Sink = Arc<dyn Fn(DriverEvent) + Send + Sync>;

/// What every driver is given when the node starts it.
#[derive(Clone)]
pub struct DriverContext {
    /// Where its events go.
    pub sink: Sink,
    /// The ids of channels it accepts.
    pub ids: ChannelIds,
    /// The node's tokio runtime, on which the driver runs its sockets as tasks.
    pub runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for DriverContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriverContext").finish_non_exhaustive()
    }
}

/// Why a driver could not start or carry out a request. The node logs it; the plugin hears of the
/// failure through events (`channel-failed`, no `listening`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DriverError(pub String);

/// One medium's I/O: called from the node's thread, never blocking it for long.
pub trait Driver: Send {
    /// The medium's name, for logs.
    fn name(&self) -> &'static str;

    /// Whether this driver carries out `request`.
    fn handles(&self, request: &IoRequest) -> bool;

    /// Carries out `request` for `transport`, whose current discovery tags are `tags`; the outcome
    /// arrives as events.
    fn carry_out(
        &mut self,
        transport: TransportIndex,
        request: IoRequest,
        tags: &[String],
    ) -> Result<(), DriverError>;

    /// The discovery tags of `transport` rotated; an announcement under the old ones is replaced.
    fn retag(&mut self, transport: TransportIndex, tags: &[String]) {
        let _ = (transport, tags);
    }

    /// The meeting points of `transport`'s pending contacts now (after an announcing request, and
    /// whenever they change); a driver whose medium meets by address hosts or looks for each, and
    /// drops those no longer listed.
    fn meet(&mut self, transport: TransportIndex, meetings: &[Meeting]) {
        let _ = (transport, meetings);
    }

    /// Queues `data` on `channel` without waiting; false if the channel is gone, broke, or its peer
    /// left more unread than a channel may hold (the driver forgets it).
    fn write(&mut self, channel: ChannelId, data: Vec<u8>) -> bool;

    /// Whether `channel`'s peer is behind: what was written is still queued past a mark. The node
    /// offers it nothing new until [`DriverEvent::Drained`]; answers still go.
    fn backlogged(&self, channel: ChannelId) -> bool {
        let _ = channel;
        false
    }

    /// The node recognised a contact on `channel`: it is nobody's stranger from now on.
    fn vouch(&mut self, channel: ChannelId) {
        let _ = channel;
    }

    /// Closes `channel` once what was queued on it has left.
    fn close(&mut self, channel: ChannelId);

    /// Stops everything, giving queued writes a moment to leave.
    fn shutdown(&mut self);
}

/// Starts a driver when the node starts.
pub type StartDriver =
    Box<dyn FnOnce(DriverContext) -> Result<Box<dyn Driver>, DriverError> + Send>;

impl HasKind for DriverError {
    fn kind(&self) -> ErrorKind {
        // A medium that cannot start or carry a request now: the node goes on without it.
        ErrorKind::Unavailable
    }
}
