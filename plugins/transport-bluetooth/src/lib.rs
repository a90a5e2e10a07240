//! The Bluetooth transport: the host's encrypted streams between two devices in radio range, with no
//! network at all, over Bluetooth Low Energy.
//!
//! Sans-IO. It asks the host to advertise (the host fills in rotating per-contact tags that fit the
//! advertising payload; the plugin never sees them), to scan (a find the host matched to a contact
//! arrives as `discovered`, with an opaque address; anything else never reaches the plugin), and to
//! connect. BLE carries small packets: the host tells each channel's packet size (`packet-size`: the
//! ATT MTU less 3, 20 to 514 bytes), and the plugin cuts the host's stream into packets of that size
//! and reassembles them, with credit-based flow control ([`packets`]). A connection that drops is
//! dialed again when the contact is found again; the host backs off dials that fail.
//!
//! What it reveals: that a Courier device is here, to anyone nearby with a scanner (presence), and
//! so roughly where its owner is (radio range, tens of metres: location). The advertisements carry
//! no stable identifier: tags rotate with the keys, and the address with them where the stack allows.

pub mod packets;

use std::collections::HashMap;

use courier_plugin::transport::courier::plugin::transport_types::{
    Action, ChannelFailure, ChannelId, Chunk, Description, Event, Mode, PacketSize, Property,
    Reveals,
};

use packets::Packets;

/// The property holding the opaque address a `discovered` event gave.
pub const ADDRESS: &str = "address";

/// The plugin's exports.
pub type Bluetooth = courier_plugin::driver::Exports<BluetoothState>;

/// What the transport is.
pub fn description() -> Description {
    Description {
        id: "bluetooth".into(),
        mode: Mode::Duplex,
        // Tens of KB/s at best: a 64 KiB chunk takes seconds.
        max_latency_ms: 60_000,
        // The host hands down 4 KiB at a time; the plugin cuts it to the channel's packets.
        frame_size: 4 * 1024,
        reveals: Reveals::PRESENCE | Reveals::LOCATION,
        pass_through: false,
    }
}

/// A capability call the plugin wants made; the wasm side makes it, native tests inspect it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `ble.advertise()`.
    Advertise,
    /// `ble.scan(true)`.
    Scan,
    /// `ble.connect(channel, address)`.
    Connect(ChannelId, String),
}

/// The state machine: each open channel's packets.
#[derive(Debug, Default)]
pub struct BluetoothState {
    started: bool,
    channels: HashMap<ChannelId, Packets>,
}

impl BluetoothState {
    /// Applies one event: the capability calls to make first, then the actions to return.
    pub fn step(&mut self, event: Event) -> (Vec<Call>, Vec<Action>) {
        let mut calls = Vec::new();
        let mut actions = Vec::new();
        match event {
            Event::Tick(_) => {
                if !self.started {
                    self.started = true;
                    calls.extend([Call::Advertise, Call::Scan]);
                }
            }
            Event::Discovered(found) => actions.push(Action::Dial(vec![Property {
                key: ADDRESS.into(),
                value: found.address,
            }])),
            Event::Connect(request) => {
                match request.properties.into_iter().find(|p| p.key == ADDRESS) {
                    Some(p) => calls.push(Call::Connect(request.channel, p.value)),
                    None => actions.push(Action::Close(request.channel)),
                }
            }
            Event::ChannelOpened(channel) | Event::ChannelAccepted(channel) => {
                self.channels.insert(channel, Packets::default());
                actions.push(Action::Ready(channel));
            }
            Event::PacketSize(PacketSize { channel, bytes }) => {
                if let Some(packets) = self.channels.get_mut(&channel) {
                    packets.set_size(bytes as usize);
                }
            }
            Event::Outgoing(Chunk { channel, data }) => {
                if let Some(packets) = self.channels.get_mut(&channel) {
                    actions.extend(write(channel, packets.send(&data)));
                }
            }
            Event::Received(Chunk { channel, data }) => {
                let Some(packets) = self.channels.get_mut(&channel) else {
                    return (calls, actions);
                };
                match packets.receive(&data) {
                    Ok(read) => {
                        if let Some(data) = read.bytes {
                            actions.push(Action::Deliver(Chunk { channel, data }));
                        }
                        actions.extend(write(channel, read.write));
                    }
                    Err(e) => {
                        courier_plugin::log!(info, "{e}");
                        self.channels.remove(&channel);
                        actions.push(Action::Close(channel));
                    }
                }
            }
            Event::ChannelClosed(channel)
            | Event::ChannelFailed(ChannelFailure { channel, .. }) => {
                self.channels.remove(&channel);
            }
            Event::Listening(_) => {}
        }
        (calls, actions)
    }
}

fn write(channel: ChannelId, packets: Vec<Vec<u8>>) -> impl Iterator<Item = Action> {
    packets
        .into_iter()
        .map(move |data| Action::Write(Chunk { channel, data }))
}

