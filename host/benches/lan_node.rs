//! Two real nodes on loopback (real SQLCipher files, real sockets, the real LAN plugin in wasmtime),
//! measured end to end. Prints, in one run:
//! - 10,000 queued texts delivered after the receiver reconnects (target ≤ 2 s);
//! - one text's send → delivered latency when connected, p50 and p99 (target p50 ≤ 2 ms);
//! - a 100 MB attachment end to end, as a ratio of raw single-core ChaCha20-Poly1305 (target ≥ 60%),
//!   and of this machine's ceiling measured in the same run (target ≥ 70%): the lower of what the
//!   disk takes (both ends write the attachment durably) and what the crypto every byte must go
//!   through costs on two cores.
//!
//! Needs `cargo xtask build-plugins` first (`cargo xtask bench` does it).

use courier_proto::sync::timer::Timer;
use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use courier_config::Config;
use courier_node::{Node, Notice, RunningNode};
use courier_proto::identity::Identity;
use courier_proto::sync::attachment::{assemble, parse_manifest};
use courier_proto::sync::record::MessageId;
use courier_storage::{ContactId, Database, Draft, Durability, Passphrase};

const TEXTS: usize = 10_000;
const LATENCY_SAMPLES: usize = 300;
const ATTACHMENT: usize = 100 * 1000 * 1000;

struct Side {
    name: &'static str,
    path: std::path::PathBuf,
    config: Config,
}

impl Side {
    fn new(root: &Path, name: &'static str, port: u16, peer: u16) -> Side {
        let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins");
        let text = format!(
            "[plugins]\ndir = {:?}\n[transports.lan]\nplugin = \"transport-lan\"\n\
             grant = [\"tcp\", \"mdns\", \"log\", \"clock\"]\ntcp_scope = \"loopback\"\n\
             settings = {{ port = {port}, mdns = false, redial-ms = 200, static-peers = [\"127.0.0.1:{peer}\"] }}\n",
            plugins.display().to_string()
        );
        Side {
            name,
            path: root.join(format!("{name}.db")),
            config: Config::parse(&text, name, root).expect("the bench config parses"),
        }
    }

    fn db(&self) -> Database {
        Database::open(&self.path, &Passphrase::new("bench".into()).unwrap()).unwrap()
    }

    fn start(&self) -> RunningNode {
        Node::spawn(self.db(), &self.config, courier_drivers::all()).expect("the node starts")
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Waits for notices until `count` messages were received.
fn receive(notices: &Receiver<Notice>, mut count: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while count > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match notices.recv_timeout(left) {
            Ok(Notice::Received { count: n, .. }) => count = count.saturating_sub(n),
            Ok(_) => {}
            Err(_) => panic!("timed out with {count} messages still to arrive"),
        }
    }
}

fn contact(db: &Database, alias: &str) -> ContactId {
    db.contact(alias).unwrap()
}

fn raw_aead_mb_per_s() -> f64 {
    let cipher = ChaCha20Poly1305::new(&[7u8; 32].into());
    let mut buffer = vec![0x5Au8; 64 * 1024];
    let total = 256 << 20;
    let start = Instant::now();
    for i in 0..(total / buffer.len()) {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&(i as u64).to_be_bytes());
        std::hint::black_box(
            cipher
                .encrypt_in_place_detached(&nonce.into(), &[], &mut buffer)
                .unwrap(),
        );
    }
    total as f64 / start.elapsed().as_secs_f64() / 1e6
}

