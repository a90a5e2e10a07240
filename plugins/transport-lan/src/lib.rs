//! The LAN transport: carries the host's encrypted streams over TCP on the local network.
//!
//! Sans-IO: it asks the host to listen, to announce and browse on mDNS (under tags only the host knows),
//! and to connect; it passes stream bytes through unchanged, since TCP already delivers them in order.
//! Where multicast is blocked, `static-peers` lists `ip:port` addresses it dials on a timer instead.
//!
//! Settings: `port` (0 = any free port), `mdns` (`true`/`false`), `static-peers` (comma-separated
//! `ip:port`), `redial-ms` (how often static peers are dialed while a contact is unreachable).
//!
//! What it reveals: our IP address to whoever we connect to or who connects to us, and, with mDNS on,
//! that a Courier node is present on the LAN (the announcements themselves are unlinkable tags).

use std::collections::HashSet;

use courier_plugin::transport::courier::plugin::transport_types::{
    Action, ChannelFailure, ChannelId, Chunk, Description, Event, Mode, Property, Reveals,
};

/// The property holding `ip:port`.
pub const ADDRESS: &str = "address";

/// The plugin's exports.
pub type Lan = courier_plugin::driver::Exports<LanState>;

/// What the transport is.
pub fn description() -> Description {
    Description {
        id: "lan".into(),
        mode: Mode::Duplex,
        max_latency_ms: 30_000,
        // 8 KiB frames: small enough that a short text costs little padding, large enough that bulk
        // transfers spend their time in the cipher, not in per-frame overhead.
        frame_size: 8 * 1024,
        reveals: Reveals::IP_ADDRESS | Reveals::PRESENCE,
        pass_through: true,
    }
}

/// Parsed settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Port to listen on (0 = any).
    pub port: u16,
    /// Whether to announce and browse with mDNS.
    pub mdns: bool,
    /// `ip:port` addresses dialed on a timer.
    pub static_peers: Vec<String>,
    /// How often static peers are dialed.
    pub redial_ms: u64,
}

impl Settings {
    /// Reads the settings, with a clear error for each bad value.
    pub fn parse<S: courier_plugin::settings::Setting>(settings: &[S]) -> Result<Self, String> {
        use courier_plugin::settings::{get, parse_or};
        let static_peers: Vec<String> = get(settings, "static-peers")
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(bad) = static_peers.iter().find(|p| !looks_like_address(p)) {
            return Err(format!(
                "static-peers entry {bad:?} is not ip:port (e.g. 192.168.1.20:7001)"
            ));
        }
        let redial_ms = parse_or(settings, "redial-ms", 3_000u64)?;
        if redial_ms < 100 {
            return Err("redial-ms must be at least 100".into());
        }
        Ok(Settings {
            port: parse_or(settings, "port", 0u16)?,
            mdns: parse_or(settings, "mdns", true)?,
            static_peers,
            redial_ms,
        })
    }
}

fn looks_like_address(text: &str) -> bool {
    let Some((host, port)) = text.rsplit_once(':') else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    port.parse::<u16>().is_ok_and(|p| p != 0)
        && !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
}

/// The state machine, callable natively (tests) and from the wasm exports.
pub struct LanState {
    settings: Settings,
    started: bool,
    next_redial: u64,
    channels: HashSet<ChannelId>,
}

/// A capability call the plugin wants made; the wasm side makes it, native tests inspect it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `tcp.listen(port)`.
    Listen(u16),
    /// `tcp.connect(channel, address)`.
    Connect(ChannelId, String),
    /// `mdns.announce(port)`.
    Announce(u16),
    /// `mdns.browse(true)`.
    Browse,
}

impl Call {
    /// What the call asked for, without the address it named.
    pub fn what(&self) -> &'static str {
        match self {
            Call::Listen(_) => "a listener",
            Call::Connect(..) => "a connection",
            Call::Announce(_) => "an mDNS announcement",
            Call::Browse => "mDNS browsing",
        }
    }
}

impl LanState {
    /// A fresh state machine.
    pub fn new(settings: Settings) -> Self {
        LanState {
            settings,
            started: false,
            next_redial: 0,
            channels: HashSet::new(),
        }
    }

