//! Private groups measured with real `courier` processes (the release build) on loopback. Alice
//! made the group and is the contact of bob, carol and dave, who do not know each other, so a post
//! of bob's reaches dave only through alice: dave is the farthest member, two hops away. Prints the
//! time for a post to reach one hop and the farthest member, beside a 1:1 text over one hop in the
//! same run and this machine's fsync; and the bytes a post costs on the wire per member (what a
//! drive export writes for each member per post: the same encrypted frames a LAN stream carries).
//!
//! Needs `cargo xtask build-plugins` and `cargo build --release -p courier-host` first (`cargo
//! xtask bench` does both).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use courier_e2e::{Person, Tools, fsync_median, introduce, wait_for_contact, wait_until};

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
    for person in &mut people {
        person.serve()?;
    }
    for person in &people[1..] {
        wait_for_contact(&people[0], person)?;
    }
    let [alice, bob, carol, dave] = &mut people[..] else {
        unreachable!("four people")
    };
    form_the_group(alice, &[&*bob, &*carol, &*dave])?;

    let mut one_hop = Vec::new();
    let mut two_hops = Vec::new();
    let mut direct = Vec::new();
    for round in 0..ROUNDS {
        one_hop.push(post_reaches(alice, bob, &format!("alice's post {round}"))?);
        two_hops.push(post_reaches(bob, dave, &format!("bob's post {round}"))?);
        direct.push(text_reaches(alice, bob, &format!("alice's text {round}"))?);
    }

    // Bytes: alice's node stops; she posts, then writes what each member is owed to a folder.
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
         link carries {:.0} bytes for it ({} bytes for {POSTS} posts to 3 members)",
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

/// Alice makes the group and invites `others`, who accept; returns once each is a member.
fn form_the_group(alice: &Person, others: &[&Person]) -> Result<()> {
    alice.cli(&["group", "create", GROUP, "--as", "alice"])?;
    for person in others {
        alice.cli(&["group", "invite", GROUP, &person.name])?;
    }
    for person in others {
        wait_until(Duration::from_secs(60), "an invitation arrives", || {
            Ok(person.cli(&["group", "list"])?.contains("invited"))
        })?;
        person.cli(&["group", "accept", GROUP, "--as", &person.name])?;
    }
    for person in others {
        wait_until(Duration::from_secs(60), "each is a member", || {
            Ok(person.cli(&["group", "list"])?.contains(" member "))
        })?;
    }
    Ok(())
}

/// How long `text`, posted by `from` (timed from when the post is on disk), takes to show in
/// `to`'s node's events.
fn post_reaches(from: &Person, to: &Person, text: &str) -> Result<Duration> {
    let out = from.cli(&["group", "post", GROUP, "--text", text])?;
    let id = out.trim().strip_prefix("posted ").context("a post id")?;
    arrives(to, &format!("post {}", &id[..8]))
}

/// How long a 1:1 text from `from` to `to` takes to show in `to`'s node's events.
fn text_reaches(from: &Person, to: &Person, text: &str) -> Result<Duration> {
    let out = from.cli(&["send", &to.name, "--text", text])?;
    let id = out.trim().strip_prefix("queued ").context("a message id")?;
    arrives(to, &format!("message {}", &id[..8]))
}

/// The time until `person`'s `serve` prints a line naming `what`.
fn arrives(person: &Person, what: &str) -> Result<Duration> {
    let started = Instant::now();
    wait_until(Duration::from_secs(60), what, || {
        Ok(person.printed().iter().any(|line| line.contains(what)))
    })?;
    Ok(started.elapsed())
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
