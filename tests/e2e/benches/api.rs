//! The local API measured with real `courier` processes (the release build), two nodes on loopback.
//! Prints, in one run, each beside this machine's own floor measured now:
//! - `courier send` through a running node's API against one that opens the database itself
//!   (target ≤ 50 ms), beside `courier --version` (a process start, the floor of any command);
//! - 1,000 API sends a second for 30 s into a node that delivers them to a peer: latency p50/p99
//!   from each send's scheduled time (so a stall counts against it), lost and duplicated, beside
//!   one `GET /v1/identity` round trip (the HTTP floor) and an fsync (the durability floor);
//! - another local user flooding the API without the token (`courier_e2e::flood`): the owner's app
//!   answered at p99 (target < 100 ms) and a contact's text's arrival (target < 2 s), beside the
//!   same request with no flood.
//!
//! Needs `cargo xtask build-plugins` and `cargo build --release -p courier-host` first (`cargo
//! xtask bench` does both).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use courier_api_client::client::Client;
use courier_api_client::json::{Identity, SendText};
use courier_e2e::flood::flood;
use courier_e2e::{
    Person, Tools, api_pair, dialing_pair, fsync_median, introduce, median, wait_for_contact,
    wait_until,
};

const CLI_RUNS: usize = 15;
const RATE: u64 = 1_000;
const SECONDS: u64 = 30;
const SENDERS: usize = 16;

fn main() -> Result<()> {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let tools = Tools::in_target(&target, "release")?;
    let root = tempfile::tempdir()?;
    let (mut alice, a, mut bob, b) = api_pair(&tools, root.path(), true)?;

    cli_send(&mut alice)?;
    let a = {
        // `cli_send` restarted alice's node; her API has a new address and token.
        let _ = a;
        Client::of_data_dir(&alice.dir).context("alice's API files")?
    };
    load(&a, &b)?;
    alice.stop()?;
    bob.stop()?;
    flooded(&tools)?;
    Ok(())
}

/// Alice's API flooded by another user while she and bob carry on, as the flood story does.
fn flooded(tools: &Tools) -> Result<()> {
    let root = tempfile::tempdir()?;
    let (mut alice, mut bob) = dialing_pair(tools, root.path(), root.path())?;
    introduce(&alice, &bob)?;
    alice.wrap(&["prlimit", "--nofile=1024:1024", "--"]);
    let app = alice.serve_api()?;
    bob.serve()?;
    wait_for_contact(&alice, &bob)?;
    let quiet = median(200, || {
        app.get::<Identity>("/v1/identity")
            .map(drop)
            .map_err(Into::into)
    })?;
    let flooded = flood(&alice, &bob, env!("CARGO_BIN_EXE_api-flood").as_ref())?;
    println!(
        "the API flooded by another local user without the token (1,000 idle, 1,000 slow, 5,000 WebSockets):"
    );
    println!(
        "  her app's GET /v1/identity p50 {:.2} ms, p99 {:.2} ms (target < 100 ms), max {:.1} ms; {} of {} on new connections",
        ms(flooded.quantile(0.5)),
        ms(flooded.quantile(0.99)),
        ms(flooded.quantile(1.0)),
        flooded.fresh.0,
        flooded.fresh.1
    );
    println!(
        "  bob's texts arrived within {:.0} ms (target < 2,000 ms); her node's memory peaked at {} MiB",
        ms(flooded.slowest_arrival),
        flooded.memory_kib.1 / 1024
    );
    println!(
        "  machine floor: the same request with no flood {:.2} ms",
        ms(quiet)
    );
    alice.stop()?;
    bob.stop()?;
    Ok(())
}

