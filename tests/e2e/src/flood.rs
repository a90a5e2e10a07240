//! Another local user without the token floods a node's API (the `api-flood` binary, as user
//! nobody where this runs as root) while its owner's app, her `courier send` and a contact's
//! messages carry on: what the flood story checks and the API bench measures.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{Person, wait_until};

/// How long the flood runs; the owner's requests are measured during the middle of it.
const FLOOD_SECONDS: u64 = 30;
const MEASURE: Duration = Duration::from_secs(25);

/// What the owner met under the flood.
#[derive(Debug)]
pub struct Flooded {
    /// What the flooder said (connections opened, and closed by the node).
    pub flooder: String,
    /// `GET /v1/identity` on the app's kept connection, each answer's time, sorted.
    pub latencies: Vec<Duration>,
    /// Requests with the token on new connections: answered, and tried.
    pub fresh: (usize, usize),
    /// The node's resident memory before the flood and its peak during it, in KiB.
    pub memory_kib: (u64, u64),
    /// Texts sent each way (alice's through her CLI, bob's to her).
    pub sent: usize,
    /// The slowest of bob's texts to reach alice.
    pub slowest_arrival: Duration,
}

impl Flooded {
    /// The `q` quantile of the app's answer times.
    pub fn quantile(&self, q: f64) -> Duration {
        let at = ((self.latencies.len() as f64 * q) as usize).min(self.latencies.len() - 1);
        self.latencies[at]
    }
}

impl std::fmt::Display for Flooded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "under the flood ({}): identity p50 {:?} p99 {:?} max {:?} over {} requests on the app's connection; {} of {} on new connections answered; alice's memory {} → peak {} KiB; {} sends each way, slowest arrival {:?}",
            self.flooder,
            self.quantile(0.5),
            self.quantile(0.99),
            self.quantile(1.0),
            self.latencies.len(),
            self.fresh.0,
            self.fresh.1,
            self.memory_kib.0,
            self.memory_kib.1,
            self.sent,
            self.slowest_arrival
        )
    }
}

/// Floods the API of `alice` (serving it, her contact `bob` serving too) from `flooder` (the
/// `api-flood` binary) and measures what she meets; checks that every text of hers reached bob.
pub fn flood(alice: &Person, bob: &Person, flooder: &Path) -> Result<Flooded> {
    let token = alice.api_token()?;
    let addr = std::fs::read_to_string(alice.dir.join(courier_api_client::ADDRESS_FILE))?
        .trim()
        .to_owned();
    // Her desktop app: one client, its connection kept and reused, as HTTP clients do.
    let app = courier_api_client::client::Client::of_data_dir(&alice.dir).context("API files")?;
    let identity = || -> Result<Duration> {
        let at = Instant::now();
        let _: serde_json::Value = app.get("/v1/identity")?;
        Ok(at.elapsed())
    };
    identity()?;
    let rss_before = alice.resident_kib()?;

    let flooding = start_flooder(flooder, &addr)?;
    std::thread::sleep(Duration::from_secs(3));
    let started = Instant::now();
    let (mut latencies, mut peak_kib) = (Vec::new(), rss_before);
    let (mut sent, mut slowest_arrival) = (0, Duration::ZERO);
    let (mut fresh_ok, mut fresh_tries) = (0, 0);
    let mut next_message = Instant::now();
    while started.elapsed() < MEASURE {
        latencies.push(identity()?);
        // A new connection competes with the flood's strangers for a place: counted, not required.
        fresh_tries += 1;
        fresh_ok += usize::from(identity_fresh(&addr, &token).is_ok());
        peak_kib = peak_kib.max(alice.resident_kib()?);
        if Instant::now() >= next_message {
            // Her own `courier send`, through the API's Unix socket; and bob's message to her.
            sent += 1;
            alice.cli(&["send", "bob", "--text", &format!("from alice {sent}")])?;
            let text = format!("from bob {sent}");
            let at = Instant::now();
            bob.cli(&["send", "alice", "--text", &text])?;
            wait_until(Duration::from_secs(10), "bob's text reaches alice", || {
                Ok(alice.messages("bob")?.iter().any(|r| r.summary == text))
            })?;
            slowest_arrival = slowest_arrival.max(at.elapsed());
            next_message = Instant::now() + Duration::from_secs(3);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = flooding.wait_with_output()?;
    latencies.sort();
    wait_until(Duration::from_secs(10), "alice's texts reach bob", || {
        Ok(bob
            .messages("alice")?
            .iter()
            .filter(|r| r.summary.starts_with("from alice"))
            .count()
            == sent)
    })?;
    Ok(Flooded {
        flooder: String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        latencies,
        fresh: (fresh_ok, fresh_tries),
        memory_kib: (rss_before, peak_kib),
        sent,
        slowest_arrival,
    })
}

/// `GET /v1/identity` with the token on a fresh connection; how long the whole answer took.
fn identity_fresh(addr: &str, token: &str) -> Result<Duration> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET /v1/identity HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    if !answer.starts_with("HTTP/1.1 200") {
        bail!("identity answered {answer:?}");
    }
    Ok(started.elapsed())
}

/// The flooder as another user (nobody), who cannot read alice's token file; as this one where
/// this is not root (it still has no token).
fn start_flooder(flooder: &Path, addr: &str) -> Result<std::process::Child> {
    let args = [
        addr.to_owned(),
        "1000".into(),
        "1000".into(),
        "5000".into(),
        FLOOD_SECONDS.to_string(),
    ];
    let root =
        std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    let mut command = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(flooder);
        c
    } else {
        println!("not root: the flood runs as this user, still without the token");
        Command::new(flooder)
    };
    Ok(command.args(args).stdout(Stdio::piped()).spawn()?)
}
