//! A peer that stops reading costs the node little: bob's process is frozen in the middle of a
//! large attachment from alice, with more texts queued for him behind it; alice's texts to carol
//! still arrive at once, her memory stays bounded, and once bob thaws everything reaches him once.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use courier_e2e::{Person, Tools, introduce, wait_for_contact, wait_for_delivery, wait_until};
use courier_storage::Draft;

use crate::scratch;

/// Bytes in every file under `dir` (bob's attachment chunk packs).
fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => bytes_under(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Noise that does not compress, `len` bytes, the same on every run.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn bob_freezes_mid_attachment_and_alice_s_texts_still_reach_carol_at_once() -> Result<()> {
    let tools = Tools::locate()?;
    let root = scratch();
    let mut alice = Person::init(&tools, root.path(), "alice")?;
    let mut bob = Person::init(&tools, root.path(), "bob")?;
    let mut carol = Person::init(&tools, root.path(), "carol")?;
    alice.configure(&[bob.port, carol.port], false, "loopback")?;
    bob.configure(&[alice.port], false, "loopback")?;
    carol.configure(&[alice.port], false, "loopback")?;
    introduce(&alice, &bob)?;
    introduce(&alice, &carol)?;
    alice.serve()?;
    bob.serve()?;
    carol.serve()?;
    wait_for_contact(&alice, &bob)?;
    wait_for_contact(&alice, &carol)?;

    // 48 MiB for bob: it goes as chunks, each asked for by him as the last arrives.
    alice.queue("bob", [Draft::new("courier/image", 1, noise(48 << 20))])?;
    let packs = bob.dir.join("courier.db.chunks");
    wait_until(Duration::from_secs(120), "bob stores part of it", || {
        Ok(bytes_under(&packs) > 4 << 20)
    })?;
    bob.signal("STOP")?;
    let frozen_at = Instant::now();
    let rss_before = alice.resident_kib()?;
    // Behind it, texts that go out without being asked for: 2,000 of 3,000 bytes.
    let texts: Vec<String> = (0..2_000)
        .map(|i| format!("{i:05} {}", "x".repeat(2_994)))
        .collect();
    alice.queue_texts("bob", &texts)?;

    let (mut slowest, mut peak_kib) = (Duration::ZERO, rss_before);
    for n in 0..8 {
        let text = format!("to carol {n}");
        let at = Instant::now();
        alice.cli(&["send", "carol", "--text", &text])?;
        wait_until(
            Duration::from_secs(30),
            "alice's text reaches carol",
            || Ok(carol.messages("alice")?.iter().any(|r| r.summary == text)),
        )?;
        slowest = slowest.max(at.elapsed());
        peak_kib = peak_kib.max(alice.resident_kib()?);
    }
    let frozen_for = frozen_at.elapsed();
    println!(
        "bob frozen for {frozen_for:?} with 48 MiB and 2,000 texts owed: alice's 8 texts to carol \
         each arrived within {slowest:?} of `courier send` starting; alice's memory {rss_before} \
         → peak {peak_kib} KiB"
    );
    // Frozen, bob takes nothing: were the node's thread waiting on him, carol would wait too (up to
    // 30 s a write, before this change). The bound only tells waiting from not waiting: the
    // printed figure is the measure.
    assert!(
        slowest < Duration::from_secs(5),
        "a text to carol took {slowest:?} while bob was frozen"
    );
    // What waits for bob is on disk, not in memory: a bounded backlog per channel.
    assert!(
        peak_kib < rss_before + 48 * 1024,
        "alice grew from {rss_before} to {peak_kib} KiB while bob was frozen"
    );

    bob.signal("CONT")?;
    // Everything reaches him once: the attachment whole and every text.
    wait_for_delivery(&alice, &bob, 2_001, Duration::from_secs(300))?;
    let received = bob.arrivals("alice")?;
    let texts_once = texts
        .iter()
        .all(|t| received.iter().filter(|r| *r == t).count() == 1);
    assert!(texts_once, "each text reached bob exactly once");
    Ok(())
}
