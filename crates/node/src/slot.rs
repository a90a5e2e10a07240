//! The node's open channels, each with its link and what the node remembers of it.

use std::collections::{HashMap, HashSet};

use courier_io::ChannelId;
use courier_plugin_host::bindings::transport_types::Property;
use courier_storage::Peer;

use crate::link::Link;
use courier_io::TransportIndex;

/// One open channel.
pub(crate) struct Slot {
    pub transport: TransportIndex,
    pub link: Link,
    /// For a dial: the properties it connected with.
    pub properties: Option<Vec<Property>>,
    /// For a dial: when the peer must have answered by (Unix ms).
    pub answer_by: Option<u64>,
    /// What the driver named the channel (a file's name), for a read's outcome.
    pub name: Option<String>,
    /// Messages delivered on it so far.
    pub delivered: usize,
    /// For a one-way read: whether its outcome was told.
    pub reported: bool,
    /// Whether its medium carries packets (it told their size): each read is one, never joined to
    /// the next.
    pub packets: bool,
}

impl Slot {
    /// A channel of `transport` carrying `link`.
    pub fn new(transport: TransportIndex, link: Link) -> Slot {
        Slot {
            transport,
            link,
            properties: None,
            answer_by: None,
            name: None,
            delivered: 0,
            reported: false,
            packets: false,
        }
    }

    /// Whether this is a one-way stream being read (a file from a drive) on a simplex transport.
    pub fn reading(&self, simplex: bool) -> bool {
        simplex && self.properties.is_none()
    }
}

/// Every open channel, by id.
#[derive(Default)]
pub(crate) struct Slots(HashMap<ChannelId, Slot>);

impl Slots {
    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The ids of every open channel, to walk while changing them.
    pub fn channels(&self) -> Vec<ChannelId> {
        self.0.keys().copied().collect()
    }

    /// Each open channel with its id.
    pub fn iter(&self) -> impl Iterator<Item = (ChannelId, &Slot)> {
        self.0.iter().map(|(c, s)| (*c, s))
    }

    /// The open channels of `transport`.
    pub fn of(&self, transport: TransportIndex) -> impl Iterator<Item = &Slot> + Clone {
        self.0.values().filter(move |s| s.transport == transport)
    }

    /// One channel.
    pub fn get(&self, channel: ChannelId) -> Option<&Slot> {
        self.0.get(&channel)
    }

    /// One channel, to change.
    pub fn get_mut(&mut self, channel: ChannelId) -> Option<&mut Slot> {
        self.0.get_mut(&channel)
    }

    /// Whether `channel` is open.
    pub fn contains(&self, channel: ChannelId) -> bool {
        self.0.contains_key(&channel)
    }

    /// Opens `channel`.
    pub fn insert(&mut self, channel: ChannelId, slot: Slot) {
        self.0.insert(channel, slot);
    }

    /// Forgets `channel`.
    pub fn remove(&mut self, channel: ChannelId) -> Option<Slot> {
        self.0.remove(&channel)
    }

    /// Whether some channel's link is with `peer` (dialed, or recognised).
    pub fn links_to(&self, peer: Peer) -> bool {
        self.0.values().any(|s| s.link.peer() == Some(peer))
    }

    /// The peers dialed on channels other than `except`.
    pub fn dialing_except(&self, except: ChannelId) -> HashSet<Peer> {
        self.iter()
            .filter(|(c, _)| *c != except)
            .filter_map(|(_, s)| s.link.dialing())
            .collect()
    }

    /// Our channels, other than `except`, that dial `peer`.
    pub fn dials_of(&self, peer: Peer, except: ChannelId) -> Vec<ChannelId> {
        self.iter()
            .filter(|(c, s)| *c != except && s.link.dialing() == Some(peer))
            .map(|(c, _)| c)
            .collect()
    }
}
