//! Test transport in simplex mode: a medium that carries one stream one way per connection, as a drive
//! or a mailbox does, but over loopback TCP so the node's simplex links run end to end through real
//! sockets and a real component. It listens on `port`, dials `peer` every `redial-ms`, and passes bytes
//! through unchanged, in one direction only: the dialer writes and the listener reads, as on a drive,
//! so a host that tried to answer on a channel would find it closed.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use courier_plugin::transport::courier::plugin::tcp;
use courier_plugin::transport::courier::plugin::transport_types::{
    Action, ChannelFailure, ChannelId, Chunk, Description, Event, Mode, Property, Reveals,
};
use courier_plugin::transport::courier::plugin::types::{PluginError, Setting};

/// The property a contact is dialed at.
const ADDRESS: &str = "address";

/// The plugin's exports.
pub type OneWay = courier_plugin::driver::Exports<Courier>;

/// One session: where to listen, whom to dial and when.
pub struct Courier {
    port: u16,
    peer: Option<String>,
    redial_ms: u64,
    started: Cell<bool>,
    /// Channels someone else opened: they are read, never written.
    incoming: RefCell<HashSet<ChannelId>>,
}

impl courier_plugin::driver::Driver for Courier {
    fn describe() -> Description {
        Description {
            id: "test-one-way".into(),
            mode: Mode::Simplex,
            max_latency_ms: 60_000,
            frame_size: 4 * 1024,
            reveals: Reveals::IP_ADDRESS,
            pass_through: false,
        }
    }

    fn new(settings: &[Setting]) -> Result<Self, PluginError> {
        use courier_plugin::settings::{get, only_keys, parse_or};
        only_keys(settings, &["port", "peer", "redial-ms"]).map_err(PluginError::InvalidInput)?;
        Ok(Courier {
            port: parse_or(settings, "port", 0u16).map_err(PluginError::InvalidInput)?,
            peer: get(settings, "peer").map(str::to_owned),
            redial_ms: parse_or(settings, "redial-ms", 500u64)
                .map_err(PluginError::InvalidInput)?,
            started: Cell::new(false),
            incoming: RefCell::new(HashSet::new()),
        })
    }

    fn handle(&mut self, event: Event) -> Result<Vec<Action>, PluginError> {
        let refused = |e| PluginError::CapabilityDenied(format!("{e:?}"));
        Ok(match event {
            Event::Tick(now) => {
                if !self.started.replace(true) {
                    tcp::listen(self.port).map_err(refused)?;
                }
                let mut actions = vec![Action::WakeAt(now + self.redial_ms)];
                if let Some(peer) = &self.peer {
                    actions.push(Action::Dial(vec![Property {
                        key: ADDRESS.into(),
                        value: peer.clone(),
                    }]));
                }
                actions
            }
            Event::Connect(request) => match request.properties.iter().find(|p| p.key == ADDRESS) {
                Some(p) => {
                    tcp::connect(request.channel, &p.value).map_err(refused)?;
                    Vec::new()
                }
                None => vec![Action::Close(request.channel)],
            },
            Event::ChannelOpened(channel) => vec![Action::Ready(channel)],
            Event::ChannelAccepted(channel) => {
                self.incoming.borrow_mut().insert(channel);
                vec![Action::Ready(channel)]
            }
            // One way only: what the reading end would say, and what reaches the writing end, the
            // medium cannot carry.
            Event::Received(Chunk { channel, .. })
                if !self.incoming.borrow().contains(&channel) =>
            {
                vec![Action::Close(channel)]
            }
            Event::Outgoing(Chunk { channel, .. }) if self.incoming.borrow().contains(&channel) => {
                vec![Action::Close(channel)]
            }
            Event::Received(Chunk { channel, data }) => {
                vec![Action::Deliver(Chunk { channel, data })]
            }
            Event::Outgoing(Chunk { channel, data }) => {
                vec![Action::Write(Chunk { channel, data })]
            }
            Event::ChannelClosed(channel)
            | Event::ChannelFailed(ChannelFailure { channel, .. }) => {
                self.incoming.borrow_mut().remove(&channel);
                Vec::new()
            }
            Event::Listening(_) | Event::Discovered(_) | Event::PacketSize(_) => Vec::new(),
        })
    }
}

courier_plugin::export_transport!(OneWay);
