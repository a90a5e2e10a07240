//! Tor cut off (no relay of its network answers) beside a LAN that works: Tor says so plainly, and
//! the LAN goes on delivering. Real nodes, the real LAN and Tor plugins, the real arti client.

use courier_config::Config;
use courier_node::{MediumState, Notice, Pacing};
use courier_plugin_host::supervisor::Health;

use crate::two_nodes::{Side, free_port, introduce, send, wait_for, wait_until};

/// The LAN on loopback `port` dialing `peer`, and Tor on a network whose only authority is a port
/// nothing listens on.
fn lan_and_cut_off_tor(side: &Side, port: u16, peer: u16, dead: u16) -> Config {
    side.config(&format!(
        "[transports.lan]\nplugin = \"transport-lan\"\n\
         grant = [\"tcp\", \"mdns\", \"log\", \"clock\"]\ntcp_scope = \"loopback\"\n\
         settings = {{ port = {port}, mdns = false, redial-ms = 100, static-peers = [\"127.0.0.1:{peer}\"] }}\n\n\
         [transports.tor]\nplugin = \"transport-tor\"\ngrant = [\"tor-stream\", \"log\", \"clock\"]\n\n\
         [tor]\nunreachable_after_secs = 3\n\
         [[tor.authorities]]\nv3ident = \"{ab}\"\nrsa_identity = \"{cd}\"\n\
         ed_identity = \"4ngwAxQ6Zw2VJB241CenzfrVtT6omCDOf9yGB1XAqTs\"\nor_port = {dead}\n",
        ab = "AB".repeat(20),
        cd = "CD".repeat(20),
    ))
}

#[test]
fn with_tor_cut_off_alice_and_bob_still_talk_on_the_lan_and_tor_says_it_is_unreachable() {
    let root = tempfile::tempdir().unwrap();
    let (pa, pb, dead) = (free_port(), free_port(), free_port());
    let plugins = ["transport-lan", "transport-tor"];
    let alice = Side::new(root.path(), "alice", &plugins);
    let bob = Side::new(root.path(), "bob", &plugins);
    let start = |side: &Side, name: &str, config: &Config, seed| {
        let tor = courier_drivers::tor::TorSettings {
            state_dir: root.path().join(name).join("tor-state"),
            cache_dir: root.path().join(name).join("tor-cache"),
            network: config.tor.clone(),
            onion_key: Some(zeroize::Zeroizing::new([seed; 32])),
        };
        side.start_with(config, Pacing::default(), courier_drivers::with_tor(tor))
    };
    let (alice_config, bob_config) = (
        lan_and_cut_off_tor(&alice, pa, pb, dead),
        lan_and_cut_off_tor(&bob, pb, pa, dead),
    );
    let a = start(&alice, "alice", &alice_config, 1);
    let b = start(&bob, "bob", &bob_config, 2);
    introduce((&alice, &a), (&bob, &b));

    send(&mut alice.db(), "bob", "over the lan while tor is cut off");
    a.handle.wake();
    wait_for(&b.notices, "the text over the LAN", |n| {
        matches!(n, Notice::Received { count: 1, .. })
    });

    let tor_state = |node: &courier_node::RunningNode| {
        let states = node.handle.transports().unwrap();
        states.into_iter().find(|t| t.transport == "tor").unwrap()
    };
    wait_until("alice's Tor says it is unreachable", || {
        matches!(tor_state(&a).medium, Some(MediumState::Unreachable { .. }))
    });
    let tor = tor_state(&a);
    assert_eq!(tor.health, Health::Up, "nothing crashed");
    let said = tor.medium.unwrap().to_string();
    assert!(
        said.starts_with("unreachable: ") && said.contains("still trying"),
        "{said}"
    );
    let lan = a.handle.transports().unwrap();
    let lan = lan.iter().find(|t| t.transport == "lan").unwrap();
    assert_eq!((lan.medium.clone(), lan.contacts_linked.len()), (None, 1));
    a.stop().unwrap();
    b.stop().unwrap();
}
