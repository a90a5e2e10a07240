//! The tests' private networks. A private Tor network on loopback, for tests and benches: three directory authorities, two exits
//! (to loopback only) and middle relays, each a real `tor` (Debian's package) started from a torrc
//! written by [`torrc`]. Nothing reaches the public network: no node knows a public authority.
//!
//! ```no_run
//! let dir = tempfile::tempdir()?;
//! let net = courier_tor_net::TorNetwork::start(dir.path())?;
//! net.wait_until_ready(std::time::Duration::from_secs(180))?;
//! for a in net.authorities() { println!("{} {}", a.v3ident, a.or_port); }
//! # anyhow::Ok(())
//! ```

pub mod bluezoo;
pub mod torrc;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use torrc::{AuthorityLine, ConsensusCounts, Node, OnionLines, Role};

/// Authorities, exits and middle relays (and one bridge beside them): a network small enough for two cores, big enough for
/// onion services (guards, HSDirs, intro and rendezvous points on distinct relays).
pub const LAYOUT: (usize, usize, usize) = (3, 2, 4);

/// One authority, with what a client needs to trust it and fetch from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// Nickname.
    pub nickname: String,
    /// Its v3 identity fingerprint (hex), which signs the consensus.
    pub v3ident: String,
    /// Its relay RSA identity fingerprint (hex).
    pub rsa_identity: String,
    /// Its relay Ed25519 identity (base64, unpadded).
    pub ed_identity: String,
    /// ORPort on 127.0.0.1 (where a client fetches directory documents by tunnelling).
    pub or_port: u16,
    /// DirPort on 127.0.0.1.
    pub dir_port: u16,
}

/// A running private network; dropping it stops every node.
#[derive(Debug)]
pub struct TorNetwork {
    dir: PathBuf,
    nodes: Vec<Node>,
    authorities: Vec<Authority>,
    bridge_line: String,
    children: Vec<Child>,
}

impl TorNetwork {
    /// Whether `tor` and `tor-gencert` are installed (`apt-get install tor`).
    pub fn available() -> bool {
        ["tor", "tor-gencert"].iter().all(|tool| {
            Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        })
    }

    /// Generates keys and torrcs under `dir` and starts every node of [`LAYOUT`].
    pub fn start(dir: &Path) -> Result<TorNetwork> {
        let (a, e, m) = LAYOUT;
        let ports = free_ports(2 * a + e + m + 1)?;
        let mut nodes = torrc::layout(a, e, m, &ports);
        // A bridge: a relay the consensus does not list, reached only by whoever is given its line.
        let bridge = Node {
            nickname: "bridge0".into(),
            role: Role::Bridge,
            or_port: ports[ports.len() - 1],
            dir_port: None,
        };
        let (bridge_identity, _) = relay_identity(&dir.join(&bridge.nickname), &bridge)?;
        let bridge_line = format!("127.0.0.1:{} {bridge_identity}", bridge.or_port);
        nodes.push(bridge);
        let mut lines = Vec::new();
        let mut authorities = Vec::new();
        for node in nodes.iter().filter(|n| n.role == Role::Authority) {
            let authority = make_authority(&dir.join(&node.nickname), node)?;
            lines.push(AuthorityLine {
                nickname: node.nickname.clone(),
                or_port: node.or_port,
                dir_port: authority.dir_port,
                v3ident: authority.v3ident.clone(),
                fingerprint: authority.rsa_identity.clone(),
            });
            authorities.push(authority);
        }
        let mut net = TorNetwork {
            dir: dir.to_owned(),
            nodes,
            authorities,
            bridge_line,
            children: Vec::new(),
        };
        for node in net.nodes.clone() {
            let node_dir = dir.join(&node.nickname);
            let child = start_tor(&node_dir, |dir| torrc::torrc(&node, dir, &lines))?;
            net.children.push(child);
        }
        Ok(net)
    }

    /// The bridge's line (`127.0.0.1:PORT FINGERPRINT`), as a `[tor] bridges` entry takes it.
    pub fn bridge_line(&self) -> &str {
        &self.bridge_line
    }

    /// The authorities, for a client's config.
    pub fn authorities(&self) -> &[Authority] {
        &self.authorities
    }