/// MB/s end to end if both cores did nothing but the passes every attachment byte must take: at the
/// sender its id (SHA-256) and its seal at rest (XChaCha20-Poly1305), then its opening and the
/// transport's seal (ChaCha20-Poly1305); at the receiver the transport's opening, its id checked and
/// its seal at rest. Two SHA-256 and five AEAD passes, in 64 KiB chunks, shared perfectly by 2 cores.
/// A send also hashes the whole file for its manifest, a third SHA-256 pass this leaves out: the
/// ceiling stays the higher, stricter one.
fn crypto_ceiling_mb_per_s() -> f64 {
    use chacha20poly1305::XChaCha20Poly1305;
    use sha2::Digest;
    let mut chunk = vec![0x5Au8; 64 * 1024];
    let chunks = ATTACHMENT / chunk.len();
    let mut time = |f: &mut dyn FnMut(&mut [u8])| {
        let start = Instant::now();
        for _ in 0..chunks {
            f(&mut chunk);
        }
        start.elapsed().as_secs_f64()
    };
    let sha = time(&mut |c| {
        std::hint::black_box(sha2::Sha256::digest(&*c));
    });
    // Sealing costs what opening does: one pass of each cipher stands for either.
    let xaead = time(&mut |c| seal(&XChaCha20Poly1305::new(&[9u8; 32].into()), c));
    let aead = time(&mut |c| seal(&ChaCha20Poly1305::new(&[7u8; 32].into()), c));
    let one_core = 2.0 * sha + 3.0 * xaead + 2.0 * aead;
    (chunks * chunk.len()) as f64 / (one_core / 2.0) / 1e6
}

/// One AEAD pass over `chunk`.
fn seal<A: AeadInPlace>(cipher: &A, chunk: &mut [u8]) {
    let nonce = chacha20poly1305::aead::Nonce::<A>::default();
    std::hint::black_box(
        cipher
            .encrypt_in_place_detached(&nonce, &[], chunk)
            .unwrap(),
    );
}

