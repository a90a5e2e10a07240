//! Costs against the history: alice's node (the release `courier`, `serve --api`) with 10⁴, 10⁵
//! and 10⁶ messages with bob, and with 1,000 contacts pending or made, measured as a user meets them:
//! the newest page of 50, the list of conversations (each contact's newest message and unread count,
//! as a client's first screen shows them) and a send through her API, the CPU her event feed spent
//! per send telling them, her node's CPU while nothing happens (bob away),
//! how long her node takes to start, the most memory it held meanwhile, and how long a backlog
//! takes to reach bob once he is back (with the CPU his node's thread and his event feed, which
//! tells each arrival, and alice's node thread spent meanwhile).
//! Each figure is printed beside the same at 10⁴, as a ratio, and beside this machine's floors
//! measured in the same run. Targets (#27): page and send within 5 ms and growing by less than 2×,
//! idle under 1% of a core, start under 1 s, a 10⁵ backlog in under 10 s.
//!
//! The history is seeded through the storage layer (a million sends through the API would take
//! the bench's whole budget); everything measured goes through the node and its API.
//!
//! Needs `cargo xtask build-plugins` and `cargo build --release -p courier-host` first (`cargo
//! xtask bench` does both).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use courier_api_client::json::{Identity as IdentityJson, SendText};
use courier_e2e::{
    Person, Tools, dialing_pair, fsync_median, introduce, median, timed, wait_for_contact,
    wait_until,
};
use courier_proto::handshake::Agreement;
use courier_proto::identity::Identity;
use courier_proto::sync::record::Message;
use courier_proto::sync::session::SyncStore;
use courier_proto::sync::timer::Timer;
use courier_proto::transport_security::transport_keys::{Role, SecretKey};
use courier_storage::{ContactId, ConversationStore, Database, Draft, Durability, StorageError};

const SCALES: [usize; 3] = [10_000, 100_000, 1_000_000];
/// Requests timed per figure.
const SAMPLES: usize = 200;
/// How long idle CPU is measured.
const IDLE: Duration = Duration::from_secs(10);
/// A backlog queued while bob is away, at each scale; and the big one at the end.
const BACKLOG: usize = 10_000;
const BIG_BACKLOG: usize = 100_000;
const CONTACTS: usize = 1_000;
/// Seeded messages are a minute apart: 10⁶ of them are about two years.
const SPACING_MS: u64 = 60_000;
const SEED_BATCH: usize = 10_000;

/// One row of the table.
#[derive(Debug, Clone, Copy)]
struct Row {
    page: (Duration, Duration),
    /// `GET /v1/conversations`.
    list: (Duration, Duration),
    send: (Duration, Duration),
    /// The CPU her event feed spent telling the sends, per send.
    feed_per_send: Duration,
    idle_percent: f64,
    start: Duration,
    /// The node's peak resident memory over the start, the requests and the idle, in KiB.
    peak_kib: u64,
    rotation: Duration,
    backlog: Option<(usize, Backlog)>,
}

