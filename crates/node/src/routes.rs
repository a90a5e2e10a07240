//! The channel table: which driver carries each request and each channel.
//!
//! The node knows drivers only through [`courier_io::Driver`]: a request goes to the one driver that
//! handles it, and a channel's writes and close go to the driver that opened or accepted it.

use std::collections::HashMap;

use courier_io::{ChannelId, Driver, DriverError, IoRequest, Meeting, TransportIndex};

/// Index of a driver in the node's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DriverIndex(pub usize);

/// The node's drivers and the channel table.
pub struct Routes {
    drivers: Vec<Box<dyn Driver>>,
    channels: HashMap<ChannelId, DriverIndex>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes")
            .field("drivers", &self.drivers.len())
            .field("channels", &self.channels.len())
            .finish()
    }
}

impl Routes {
    /// Routes over `drivers`, with no channel yet.
    pub fn new(drivers: Vec<Box<dyn Driver>>) -> Self {
        Routes {
            drivers,
            channels: HashMap::new(),
        }
    }

    /// Hands `request` to the driver that handles it; a channel it opens is routed to that driver.
    pub fn carry_out(
        &mut self,
        transport: TransportIndex,
        request: IoRequest,
        tags: &[String],
    ) -> Result<(), DriverError> {
        let Some(index) = self
            .drivers
            .iter()
            .position(|d| d.handles(&request))
            .map(DriverIndex)
        else {
            return Err(DriverError(format!(
                "this build has no driver for {request:?}; the request is ignored"
            )));
        };
        if let Some(channel) = request.channel() {
            self.channels.insert(channel, index);
        }
        self.drivers[index.0].carry_out(transport, request, tags)
    }

    /// Routes `channel`, which driver `driver` accepted, to it.
    pub fn accepted(&mut self, driver: DriverIndex, channel: ChannelId) {
        self.channels.insert(channel, driver);
    }

    /// Queues `data` on `channel`; false if no driver carries it or it broke.
    pub fn write(&mut self, channel: ChannelId, data: Vec<u8>) -> bool {
        match self.channels.get(&channel) {
            Some(index) => self.drivers[index.0].write(channel, data),
            None => false,
        }
    }

    /// Whether `channel`'s peer is behind on what was written to it.
    pub fn backlogged(&self, channel: ChannelId) -> bool {
        self.channels
            .get(&channel)
            .is_some_and(|index| self.drivers[index.0].backlogged(channel))
    }

    /// Tells the channel's driver that a contact is on it.
    pub fn vouch(&mut self, channel: ChannelId) {
        if let Some(index) = self.channels.get(&channel) {
            self.drivers[index.0].vouch(channel);
        }
    }

    /// Closes `channel` at its driver and forgets the route.
    pub fn close(&mut self, channel: ChannelId) {
        if let Some(index) = self.channels.remove(&channel) {
            self.drivers[index.0].close(channel);
        }
    }

    /// Tells every driver that `transport`'s discovery tags rotated.
    pub fn retag(&mut self, transport: TransportIndex, tags: &[String]) {
        for driver in &mut self.drivers {
            driver.retag(transport, tags);
        }
    }

    /// Tells every driver the meeting points of `transport`'s pending contacts.
    pub fn meet(&mut self, transport: TransportIndex, meetings: &[Meeting]) {
        for driver in &mut self.drivers {
            driver.meet(transport, meetings);
        }
    }

    /// Stops every driver.
    pub fn shutdown(&mut self) {
        self.channels.clear();
        for driver in &mut self.drivers {
            driver.shutdown();
        }
    }
}
