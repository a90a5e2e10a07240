//! The torrc of each node of a private test network, from chutney's templates (`common.i`,
//! `authority.i`, `exit-v4.i`), pure so its lines are tested without starting anything.

use std::path::Path;

/// Seconds between the authorities' votes. Onion services' time periods follow from it: C tor in a
/// testing network uses 24 voting rounds (see [`hsdir_interval_minutes`]).
pub const VOTING_INTERVAL_SECS: u32 = 20;

/// The `hsdir_interval` consensus parameter arti must be told, in minutes, so its time periods
/// match the ones C tor uses in a testing network (24 voting rounds); a mismatch breaks onion
/// services.
pub fn hsdir_interval_minutes() -> u32 {
    (24 * VOTING_INTERVAL_SECS) / 60
}

/// What one node of the network is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A directory authority: votes, and serves the consensus on its DirPort.
    Authority,
    /// An exit relay, which exits to loopback only.
    Exit,
    /// A middle relay.
    Middle,
    /// A bridge: a relay that publishes no descriptor, reached by its bridge line only.
    Bridge,
}

/// One node's place in the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Tor nickname (`auth0`, `exit1`, `relay2`).
    pub nickname: String,
    /// What it does.
    pub role: Role,
    /// Its ORPort on 127.0.0.1.
    pub or_port: u16,
    /// Its DirPort on 127.0.0.1 (authorities only).
    pub dir_port: Option<u16>,
}

/// One authority as every node's `DirAuthority` line names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityLine {
    /// Nickname.
    pub nickname: String,
    /// ORPort.
    pub or_port: u16,
    /// DirPort.
    pub dir_port: u16,
    /// The v3 identity (authority certificate) fingerprint, hex.
    pub v3ident: String,
    /// The relay identity (RSA) fingerprint, hex.
    pub fingerprint: String,
}

/// The `DirAuthority` line for `a`.
pub fn dir_authority(a: &AuthorityLine) -> String {
    format!(
        "DirAuthority {} orport={} no-v2 v3ident={} 127.0.0.1:{} {}",
        a.nickname, a.or_port, a.v3ident, a.dir_port, a.fingerprint
    )
}

/// The whole torrc of `node`, whose data lives in `dir`, in a network of `authorities`.
pub fn torrc(node: &Node, dir: &Path, authorities: &[AuthorityLine]) -> String {
    let mut t = String::new();
    let mut line = |s: &str| {
        t.push_str(s);
        t.push('\n');
    };
    common(&mut line, dir);
    // A testing network: no waiting for reachability or bandwidth, every relay given the flags a
    // small network needs at once.
    for relay in [
        "AssumeReachable 1",
        "TestingDirAuthVoteExit *",
        "TestingDirAuthVoteHSDir *",
        "TestingDirAuthVoteGuard *",
        "TestingMinExitFlagThreshold 0",
        "V3AuthNIntervalsValid 2",
        "AuthDirTestReachability 0",
        "SocksPort 0",
        "Address 127.0.0.1",
        "ServerDNSDetectHijacking 0",
        "ServerDNSTestAddresses",
    ] {
        line(relay);
    }
    line(&format!("Nickname {}", node.nickname));
    line(&format!("OrPort 127.0.0.1:{}", node.or_port));
    line(&format!("ContactInfo {}@test.invalid", node.nickname));
    if let Some(dir_port) = node.dir_port {
        line(&format!("DirPort 127.0.0.1:{dir_port}"));
    }
    match node.role {
        Role::Authority => {
            for auth in [
                "AuthoritativeDirectory 1",
                "V3AuthoritativeDirectory 1",
                "ExitRelay 0",
            ] {
                line(auth);
            }
            let v = VOTING_INTERVAL_SECS;
            let delay = v / 5;
            line(&format!("TestingV3AuthInitialVotingInterval {v}"));
            line(&format!("TestingV3AuthInitialVoteDelay {delay}"));
            line(&format!("TestingV3AuthInitialDistDelay {delay}"));
            line(&format!("V3AuthVotingInterval {v}"));
            line(&format!("V3AuthVoteDelay {delay}"));
            line(&format!("V3AuthDistDelay {delay}"));
        }
        Role::Exit => {
            // Exits to loopback only: onion services need none, and nothing leaves the machine.
            for exit in [
                "ExitRelay 1",
                "ExitPolicyRejectPrivate 0",
                "ExitPolicy accept 127.0.0.0/8:*",
                "ExitPolicy reject *:*",
            ] {
                line(exit);
            }
        }
        Role::Middle => line("ExitRelay 0"),
        Role::Bridge => {
            for bridge in ["ExitRelay 0", "BridgeRelay 1", "PublishServerDescriptor 0"] {
                line(bridge);
            }
        }
    }
    for a in authorities {
        line(&dir_authority(a));
    }
    t
}