fn main() -> Result<()> {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let tools = Tools::in_target(&target, "release")?;
    let root = tempfile::tempdir_in(&target)?;
    let (mut alice, mut bob) = dialing_pair(&tools, root.path(), root.path())?;
    introduce(&alice, &bob)?;
    alice.serve()?;
    bob.serve()?;
    wait_for_contact(&alice, &bob)?;
    alice.stop()?;
    bob.stop()?;

    // `SCALE_CONTACTS=1`: only the start and idle of a node with a thousand pending and a thousand
    // made contacts, as the full run's last row.
    if std::env::var_os("SCALE_CONTACTS").is_some() {
        if let Some(history) = std::env::var("SCALE_HISTORY")
            .ok()
            .and_then(|n| n.parse().ok())
        {
            let base_ms = now_ms() - SPACING_MS * (history as u64 + 10);
            seed_history(&alice, "bob", 0, history, base_ms)?;
        }
        seed_contacts(&alice, false)?;
        seed_contacts(&alice, true)?;
        let (row, erased) = measure_erasing(&mut alice, root.path())?;
        println!(
            "{CONTACTS} pending and {CONTACTS} made contacts: start {:.0} ms, idle {:.2}%, feed {:.0} µs per send; {erased}",
            ms(row.start),
            row.idle_percent,
            row.feed_per_send.as_secs_f64() * 1e6
        );
        return Ok(());
    }
    // `SCALE_BACKLOG=N`: only a backlog of N (after `SCALE_HISTORY` messages), for a profiler.
    if let Some(count) = std::env::var("SCALE_BACKLOG")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        let history = std::env::var("SCALE_HISTORY")
            .ok()
            .and_then(|n| n.parse().ok());
        let base_ms = now_ms() - SPACING_MS * (SCALES[SCALES.len() - 1] as u64 + 10);
        seed_history(&alice, "bob", 0, history.unwrap_or(0), base_ms)?;
        let took = backlog(&mut alice, &mut bob, count)?;
        println!("backlog of {count} to bob: {took}");
        return Ok(());
    }
    let floors = floors(&mut alice, &target)?;
    let base_ms = now_ms() - SPACING_MS * (SCALES[SCALES.len() - 1] as u64 + 10);
    let mut rows: Vec<(String, Row)> = Vec::new();
    let mut seeded = 0;
    for scale in SCALES {
        let at = Instant::now();
        seed_history(&alice, "bob", seeded, scale, base_ms)?;
        println!(
            "  (seeded {} messages in {:.1} s)",
            scale - seeded,
            at.elapsed().as_secs_f64()
        );
        seeded = scale;
        let mut row = measure(&mut alice)?;
        row.backlog = Some((BACKLOG, backlog(&mut alice, &mut bob, BACKLOG)?));
        rows.push((format!("{scale} messages"), row));
        print_table(&floors, &rows);
    }
    let mut big = measure(&mut alice)?;
    big.backlog = Some((BIG_BACKLOG, backlog(&mut alice, &mut bob, BIG_BACKLOG)?));
    rows.push((format!("{seeded} + a {BIG_BACKLOG} backlog"), big));

    seed_contacts(&alice, false)?;
    rows.push((
        format!("+ {CONTACTS} pending contacts"),
        measure(&mut alice)?,
    ));
    seed_contacts(&alice, true)?;
    let (row, erased) = measure_erasing(&mut alice, root.path())?;
    rows.push((format!("+ {CONTACTS} contacts"), row));
    print_table(&floors, &rows);
    println!("  + {CONTACTS} contacts, made three days before the start: {erased}");
    Ok(())
}

/// [`measure`], with what her node erased while it ran (from its log): what the start owed.
fn measure_erasing(alice: &mut Person, root: &Path) -> Result<(Row, String)> {
    let log = root.join("alice-erasing.log");
    alice.log = Some("info".into());
    alice.log_file = Some(log.clone());
    let row = measure(alice)?;
    alice.log = None;
    alice.log_file = None;
    let told = std::fs::read_to_string(&log)?;
    let erased: Vec<&str> = told
        .lines()
        .filter(|l| l.contains("re-sealed") || l.contains("re-encrypted"))
        .map(|l| l.split_once("housekeeping: ").map_or(l, |(_, told)| told))
        .collect();
    let erased = if erased.is_empty() {
        "her node erased nothing".to_owned()
    } else {
        format!("her node: {}", erased.join("; "))
    };
    Ok((row, erased))
}

/// This machine now: a process start, an HTTP round trip to the node, an fsync.
struct Floors {
    process: Duration,
    http: Duration,
    fsync: Duration,
}

fn floors(alice: &mut Person, target: &Path) -> Result<Floors> {
    let process = median(15, || alice.cli(&["--version"]).map(drop))?;
    let api = alice.serve_api()?;
    let http = median(200, || {
        api.get::<IdentityJson>("/v1/identity")
            .map(drop)
            .map_err(Into::into)
    })?;
    alice.stop()?;
    let fsync = fsync_median(target)?;
    Ok(Floors {
        process,
        http,
        fsync,
    })
}

