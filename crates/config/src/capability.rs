//! Capabilities a plugin can be granted, and the scope checks that bound them.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use crate::world::World;

/// One host import interface a plugin may be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// Write to the host log.
    Log,
    /// Read the wall clock.
    Clock,
    /// Read the host CSPRNG.
    Random,
    /// TCP connections within a scope.
    Tcp,
    /// Streams over Tor.
    TorStream,
    /// Bluetooth LE.
    Ble,
    /// mDNS announce and browse.
    Mdns,
    /// Files in one directory.
    Files,
    /// The mailboxes this node may use, through the host (addresses within the `tcp` scope).
    Mailbox,
}

impl Capability {
    /// Every capability, in the order of the WIT world.
    pub const ALL: [Capability; 9] = [
        Capability::Log,
        Capability::Clock,
        Capability::Random,
        Capability::Tcp,
        Capability::TorStream,
        Capability::Ble,
        Capability::Mdns,
        Capability::Files,
        Capability::Mailbox,
    ];

    /// The name used in manifests and configs, which is also the WIT interface name.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Clock => "clock",
            Capability::Random => "random",
            Capability::Tcp => "tcp",
            Capability::TorStream => "tor-stream",
            Capability::Ble => "ble",
            Capability::Mdns => "mdns",
            Capability::Files => "files",
            Capability::Mailbox => "mailbox",
        }
    }

    /// Whether plugins of `world` can be granted this capability at all.
    pub fn allowed_in(self, world: World) -> bool {
        match world {
            World::Transport => true,
            // Message types see plaintext; they get no way to move it anywhere.
            World::MessageType => matches!(
                self,
                Capability::Log | Capability::Clock | Capability::Random
            ),
        }
    }

    /// The capability behind a `courier:plugin` interface name, if that interface is one.
    pub fn from_interface(interface: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.name() == interface)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A capability name that is not one of [`Capability::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown capability {0:?}; known ones are log, clock, random, tcp, tor-stream, ble, mdns, files, mailbox"
)]
pub struct UnknownCapability(pub String);

impl FromStr for Capability {
    type Err = UnknownCapability;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownCapability(s.to_owned()))
    }
}

/// Which IP addresses a `tcp` grant may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TcpScope {
    /// 127.0.0.0/8 and ::1 only.
    Loopback,
    /// Loopback, private (RFC 1918, fc00::/7) and link-local ranges: the local network, never the internet.
    #[default]
    Lan,
    /// Any unicast address.
    Any,
}

impl TcpScope {
    /// The name configs use (`tcp_scope = "lan"`).
    pub fn name(self) -> &'static str {
        match self {
            TcpScope::Loopback => "loopback",
            TcpScope::Lan => "lan",
            TcpScope::Any => "any",
        }
    }

    /// Whether `addr` is inside this scope.
    pub fn permits(self, addr: &SocketAddr) -> bool {
        let ip = addr.ip();
        if ip.is_unspecified() || ip.is_multicast() {
            return false;
        }
        match self {
            TcpScope::Loopback => ip.is_loopback(),
            TcpScope::Lan => ip.is_loopback() || is_local_network(ip),
            TcpScope::Any => true,
        }
    }
}

fn is_local_network(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            // fc00::/7 unique local, fe80::/10 link-local.
            (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

/// What a plugin was granted: the capabilities and the scope of each that has one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Granted capabilities.
    pub capabilities: Vec<Capability>,
    /// Reach of the `tcp` grant, and of the `mailbox` grant's TCP.
    pub tcp_scope: TcpScope,
    /// The directory a `files` grant is confined to.
    pub files_dir: Option<PathBuf>,
}

impl Grants {
    /// Whether `capability` is granted.
    pub fn has(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }

    /// What these grants make it possible to reveal, whatever the plugin declares: a `tcp` or
    /// `mailbox` grant beyond loopback shows our IP address to whoever we reach, an `mdns` grant announces us to the
    /// network, and a `ble` grant shows us (and roughly where we are) to scanners nearby.
    pub fn possible_reveals(&self) -> Vec<Reveal> {
        let mut reveals = Vec::new();
        let tcp = self.has(Capability::Tcp) || self.has(Capability::Mailbox);
        if tcp && self.tcp_scope != TcpScope::Loopback {
            reveals.push(Reveal::IpAddress);
        }
        if self.has(Capability::Mdns) || self.has(Capability::Ble) {
            reveals.push(Reveal::Presence);
        }
        if self.has(Capability::Ble) {
            reveals.push(Reveal::Location);
        }
        reveals
    }
}

/// Something using a transport can show an observer, as transports declare and profiles forbid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reveal {
    /// Our IP address, to peers or the network.
    IpAddress,
    /// That we are here and running Courier.
    Presence,
    /// Roughly where we are.
    Location,
}

impl Reveal {
    /// Every reveal, in the order of the WIT `reveals` flags.
    pub const ALL: [Reveal; 3] = [Reveal::IpAddress, Reveal::Presence, Reveal::Location];

    /// The name configs and front ends use.
    pub fn name(self) -> &'static str {
        match self {
            Reveal::IpAddress => "ip-address",
            Reveal::Presence => "presence",
            Reveal::Location => "location",
        }
    }
}

impl fmt::Display for Reveal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Reveal {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reveal::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("{s:?} is not something a transport reveals; known ones are ip-address, presence, location"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn lan_scope_reaches_private_and_link_local_but_not_the_internet() {
        for ok in [
            "127.0.0.1:1",
            "10.1.2.3:7",
            "192.168.1.4:7001",
            "172.16.0.9:80",
            "169.254.3.3:9",
            "[fd00::1]:5",
            "[fe80::1]:5",
            "[::1]:1",
        ] {
            assert!(TcpScope::Lan.permits(&addr(ok)), "{ok} should be LAN");
        }
        for bad in [
            "8.8.8.8:53",
            "203.0.113.7:443",
            "[2001:db8::1]:443",
            "0.0.0.0:1",
            "224.0.0.251:5353",
        ] {
            assert!(
                !TcpScope::Lan.permits(&addr(bad)),
                "{bad} should not be LAN"
            );
        }
    }

    #[test]
    fn loopback_scope_is_narrower_than_lan() {
        assert!(TcpScope::Loopback.permits(&addr("127.0.0.1:9")));
        assert!(!TcpScope::Loopback.permits(&addr("192.168.1.1:9")));
        assert!(TcpScope::Any.permits(&addr("8.8.8.8:53")));
    }

    #[test]
    fn message_types_can_never_be_given_the_network() {
        for c in Capability::ALL {
            let expected = matches!(c, Capability::Log | Capability::Clock | Capability::Random);
            assert_eq!(c.allowed_in(World::MessageType), expected, "{c}");
            assert!(c.allowed_in(World::Transport));
        }
    }

    #[test]
    fn grants_beyond_loopback_reveal_what_their_medium_shows() {
        let grants = |capabilities: &[Capability], tcp_scope| Grants {
            capabilities: capabilities.to_vec(),
            tcp_scope,
            files_dir: None,
        };
        use Capability as C;
        let cases = [
            (
                grants(&[C::Tcp, C::Log], TcpScope::Lan),
                vec![Reveal::IpAddress],
            ),
            (grants(&[C::Tcp], TcpScope::Any), vec![Reveal::IpAddress]),
            (grants(&[C::Tcp], TcpScope::Loopback), vec![]),
            (
                grants(&[C::Mailbox], TcpScope::Lan),
                vec![Reveal::IpAddress],
            ),
            (grants(&[C::Mailbox], TcpScope::Loopback), vec![]),
            (
                grants(&[C::Tcp, C::Mdns], TcpScope::Lan),
                vec![Reveal::IpAddress, Reveal::Presence],
            ),
            (
                grants(&[C::Ble], TcpScope::Lan),
                vec![Reveal::Presence, Reveal::Location],
            ),
            (
                grants(
                    &[C::TorStream, C::Files, C::Clock, C::Random],
                    TcpScope::Lan,
                ),
                vec![],
            ),
        ];
        for (grants, reveals) in cases {
            assert_eq!(grants.possible_reveals(), reveals, "{grants:?}");
        }
        for r in Reveal::ALL {
            assert_eq!(r.name().parse::<Reveal>(), Ok(r));
        }
        assert!("gps".parse::<Reveal>().is_err());
    }

    #[test]
    fn capability_names_round_trip() {
        for c in Capability::ALL {
            assert_eq!(c.name().parse::<Capability>().unwrap(), c);
            assert_eq!(Capability::from_interface(c.name()), Some(c));
        }
        assert!("network".parse::<Capability>().is_err());
    }
}