#[cfg(target_arch = "wasm32")]
mod exports {
    use courier_plugin::driver::Driver;
    use courier_plugin::transport::courier::plugin::ble;
    use courier_plugin::transport::courier::plugin::transport_types::{Action, Description, Event};
    use courier_plugin::transport::courier::plugin::types::{PluginError, Setting};

    use super::{Bluetooth, BluetoothState, Call};

    impl Driver for BluetoothState {
        fn describe() -> Description {
            super::description()
        }

        fn new(settings: &[Setting]) -> Result<Self, PluginError> {
            if let Some(s) = settings.first() {
                return Err(PluginError::InvalidInput(format!(
                    "the Bluetooth transport has no setting {:?}; the radio is set in the config's [bluetooth] section",
                    s.key
                )));
            }
            Ok(BluetoothState::default())
        }

        fn handle(&mut self, event: Event) -> Result<Vec<Action>, PluginError> {
            let (calls, mut actions) = self.step(event);
            for call in calls {
                let result = match &call {
                    Call::Advertise => ble::advertise(),
                    Call::Scan => ble::scan(true),
                    Call::Connect(channel, address) => ble::connect(*channel, address),
                };
                if let Err(e) = result {
                    courier_plugin::log!(warn, "the host refused a Bluetooth request: {e:?}");
                    if let Call::Connect(channel, _) = call {
                        actions.push(Action::Close(channel));
                    }
                }
            }
            Ok(actions)
        }
    }

    courier_plugin::export_transport!(Bluetooth);
}

#[cfg(test)]
mod tests {
    use super::*;
    use courier_plugin::transport::courier::plugin::transport_types::{ConnectRequest, Discovery};

    fn address(value: &str) -> Vec<Property> {
        vec![Property {
            key: ADDRESS.into(),
            value: value.into(),
        }]
    }

    #[test]
    fn bluetooth_is_duplex_frames_its_own_packets_and_says_it_shows_presence_and_location() {
        let d = description();
        assert_eq!((d.id.as_str(), d.mode), ("bluetooth", Mode::Duplex));
        assert_eq!(d.reveals, Reveals::PRESENCE | Reveals::LOCATION);
        assert!(!d.pass_through, "it cuts streams into packets");
    }

    #[test]
    fn it_advertises_and_scans_once_and_dials_what_the_host_found() {
        let mut bt = BluetoothState::default();
        assert_eq!(
            bt.step(Event::Tick(1)),
            (vec![Call::Advertise, Call::Scan], vec![])
        );
        assert_eq!(bt.step(Event::Tick(2)), (vec![], vec![]), "once");
        let found = Event::Discovered(Discovery {
            address: "C1:22:33:44:55:66".into(),
        });
        assert_eq!(
            bt.step(found).1,
            [Action::Dial(address("C1:22:33:44:55:66"))]
        );
        let connect = |properties| {
            Event::Connect(ConnectRequest {
                channel: 3,
                properties,
            })
        };
        assert_eq!(
            bt.step(connect(address("C1:22:33:44:55:66"))).0,
            [Call::Connect(3, "C1:22:33:44:55:66".into())]
        );
        assert_eq!(bt.step(connect(Vec::new())).1, [Action::Close(3)]);
    }

    #[test]
    fn a_channel_carries_the_stream_in_packets_of_its_size_and_ends_on_a_lost_one() {
        let (mut alice, mut bob) = (BluetoothState::default(), BluetoothState::default());
        assert_eq!(alice.step(Event::ChannelOpened(1)).1, [Action::Ready(1)]);
        assert_eq!(bob.step(Event::ChannelAccepted(9)).1, [Action::Ready(9)]);
        for (side, channel) in [(&mut alice, 1), (&mut bob, 9)] {
            side.step(Event::PacketSize(PacketSize { channel, bytes: 64 }));
        }
        let stream: Vec<u8> = (0..=255).collect();
        let (_, written) = alice.step(Event::Outgoing(Chunk {
            channel: 1,
            data: stream.clone(),
        }));
        assert_eq!(written.len(), 5, "255 bytes in 63-byte pieces: 5 packets");
        let mut delivered = Vec::new();
        for action in &written {
            let Action::Write(Chunk { data, .. }) = action else {
                panic!("{action:?}");
            };
            assert!(data.len() <= 64);
            for got in bob
                .step(Event::Received(Chunk {
                    channel: 9,
                    data: data.clone(),
                }))
                .1
            {
                if let Action::Deliver(Chunk { channel: 9, data }) = got {
                    delivered.extend(data);
                }
            }
        }
        assert_eq!(delivered, stream);
        // A packet lost on the way: the next one is out of sequence, and the channel ends.
        let (_, more) = alice.step(Event::Outgoing(Chunk {
            channel: 1,
            data: vec![1; 200],
        }));
        let Action::Write(Chunk { data, .. }) = &more[1] else {
            panic!()
        };
        assert_eq!(
            bob.step(Event::Received(Chunk {
                channel: 9,
                data: data.clone()
            }))
            .1,
            [Action::Close(9)]
        );
        assert_eq!(
            bob.step(Event::Received(Chunk {
                channel: 9,
                data: vec![0]
            }))
            .1,
            [],
            "gone"
        );
    }
}