/// Alice's node started with her API, bob away: start, page, send, idle; then stopped.
fn measure(alice: &mut Person) -> Result<Row> {
    let started = Instant::now();
    let api = alice.serve_api()?;
    let start = started.elapsed();
    let page = timings(|| {
        api.get::<serde_json::Value>("/v1/conversations/bob/messages?limit=50")
            .map(drop)
            .map_err(Into::into)
    })?;
    let list = timings(|| {
        api.get::<serde_json::Value>("/v1/conversations")
            .map(drop)
            .map_err(Into::into)
    })?;
    let pid = alice.pid().context("alice's node runs")?;
    let feed_before = thread_cpu(pid, "courier-events")?;
    let mut n = 0;
    let send = timings(|| {
        n += 1;
        api.send_text(
            "bob",
            &SendText {
                content_type: "courier/text".into(),
                text: format!("while bob is away {n}"),
                options: Default::default(),
                relates_to: None,
            },
        )
        .map(drop)
        .map_err(Into::into)
    })?;
    // Settled: the sends above are queued, bob is away, nothing is asked of the node.
    std::thread::sleep(Duration::from_secs(3));
    let feed_per_send = (thread_cpu(pid, "courier-events")? - feed_before) / (n as u32);
    let (before, at) = (cpu_ticks(pid)?, Instant::now());
    std::thread::sleep(IDLE);
    let used = (cpu_ticks(pid)? - before) as f64 / clock_ticks()?;
    let idle_percent = 100.0 * used / at.elapsed().as_secs_f64();
    let peak_kib = alice.peak_kib()?;
    alice.stop()?;
    // A key rotation, as her node runs one after something was deleted (a disappearing message,
    // say; at most once a minute): every page rewritten under a new key while the node's thread
    // waits. Through the storage layer, which is what the node calls.
    let rotation = {
        let mut db = alice.database()?;
        db.follow_rotations();
        db.rotate_key()?
            .context("no other connection holds the key file")?
            .elapsed
    };
    Ok(Row {
        page,
        list,
        send,
        feed_per_send,
        idle_percent,
        start,
        peak_kib,
        rotation,
        backlog: None,
    })
}

/// How a backlog went: how long until bob had it, and the CPU his node's threads spent meanwhile.
#[derive(Debug, Clone, Copy)]
struct Backlog {
    took: Duration,
    /// Seconds of CPU of bob's node thread, and of his event feed (telling each arrival).
    node_cpu: f64,
    feed_cpu: f64,
    /// Seconds of CPU of alice's node thread (sending, and taking bob's acks).
    sender_cpu: f64,
}

impl std::fmt::Display for Backlog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2} s (CPU: bob's node {:.2} s, his feed {:.2} s, alice's node {:.2} s)",
            self.took.as_secs_f64(),
            self.node_cpu,
            self.feed_cpu,
            self.sender_cpu
        )
    }
}

/// `count` texts queued to bob while he is away; how long, once both nodes run, until he has
/// every message alice had queued for him.
fn backlog(alice: &mut Person, bob: &mut Person, count: usize) -> Result<Backlog> {
    let texts: Vec<String> = (0..count).map(|i| format!("backlog {i}")).collect();
    {
        let mut db = alice.database()?;
        let to_bob = contact(&db, "bob")?;
        for batch in texts.chunks(SEED_BATCH) {
            db.batch(Durability::Relaxed, |db| -> Result<(), StorageError> {
                for text in batch {
                    let draft = Draft::new("courier/text", 1, text.clone().into_bytes());
                    db.send(to_bob, draft, now_ms(), Timer::OFF)?;
                }
                Ok(())
            })?;
        }
    }
    let waiting = alice.database()?.unacked()?.len();
    let bob_db = bob.database()?;
    let from_alice = contact(&bob_db, "alice")?;
    let expected = bob_db.unseen(from_alice)? + waiting;
    alice.serve()?;
    let started = Instant::now();
    bob.serve()?;
    wait_until(Duration::from_secs(600), "bob has alice's backlog", || {
        Ok(bob_db.unseen(from_alice)? >= expected)
    })?;
    let took = started.elapsed();
    let pid = bob.pid().context("bob's node runs")?;
    let node_cpu = thread_cpu(pid, "courier-node")?.as_secs_f64();
    let feed_cpu = thread_cpu(pid, "courier-events")?.as_secs_f64();
    let sender = alice.pid().context("alice's node runs")?;
    let sender_cpu = thread_cpu(sender, "courier-node")?.as_secs_f64();
    alice.stop()?;
    bob.stop()?;
    Ok(Backlog {
        took,
        node_cpu,
        feed_cpu,
        sender_cpu,
    })
}