/// MB/s of writing 100 MB to a file in `dir` and fsyncing it: what one end storing an attachment
/// durably cannot beat on this disk.
fn durable_write_mb_per_s(dir: &Path) -> f64 {
    use std::io::Write;
    let block = vec![0xA5u8; 64 * 1024];
    let path = dir.join("disk-probe");
    let start = Instant::now();
    let mut file = std::fs::File::create(&path).unwrap();
    for _ in 0..ATTACHMENT / block.len() {
        file.write_all(&block).unwrap();
    }
    file.sync_all().unwrap();
    let rate =
        (ATTACHMENT / block.len() * block.len()) as f64 / start.elapsed().as_secs_f64() / 1e6;
    std::fs::remove_file(path).unwrap();
    rate
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let (pa, pb) = (free_port(), free_port());
    let alice = Side::new(root.path(), "alice", pa, pb);
    let bob = Side::new(root.path(), "bob", pb, pa);
    for (me, other) in [(&alice, &bob), (&bob, &alice)] {
        let mut db = me.db();
        db.create_identity(&Identity::generate(me.name)).unwrap();
        let _ = other;
    }
    let (link_a, link_b) = (
        alice.db().identity().unwrap().unwrap().link(),
        bob.db().identity().unwrap().unwrap().link(),
    );
    alice
        .db()
        .add_pending_contact(&link_b, "bob", now_ms())
        .unwrap();
    bob.db()
        .add_pending_contact(&link_a, "alice", now_ms())
        .unwrap();

    // The handshake runs over the LAN plugin like any other link.
    let a = alice.start();
    let b = bob.start();
    let introduced = |n: &RunningNode| loop {
        if let Notice::Introduced { .. } = n.notices.recv_timeout(Duration::from_secs(30)).unwrap()
        {
            break;
        }
    };
    introduced(&a);
    introduced(&b);
    let mut alice_db = alice.db();
    let to_bob = contact(&alice_db, "bob");

    // 1. Bob is offline while alice queues 10,000 texts; then he comes back.
    b.stop().unwrap();
    alice_db
        .batch(Durability::Full, |db| {
            for i in 0..TEXTS {
                db.send(
                    to_bob,
                    Draft::new("courier/text", 1, format!("queued text {i}").into_bytes()),
                    now_ms(),
                    Timer::OFF,
                )?;
            }
            Ok::<_, courier_storage::StorageError>(())
        })
        .unwrap();
    let started = Instant::now();
    let b = bob.start();
    receive(&b.notices, TEXTS, Duration::from_secs(120));
    let backlog = started.elapsed();

    // 2. Connected: one text at a time, send (durable + wake) to stored at bob.
    std::thread::sleep(Duration::from_millis(300));
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    let mut durable = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES {
        let started = Instant::now();
        alice_db
            .send(
                to_bob,
                Draft::new("courier/text", 1, format!("ping {i}").into_bytes()),
                now_ms(),
                Timer::OFF,
            )
            .unwrap();
        durable.push(started.elapsed());
        a.handle.wake();
        receive(&b.notices, 1, Duration::from_secs(10));
        samples.push(started.elapsed());
    }
    samples.sort();
    durable.sort();
    let p50 = samples[samples.len() / 2];
    let p99 = samples[samples.len() * 99 / 100];
    let durable_p50 = durable[durable.len() / 2];

    // 3. A 100 MB attachment, from queued to every chunk stored at bob.
    let mut data = vec![0u8; ATTACHMENT];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for byte in &mut data {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state as u8;
    }
    // Queued as a user's send queues it: split, each chunk hashed and sealed, all durable at once.
    let draft = Draft::new("courier/file", 1, data.clone());
    let started = Instant::now();
    let (_, manifest) = alice_db.send(to_bob, draft, now_ms(), Timer::OFF).unwrap();
    let queued = started.elapsed();
    let parsed = parse_manifest(&manifest.body).unwrap();
    a.handle.wake();
    receive(
        &b.notices,
        parsed.chunks.len() + 1,
        Duration::from_secs(600),
    );
    let bulk = started.elapsed();
    let bob_db = bob.db();
    let from_alice = contact(&bob_db, "alice");
    let received: HashMap<MessageId, Vec<u8>> = bob_db
        .received(from_alice)
        .unwrap()
        .into_iter()
        .map(|m| (m.id(), m.body))
        .collect();
    let rebuilt = assemble(&parsed, |id| received.get(id).cloned())
        .expect("every chunk arrived")
        .expect("the attachment is intact");
    assert!(rebuilt == data, "the attachment arrived byte for byte");

    let raw = raw_aead_mb_per_s();
    let disk = durable_write_mb_per_s(root.path());
    let crypto = crypto_ceiling_mb_per_s();
    let end_to_end = ATTACHMENT as f64 / bulk.as_secs_f64() / 1e6;
    a.stop().unwrap();
    b.stop().unwrap();

    println!(
        "lan/backlog: {TEXTS} queued texts delivered after reconnect in {:.2} s (target <= 2 s)",
        backlog.as_secs_f64()
    );
    println!(
        "lan/latency: send -> delivered p50 {:.2} ms, p99 {:.2} ms over {LATENCY_SAMPLES} texts (target p50 <= 2 ms); of it, the durable send itself p50 {:.2} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        durable_p50.as_secs_f64() * 1e3
    );
    println!(
        "lan/attachment: 100 MB in {:.2} s (sent, split and queued durably, in {:.2} s, then carried and stored in {:.2} s) = {end_to_end:.0} MB/s end to end; raw ChaCha20-Poly1305 {raw:.0} MB/s; ratio {:.0}% (target >= 60%)",
        bulk.as_secs_f64(),
        queued.as_secs_f64(),
        (bulk - queued).as_secs_f64(),
        100.0 * end_to_end / raw
    );
    // Both ends write the whole attachment durably to this one disk (the sender before `send`
    // returns, the receiver before it acks), so no design beats half the disk's rate here.
    println!(
        "lan/attachment: this disk writes {disk:.0} MB/s durably; both ends storing the attachment on it caps end to end at {:.0} MB/s = {:.0}% of raw ChaCha20-Poly1305",
        disk / 2.0,
        100.0 * disk / 2.0 / raw
    );
    let ceiling = (disk / 2.0).min(crypto);
    println!(
        "lan/attachment: this machine's ceiling now: disk {:.0} MB/s, the crypto every byte needs (2 SHA-256 + 5 AEAD passes on 2 cores) {crypto:.0} MB/s; end to end {end_to_end:.0} MB/s = {:.0}% of the lower (target >= 70%)",
        disk / 2.0,
        100.0 * end_to_end / ceiling
    );
}
