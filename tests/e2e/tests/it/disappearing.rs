//! Disappearing messages, end to end: a one-minute timer set by one side reaches the other, and
//! what was said under it is gone from both databases and both chunk packs a minute after it was
//! read or acked, so that someone with both data directories and the passphrase finds no trace.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use courier_e2e::{PASSPHRASE, Person, noise_png, wait_until};

use super::examiner;
use super::{pair, scratch};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const SECRET: &str = "the ledger is under the third floorboard";
const REPLY: &str = "understood, burning the map tonight";

/// Every regular file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path));
        } else if path.is_file() {
            // A running API's socket holds nothing to read.
            found.push(path);
        }
    }
    found
}

/// The chunk packs under `dir`.
fn packs(dir: &Path) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pack"))
        .collect()
}

/// Whether any of `needles` occurs in `haystack`.
fn contains_any(haystack: &[u8], needles: &[Vec<u8>]) -> bool {
    needles
        .iter()
        .any(|n| haystack.windows(n.len()).any(|w| w == n.as_slice()))
}

/// The whole database of `person`, decrypted with the passphrase (through the key file it unseals)
/// into a plaintext copy.
fn decrypted(person: &Person, into: &Path) -> Result<Vec<u8>> {
    // Held as a command holds it, from before the key file is read until the copy is made: the
    // running node cannot rotate the key between the two (the examiner would read the old key and
    // find the database under the new one).
    let _held = person.database()?;
    let keys = std::fs::read(person.dir.join("courier.keys"))?;
    let conn = examiner::key_file_keys(&keys, PASSPHRASE)
        .into_iter()
        .find_map(|key| {
            let conn = rusqlite::Connection::open(person.dir.join("courier.db")).ok()?;
            conn.pragma_update(None, "key", format!("x'{}'", hex(&key)))
                .ok()?;
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
                .ok()?;
            Some(conn)
        })
        .context("no key of the key file opens the database")?;
    conn.execute(
        "ATTACH DATABASE ?1 AS plaintext KEY ''",
        [into.display().to_string()],
    )?;
    conn.query_row("SELECT sqlcipher_export('plaintext')", [], |_| Ok(()))?;
    conn.execute("DETACH DATABASE plaintext", [])?;
    Ok(std::fs::read(into)?)
}

/// What is left of the conversation with `alias` besides its timer lines.
fn said(person: &Person, alias: &str) -> Result<Vec<String>> {
    Ok(person
        .messages(alias)?
        .into_iter()
        .filter(|m| m.content_type != "courier/timer")
        .map(|m| m.summary)
        .collect())
}

#[test]
fn alice_sets_a_one_minute_timer_and_their_texts_and_a_photo_vanish_from_both_sides_and_packs()
-> Result<()> {
    let root = scratch();
    let (alice, bob) = pair(root.path())?;
    let set = alice.cli(&["contacts", "timer", "bob", "1m"])?;
    assert!(
        set.contains("disappear 1 minute after they are read or sent"),
        "{set}"
    );
    wait_until(Duration::from_secs(30), "bob has the timer", || {
        Ok(bob.cli(&["contacts", "timer", "alice"])?.trim() == "1 minute")
    })?;
    let bobs_line = bob.messages("alice")?;
    assert_eq!(bobs_line.len(), 1);
    assert_eq!(
        bobs_line[0].summary,
        "disappearing messages: 1 minute after reading"
    );

    let photo = root.path().join("photo.png");
    std::fs::write(&photo, noise_png(900, 700, 16))?;
    alice.cli(&["send", "bob", "--image", photo.to_str().unwrap_or_default()])?;
    alice.cli(&["send", "bob", "--text", SECRET])?;
    wait_until(
        Duration::from_secs(60),
        "bob has the photo and the text",
        || {
            let rows = bob.messages("alice")?;
            Ok(rows.len() == 3 && rows.iter().all(|r| r.complete))
        },
    )?;
    bob.cli(&["send", "alice", "--text", REPLY])?;
    wait_until(Duration::from_secs(30), "alice has the reply", || {
        Ok(said(&alice, "bob")?.len() == 3)
    })?;
    let image = bob
        .messages("alice")?
        .into_iter()
        .find(|m| m.content_type == "courier/image")
        .expect("bob has the photo");
    let saved = root.path().join("saved.jpg");
    bob.cli(&[
        "attachment",
        "save",
        &image.id[..16],
        saved.to_str().unwrap_or_default(),
    ])?;
    let jpeg = std::fs::read(&saved)?;
    assert!(jpeg.len() > 64 * 1024, "the photo travels as chunks");
    // Pieces of the photo as both sides hold it, and the texts.
    let mut traces: Vec<Vec<u8>> = (0..8)
        .map(|i| jpeg[i * jpeg.len() / 8..][..48].to_vec())
        .collect();
    traces.push(SECRET.as_bytes().to_vec());
    traces.push(REPLY.as_bytes().to_vec());
    for person in [&alice, &bob] {
        let sealed = packs(&person.dir);
        assert!(
            !sealed.is_empty(),
            "{} holds the photo in a pack",
            person.name
        );
    }

    // A minute after reading (bob) and after the acks (alice), plus the nodes' sweep.
    wait_until(
        Duration::from_secs(120),
        "both conversations are empty",
        || Ok(said(&alice, "bob")?.is_empty() && said(&bob, "alice")?.is_empty()),
    )?;
    // The timer itself stays, so each side still shows it.
    assert_eq!(bob.cli(&["contacts", "timer", "alice"])?.trim(), "1 minute");

    for person in [&alice, &bob] {
        // The packs: the photo's records are overwritten and the emptied pack removed.
        for pack in packs(&person.dir) {
            let bytes = std::fs::read(&pack)?;
            assert!(
                bytes.iter().all(|&b| b == 0),
                "{} still has sealed bytes in {}",
                person.name,
                pack.display()
            );
        }
        assert_no_trace(person, root.path(), &traces, b"courier/timer")?;
    }
    Ok(())
}