    /// The `[tor]` section of a Courier config that points its Tor client at this network.
    pub fn config_section(&self) -> String {
        let mut section = format!(
            "[tor]\nhsdir_interval_minutes = {}\n",
            torrc::hsdir_interval_minutes()
        );
        for a in &self.authorities {
            section.push_str(&format!(
                "[[tor.authorities]]\nv3ident = \"{}\"\nrsa_identity = \"{}\"\n\
                 ed_identity = \"{}\"\nor_port = {}\n",
                a.v3ident, a.rsa_identity, a.ed_identity, a.or_port
            ));
        }
        section
    }

    /// Starts a C tor client on the network, named `name`, with a SOCKS port and, when `target` is
    /// given, an onion service forwarding [`C_ONION_PORT`] to that loopback port.
    pub fn start_c_client(&self, name: &str, target: Option<u16>) -> Result<CTor> {
        let dir = self.dir.join(name);
        let socks_port = free_ports(1)?[0];
        let onion = target.map(|target| OnionLines {
            dir: dir.join("hs"),
            port: C_ONION_PORT,
            target,
        });
        let lines: Vec<AuthorityLine> = self
            .authorities
            .iter()
            .map(|a| AuthorityLine {
                nickname: a.nickname.clone(),
                or_port: a.or_port,
                dir_port: a.dir_port,
                v3ident: a.v3ident.clone(),
                fingerprint: a.rsa_identity.clone(),
            })
            .collect();
        let child = start_tor(&dir, |dir| {
            torrc::client_torrc(dir, socks_port, onion.as_ref(), &lines)
        })?;
        Ok(CTor {
            dir,
            socks_port,
            child,
        })
    }

