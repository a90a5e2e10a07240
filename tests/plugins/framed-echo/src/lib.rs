//! Well-behaved test transport: connects over the `tcp` capability and carries the host's stream bytes
//! in length-prefixed frames. Small on purpose: it exercises every event and action of the transport world.

use std::cell::RefCell;
use std::collections::HashMap;

use courier_plugin::framing::{self, Deframer};
use courier_plugin::transport::courier::plugin::transport_types::{
    Action, ChannelFailure, ChannelId, Chunk, Description, Event, Mode, Property, Reveals,
};
use courier_plugin::transport::courier::plugin::types::{PluginError, Setting};
use courier_plugin::transport::courier::plugin::{clock, tcp};

/// How often the plugin asks to be woken when idle.
const TICK_MS: u64 = 1_000;

/// The plugin's exports.
pub type FramedEcho = courier_plugin::driver::Exports<Framed>;

/// Per-channel framing state.
pub struct Framed {
    frame_limit: u32,
    channels: RefCell<HashMap<ChannelId, Deframer>>,
}

impl Framed {
    /// A state machine that accepts frames up to `frame_limit` bytes.
    pub fn new(frame_limit: u32) -> Self {
        Framed {
            frame_limit,
            channels: RefCell::new(HashMap::new()),
        }
    }

    /// Applies one event without touching any capability (the part a native benchmark can call too).
    pub fn step(&self, event: Event) -> Vec<Action> {
        let mut channels = self.channels.borrow_mut();
        match event {
            Event::ChannelOpened(channel) | Event::ChannelAccepted(channel) => {
                channels.insert(channel, Deframer::new(self.frame_limit));
                vec![Action::Ready(channel)]
            }
            Event::Outgoing(Chunk { channel, data }) => {
                vec![Action::Write(Chunk {
                    channel,
                    data: framing::encode(&data),
                })]
            }
            Event::Received(Chunk { channel, data }) => {
                let Some(deframer) = channels.get_mut(&channel) else {
                    return vec![Action::Close(channel)];
                };
                match deframer.push(&data) {
                    Ok(frames) => frames
                        .into_iter()
                        .map(|data| Action::Deliver(Chunk { channel, data }))
                        .collect(),
                    Err(_) => {
                        channels.remove(&channel);
                        vec![Action::Close(channel)]
                    }
                }
            }
            Event::ChannelClosed(channel)
            | Event::ChannelFailed(ChannelFailure { channel, .. }) => {
                channels.remove(&channel);
                Vec::new()
            }
            Event::Tick(now) => vec![Action::WakeAt(now + TICK_MS)],
            Event::Listening(listening) => {
                vec![Action::Publish(vec![Property {
                    key: "addr".into(),
                    value: listening.address,
                }])]
            }
            Event::Connect(_) | Event::Discovered(_) | Event::PacketSize(_) => Vec::new(),
        }
    }
}

impl courier_plugin::driver::Driver for Framed {
    fn describe() -> Description {
        Description {
            id: "test-framed".into(),
            mode: Mode::Duplex,
            max_latency_ms: 30_000,
            frame_size: 16 * 1024,
            reveals: Reveals::IP_ADDRESS,
            pass_through: false,
        }
    }

    fn new(settings: &[Setting]) -> Result<Self, PluginError> {
        let limit = courier_plugin::settings::parse_or(settings, "frame-limit", 64 * 1024u32)
            .map_err(PluginError::InvalidInput)?;
        Ok(Framed::new(limit))
    }

    fn handle(&mut self, event: Event) -> Result<Vec<Action>, PluginError> {
        if let Event::Connect(request) = &event {
            let Some(addr) = request.properties.iter().find(|p| p.key == "addr") else {
                return Err(PluginError::InvalidInput(
                    "the contact advertised no `addr` property".into(),
                ));
            };
            return match tcp::connect(request.channel, &addr.value) {
                Ok(()) => Ok(Vec::new()),
                Err(e) => {
                    courier_plugin::log!(info, "connect refused by the host: {e:?}");
                    Ok(vec![Action::WakeAt(clock::now_ms() + TICK_MS)])
                }
            };
        }
        Ok(self.step(event))
    }
}

courier_plugin::export_transport!(FramedEcho);