/// That no file of `person`'s data directory holds any of `traces`, raw or (the database)
/// decrypted with the passphrase into a copy under `scratch`, which holds `kept` (so it is the
/// real database).
pub(crate) fn assert_no_trace(
    person: &Person,
    scratch: &Path,
    traces: &[Vec<u8>],
    kept: &[u8],
) -> Result<()> {
    for file in files(&person.dir) {
        let bytes = std::fs::read(&file)?;
        assert!(
            !contains_any(&bytes, traces),
            "{} holds a trace",
            file.display()
        );
    }
    let copy = scratch.join(format!("{}-plain-{}.db", person.name, files(scratch).len()));
    let plaintext = decrypted(person, &copy)?;
    assert!(
        contains_any(&plaintext, &[kept.to_vec()]),
        "the decrypted copy holds {:?}, so it is the real database",
        String::from_utf8_lossy(kept)
    );
    assert!(
        !contains_any(&plaintext, traces),
        "{}'s decrypted database holds a trace of what disappeared",
        person.name
    );
    Ok(())
}

/// The posts `person` shows in `group`: (kind, summary, id) of each record, oldest first.
fn group_entries(person: &Person, group: &str) -> Result<Vec<(String, String, String)>> {
    let out = person.cli(&["group", "read", group, "--limit", "500", "--json"])?;
    let entries: Vec<serde_json::Value> = serde_json::from_str(&out)?;
    Ok(entries
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (text("kind"), text("summary"), text("id"))
        })
        .collect())
}

#[test]
fn alice_sets_her_group_s_one_minute_timer_and_bob_s_post_and_photo_vanish_from_both_data_dirs()
-> Result<()> {
    let root = scratch();
    let (alice, bob) = pair(root.path())?;
    courier_e2e::form_group(&alice, &[&bob], "Medics")?;
    // Only the creator sets it; bob is told.
    let refused = bob.fails(&["group", "timer", "Medics", "1m"])?;
    assert!(refused.contains("only the group's creator"), "{refused}");
    let set = alice.cli(&["group", "timer", "Medics", "1m"])?;
    assert!(
        set.contains("now disappear 1 minute after they arrive"),
        "{set}"
    );
    wait_until(Duration::from_secs(30), "bob has the group's timer", || {
        Ok(bob.cli(&["group", "timer", "Medics"])?.trim() == "1 minute")
    })?;

    // A photo kept whole goes as chunks beside its sealed post; and a text.
    let photo = root.path().join("photo.png");
    std::fs::write(&photo, noise_png(400, 300, 7))?;
    bob.cli(&[
        "group",
        "post",
        "Medics",
        "--type",
        "courier/image",
        "--input",
        photo.to_str().unwrap_or_default(),
        "--option",
        "quality=100",
    ])?;
    bob.cli(&["group", "post", "Medics", "--text", SECRET])?;
    let posts = |p: &Person| -> Result<Vec<(String, String, String)>> {
        Ok(group_entries(p, "Medics")?
            .into_iter()
            .filter(|(kind, _, _)| kind == "post")
            .collect())
    };
    wait_until(
        Duration::from_secs(60),
        "alice has the photo and the text",
        || {
            let shown = posts(&alice)?;
            Ok(shown.len() == 2
                && shown.iter().any(|(_, s, _)| s == SECRET)
                && !shown.iter().any(|(_, s, _)| s.contains("receiving")))
        },
    )?;
    let image = posts(&alice)?
        .into_iter()
        .find(|(_, s, _)| s != SECRET)
        .expect("alice shows the photo");
    let saved = root.path().join("saved.jpg");
    alice.cli(&[
        "group",
        "save",
        "Medics",
        &image.2[..16],
        saved.to_str().unwrap_or_default(),
    ])?;
    let jpeg = std::fs::read(&saved)?;
    assert!(jpeg.len() > 64 * 1024, "the photo travels as chunks");
    let mut traces: Vec<Vec<u8>> = (0..8)
        .map(|i| jpeg[i * jpeg.len() / 8..][..48].to_vec())
        .collect();
    traces.push(SECRET.as_bytes().to_vec());
    std::fs::remove_file(&saved)?;

    // A minute after each arrived (bob's own: after he wrote them), plus the nodes' sweep.
    wait_until(Duration::from_secs(120), "both show no posts", || {
        Ok(posts(&alice)?.is_empty() && posts(&bob)?.is_empty())
    })?;
    // The group and its timer stay, with the line that set it.
    let left = group_entries(&bob, "Medics")?;
    assert!(left.iter().any(|(kind, _, _)| kind == "timer"), "{left:?}");
    for person in [&alice, &bob] {
        assert_no_trace(person, root.path(), &traces, b"courier/group-sealed")?;
    }
    Ok(())
}
