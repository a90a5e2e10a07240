//! Private groups measured with real `courier` processes (the release build) on loopback. Alice
//! made the group and is the contact of bob, carol and dave, who do not know each other, so a post
//! of bob's reaches dave only through alice: dave is the farthest member, two hops away. Prints the
//! time from a post through the author's API to its event at one hop and at the farthest member,
//! beside a 1:1 text over one hop in the same run and this machine's fsync; and the bytes a post costs on the wire per member (what a
//! drive export writes for each member per post: the same encrypted frames a LAN stream carries).
//!
//! Needs `cargo xtask build-plugins` and `cargo build --release -p courier-host` first (`cargo
//! xtask bench` does both).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use courier_api_client::client::Client;
use courier_api_client::json::{GroupPosted, SendText};
use courier_e2e::{Person, Tools, form_group, fsync_median, introduce, wait_for_contact};

const GROUP: &str = "Bench";
/// Posts timed at each distance.
const ROUNDS: usize = 10;
/// Posts written to measure the bytes each costs.
const POSTS: usize = 20;
/// A post's text: a tweet's length.
const TEXT_LEN: usize = 140;

fn main() -> Result<()> {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let tools = Tools::in_target(&target, "release")?;
    let root = tempfile::tempdir()?;
    let mut people = ["alice", "bob", "carol", "dave"]
        .map(|name| Person::init(&tools, root.path(), name))
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    let ports: Vec<u16> = people[1..].iter().map(|p| p.port).collect();
    people[0].configure(&ports, false, "loopback")?;
    for person in &people[1..] {
        person.configure(&[people[0].port], false, "loopback")?;
        introduce(&people[0], person)?;
    }
    // Each posts through their node's API, which wakes the node at once (a command in another
    // process is noticed within the node's 200 ms housekeeping instead).
    let mut apis = Vec::new();
    for person in &mut people {
        apis.push(person.serve_api()?);
    }
    for person in &people[1..] {
        wait_for_contact(&people[0], person)?;
    }
    let [alice, bob, carol, dave] = &mut people[..] else {
        unreachable!("four people")
    };
    form_group(alice, &[&*bob, &*carol, &*dave], GROUP)?;

    let mut one_hop = Vec::new();
    let mut two_hops = Vec::new();
    let mut direct = Vec::new();
    let (alice_api, bob_api) = (&apis[0], &apis[1]);
    for round in 0..ROUNDS {
        one_hop.push(post_reaches(
            alice_api,
            bob,
            &format!("alice's post {round}"),
        )?);
        two_hops.push(post_reaches(bob_api, dave, &format!("bob's post {round}"))?);
        direct.push(text_reaches(
            alice_api,
            bob,
            &format!("alice's text {round}"),
        )?);
    }

    // Bytes: alice's node stops; she posts, then writes what each member is owed to a folder.
    drop(apis);
    alice.stop()?;
    let text = "x".repeat(TEXT_LEN);
    for _ in 0..POSTS {
        alice.cli(&["group", "post", GROUP, "--text", &text])?;
    }
    let folder = root.path().join("owed");
    alice.cli(&["drive", "export", folder.to_str().context("a UTF-8 path")?])?;
    let written = bytes_in(&folder)?;
    let record = record_bytes(alice)?;
    for person in [bob, carol, dave] {
        person.stop()?;
    }

    let fsync = fsync_median(root.path())?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (one, two, text_one) = (
        median(&mut one_hop),
        median(&mut two_hops),
        median(&mut direct),
    );
    println!("private groups, four members on loopback (release build), median of {ROUNDS}:");
    println!(
        "  a post to a member one hop away      {:>7.1} ms   (a 1:1 text over the same hop {:>7.1} ms)",
        ms(one),
        ms(text_one)
    );
    println!(
        "  a post to the farthest member, 2 hops {:>6.1} ms   (max {:.1} ms; 2 × the 1:1 text {:.1} ms)",
        ms(two),
        ms(*two_hops.iter().max().unwrap_or(&two)),
        2.0 * ms(text_one)
    );
    println!(
        "  on the wire: a {TEXT_LEN}-character post is a {record}-byte signed record; each member's \
         link carries {:.0} bytes for it, encrypted and framed as a drive writes it (padded: {} \
         bytes for {POSTS} posts to 3 members)",
        written as f64 / (POSTS * 3) as f64,
        written
    );
    println!(
        "  a group of N members costs the author's links N − 1 times that, once each; relays add one \
         copy per link a post crosses, never more"
    );
    println!("  this machine: fsync {:.2} ms", ms(fsync));
    Ok(())
}

/// How long `text`, posted through `from` (timed from when the post is on disk), takes to show
/// in `to`'s node's events.
fn post_reaches(from: &Client, to: &Person, text: &str) -> Result<Duration> {
    let started = Instant::now();
    let posted: GroupPosted = from.post(&format!("/v1/groups/{GROUP}/posts"), &text_of(text))?;
    arrives(to, &format!("post {}", &posted.id[..8]), started)
}

/// How long a 1:1 text through `from` to `to` takes to show in `to`'s node's events.
fn text_reaches(from: &Client, to: &Person, text: &str) -> Result<Duration> {
    let started = Instant::now();
    let queued = from.send_text(&to.name, &text_of(text))?;
    arrives(to, &format!("message {}", &queued.id[..8]), started)
}

fn text_of(text: &str) -> SendText {
    SendText {
        content_type: "courier/text".into(),
        text: text.into(),
        options: Default::default(),
        relates_to: None,
    }
}

/// The time since `started` until `person`'s `serve` prints a line naming `what`.
fn arrives(person: &Person, what: &str, started: Instant) -> Result<Duration> {
    while started.elapsed() < Duration::from_secs(60) {
        if person.printed().iter().any(|line| line.contains(what)) {
            return Ok(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    anyhow::bail!("{} never printed {what}", person.name)
}

/// The median of `times`.
fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The size of alice's latest post's signed record.
fn record_bytes(alice: &Person) -> Result<usize> {
    let db = alice.database()?;
    let group = db
        .groups()?
        .into_iter()
        .find(|g| g.descriptor.name == GROUP)
        .context("the group")?;
    let id = group.descriptor.id();
    let last = db.group_position(&id)?;
    let records = db.group_records(&id, last.saturating_sub(1), 1)?;
    Ok(records.first().context("a record")?.1.bytes.len())
}

/// Bytes of every file in `dir`.
fn bytes_in(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        total += entry?.metadata()?.len();
    }
    Ok(total)
}
