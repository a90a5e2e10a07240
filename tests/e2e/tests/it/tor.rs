//! Tor between real `courier` processes, on a private Tor network of real relays on loopback
//! (`courier-tor-net`): nothing here reaches the public network.

use std::time::Duration;

use courier_e2e::{
    Person, Tools, introduce, noise_png, wait_for_contact_within, wait_for_delivery, wait_until,
};
use courier_tor_net::TorNetwork;

use crate::{pair, scratch};

/// A running private network, or `None` (and a SKIPPED line) where tor is not installed.
pub(crate) fn network(root: &std::path::Path) -> Option<TorNetwork> {
    if !TorNetwork::available() {
        println!("SKIPPED: tor and tor-gencert are not installed (apt-get install tor)");
        return None;
    }
    let net = TorNetwork::start(&root.join("tor-net")).unwrap();
    net.wait_until_ready(Duration::from_secs(240)).unwrap();
    Some(net)
}

/// Whether `person` has been told `alias`'s onion address (in a sync session).
fn knows_onion(person: &Person, alias: &str) -> anyhow::Result<bool> {
    let db = person.database()?;
    let contact = db.contact(alias)?;
    Ok(db
        .peer_properties("tor")?
        .iter()
        .any(|(c, props)| *c == contact && props.iter().any(|(k, _)| k == "onion")))
}

/// What `person` shows from `alias`, in order.
fn shown_from(person: &Person, alias: &str) -> Vec<String> {
    person
        .messages(alias)
        .unwrap()
        .into_iter()
        .filter(|r| r.direction == "in")
        .map(|r| r.summary)
        .collect()
}

#[test]
fn alice_and_bob_who_only_exchanged_links_meet_over_tor_and_what_waits_for_bob_arrives_once() {
    let root = scratch();
    let Some(net) = network(root.path()) else {
        return;
    };
    // Tor only, as in high-risk.toml: no LAN, so no other way to meet.
    let tools = Tools::locate().unwrap();
    let mut alice = Person::init(&tools, root.path(), "alice").unwrap();
    let mut bob = Person::init(&tools, root.path(), "bob").unwrap();
    for person in [&mut alice, &mut bob] {
        person.lan = false;
        person.tor = Some(net.config_section());
        person.write_config("", "loopback").unwrap();
    }
    introduce(&alice, &bob).unwrap();
    alice.serve().unwrap();
    bob.serve().unwrap();
    wait_for_contact_within(&alice, &bob, Duration::from_secs(180)).unwrap();

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
    let shown = shown_from(&bob, "alice");
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

#[test]
fn contacts_who_met_on_the_lan_learn_each_others_onion_there_and_go_on_over_tor_alone() {
    let root = scratch();
    let Some(net) = network(root.path()) else {
        return;
    };
    let (mut alice, mut bob) = pair(root.path()).unwrap();
    // Both add Tor beside the LAN: its address comes up mid-session and is told at once.
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
    // Then the LAN is gone.
    for person in [&mut alice, &mut bob] {
        person.stop().unwrap();
        person.lan = false;
        person.write_config("", "loopback").unwrap();
        person.serve().unwrap();
    }
    alice
        .cli(&["send", "bob", "--text", "the lan is gone; tor is not"])
        .unwrap();
    wait_for_delivery(&alice, &bob, 1, Duration::from_secs(180)).unwrap();
    assert_eq!(shown_from(&bob, "alice"), ["the lan is gone; tor is not"]);
}
