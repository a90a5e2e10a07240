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
    /// Advertise under every contact's current BLE tag (the node hands the driver the tags), and
    /// take connections.
    BleAdvertise,
    /// Stop advertising.
    BleWithdraw,
    /// Start or stop BLE scanning.
    BleScan {
        /// Whether to scan.
        enabled: bool,
    },
    /// Connect a channel to a BLE device.
    BleConnect {
        /// Channel handle.
        channel: ChannelId,
        /// The address a `Found` event gave, `AA:BB:CC:DD:EE:FF`.
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
        /// The mailboxes the grant reaches.
        reach: MailboxReach,
        /// Filled in by the node where it waits to hear how the upload went: the driver answers
        /// with a [`DriverEvent::MailboxUploaded`](crate::DriverEvent::MailboxUploaded) of it.
        receipt: Option<u64>,
    },
    /// Register these contacts at our mailbox, then download (and delete once the node has read
    /// it) every file waiting in these folders.
    MailboxFetch {
        /// Filled in by the node: every folder this node downloads from.
        from: Vec<MailboxFolder>,
        /// Filled in by the node: contacts our mailbox has yet to take.
        register: Vec<MailboxRegistration>,
        /// The mailboxes the grant reaches.
        reach: MailboxReach,
    },
}

/// The mailboxes a `mailbox` grant reaches: those at a socket address within its TCP scope, and,
/// if it grants `tor-stream` too, onion services (over Tor, which shows the mailbox no address of
/// ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxReach {
    /// The grant's TCP scope.
    pub tcp: TcpScope,
    /// Whether the grant reaches onion services.
    pub tor: bool,
}

impl MailboxReach {
    /// Whether a mailbox at `address` (`host:port`) is within reach: an onion name only over Tor, a
    /// socket address only within the TCP scope, and nothing else (a host name would need a DNS
    /// lookup that names the mailbox to whoever answers it).
    pub fn permits(self, address: &str) -> bool {
        match address.rsplit_once(':') {
            Some((host, port)) if is_onion_v3(host) => self.tor && port.parse::<u16>().is_ok(),
            _ => address
                .parse::<SocketAddr>()
                .is_ok_and(|addr| self.tcp.permits(&addr)),
        }
    }
}

/// Whether `name` looks like a v3 onion address: 56 base32 characters and `.onion`.
pub fn is_onion_v3(name: &str) -> bool {
    name.strip_suffix(".onion").is_some_and(|label| {
        label.len() == 56
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    })
}

/// One folder of a mailbox, and the token that opens it: what the node knows and no plugin does.
#[derive(Clone, PartialEq, Eq)]
pub struct MailboxFolder {
    /// Where the mailbox listens, `host:port` or `NAME.onion:port`.
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
            IoRequest::MdnsAnnounce { .. } | IoRequest::BleAdvertise | IoRequest::TorPublishService
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn onion() -> String {
        format!("{}.onion", "a".repeat(52) + "2345")
    }

    #[test]
    fn onion_addresses_are_checked_by_shape() {
        assert!(is_onion_v3(&onion()));
        assert!(!is_onion_v3("example.com"));
        assert!(!is_onion_v3(&format!("{}.onion", "A".repeat(56))));
        assert!(!is_onion_v3(&format!("{}.onion", "a".repeat(55))));
    }

    #[test]
    fn a_mailbox_is_reached_over_tcp_within_the_scope_and_as_an_onion_only_over_tor() {
        let lan = MailboxReach {
            tcp: TcpScope::Lan,
            tor: false,
        };
        let loopback_and_tor = MailboxReach {
            tcp: TcpScope::Loopback,
            tor: true,
        };
        assert!(lan.permits("192.168.1.2:9"));
        assert!(!loopback_and_tor.permits("192.168.1.2:9"));
        assert!(loopback_and_tor.permits("127.0.0.1:9"));
        let at_onion = format!("{}:80", onion());
        assert!(!lan.permits(&at_onion), "an onion only over Tor");
        assert!(loopback_and_tor.permits(&at_onion));
        assert!(!loopback_and_tor.permits(&onion()), "no port");
        assert!(
            !loopback_and_tor.permits("mailbox.example:80"),
            "no DNS names"
        );
        let any = MailboxReach {
            tcp: TcpScope::Any,
            tor: true,
        };
        assert!(!any.permits("example.onion:80"), "not a v3 name");
    }
}
