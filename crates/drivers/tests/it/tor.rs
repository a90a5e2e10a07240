//! The Tor driver on a private Tor network (`courier-tor-net`): real `tor` relays, real arti.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use courier_config::tor::{TorAuthority, TorConfig};
use courier_drivers::tor::{ONION_PORT, TorDriver, TorSettings};
use courier_io::{
    ChannelIds, Driver, DriverContext, DriverEvent, IoRequest, Medium, MediumState, TransportIndex,
};
use courier_tor_net::TorNetwork;

/// The `[tor]` section for `net`, as a node's config reads it.
fn private(net: &TorNetwork) -> TorConfig {
    let section = net.config_section();
    let config = courier_config::Config::parse(&section, "tor-net", Path::new("/"));
    config.expect("the network's [tor] section parses").tor
}

/// A Tor driver whose events land in a channel.
fn driver(
    runtime: &tokio::runtime::Runtime,
    dir: &Path,
    network: TorConfig,
    onion_key: Option<[u8; 32]>,
) -> (TorDriver, mpsc::Receiver<DriverEvent>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let cx = DriverContext {
        sink: Arc::new(move |e| {
            let _ = tx.lock().unwrap().send(e);
        }),
        ids: ChannelIds::default(),
        runtime: runtime.handle().clone(),
    };
    let settings = TorSettings {
        state_dir: dir.join("state"),
        cache_dir: dir.join("cache"),
        network,
        onion_key: onion_key.map(zeroize::Zeroizing::new),
    };
    (TorDriver::new(cx, settings), rx)
}

/// The next event matching `wanted`, within `timeout`.
fn next<T>(
    rx: &mpsc::Receiver<DriverEvent>,
    timeout: Duration,
    mut wanted: impl FnMut(DriverEvent) -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = rx.recv_timeout(left).expect("the awaited event in time");
        if let Some(found) = wanted(event) {
            return found;
        }
    }
}

