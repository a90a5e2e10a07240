//! Thin I/O drivers: they carry out what transport plugins ask for through their capabilities and
//! report back as [`DriverEvent`]s on one channel into the node. No protocol logic lives here.

pub mod mdns;
pub mod tcp;

use std::net::SocketAddr;

/// A channel, as the node numbers it; the same number the transport plugin sees.
pub type ChannelId = u64;

/// Something a driver observed, for the node's event loop.
#[derive(Debug)]
pub enum DriverEvent {
    /// A TCP listener is up.
    Listening {
        /// The transport whose plugin asked for it.
        transport: usize,
        /// Bound address.
        address: SocketAddr,
    },
    /// An outgoing TCP channel connected.
    Opened {
        /// The channel.
        channel: ChannelId,
        /// Where its writes go, for [`tcp::TcpDriver::adopt`].
        connection: tcp::Connection,
    },
    /// A peer connected to a listener; the channel is new.
    Accepted {
        /// The transport whose listener it was.
        transport: usize,
        /// The new channel.
        channel: ChannelId,
        /// Where its writes go, for [`tcp::TcpDriver::adopt`].
        connection: tcp::Connection,
    },
    /// Bytes arrived on a channel.
    Received {
        /// The channel.
        channel: ChannelId,
        /// The bytes.
        data: Vec<u8>,
    },
    /// The channel ended (peer closed, or an error broke it).
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
    /// mDNS found an announcement of `tag` at these addresses.
    Found {
        /// The announced tag.
        tag: String,
        /// Where it can be reached.
        addresses: Vec<SocketAddr>,
    },
}
