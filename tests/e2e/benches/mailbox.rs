//! The mailbox measured with real `courier` processes (the release build) on loopback: a large
//! image from alice to bob written out and read in through alice's mailbox, against the same done by
//! the drive transport (`drive export` into a folder, `drive import` from it) in the same run, with
//! this machine's fsync beside them. Each figure is the bytes the streams took over the wall time a
//! person meets, node start included; the mailbox's include one poll (every second here).
//!
//! Needs `cargo xtask build-plugins` and `cargo build --release -p courier-host` first (`cargo
//! xtask bench` does both).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use courier_e2e::{Person, Tools, fsync_median, noise_png, wait_until};

/// The image's side, in pixels: noise, so it stays about 3 bytes a pixel.
const SIDE: u32 = 2000;

fn main() -> Result<()> {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let tools = Tools::in_target(&target, "release")?;
    let root = tempfile::tempdir()?;
    let mailbox_dir = root.path().join("mailbox");
    let (_mailbox, mut alice, mut bob) =
        courier_e2e::mailbox::parted_with_a_mailbox(&tools, root.path(), &mailbox_dir)?;

    // The drive: alice writes what bob is owed into a folder, bob reads it.
    send_image(&alice, root.path(), 1)?;
    let stick = root.path().join("stick");
    let started = Instant::now();
    alice.cli(&["drive", "export", path(&stick)?])?;
    let drive_write = started.elapsed();
    let drive_bytes = bytes_under(&stick)?;
    let started = Instant::now();
    bob.cli(&["drive", "import", path(&stick)?])?;
    let drive_read = started.elapsed();
    wait_for_images(&bob, 1)?;

    // The mailbox: alice's node uploads and stops; bob's fetches.
    send_image(&alice, root.path(), 2)?;
    let started = Instant::now();
    alice.serve()?;
    wait_until(
        Duration::from_secs(300),
        "alice's node writes the image out",
        || {
            Ok(alice
                .messages("bob")?
                .iter()
                .filter(|r| r.direction == "out")
                .all(|r| r.state != "queued"))
        },
    )?;
    // Stopping waits for the uploads under way.
    alice.stop()?;
    let mailbox_write = started.elapsed();
    let mailbox_bytes = bytes_under(&mailbox_dir.join("folders"))?;
    let started = Instant::now();
    bob.serve()?;
    wait_for_images(&bob, 2)?;
    let mailbox_read = started.elapsed();
    bob.stop()?;

    let fsync = fsync_median(root.path())?;
    let rate = |bytes: u64, took: Duration| bytes as f64 / 1e6 / took.as_secs_f64();
    println!(
        "mailbox against the drive, one {:.1} MB image (noise, {SIDE}×{SIDE}), release build, loopback:",
        drive_bytes as f64 / 1e6
    );
    let (dw, dr) = (
        rate(drive_bytes, drive_write),
        rate(drive_bytes, drive_read),
    );
    let (mw, mr) = (
        rate(mailbox_bytes, mailbox_write),
        rate(mailbox_bytes, mailbox_read),
    );
    println!(
        "  written   drive {dw:>7.1} MB/s ({:.2} s)   mailbox {mw:>7.1} MB/s ({:.2} s)   mailbox/drive {:>5.0}%",
        drive_write.as_secs_f64(),
        mailbox_write.as_secs_f64(),
        100.0 * mw / dw
    );
    println!(
        "  read      drive {dr:>7.1} MB/s ({:.2} s)   mailbox {mr:>7.1} MB/s ({:.2} s)   mailbox/drive {:>5.0}%",
        drive_read.as_secs_f64(),
        mailbox_read.as_secs_f64(),
        100.0 * mr / dr
    );
    println!(
        "  this machine: fsync {:.2} ms; {:.1} MB went through the mailbox",
        fsync.as_secs_f64() * 1e3,
        mailbox_bytes as f64 / 1e6
    );
    Ok(())
}

fn path(p: &Path) -> Result<&str> {
    p.to_str().context("a UTF-8 path")
}

/// Queues a noise image (`seed`) from alice to bob.
fn send_image(alice: &Person, root: &Path, seed: u64) -> Result<()> {
    let file = root.join(format!("noise-{seed}.png"));
    std::fs::write(&file, noise_png(SIDE, SIDE, seed))?;
    alice.send_full_quality_image("bob", &file)
}

/// Waits until bob holds `count` whole images from alice.
fn wait_for_images(bob: &Person, count: usize) -> Result<()> {
    wait_until(Duration::from_secs(300), "bob holds the images", || {
        Ok(bob
            .messages("alice")?
            .iter()
            .filter(|r| r.direction == "in" && r.complete)
            .count()
            >= count)
    })
}

/// Bytes of every file under `dir`.
fn bytes_under(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        total += if entry.file_type()?.is_dir() {
            bytes_under(&entry.path())?
        } else {
            entry.metadata()?.len()
        };
    }
    Ok(total)
}