    /// Applies one event: the actions to return and the capability calls to make first.
    pub fn step(&mut self, event: Event) -> Result<(Vec<Call>, Vec<Action>), String> {
        let mut calls = Vec::new();
        let mut actions = Vec::new();
        match event {
            Event::Tick(now) => {
                if !self.started {
                    self.started = true;
                    calls.push(Call::Listen(self.settings.port));
                    if self.settings.mdns {
                        calls.push(Call::Browse);
                    }
                }
                if now >= self.next_redial {
                    // The host opens channels only to contacts that have no link yet, so dialing an
                    // address that is already connected costs nothing.
                    for peer in &self.settings.static_peers {
                        actions.push(Action::Dial(address(peer)));
                    }
                    self.next_redial = now + self.settings.redial_ms;
                }
                actions.push(Action::WakeAt(self.next_redial));
            }
            Event::Listening(listening) => {
                let port = listening
                    .address
                    .rsplit_once(':')
                    .and_then(|(_, p)| p.parse::<u16>().ok())
                    .ok_or_else(|| {
                        format!("listening address {:?} has no port", listening.address)
                    })?;
                if self.settings.mdns {
                    calls.push(Call::Announce(port));
                }
                // The host resolves a wildcard bind to the address contacts can dial when the grant
                // allows one; an unresolved wildcard is nowhere a contact could reach.
                let wildcard = listening
                    .address
                    .parse::<std::net::SocketAddr>()
                    .is_ok_and(|a| a.ip().is_unspecified());
                if !wildcard {
                    actions.push(Action::Publish(address(&listening.address)));
                }
            }
            Event::Discovered(found) => actions.push(Action::Dial(address(&found.address))),
            Event::Connect(request) => {
                self.channels.insert(request.channel);
                match request.properties.iter().find(|p| p.key == ADDRESS) {
                    Some(p) => calls.push(Call::Connect(request.channel, p.value.clone())),
                    None => {
                        self.channels.remove(&request.channel);
                        actions.push(Action::Close(request.channel));
                    }
                }
            }
            Event::ChannelOpened(channel) | Event::ChannelAccepted(channel) => {
                self.channels.insert(channel);
                actions.push(Action::Ready(channel));
            }
            // TCP keeps order and boundaries do not matter to the host's streams: pass bytes through.
            Event::Received(Chunk { channel, data }) => {
                actions.push(Action::Deliver(Chunk { channel, data }));
            }
            Event::Outgoing(Chunk { channel, data }) => {
                actions.push(Action::Write(Chunk { channel, data }));
            }
            Event::ChannelClosed(channel)
            | Event::ChannelFailed(ChannelFailure { channel, .. }) => {
                self.channels.remove(&channel);
            }
            // TCP has no packets to size.
            Event::PacketSize(_) => {}
        }
        Ok((calls, actions))
    }
}

fn address(value: &str) -> Vec<Property> {
    vec![Property {
        key: ADDRESS.into(),
        value: value.to_owned(),
    }]
}

#[cfg(target_arch = "wasm32")]
mod exports {
    use courier_plugin::driver::Driver;
    use courier_plugin::transport::courier::plugin::transport_types::{Action, Description, Event};
    use courier_plugin::transport::courier::plugin::types::{PluginError, Setting};
    use courier_plugin::transport::courier::plugin::{mdns, tcp};

    use super::{Call, Lan, LanState, Settings};

    impl Driver for LanState {
        fn describe() -> Description {
            super::description()
        }

        fn new(settings: &[Setting]) -> Result<Self, PluginError> {
            let settings = Settings::parse(settings).map_err(PluginError::InvalidInput)?;
            Ok(LanState::new(settings))
        }

        fn handle(&mut self, event: Event) -> Result<Vec<Action>, PluginError> {
            let (calls, mut actions) = self.step(event).map_err(PluginError::InvalidInput)?;
            for call in calls {
                let result = match &call {
                    Call::Listen(port) => tcp::listen(*port),
                    Call::Connect(channel, address) => tcp::connect(*channel, address),
                    Call::Announce(port) => mdns::announce(*port),
                    Call::Browse => mdns::browse(true),
                };
                if let Err(e) = result {
                    // Addresses only at debug level: a log is no place for where people are.
                    courier_plugin::log!(warn, "the host refused {}: {e:?}", call.what());
                    courier_plugin::log!(debug, "the refused call was {call:?}");
                    if let Call::Connect(channel, _) = call {
                        actions.push(Action::Close(channel));
                    }
                }
            }
            Ok(actions)
        }
    }

