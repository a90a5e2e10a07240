//! Tor between real `courier` processes, on a private Tor network of real relays on loopback
//! (`courier-tor-net`): nothing here reaches the public network.

use std::time::Duration;

use courier_e2e::{Person, noise_png, wait_for_delivery, wait_until};
use courier_tor_net::TorNetwork;

use crate::{pair, scratch};

/// Whether `person` has been told `alias`'s onion address (in a sync session over another medium).
fn knows_onion(person: &Person, alias: &str) -> anyhow::Result<bool> {
    let db = person.database()?;
    let contact = db.contact(alias)?;
    Ok(db
        .peer_properties("tor")?
        .iter()
        .any(|(c, props)| *c == contact && props.iter().any(|(k, _)| k == "onion")))
}

#[test]
fn alice_and_bob_who_met_on_the_lan_talk_over_tor_alone_and_what_waits_for_bob_arrives_once() {
    if !TorNetwork::available() {
        println!("SKIPPED: tor and tor-gencert are not installed (apt-get install tor)");
        return;
    }
    let root = scratch();
    let net = TorNetwork::start(&root.path().join("tor-net")).unwrap();
    net.wait_until_ready(Duration::from_secs(240)).unwrap();
    let (mut alice, mut bob) = pair(root.path()).unwrap();
    // Both add Tor beside the LAN; in their next LAN session they tell each other their onions.
    for person in [&mut alice, &mut bob] {
        person.stop().unwrap();
        person.tor = Some(net.config_section());
    }
    let (alice_port, bob_port) = (alice.port, bob.port);
    alice.configure(&[bob_port], false, "loopback").unwrap();
    bob.configure(&[alice_port], false, "loopback").unwrap();
    alice.serve().unwrap();
    bob.serve().unwrap();
    wait_until(
        Duration::from_secs(60),
        "each is told the other's onion",
        || Ok(knows_onion(&alice, "bob")? && knows_onion(&bob, "alice")?),
    )
    .unwrap();

    // Then the LAN is gone: Tor only, as in high-risk.toml.
    for person in [&mut alice, &mut bob] {
        person.stop().unwrap();
        person.lan = false;
        person.write_config("", "loopback").unwrap();
        person.serve().unwrap();
    }
    let texts: Vec<String> = (1..=3).map(|i| format!("over tor, note {i}")).collect();
    for text in &texts {
        alice.cli(&["send", "bob", "--text", text]).unwrap();
    }
    let photo = root.path().join("photo.png");
    std::fs::write(&photo, noise_png(820, 820, 7)).unwrap();
    assert!(std::fs::metadata(&photo).unwrap().len() > 2_000_000);
    alice
        .cli(&["send", "bob", "--image", photo.to_str().unwrap()])
        .unwrap();
    wait_for_delivery(&alice, &bob, 4, Duration::from_secs(240)).unwrap();
    bob.cli(&["send", "alice", "--text", "all four here, by tor"])
        .unwrap();
    wait_for_delivery(&bob, &alice, 1, Duration::from_secs(120)).unwrap();

    // Bob goes away; alice queues; bob comes back.
    bob.stop().unwrap();
    let later: Vec<String> = (4..=5).map(|i| format!("over tor, note {i}")).collect();
    for text in &later {
        alice.cli(&["send", "bob", "--text", text]).unwrap();
    }
    bob.serve().unwrap();
    wait_for_delivery(&alice, &bob, 6, Duration::from_secs(240)).unwrap();
    let shown: Vec<String> = bob
        .messages("alice")
        .unwrap()
        .into_iter()
        .filter(|r| r.direction == "in")
        .map(|r| r.summary)
        .collect();
    assert_eq!(shown.len(), 6, "{shown:?}");
    assert!(shown[3].starts_with("image 820×820"), "{}", shown[3]);
    let texts_shown: Vec<String> = shown
        .iter()
        .filter(|s| s.starts_with("over tor"))
        .cloned()
        .collect();
    let mut expected = texts.clone();
    expected.extend(later);
    assert_eq!(texts_shown, expected, "each once, in order");

    // Alice's onion service key is in her encrypted database and nowhere else in her data dir
    // (arti's state and cache included): not the seed, not the expanded secret.
    let seed = alice.database().unwrap().onion_secret().unwrap();
    let expanded = tor_llcrypto::pk::ed25519::ExpandedKeypair::from(
        &tor_llcrypto::pk::ed25519::Keypair::from_bytes(&seed),
    )
    .to_secret_key_bytes();
    let holding = courier_tor_net::files_holding(&alice.dir, &[&seed[..], &expanded[..32]]);
    let outside: Vec<_> = holding
        .iter()
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("courier.db")
        })
        .collect();
    assert!(
        outside.is_empty(),
        "the onion key is outside the database in {outside:?}"
    );
    assert!(
        alice.dir.join("tor").join("state").is_dir(),
        "arti's state was there to scan"
    );
}
