//! A local user without the token tries to jam alice's API: thousands of idle and slow connections
//! and WebSocket handshakes that never log in, from another user's account, against a node allowed
//! 1,024 descriptors. Her desktop app (with the token, on the connection it keeps, as HTTP clients
//! do), her `courier send` (over the Unix socket) and bob's messages to her all carry on.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use courier_e2e::{wait_for_contact, wait_until};

use super::{introduced, scratch};

/// How long the flood runs; the story measures during the middle of it.
const FLOOD_SECONDS: u64 = 30;
const MEASURE: Duration = Duration::from_secs(25);

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

/// The flooder as another user (nobody), who cannot read alice's token file; as this one where the
/// story is not root (it still has no token).
fn flood(addr: &str) -> Result<std::process::Child> {
    let flooder = env!("CARGO_BIN_EXE_api-flood");
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

#[test]
fn a_local_user_without_the_token_floods_alice_s_api_and_she_and_bob_carry_on() -> Result<()> {
    let root = scratch();
    let (mut alice, mut bob) = introduced(root.path(), root.path())?;
    alice.wrap(&["prlimit", "--nofile=1024:1024", "--"]);
    alice.serve_api()?;
    bob.serve()?;
    wait_for_contact(&alice, &bob)?;
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

    let flooder = flood(&addr)?;
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
    let output = flooder.wait_with_output()?;
    let flooded = String::from_utf8_lossy(&output.stdout);
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    println!(
        "under the flood ({}): identity p50 {:?} p99 {:?} max {:?} over {} requests on the app's connection; {fresh_ok} of {fresh_tries} on new connections answered; alice's memory {} → peak {} KiB; {sent} sends each way, slowest arrival {slowest_arrival:?}",
        flooded.trim(),
        latencies[latencies.len() / 2],
        p99,
        latencies.last().unwrap(),
        latencies.len(),
        rss_before,
        peak_kib
    );
    // What #25 promised a user under this flood: her app answered within 100 ms at p99, a
    // contact's message within 2 s, her node under 150 MB (jammed meant timeouts, a 12 s reconnect
    // and 786 MB).
    assert!(
        p99 < Duration::from_millis(100),
        "her app waited {p99:?} at p99 for an answer"
    );
    assert!(
        peak_kib * 1024 < 150_000_000,
        "alice's node grew to {peak_kib} KiB"
    );
    assert!(
        slowest_arrival < Duration::from_secs(2),
        "bob's text took {slowest_arrival:?}"
    );
    wait_until(Duration::from_secs(10), "alice's texts reach bob", || {
        Ok(bob
            .messages("alice")?
            .iter()
            .filter(|r| r.summary.starts_with("from alice"))
            .count()
            == sent)
    })?;
    assert!(alice.is_serving());
    Ok(())
}