    courier_plugin::export_transport!(Lan);
}

#[cfg(test)]
mod tests {
    use super::*;
    use courier_plugin::transport::courier::plugin::transport_types::{
        ConnectRequest, Discovery, Listening, Medium,
    };

    #[test]
    fn what_a_refused_call_asked_for_is_said_without_its_address() {
        let connect = Call::Connect(7, "10.0.0.5:7001".into());
        assert_eq!(connect.what(), "a connection");
        assert_eq!(Call::Listen(7001).what(), "a listener");
        assert_eq!(Call::Announce(7001).what(), "an mDNS announcement");
        assert_eq!(Call::Browse.what(), "mDNS browsing");
    }

    fn state(peers: &str) -> LanState {
        let settings = Settings::parse(&[("static-peers", peers), ("redial-ms", "1000")]).unwrap();
        LanState::new(settings)
    }

    #[test]
    fn it_listens_browses_and_dials_static_peers_on_a_timer() {
        let mut lan = state("10.0.0.2:7001, 10.0.0.3:7001");
        let (calls, actions) = lan.step(Event::Tick(5_000)).unwrap();
        assert_eq!(calls, [Call::Listen(0), Call::Browse]);
        assert_eq!(
            actions,
            [
                Action::Dial(address("10.0.0.2:7001")),
                Action::Dial(address("10.0.0.3:7001")),
                Action::WakeAt(6_000)
            ]
        );
        let (calls, actions) = lan.step(Event::Tick(5_500)).unwrap();
        assert!(calls.is_empty(), "listening starts once");
        assert_eq!(
            actions,
            [Action::WakeAt(6_000)],
            "no redial before its time"
        );
    }

    #[test]
    fn it_announces_its_port_and_dials_what_discovery_finds() {
        let mut lan = state("");
        let (calls, actions) = lan
            .step(Event::Listening(Listening {
                medium: Medium::Tcp,
                address: "0.0.0.0:40123".into(),
            }))
            .unwrap();
        assert_eq!(calls, [Call::Announce(40123)]);
        assert_eq!(
            actions,
            [],
            "a wildcard nobody resolved is not told to contacts"
        );
        let (_, actions) = lan
            .step(Event::Listening(Listening {
                medium: Medium::Tcp,
                address: "192.168.1.4:40123".into(),
            }))
            .unwrap();
        assert_eq!(actions, [Action::Publish(address("192.168.1.4:40123"))]);
        let (_, actions) = lan
            .step(Event::Discovered(Discovery {
                address: "192.168.1.9:40000".into(),
            }))
            .unwrap();
        assert_eq!(actions, [Action::Dial(address("192.168.1.9:40000"))]);
    }

    #[test]
    fn channels_carry_bytes_unchanged_both_ways() {
        let mut lan = state("");
        let (calls, _) = lan
            .step(Event::Connect(ConnectRequest {
                channel: 4,
                properties: address("10.0.0.2:7001"),
            }))
            .unwrap();
        assert_eq!(calls, [Call::Connect(4, "10.0.0.2:7001".into())]);
        assert_eq!(
            lan.step(Event::ChannelOpened(4)).unwrap().1,
            [Action::Ready(4)]
        );
        let chunk = Chunk {
            channel: 4,
            data: vec![1, 2, 3],
        };
        assert_eq!(
            lan.step(Event::Outgoing(chunk.clone())).unwrap().1,
            [Action::Write(chunk.clone())]
        );
        assert_eq!(
            lan.step(Event::Received(chunk.clone())).unwrap().1,
            [Action::Deliver(chunk)]
        );
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        for (key, value, expected) in [
            ("static-peers", "bob's laptop", "is not ip:port"),
            ("redial-ms", "5", "at least 100"),
            ("port", "70000", "port"),
            ("mdns", "maybe", "mdns"),
        ] {
            let error = Settings::parse(&[(key, value)]).unwrap_err();
            assert!(error.contains(expected), "{key}={value}: {error}");
        }
        let connect_without_address = state("")
            .step(Event::Connect(ConnectRequest {
                channel: 1,
                properties: Vec::new(),
            }))
            .unwrap()
            .1;
        assert_eq!(connect_without_address, [Action::Close(1)]);
    }
}
