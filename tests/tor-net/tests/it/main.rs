//! The private Tor network the Tor transport is tested on: real `tor` processes on loopback.

use std::time::{Duration, Instant};

use courier_tor_net::TorNetwork;

#[test]
fn three_authorities_two_exits_and_four_relays_on_loopback_agree_on_a_consensus_naming_them_all() {
    if !TorNetwork::available() {
        // CI installs tor (.ci/run); a machine without it says so rather than pretending.
        println!("SKIPPED: tor and tor-gencert are not installed (apt-get install tor)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let net = TorNetwork::start(dir.path()).unwrap();
    assert_eq!(net.authorities().len(), 3);
    for a in net.authorities() {
        assert_eq!(a.v3ident.len(), 40, "{a:?}");
        assert_eq!(a.rsa_identity.len(), 40, "{a:?}");
        assert!(a.ed_identity.len() >= 43, "{a:?}");
    }
    let counts = net.wait_until_ready(Duration::from_secs(240)).unwrap();
    println!(
        "private Tor network ready in {:.0} s: {counts:?}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(counts.relays, 9);
    // Every relay is voted Exit in a testing network; only the two exits' policies let anything out,
    // and only to loopback.
    assert!(
        counts.exits >= 2 && counts.guards >= 3 && counts.hsdirs >= 3,
        "{counts:?}"
    );
    // No node of it knows the public network.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let torrc = std::fs::read_to_string(entry.unwrap().path().join("torrc")).unwrap();
        assert!(torrc.contains("UseDefaultFallbackDirs 0"));
        assert_eq!(torrc.matches("DirAuthority ").count(), 3);
    }
}
