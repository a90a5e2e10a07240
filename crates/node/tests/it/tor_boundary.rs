//! What crosses into a Tor transport plugin, read whole: a test plugin runs the real Tor plugin's
//! state machine and logs every event it is handed. Two real nodes who only exchanged links meet
//! over a private Tor network, make the handshake and exchange a text; nothing the plugin was told
//! holds an onion key, a meeting secret, who a contact is, or a plaintext.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use courier_node::{Notice, Pacing};
use courier_tor_net::TorNetwork;

use crate::two_nodes::{Side, now_ms, send, wait_for};

/// Everything logged by anyone in this process, from the moment the test starts.
#[derive(Clone, Default)]
struct Everything(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Everything {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_tor_plugin_is_handed_addresses_and_ciphertext_never_a_key_or_who_a_contact_is() {
    if !TorNetwork::available() {
        println!("SKIPPED: tor and tor-gencert are not installed (apt-get install tor)");
        return;
    }
    // The nodes log on their own threads: only a global subscriber hears them.
    let log = Everything::default();
    let writer = log.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish(),
    )
    .expect("no other test in this binary sets a global subscriber");

    let root = tempfile::tempdir().unwrap();
    let net = TorNetwork::start(&root.path().join("net")).unwrap();
    net.wait_until_ready(Duration::from_secs(240)).unwrap();
    let alice = Side::new(root.path(), "alice", &["tor-recorder"]);
    let bob = Side::new(root.path(), "bob", &["tor-recorder"]);
    let section = format!(
        "[transports.tor]\nplugin = \"tor-recorder\"\ngrant = [\"tor-stream\", \"log\", \"clock\"]\n\n{}",
        net.config_section()
    );
    let start = |side: &Side, name: &str, seed: u8| {
        let config = side.config(&section);
        let tor = courier_drivers::tor::TorSettings {
            state_dir: root.path().join(name).join("tor-state"),
            cache_dir: root.path().join(name).join("tor-cache"),
            network: config.tor.clone(),
            onion_key: Some(zeroize::Zeroizing::new([seed; 32])),
        };
        side.start_with(&config, Pacing::default(), courier_drivers::with_tor(tor))
    };
    alice
        .db()
        .add_pending_contact(&bob.link(), "bob", now_ms())
        .unwrap();
    bob.db()
        .add_pending_contact(&alice.link(), "alice", now_ms())
        .unwrap();
    let a = start(&alice, "alice", 0xa1);
    let b = start(&bob, "bob", 0xb2);
    for node in [&a, &b] {
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        loop {
            match node.notices.recv_timeout(Duration::from_secs(1)) {
                Ok(Notice::Introduced { .. }) => break,
                _ => assert!(
                    std::time::Instant::now() < deadline,
                    "no handshake over Tor"
                ),
            }
        }
    }
    let secret_text = "the meeting is at nine, tell nobody";
    send(&mut alice.db(), "bob", secret_text);
    a.handle.wake();
    wait_for(&b.notices, "the text over Tor", |n| {
        matches!(n, Notice::Received { .. })
    });
    a.stop().unwrap();
    b.stop().unwrap();

    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let crossed: String = log
        .lines()
        .filter(|l| l.contains("crossed "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        crossed.contains("Listening"),
        "the plugin heard its listener"
    );
    assert!(
        crossed.contains("Discovered"),
        "and the meeting point it dials"
    );
    assert!(crossed.contains("chunk on"), "and carried stream bytes");
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut secrets = vec![
        ("alice's onion key", hex(&[0xa1; 32])),
        ("bob's onion key", hex(&[0xb2; 32])),
        ("the text", hex(secret_text.as_bytes())),
    ];
    for (who, side) in [("alice", &alice), ("bob", &bob)] {
        let identity = side.db().identity().unwrap().unwrap();
        secrets.push(("a static public key", hex(&identity.handshake_public())));
        let (handshake, signing) = identity.secrets();
        secrets.push(("a static secret", hex(&handshake)));
        secrets.push(("a signing secret", hex(&signing)));
        secrets.push(("an alias", format!("\"{who}\"")));
    }
    for (what, needle) in &secrets {
        assert!(
            !crossed.contains(needle.as_str()),
            "{what} crossed into the plugin"
        );
    }
}