/// History with bob from message `from` to `to`: ours acked and theirs stored, alternating.
fn seed_history(person: &Person, alias: &str, from: usize, to: usize, base_ms: u64) -> Result<()> {
    let mut db = person.database()?;
    let bob = contact(&db, alias)?;
    let mut start = from;
    while start < to {
        let end = (start + SEED_BATCH).min(to);
        db.batch(Durability::Relaxed, |db| -> Result<()> {
            for i in start..end {
                seed_message(db, bob, i, base_ms + i as u64 * SPACING_MS)?;
            }
            Ok(())
        })?;
        start = end;
    }
    Ok(())
}

/// Message `i` with `contact` at `ts`: an even one ours and acked, an odd one theirs and stored.
fn seed_message(db: &mut Database, contact: ContactId, i: usize, ts: u64) -> Result<()> {
    let body = format!("history {i}").into_bytes();
    if i.is_multiple_of(2) {
        let draft = Draft::new("courier/text", 1, body);
        let (id, _) = db.send(contact, draft, ts, Timer::OFF)?;
        let mut store = ConversationStore::new(db, contact, SPACING_MS, Timer::OFF);
        store.mark_sent(&id, ts)?;
        store.mark_acked(&id)?;
    } else {
        let message = Message {
            timestamp_ms: ts,
            content_type: "courier/text".into(),
            type_version: 1,
            body,
            fallback: String::new(),
        };
        let mut store = ConversationStore::new(db, contact, SPACING_MS, Timer::OFF);
        store.store_incoming(&message.id(), message)?;
    }
    Ok(())
}

/// A thousand more contacts: pending (added by link, never met), or made (as a handshake leaves
/// them, with keys of their own) three days ago, the node off since: at its start each made
/// contact's keys step forward, and the old steps must be erased.
fn seed_contacts(person: &Person, made: bool) -> Result<()> {
    let mut db = person.database()?;
    let kind = if made { "made" } else { "pending" };
    // Pending ones added now, so their meeting points still run.
    let then = if made {
        now_ms() - 3 * 86_400_000
    } else {
        now_ms()
    };
    db.batch(Durability::Relaxed, |db| -> Result<()> {
        for i in 0..CONTACTS {
            let alias = format!("{kind}{i}");
            db.add_pending_contact(&Identity::generate(&alias).link(), &alias, then)?;
            if made {
                let mut root = [0u8; 32];
                root[..8].copy_from_slice(&(i as u64).to_le_bytes());
                let agreement = Agreement {
                    root: SecretKey::from_bytes(root),
                    role: Role::Alice,
                };
                let id = db.complete_handshake(&alias, &agreement, then)?;
                // Each has said something, unread: the list of conversations summarises each.
                seed_message(db, id, 1, then)?;
            }
        }
        Ok(())
    })?;
    // What her node did after those handshakes while it ran (seeding bypassed it): sealed the
    // secrets and erased the pending contacts, so the start measured owes only what three days
    // off owe.
    drop(db);
    let mut db = person.database()?;
    db.follow_rotations();
    db.reseal_secrets()?
        .context("no other connection holds the key file")?;
    db.rotate_key()?
        .context("no other connection holds the key file")?;
    Ok(())
}

fn contact(db: &Database, alias: &str) -> Result<ContactId> {
    Ok(db
        .contacts()?
        .into_iter()
        .find(|c| c.alias == alias)
        .with_context(|| format!("no contact {alias}"))?
        .id)
}

