//! The Tor transport: carries the host's encrypted streams to contacts' onion services, through the
//! host's embedded Tor client.
//!
//! Sans-IO: it asks the host to publish the node's onion service (the host holds its key; the plugin
//! only learns the address, to tell contacts inside their sync sessions) and to connect to the onion
//! addresses contacts told us, and to the meeting points the host makes for pending contacts (who
//! have only exchanged links); it passes stream bytes through unchanged. Redialing a contact that is
//! away is the host's (with backoff).
//!
//! What it reveals: nothing of the user's IP address or location to contacts or to the network;
//! that Tor is used, to whoever watches the user's connection (bridges hide that).

use std::collections::HashSet;

use courier_plugin::transport::courier::plugin::transport_types::{
    Action, ChannelFailure, ChannelId, Chunk, Description, Event, Listening, Medium, Mode,
    Property, Reveals,
};

/// The property holding our onion address, as contacts are told it.
pub const ONION: &str = "onion";
/// The port asked for on a contact's onion service.
pub const PORT: u16 = 80;

/// The plugin's exports.
pub type Tor = courier_plugin::driver::Exports<TorState>;

/// What the transport is.
pub fn description() -> Description {
    Description {
        id: "tor".into(),
        mode: Mode::Duplex,
        // A circuit's round trips take seconds; a stream that took longer than a minute is lost.
        max_latency_ms: 60_000,
        frame_size: 16 * 1024,
        reveals: Reveals::empty(),
        pass_through: true,
    }
}

/// A capability call the plugin wants made; the wasm side makes it, native tests inspect it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `tor-stream.publish-service()`.
    Publish,
    /// `tor-stream.connect(channel, onion, port)`.
    Connect(ChannelId, String),
}

/// The state machine.
#[derive(Debug, Default)]
pub struct TorState {
    published: bool,
    channels: HashSet<ChannelId>,
}

impl TorState {
    /// Handles one event: the calls to make, then the actions to return.
    pub fn step(&mut self, event: Event) -> (Vec<Call>, Vec<Action>) {
        let none = || (Vec::new(), Vec::new());
        match event {
            Event::Tick(_) => {
                if std::mem::replace(&mut self.published, true) {
                    return none();
                }
                (vec![Call::Publish], Vec::new())
            }
            Event::Listening(Listening {
                medium: Medium::Tor,
                address,
            }) => (
                Vec::new(),
                vec![Action::Publish(vec![Property {
                    key: ONION.into(),
                    value: address,
                }])],
            ),
            // Tor has no packets to size.
            Event::Listening(_) | Event::PacketSize(_) => none(),
            // A meeting point for a pending contact, made by the host from a secret we share.
            Event::Discovered(found) => (
                Vec::new(),
                vec![Action::Dial(vec![Property {
                    key: ONION.into(),
                    value: found.address,
                }])],
            ),
            Event::Connect(request) => {
                match request.properties.into_iter().find(|p| p.key == ONION) {
                    Some(onion) => (
                        vec![Call::Connect(request.channel, onion.value)],
                        Vec::new(),
                    ),
                    None => (Vec::new(), vec![Action::Close(request.channel)]),
                }
            }
            Event::ChannelOpened(channel) | Event::ChannelAccepted(channel) => {
                self.channels.insert(channel);
                (Vec::new(), vec![Action::Ready(channel)])
            }
            Event::Received(chunk) => (Vec::new(), vec![Action::Deliver(chunk)]),
            Event::Outgoing(Chunk { channel, data }) if self.channels.contains(&channel) => {
                (Vec::new(), vec![Action::Write(Chunk { channel, data })])
            }
            Event::Outgoing(Chunk { channel, .. }) => (Vec::new(), vec![Action::Close(channel)]),
            Event::ChannelClosed(channel)
            | Event::ChannelFailed(ChannelFailure { channel, .. }) => {
                self.channels.remove(&channel);
                none()
            }
        }
    }
}

#[cfg(all(target_arch = "wasm32", feature = "export"))]
mod exports {
    use courier_plugin::driver::Driver;
    use courier_plugin::transport::courier::plugin::tor_stream;
    use courier_plugin::transport::courier::plugin::transport_types::{Action, Description, Event};
    use courier_plugin::transport::courier::plugin::types::{PluginError, Setting};

    use super::{Call, PORT, Tor, TorState};

    impl Driver for TorState {
        fn describe() -> Description {
            super::description()
        }