#[test]
fn bob_reaches_alices_onion_service_on_a_private_tor_network_and_her_key_is_on_no_disk() {
    if !TorNetwork::available() {
        println!("SKIPPED: tor and tor-gencert are not installed (apt-get install tor)");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let net = TorNetwork::start(&root.path().join("net")).unwrap();
    net.wait_until_ready(Duration::from_secs(240)).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let seed = [0x5au8; 32];
    let alice_dir = root.path().join("alice");
    let (mut alice, alice_events) = driver(&runtime, &alice_dir, private(&net), Some(seed));
    let (mut bob, bob_events) = driver(&runtime, &root.path().join("bob"), private(&net), None);

    assert!(alice.handles(&IoRequest::TorPublishService));
    alice
        .carry_out(TransportIndex(0), IoRequest::TorPublishService, &[])
        .unwrap();
    let onion = next(&alice_events, Duration::from_secs(10), |e| match e {
        DriverEvent::Listening {
            transport: TransportIndex(0),
            medium: Medium::Tor,
            bound,
            reachable: Some(onion),
        } => {
            assert_eq!(
                bound, "an onion service",
                "the address is the plugin's, not the log's"
            );
            Some(onion)
        }
        _ => None,
    });
    assert!(onion.ends_with(".onion") && onion.len() == 62, "{onion}");

    let started = Instant::now();
    let request = IoRequest::TorConnect {
        channel: 1,
        onion: onion.clone(),
        port: ONION_PORT,
    };
    bob.carry_out(TransportIndex(0), request, &[]).unwrap();
    next(&bob_events, Duration::from_secs(180), |e| match e {
        DriverEvent::Opened { channel: 1 } => Some(()),
        DriverEvent::Failed { channel: 1, reason } => panic!("bob's connection failed: {reason}"),
        _ => None,
    });
    println!(
        "onion connection opened in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(bob.write(1, b"hello alice".to_vec()));
    let channel = next(&alice_events, Duration::from_secs(60), |e| match e {
        DriverEvent::Accepted {
            transport: TransportIndex(0),
            channel,
            name: None,
        } => Some(channel),
        _ => None,
    });
    let mut got = Vec::new();
    while got.len() < 11 {
        got.extend(next(&alice_events, Duration::from_secs(60), |e| match e {
            DriverEvent::Received { channel: c, data } if c == channel => Some(data),
            _ => None,
        }));
    }
    assert_eq!(got, b"hello alice");
    assert!(alice.write(channel, b"hi bob".to_vec()));
    let back = next(&bob_events, Duration::from_secs(60), |e| match e {
        DriverEvent::Received { channel: 1, data } => Some(data),
        _ => None,
    });
    assert_eq!(back, b"hi bob");
    bob.close(1);
    next(&alice_events, Duration::from_secs(60), |e| match e {
        DriverEvent::Closed { channel: c } if c == channel => Some(()),
        _ => None,
    });

    // The onion service's key was handed over in memory: arti's state and cache hold none of it.
    let expanded = tor_llcrypto::pk::ed25519::ExpandedKeypair::from(
        &tor_llcrypto::pk::ed25519::Keypair::from_bytes(&seed),
    );
    let secret = expanded.to_secret_key_bytes();
    let holding = courier_tor_net::files_holding(&alice_dir, &[&seed, &secret[..32]]);
    assert!(
        holding.is_empty(),
        "the onion key is on disk in {holding:?}"
    );
    assert!(
        alice_dir.join("state").is_dir(),
        "arti's state was there to scan"
    );

    // Carol enters Tor only by the network's bridge, and reaches alice too.
    let bridged = TorConfig {
        bridges: vec![net.bridge_line().to_owned()],
        ..private(&net)
    };
    let (mut carol, carol_events) = driver(&runtime, &root.path().join("carol"), bridged, None);
    let request = IoRequest::TorConnect {
        channel: 7,
        onion: onion.clone(),
        port: ONION_PORT,
    };
    carol.carry_out(TransportIndex(0), request, &[]).unwrap();
    next(&carol_events, Duration::from_secs(180), |e| match e {
        DriverEvent::Opened { channel: 7 } => Some(()),
        DriverEvent::Failed { channel: 7, reason } => {
            panic!("carol's bridged connection failed: {reason}")
        }
        _ => None,
    });
    // Dave's only bridge is a port nothing listens on: the network is fine, yet he gets nowhere,
    // which shows a bridged client enters by its bridges alone.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let cut_off = TorConfig {
        bridges: vec![format!("127.0.0.1:{dead_port} {}", "AB".repeat(20))],
        unreachable_after_secs: Some(10),
        ..private(&net)
    };
    let (mut dave, dave_events) = driver(&runtime, &root.path().join("dave"), cut_off, None);
    let request = IoRequest::TorConnect {
        channel: 8,
        onion: onion.clone(),
        port: ONION_PORT,
    };
    dave.carry_out(TransportIndex(0), request, &[]).unwrap();
    next(&dave_events, Duration::from_secs(60), |e| match e {
        DriverEvent::Medium {
            state: MediumState::Unreachable { .. },
            ..
        } => Some(()),
        DriverEvent::Medium {
            state: MediumState::Ready,
            ..
        } => panic!("dave got in without his bridge"),
        DriverEvent::Opened { channel: 8 } => panic!("dave reached alice without his bridge"),
        _ => None,
    });
    for mut d in [alice, bob, carol, dave] {
        d.shutdown();
    }
}

#[test]
fn with_no_tor_network_in_reach_the_driver_says_bootstrapping_then_unreachable_and_a_dial_fails() {
    let root = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // Authorities at ports nothing listens on: a network that is cut off.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let network = TorConfig {
        authorities: vec![TorAuthority {
            v3ident: "AB".repeat(20),
            rsa_identity: "CD".repeat(20),
            ed_identity: "4ngwAxQ6Zw2VJB241CenzfrVtT6omCDOf9yGB1XAqTs".into(),
            or_port: port,
        }],
        hsdir_interval_minutes: None,
        unreachable_after_secs: Some(3),
        ..TorConfig::default()
    };
    let (mut tor, events) = driver(&runtime, root.path(), network, Some([1; 32]));
    tor.carry_out(TransportIndex(4), IoRequest::TorPublishService, &[])
        .unwrap();
    next(&events, Duration::from_secs(10), |e| match e {
        DriverEvent::Medium {
            transport: TransportIndex(4),
            state: MediumState::Starting { .. },
        } => Some(()),
        _ => None,
    });
    let reason = next(&events, Duration::from_secs(30), |e| match e {
        DriverEvent::Medium {
            transport: TransportIndex(4),
            state: MediumState::Unreachable { reason },
        } => Some(reason),
        DriverEvent::Medium {
            state: MediumState::Ready,
            ..
        } => panic!("connected to a network that is not there"),
        _ => None,
    });
    assert!(reason.contains("still trying"), "{reason}");
    assert_eq!(
        MediumState::Unreachable { reason: "x".into() }.to_string(),
        "unreachable: x"
    );
    tor.shutdown();
}