fn cli_send(alice: &mut Person) -> Result<()> {
    let floor = median(CLI_RUNS, || alice.cli(&["--version"]).map(drop))?;
    let passphrase = std::mem::take(&mut alice.passphrase);
    let through_node = median(CLI_RUNS, || {
        alice
            .cli(&["send", "bob", "--text", "through the node"])
            .map(drop)
    })?;
    alice.passphrase = passphrase;
    // The same node without its API: each command unlocks the database and loads the plugin.
    alice.stop()?;
    alice.serve()?;
    let opening = median(CLI_RUNS, || {
        alice
            .cli(&["send", "bob", "--text", "opening the database"])
            .map(drop)
    })?;
    alice.stop()?;
    alice.serve_api()?;
    println!("courier send, median of {CLI_RUNS}:");
    println!(
        "  through a running node's API   {:>8.1} ms   (target ≤ 50 ms)",
        ms(through_node)
    );
    println!("  opening the database itself    {:>8.1} ms", ms(opening));
    println!(
        "  machine floor: courier --version {:>6.1} ms   (a process start)",
        ms(floor)
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn load(a: &Client, b: &Client) -> Result<()> {
    // This machine's floors, now: one HTTP round trip to the node, one fsync on this disk.
    let http = median(200, || {
        a.get::<Identity>("/v1/identity")
            .map(drop)
            .map_err(Into::into)
    })?;
    let fsync = fsync_median(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target")
            .as_path(),
    )?;

    let total = (RATE * SECONDS) as usize;
    let start = Instant::now() + Duration::from_millis(100);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..SENDERS {
        let (a, next) = (a.clone(), next.clone());
        workers.push(std::thread::spawn(
            move || -> Result<Vec<(usize, Duration, String)>> {
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return Ok(done);
                    }
                    // Open loop: send i is due at its slot whether or not the others have answered.
                    let due = start + Duration::from_micros(i as u64 * 1_000_000 / RATE);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let queued = a.send_text(
                        "bob",
                        &SendText {
                            content_type: "courier/text".into(),
                            text: format!("load {i}"),
                            options: Default::default(),
                            relates_to: None,
                        },
                    )?;
                    done.push((i, due.elapsed(), queued.id));
                }
            },
        ));
    }
    let mut sent = Vec::new();
    for worker in workers {
        sent.extend(worker.join().expect("a sender thread")?);
    }
    let elapsed = start.elapsed();
    let mut latencies: Vec<Duration> = sent.iter().map(|s| s.1).collect();
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];

    // Every one reaches bob, once.
    let delivered_by = Instant::now();
    wait_until(Duration::from_secs(300), "bob has every message", || {
        Ok(count_load(b)?.len() >= total)
    })?;
    let drain = delivered_by.elapsed();
    let at_bob = count_load(b)?;
    let lost = (0..total)
        .filter(|i| !at_bob.contains_key(&format!("load {i}")))
        .count();
    let duplicated: usize = at_bob.values().map(|n| n.saturating_sub(1)).sum();
    println!(
        "load: {total} API sends at {RATE}/s for {SECONDS} s ({SENDERS} clients), delivered to a peer:"
    );
    println!(
        "  sent in {:.1} s ({:.0}/s achieved); latency from each send's slot p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        ms(p(0.50)),
        ms(p(0.99)),
        ms(p(1.0))
    );
    println!(
        "  at the peer {:.1} s after the last send: {lost} lost, {duplicated} duplicated (of {total})",
        drain.as_secs_f64()
    );
    println!(
        "  machine floors: GET /v1/identity {:.2} ms; fsync on this disk {:.3} ms",
        ms(http),
        ms(fsync)
    );
    if lost > 0 || duplicated > 0 {
        bail!("{lost} lost and {duplicated} duplicated");
    }
    Ok(())
}

/// How many times bob holds each `load N` text.
fn count_load(b: &Client) -> Result<HashMap<String, usize>> {
    let mut counts = HashMap::new();
    for m in b.conversation("alice")? {
        if m.summary.starts_with("load ") {
            *counts.entry(m.summary).or_insert(0) += 1;
        }
    }
    Ok(counts)
}
