//! I/O a transport plugin asked for through a capability, already checked against its grant.
//!
//! Capability calls return at once; the host's drivers carry the request out and report back as events
//! (`listening`, `channel-opened`, `discovered`, …). Writing a file is the exception: it is small and
//! local, so the `files` capability writes directly inside its granted directory; reading a drive's
//! files, each a stream for the node to recognise, is a request like any other.

use std::net::SocketAddr;
use std::path::PathBuf;

use courier_config::capability::TcpScope;

use crate::ChannelId;

/// One checked request for a driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoRequest {
    /// Listen for TCP connections on a port (0 = any).
    TcpListen {
        /// Requested port.
        port: u16,
        /// The addresses the grant reaches: where to bind, whom to accept, what to tell contacts.
        scope: TcpScope,
    },
    /// Connect a channel over TCP.
    TcpConnect {
        /// Channel handle.
        channel: ChannelId,
        /// Target, inside the grant's scope.
        address: SocketAddr,
    },
    /// Publish an onion service.
    TorPublishService,
    /// Connect a channel to an onion service.
    TorConnect {
        /// Channel handle.
        channel: ChannelId,
        /// A syntactically valid v3 onion name.
        onion: String,
        /// Port on the service.
        port: u16,
    },
    /// Advertise a BLE tag.
    BleAdvertise {
        /// At most 16 bytes.
        tag: Vec<u8>,
    },
    /// Start or stop BLE scanning.
    BleScan {
        /// Whether to scan.
        enabled: bool,
    },
    /// Connect a channel to a BLE device.
    BleConnect {
        /// Channel handle.
        channel: ChannelId,
        /// Device address `AA:BB:CC:DD:EE:FF`.
        address: String,
    },
    /// Announce our port under every contact's current mDNS tag.
    MdnsAnnounce {
        /// Listening port.
        port: u16,
    },
    /// Stop announcing.
    MdnsWithdraw,
    /// Start or stop looking for contacts.
    MdnsBrowse {
        /// Whether to look.
        enabled: bool,
        /// The addresses the transport's TCP grant reaches: finds outside it are not reported.
        scope: TcpScope,
    },
    /// Read every file in a directory not read before by this node: each arrives as an accepted
    /// channel (its bytes, then closed), and a `Scanned` event follows the last.
    FilesScan {
        /// The directory the `files` grant names.
        dir: PathBuf,
    },
    /// Upload one stream to a mailbox folder.
    MailboxUpload {
        /// The folder as the plugin named it (the `folder` property of its `connect` request).
        folder: String,
        /// The whole stream.
        data: Vec<u8>,
        /// Where that folder is and the token that opens it: filled in by the node, which alone
        /// knows them; `None` until then.
        to: Option<MailboxFolder>,
        /// The addresses the grant reaches.
        scope: TcpScope,
    },
    /// Register these contacts at our mailbox, then download (and delete once the node has read
    /// it) every file waiting in these folders.
    MailboxFetch {
        /// Filled in by the node: every folder this node downloads from.
        from: Vec<MailboxFolder>,
        /// Filled in by the node: contacts our mailbox has yet to take.
        register: Vec<MailboxRegistration>,
        /// The addresses the grant reaches.
        scope: TcpScope,
    },
}

/// One folder of a mailbox, and the token that opens it: what the node knows and no plugin does.
#[derive(Clone, PartialEq, Eq)]
pub struct MailboxFolder {
    /// Where the mailbox listens, `host:port`.
    pub address: String,
    /// The bearer token.
    pub token: [u8; 32],
    /// The folder id.
    pub folder: [u8; 16],
}

/// A contact to register at our own mailbox: their token and folders, and ours to do it with.
#[derive(Clone, PartialEq, Eq)]
pub struct MailboxRegistration {
    /// The node's key for the contact, handed back once the mailbox took it.
    pub key: i64,
    /// Where the mailbox listens, `host:port`.
    pub address: String,
    /// The owner's token.
    pub owner: [u8; 32],
    /// The contact's token.
    pub token: [u8; 32],
    /// The folder the contact uploads to.
    pub inbox: [u8; 16],
    /// The folder the contact fetches from.
    pub outbox: [u8; 16],
}

impl std::fmt::Debug for MailboxRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailboxRegistration([redacted])")
    }
}

impl std::fmt::Debug for MailboxFolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailboxFolder([redacted])")
    }
}

impl IoRequest {
    /// The channel this request opens, if it opens one: the driver that carries it out owns the channel.
    pub fn channel(&self) -> Option<ChannelId> {
        match self {
            IoRequest::TcpConnect { channel, .. }
            | IoRequest::TorConnect { channel, .. }
            | IoRequest::BleConnect { channel, .. } => Some(*channel),
            _ => None,
        }
    }

    /// Whether this request announces us under the transport's discovery tags (which the node then
    /// hands the driver with it, and the meeting points of its pending contacts after it).
    pub fn announces(&self) -> bool {
        matches!(
            self,
            IoRequest::MdnsAnnounce { .. }
                | IoRequest::BleAdvertise { .. }
                | IoRequest::TorPublishService
        )
    }
}