        fn new(settings: &[Setting]) -> Result<Self, PluginError> {
            courier_plugin::settings::only_keys(settings, &[])
                .map_err(PluginError::InvalidInput)?;
            Ok(TorState::default())
        }

        fn handle(&mut self, event: Event) -> Result<Vec<Action>, PluginError> {
            let (calls, mut actions) = self.step(event);
            for call in calls {
                let result = match &call {
                    Call::Publish => tor_stream::publish_service(),
                    Call::Connect(channel, onion) => tor_stream::connect(*channel, onion, PORT),
                };
                if let Err(e) = result {
                    // Never the onion address: a log is no place for where people are.
                    courier_plugin::log!(warn, "the host refused a Tor request: {e:?}");
                    if let Call::Connect(channel, _) = call {
                        actions.push(Action::Close(channel));
                    }
                }
            }
            Ok(actions)
        }
    }

    courier_plugin::export_transport!(Tor);
}

#[cfg(test)]
mod tests {
    use super::*;
    use courier_plugin::transport::courier::plugin::transport_types::ConnectRequest;

    const ONION_ADDRESS: &str = "aaaabbbbccccddddeeeeffffgggghhhhiiiijjjjkkkkllllmmmmnnnn.onion";

    #[test]
    fn tor_reveals_nothing_of_where_the_user_is() {
        let d = description();
        assert_eq!(d.mode, Mode::Duplex);
        assert_eq!(d.reveals, Reveals::empty());
        assert_eq!(d.id, "tor");
    }

    #[test]
    fn it_publishes_the_service_once_and_tells_contacts_its_address() {
        let mut tor = TorState::default();
        assert_eq!(tor.step(Event::Tick(1)), (vec![Call::Publish], vec![]));
        assert_eq!(tor.step(Event::Tick(2)), (vec![], vec![]), "once");
        let listening = Listening {
            medium: Medium::Tor,
            address: ONION_ADDRESS.into(),
        };
        let (_, actions) = tor.step(Event::Listening(listening));
        let told = Property {
            key: ONION.into(),
            value: ONION_ADDRESS.into(),
        };
        assert_eq!(actions, [Action::Publish(vec![told])]);
        let lan = Listening {
            medium: Medium::Tcp,
            address: "127.0.0.1:1".into(),
        };
        assert_eq!(tor.step(Event::Listening(lan)), (vec![], vec![]));
    }

    #[test]
    fn a_contact_is_dialed_at_the_onion_address_it_told_us_and_bytes_pass_unchanged() {
        let mut tor = TorState::default();
        let request = ConnectRequest {
            channel: 3,
            properties: vec![Property {
                key: ONION.into(),
                value: ONION_ADDRESS.into(),
            }],
        };
        let (calls, _) = tor.step(Event::Connect(request));
        assert_eq!(calls, [Call::Connect(3, ONION_ADDRESS.into())]);
        assert_eq!(tor.step(Event::ChannelOpened(3)).1, [Action::Ready(3)]);
        let chunk = Chunk {
            channel: 3,
            data: b"sealed".to_vec(),
        };
        assert_eq!(
            tor.step(Event::Outgoing(chunk.clone())).1,
            [Action::Write(chunk.clone())]
        );
        assert_eq!(
            tor.step(Event::Received(chunk.clone())).1,
            [Action::Deliver(chunk)]
        );
        tor.step(Event::ChannelClosed(3));
        let late = Chunk {
            channel: 3,
            data: b"late".to_vec(),
        };
        assert_eq!(tor.step(Event::Outgoing(late)).1, [Action::Close(3)]);
    }

    #[test]
    fn a_meeting_point_the_host_found_is_dialed_at_its_onion() {
        let mut tor = TorState::default();
        let found = courier_plugin::transport::courier::plugin::transport_types::Discovery {
            address: ONION_ADDRESS.into(),
        };
        let dial = Property {
            key: ONION.into(),
            value: ONION_ADDRESS.into(),
        };
        assert_eq!(
            tor.step(Event::Discovered(found)),
            (vec![], vec![Action::Dial(vec![dial])])
        );
    }

    #[test]
    fn a_connect_without_an_onion_address_is_closed() {
        let mut tor = TorState::default();
        let request = ConnectRequest {
            channel: 4,
            properties: vec![Property {
                key: "address".into(),
                value: "10.0.0.1:7001".into(),
            }],
        };
        assert_eq!(
            tor.step(Event::Connect(request)),
            (vec![], vec![Action::Close(4)])
        );
    }
}