/// What every node of the network has, relay or client: a testing network (fast votes), its data
/// in `dir`, and nothing that reaches the public network.
fn common(line: &mut impl FnMut(&str), dir: &Path) {
    for common in [
        "TestingTorNetwork 1",
        "PathsNeededToBuildCircuits 0.67",
        "LearnCircuitBuildTimeout 0",
        "ShutdownWaitLength 0",
        "SafeLogging 1",
        // Nothing in a test may reach the public network: no public authority, no public relay.
        "UseDefaultFallbackDirs 0",
    ] {
        line(common);
    }
    line(&format!("DataDirectory {}", dir.display()));
    line(&format!(
        "Log notice file {}",
        dir.join("notice.log").display()
    ));
}

/// An onion service a C tor client hosts: its keys and hostname in `dir`, its virtual `port`
/// forwarded to `target` on loopback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnionLines {
    /// `HiddenServiceDir`.
    pub dir: std::path::PathBuf,
    /// The port clients connect to.
    pub port: u16,
    /// The loopback port it forwards to.
    pub target: u16,
}

/// The torrc of a C tor client on the network (no relay: no ORPort), with a SOCKS port and,
/// optionally, an onion service: the reference the Tor transport is measured against.
pub fn client_torrc(
    dir: &Path,
    socks_port: u16,
    onion: Option<&OnionLines>,
    authorities: &[AuthorityLine],
) -> String {
    let mut t = String::new();
    let mut line = |s: &str| {
        t.push_str(s);
        t.push('\n');
    };
    common(&mut line, dir);
    line(&format!("SocksPort 127.0.0.1:{socks_port}"));
    if let Some(onion) = onion {
        // Only the info log says when the descriptor went to the directories.
        line(&format!("Log info file {}", dir.join("info.log").display()));
        line(&format!("HiddenServiceDir {}", onion.dir.display()));
        line(&format!(
            "HiddenServicePort {} 127.0.0.1:{}",
            onion.port, onion.target
        ));
    }
    for a in authorities {
        line(&dir_authority(a));
    }
    t
}

/// How many relays of a consensus carry each flag the tests need, from its text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsensusCounts {
    /// Relays listed.
    pub relays: usize,
    /// With the `Exit` flag.
    pub exits: usize,
    /// With `Guard`.
    pub guards: usize,
    /// With `HSDir`.
    pub hsdirs: usize,
}

/// Counts the relays of a consensus document (`r` lines) and their flags (`s` lines).
pub fn count(consensus: &str) -> ConsensusCounts {
    let mut c = ConsensusCounts::default();
    for line in consensus.lines() {
        if line.starts_with("r ") {
            c.relays += 1;
        } else if let Some(flags) = line.strip_prefix("s ") {
            let has = |flag: &str| flags.split(' ').any(|f| f == flag);
            c.exits += usize::from(has("Exit") && !has("BadExit"));
            c.guards += usize::from(has("Guard"));
            c.hsdirs += usize::from(has("HSDir"));
        }
    }
    c
}