    /// The folder holding every node's data and log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Waits until every authority serves a consensus listing every node, with enough exits, guards
    /// and onion-service directories for clients and services to build circuits.
    pub fn wait_until_ready(&self, timeout: Duration) -> Result<ConsensusCounts> {
        let started = Instant::now();
        // A bridge is in no consensus.
        let wanted = self.nodes.iter().filter(|n| n.role != Role::Bridge).count();
        loop {
            let counts: Vec<ConsensusCounts> = self
                .authorities
                .iter()
                .map(|a| {
                    let file = self
                        .dir
                        .join(&a.nickname)
                        .join("cached-microdesc-consensus");
                    torrc::count(&std::fs::read_to_string(file).unwrap_or_default())
                })
                .collect();
            let ready = |c: &ConsensusCounts| {
                c.relays == wanted && c.exits >= 2 && c.guards >= 3 && c.hsdirs >= 3
            };
            if counts.iter().all(ready) {
                return Ok(counts[0].clone());
            }
            if started.elapsed() > timeout {
                bail!(
                    "the private Tor network has no full consensus after {timeout:?}: {counts:?} \
                     (logs in {})",
                    self.dir.display()
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// The port a C tor client's onion service listens on.
pub const C_ONION_PORT: u16 = 80;

/// A C tor client on the network (see [`TorNetwork::start_c_client`]); dropping it stops it.
#[derive(Debug)]
pub struct CTor {
    dir: PathBuf,
    socks_port: u16,
    child: Child,
}

impl CTor {
    /// Its SOCKS5 address on loopback.
    pub fn socks(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.socks_port).into()
    }

    /// Waits until its log says it has bootstrapped (100%).
    pub fn wait_until_bootstrapped(&self, timeout: Duration) -> Result<()> {
        self.wait_for_log("notice.log", "Bootstrapped 100%", timeout)
    }

    /// Waits until its onion service has sent its descriptor to the directories, and returns its
    /// hostname (`….onion`).
    pub fn wait_for_onion(&self, timeout: Duration) -> Result<String> {
        self.wait_for_log("info.log", "initiated upload request", timeout)?;
        let hostname = std::fs::read_to_string(self.dir.join("hs").join("hostname"))
            .context("the onion service wrote no hostname")?;
        Ok(hostname.trim().to_owned())
    }

    fn wait_for_log(&self, file: &str, needle: &str, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        let log = self.dir.join(file);
        loop {
            if std::fs::read_to_string(&log).is_ok_and(|text| text.contains(needle)) {
                return Ok(());
            }
            if started.elapsed() >= timeout {
                bail!(
                    "the C tor client logged no {needle:?} in {timeout:?} (log: {})",
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for CTor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TorNetwork {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Makes an authority's identity: its v3 authority keys (`tor-gencert`) and its relay keys (`tor
/// --list-fingerprint`), read back as the fingerprints the network and clients are told.
fn make_authority(dir: &Path, node: &Node) -> Result<Authority> {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys)?;
    restrict(dir)?;
    let dir_port = node.dir_port.context("an authority has a DirPort")?;
    let mut gencert = Command::new("tor-gencert")
        .arg("--create-identity-key")
        .args(["--passphrase-fd", "0", "-m", "12"])
        .arg("-i")
        .arg(keys.join("authority_identity_key"))
        .arg("-s")
        .arg(keys.join("authority_signing_key"))
        .arg("-c")
        .arg(keys.join("authority_certificate"))
        .args(["-a", &format!("127.0.0.1:{dir_port}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("running tor-gencert (apt-get install tor)")?;
    // An empty passphrase: these keys live and die with the test.
    drop(gencert.stdin.take());
    let out = gencert.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "tor-gencert failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let certificate = std::fs::read_to_string(keys.join("authority_certificate"))?;
    let v3ident = certificate
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint "))
        .context("the authority certificate names its fingerprint")?
        .trim()
        .to_owned();
    let (rsa_identity, ed_identity) = relay_identity(dir, node)?;
    Ok(Authority {
        nickname: node.nickname.clone(),
        v3ident,
        rsa_identity,
        ed_identity,
        or_port: node.or_port,
        dir_port,
    })
}

/// The files under `dir` (at any depth) that hold any of `secrets` anywhere in their bytes: what a
/// test of "this key is on no disk" asserts is empty.
pub fn files_holding(dir: &Path, secrets: &[&[u8]]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for path in entries.filter_map(Result::ok).map(|e| e.path()) {
        if path.is_dir() {
            found.extend(files_holding(&path, secrets));
        } else if let Ok(bytes) = std::fs::read(&path) {
            let holds = |s: &[u8]| bytes.windows(s.len()).any(|w| w == s);
            if secrets.iter().any(|s| holds(s)) {
                found.push(path);
            }
        }
    }
    found
}

/// Makes a relay's identity keys (`tor --list-fingerprint`) and reads back its RSA fingerprint (hex)
/// and Ed25519 identity (base64).
fn relay_identity(dir: &Path, node: &Node) -> Result<(String, String)> {
    std::fs::create_dir_all(dir)?;
    restrict(dir)?;
    let out = Command::new("tor")
        .args([
            "--ignore-missing-torrc",
            "-f",
            "/dev/null",
            "--list-fingerprint",
        ])
        .arg("--DataDirectory")
        .arg(dir)
        .args([
            "--ORPort",
            &node.or_port.to_string(),
            "--Nickname",
            &node.nickname,
        ])
        .args(["--SafeLogging", "1", "--Log", "err stderr"])
        .output()
        .context("running tor --list-fingerprint")?;
    if !out.status.success() {
        bail!(
            "tor --list-fingerprint failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let read = |name: &str| -> Result<String> {
        let text = std::fs::read_to_string(dir.join(name))
            .with_context(|| format!("tor wrote no {name}"))?;
        Ok(text
            .split_whitespace()
            .nth(1)
            .with_context(|| format!("{name} is malformed"))?
            .to_owned())
    };
    let rsa_identity = std::fs::read_to_string(dir.join("fingerprint"))?
        .split_whitespace()
        .skip(1)
        .collect::<String>();
    Ok((rsa_identity, read("fingerprint-ed25519")?))
}

/// Starts a `tor` whose data lives in `dir` (made, owner only), on the torrc `torrc` writes for it.
fn start_tor(dir: &Path, torrc: impl FnOnce(&Path) -> String) -> Result<Child> {
    std::fs::create_dir_all(dir)?;
    restrict(dir)?;
    let rc = dir.join("torrc");
    std::fs::write(&rc, torrc(dir))?;
    Command::new("tor")
        .arg("-f")
        .arg(&rc)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting tor (apt-get install tor)")
}

/// Tor refuses a data directory others can read.
fn restrict(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// `n` distinct free ports on loopback (held together while picked, so none repeats).
fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    Ok(listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()?)
}
