//! Whole files handed to the node as accepted channels (a drive's, a mailbox's), a few at a time:
//! the file's bytes on a new channel in pieces, as a socket's would arrive, then its close.

use std::collections::HashSet;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::lock;
use courier_io::{ChannelId, DriverEvent, Sink, TransportIndex};

/// Bytes handed to the node at once.
const PIECE: usize = 64 * 1024;

/// Files handed to the node and not yet closed by it: a scan waits for one to close before it reads
/// the next, so a folder of thousands of files is never in memory at once.
const IN_FLIGHT: usize = 2;
/// How long a scan waits for the node to close a file before it reads the next anyway (a node
/// that stops closes nothing, and drops what it is handed).
const IN_FLIGHT_PATIENCE: Duration = Duration::from_secs(10);

/// The channels of files handed to the node that it has not closed yet.
#[derive(Default)]
pub(crate) struct InFlight {
    channels: Mutex<HashSet<ChannelId>>,
    closed: Condvar,
}

impl InFlight {
    /// Waits until fewer than [`IN_FLIGHT`] files are open at the node, then counts `channel` in.
    pub(crate) fn enter(&self, channel: ChannelId) {
        let open = lock(&self.channels);
        let (mut open, _) = self
            .closed
            .wait_timeout_while(open, IN_FLIGHT_PATIENCE, |open| open.len() >= IN_FLIGHT)
            .unwrap_or_else(|e| e.into_inner());
        open.insert(channel);
    }

    /// The node is done with `channel`.
    pub(crate) fn leave(&self, channel: ChannelId) {
        if lock(&self.channels).remove(&channel) {
            self.closed.notify_all();
        }
    }
}

/// Hands `data`, the file called `name`, to the node on `channel` of `transport`.
pub(crate) fn hand_over(
    sink: &Sink,
    transport: TransportIndex,
    channel: ChannelId,
    name: Option<String>,
    data: &[u8],
) {
    sink(DriverEvent::Accepted {
        transport,
        channel,
        name,
    });
    for piece in data.chunks(PIECE) {
        sink(DriverEvent::Received {
            channel,
            data: piece.to_vec(),
        });
    }
    sink(DriverEvent::Closed { channel });
}