/// The node list for a network of `authorities`, `exits` and `middles`, on the given ports in
/// order (authorities take two each: ORPort, DirPort).
pub fn layout(authorities: usize, exits: usize, middles: usize, ports: &[u16]) -> Vec<Node> {
    let mut ports = ports.iter().copied();
    let mut next = || ports.next().expect("enough ports for the layout");
    let mut nodes = Vec::new();
    for i in 0..authorities {
        let (or_port, dir_port) = (next(), next());
        nodes.push(Node {
            nickname: format!("auth{i}"),
            role: Role::Authority,
            or_port,
            dir_port: Some(dir_port),
        });
    }
    for (role, n, name) in [
        (Role::Exit, exits, "exit"),
        (Role::Middle, middles, "relay"),
    ] {
        for i in 0..n {
            nodes.push(Node {
                nickname: format!("{name}{i}"),
                role,
                or_port: next(),
                dir_port: None,
            });
        }
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority() -> AuthorityLine {
        AuthorityLine {
            nickname: "auth0".into(),
            or_port: 5000,
            dir_port: 7000,
            v3ident: "AA".repeat(20),
            fingerprint: "BB".repeat(20),
        }
    }

    #[test]
    fn a_dir_authority_line_names_its_ports_and_both_identities() {
        assert_eq!(
            dir_authority(&authority()),
            format!(
                "DirAuthority auth0 orport=5000 no-v2 v3ident={} 127.0.0.1:7000 {}",
                "AA".repeat(20),
                "BB".repeat(20)
            )
        );
    }

    #[test]
    fn each_role_gets_its_own_lines_and_exits_reach_loopback_only() {
        let nodes = layout(1, 1, 1, &[5000, 7000, 5001, 5002]);
        assert_eq!(
            nodes
                .iter()
                .map(|n| n.nickname.as_str())
                .collect::<Vec<_>>(),
            ["auth0", "exit0", "relay0"]
        );
        let dir = Path::new("/tmp/net/auth0");
        let auth = torrc(&nodes[0], dir, &[authority()]);
        assert!(auth.contains("\nV3AuthoritativeDirectory 1\n"), "{auth}");
        assert!(auth.contains("\nDirPort 127.0.0.1:7000\n"));
        assert!(auth.contains("\nV3AuthVotingInterval 20\n"));
        assert!(auth.starts_with("TestingTorNetwork 1\n"));
        assert!(auth.ends_with(&format!("{}\n", dir_authority(&authority()))));
        let exit = torrc(&nodes[1], Path::new("/tmp/net/exit0"), &[authority()]);
        assert!(exit.contains("\nExitPolicy accept 127.0.0.0/8:*\nExitPolicy reject *:*\n"));
        assert!(!exit.contains("Authoritative"));
        let middle = torrc(&nodes[2], Path::new("/tmp/net/relay0"), &[authority()]);
        assert!(middle.contains("\nExitRelay 0\n") && !middle.contains("DirPort"));
        let bridge = Node {
            nickname: "bridge0".into(),
            role: Role::Bridge,
            or_port: 5003,
            dir_port: None,
        };
        let bridge = torrc(&bridge, Path::new("/tmp/net/bridge0"), &[authority()]);
        assert!(
            bridge.contains("\nBridgeRelay 1\nPublishServerDescriptor 0\n"),
            "{bridge}"
        );
        for t in [&auth, &exit, &middle, &bridge] {
            assert!(
                t.contains("\nUseDefaultFallbackDirs 0\n"),
                "never the public network"
            );
        }
    }

    #[test]
    fn a_c_tor_client_has_a_socks_port_and_no_relay_and_may_host_an_onion_service() {
        let dir = Path::new("/tmp/net/client0");
        let plain = client_torrc(dir, 9050, None, &[authority()]);
        assert!(plain.starts_with("TestingTorNetwork 1\n"), "{plain}");
        assert!(plain.contains("\nSocksPort 127.0.0.1:9050\n"));
        assert!(plain.contains("\nDataDirectory /tmp/net/client0\n"));
        assert!(plain.contains("\nUseDefaultFallbackDirs 0\n"));
        assert!(!plain.contains("OrPort") && !plain.contains("HiddenService"));
        assert!(plain.ends_with(&format!("{}\n", dir_authority(&authority()))));
        let onion = OnionLines {
            dir: "/tmp/net/client0/hs".into(),
            port: 80,
            target: 4000,
        };
        let service = client_torrc(dir, 9051, Some(&onion), &[authority()]);
        assert!(
            service.contains(
                "/info.log\nHiddenServiceDir /tmp/net/client0/hs\nHiddenServicePort 80 127.0.0.1:4000\n"
            ),
            "{service}"
        );
    }

    #[test]
    fn a_consensus_is_counted_by_relay_and_flag() {
        let consensus = "network-status-version 3 microdesc\n\
            r auth0 AAAA 2026-12-01 10:00:00 127.0.0.1 5000 7000\n\
            s Authority Fast Guard HSDir Running Stable V2Dir Valid\n\
            r exit0 BBBB 2026-12-01 10:00:00 127.0.0.1 5001 0\n\
            s Exit Fast Guard HSDir Running Valid\n\
            r exit1 CCCC 2026-12-01 10:00:00 127.0.0.1 5002 0\n\
            s BadExit Exit Running Valid\n";
        let expected = ConsensusCounts {
            relays: 3,
            exits: 1,
            guards: 2,
            hsdirs: 2,
        };
        assert_eq!(count(consensus), expected);
    }

    #[test]
    fn arti_is_told_the_time_period_c_tor_uses_in_a_testing_network() {
        assert_eq!(hsdir_interval_minutes(), 8);
    }
}