fn print_table(floors: &Floors, rows: &[(String, Row)]) {
    let Some((_, first)) = rows.first() else {
        return;
    };
    println!();
    println!(
        "scale: alice's node (release, serve --api) with bob away; each figure (× the first row's)"
    );
    println!(
        "  {:<34} {:>22} {:>22} {:>22} {:>18} {:>14} {:>16} {:>16} {:>18} {:>24}",
        "history",
        "page of 50 p50/p99",
        "conversations p50/p99",
        "send p50/p99",
        "feed per send",
        "idle CPU",
        "node start",
        "peak memory",
        "key rotation",
        "backlog to bob"
    );
    for (label, row) in rows {
        let ratio = |now: Duration, then: Duration| now.as_secs_f64() / then.as_secs_f64();
        let backlog = match row.backlog {
            Some((count, took)) => format!("{count} in {took}"),
            None => "-".into(),
        };
        println!(
            "  {:<34} {:>9.2}/{:>6.2} ms ×{:<4.1} {:>9.2}/{:>6.2} ms ×{:<4.1} {:>9.2}/{:>6.2} ms ×{:<4.1} {:>8.0} µs ×{:<4.1} {:>6.2}% ×{:<4.1} {:>7.0} ms ×{:<4.1} {:>7.0} MiB ×{:<4.1} {:>8.0} ms ×{:<5.1} {:>24}",
            label,
            ms(row.page.0),
            ms(row.page.1),
            ratio(row.page.0, first.page.0),
            ms(row.list.0),
            ms(row.list.1),
            ratio(row.list.0, first.list.0),
            ms(row.send.0),
            ms(row.send.1),
            ratio(row.send.0, first.send.0),
            row.feed_per_send.as_secs_f64() * 1e6,
            ratio(row.feed_per_send, first.feed_per_send),
            row.idle_percent,
            row.idle_percent / first.idle_percent.max(0.01),
            ms(row.start),
            ratio(row.start, first.start),
            row.peak_kib as f64 / 1024.0,
            row.peak_kib as f64 / first.peak_kib.max(1) as f64,
            ms(row.rotation),
            ratio(row.rotation, first.rotation),
            backlog,
        );
    }
    println!(
        "  machine floors: courier --version {:.1} ms; GET /v1/identity {:.2} ms; fsync {:.3} ms",
        ms(floors.process),
        ms(floors.http),
        ms(floors.fsync)
    );
    println!(
        "  targets: page and send ≤ 5 ms growing < 2×; idle < 1%; start < 1 s; 10⁵ backlog < 10 s"
    );
}

/// Median and p99 of [`SAMPLES`] runs of `f`, after one not counted: the first request after a
/// start also loads the message-type plugins (start-up, shown in its own column).
fn timings(mut f: impl FnMut() -> Result<()>) -> Result<(Duration, Duration)> {
    f()?;
    let times = timed(SAMPLES, f)?;
    Ok((times[SAMPLES / 2], times[SAMPLES * 99 / 100]))
}

/// The CPU time so far of process `pid`'s threads named `name`, to the nanosecond (the scheduler's
/// own count; `/proc`'s stat counts in ticks of 10 ms).
fn thread_cpu(pid: u32, name: &str) -> Result<Duration> {
    let mut ns = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let task = task?.path();
        if std::fs::read_to_string(task.join("comm"))?.trim() == name {
            let schedstat = std::fs::read_to_string(task.join("schedstat"))?;
            ns += schedstat
                .split_whitespace()
                .next()
                .context("a /proc schedstat line")?
                .parse::<u64>()?;
        }
    }
    Ok(Duration::from_nanos(ns))
}

/// User plus system CPU ticks of process `pid` so far.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("a /proc stat line")?
        .1
        .split_whitespace()
        .collect();
    Ok(fields[11].parse::<u64>()? + fields[12].parse::<u64>()?)
}

fn clock_ticks() -> Result<f64> {
    let out = Command::new("getconf").arg("CLK_TCK").output()?;
    Ok(String::from_utf8(out.stdout)?.trim().parse()?)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_millis() as u64
}
