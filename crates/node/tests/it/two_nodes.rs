//! Two real nodes in one test process: SQLCipher files, sockets on loopback, plugins in wasmtime.

use courier_proto::sync::timer::Timer;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use courier_config::Config;
use courier_node::{Node, Notice, Pacing, RunningNode};
use courier_proto::contact_link::ContactLink;
use courier_proto::identity::Identity;
use courier_storage::{Database, Draft, Passphrase};

use courier_plugin_host::testing::Fixture;

/// One person's node: a database and the plugins its configs load.
pub struct Side {
    path: PathBuf,
    plugins: Fixture,
}

impl Side {
    /// A new identity called `name` in `root`, with `plugins` to load.
    pub fn new(root: &Path, name: &str, plugins: &[&str]) -> Side {
        let side = Side {
            path: root.join(format!("{name}.db")),
            plugins: Fixture::with_plugins(plugins),
        };
        side.db()
            .create_identity(&Identity::generate(name))
            .unwrap();
        side
    }

    /// A config of `transports` (TOML sections) over this side's plugins.
    pub fn config(&self, transports: &str) -> Config {
        self.plugins.config(transports)
    }

    /// Another connection to this side's database.
    pub fn db(&self) -> Database {
        Database::open(&self.path, &Passphrase::new("two nodes".into()).unwrap()).unwrap()
    }

    /// Starts the node with `config`, dialing with `pacing`.
    pub fn start(&self, config: &Config, pacing: Pacing) -> RunningNode {
        self.start_with(config, pacing, courier_drivers::all())
    }

    /// [`start`](Self::start) with these drivers.
    pub fn start_with(
        &self,
        config: &Config,
        pacing: Pacing,
        drivers: Vec<courier_io::StartDriver>,
    ) -> RunningNode {
        Node::spawn_paced(self.db(), config, drivers, pacing).expect("the node starts")
    }

    /// This side's link, for the other to add.
    pub fn link(&self) -> ContactLink {
        self.db().identity().unwrap().unwrap().link()
    }
}

/// A port free now and never handed out before in this process: a port another story's node
/// still dials (its peer stopped) must not become this story's.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap();
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Waits up to 30 s for a notice that `hit` accepts.
pub fn wait_for(notices: &Receiver<Notice>, what: &str, mut hit: impl FnMut(&Notice) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match notices.recv_timeout(left) {
            Ok(notice) if hit(&notice) => return,
            Ok(_) => {}
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

/// Waits up to 30 s until `done` holds.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Both sides add each other's link and wait until the handshake made them contacts.
pub fn introduce(alice: (&Side, &RunningNode), bob: (&Side, &RunningNode)) {
    let (a, a_node) = alice;
    let (b, b_node) = bob;
    a.db()
        .add_pending_contact(&b.link(), "bob", now_ms())
        .unwrap();
    b.db()
        .add_pending_contact(&a.link(), "alice", now_ms())
        .unwrap();
    for node in [a_node, b_node] {
        node.handle.wake();
        wait_for(&node.notices, "the handshake", |x| {
            matches!(x, Notice::Introduced { .. })
        });
    }
}

pub fn send(db: &mut Database, to: &str, text: &str) {
    let contact = db.contact(to).unwrap();
    db.send(
        contact,
        Draft::new("courier/text", 1, text.as_bytes().to_vec()),
        now_ms(),
        Timer::OFF,
    )
    .unwrap();
}

pub fn texts_from(db: &Database, alias: &str) -> Vec<String> {
    db.received(db.contact(alias).unwrap())
        .unwrap()
        .into_iter()
        .map(|m| String::from_utf8(m.body).unwrap())
        .collect()
}
