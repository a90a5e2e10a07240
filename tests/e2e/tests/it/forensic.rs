//! A seized disk, read as a forensic examiner would: alice's data directory lives on an ext4 file
//! system in an image file, loop-mounted; the raw image is read whole afterwards and searched with
//! her passphrase and every key it derives (`examiner.rs`). Stale copies of her database stay in the
//! blocks that ext4 freed when WAL files were truncated or deleted; only the keys that encrypted
//! them can be destroyed, and these stories check that they were.
//!
//! Needs root (to mount), `mkfs.ext4` and `sync`; `.ci/run` runs as root and installs e2fsprogs. Off
//! CI, without them, each story prints `SKIPPED:` with the reason.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use courier_e2e::{PASSPHRASE, Person, Tools, wait_until};

use super::examiner::{self, Findings};
use super::{pair_in, scratch};

/// Big enough for two data directories' worth of churn, small enough to scan in seconds.
const IMAGE_MIB: u64 = 128;

/// 4 KiB blocks, as on a real disk (mkfs would pick 1 KiB for one this small); no lazy init, so
/// nothing writes the image behind the story's back.
const EXT4: [&str; 6] = [
    "-q",
    "-F",
    "-b",
    "4096",
    "-E",
    "lazy_itable_init=0,lazy_journal_init=0",
];

/// A file system in an image file, loop-mounted.
struct Disk {
    _dir: tempfile::TempDir,
    image: PathBuf,
    mount: PathBuf,
    mounted: bool,
}

impl Disk {
    /// A fresh, mounted ext4 disk; `None` (after saying `SKIPPED:`) where this cannot run, which on
    /// CI is a failure instead.
    fn mount(story: &str) -> Result<Option<Disk>> {
        Disk::mount_as(story, "ext4", &EXT4, "loop")
    }

    /// A fresh disk of file system `kind`, made with `mkfs.KIND ARGS` and mounted with `options`.
    fn mount_as(story: &str, kind: &str, args: &[&str], options: &str) -> Result<Option<Disk>> {
        let mkfs = format!("mkfs.{kind}");
        let missing = if courier_local_fs_uid() != 0 {
            Some("not root, so no loop mount".to_owned())
        } else if Command::new(&mkfs).arg("-V").output().is_err() {
            Some(format!("{mkfs} is missing"))
        } else {
            None
        };
        if let Some(why) = missing {
            if std::env::var_os("CI").is_some() {
                bail!("{story} must run in CI, but {why}");
            }
            println!("SKIPPED: {story}: {why}");
            return Ok(None);
        }
        let dir = tempfile::tempdir()?;
        let image = dir.path().join("disk.img");
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount)?;
        std::fs::File::create(&image)?.set_len(IMAGE_MIB << 20)?;
        run(Command::new(&mkfs).args(args).arg(&image))?;
        run(Command::new("mount")
            .args(["-o", options])
            .arg(&image)
            .arg(&mount))?;
        Ok(Some(Disk {
            _dir: dir,
            image,
            mount,
            mounted: true,
        }))
    }

    /// The raw image, every block as the disk holds it now (the file system synced first).
    fn raw(&self) -> Result<Vec<u8>> {
        if self.mounted {
            run(Command::new("sync").arg("-f").arg(&self.mount))?;
        }
        Ok(std::fs::read(&self.image)?)
    }

    fn unmount(&mut self) -> Result<()> {
        if self.mounted {
            run(Command::new("umount").arg(&self.mount))?;
            self.mounted = false;
        }
        Ok(())
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
        }
    }
}

fn courier_local_fs_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

fn run(command: &mut Command) -> Result<()> {
    let output = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// A marker no two runs share, to write into a message and look for on the disk.
fn marker(kind: &str, n: usize) -> (String, Vec<u8>) {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let text = format!("forensic-{kind}-{n}-{nonce:x}");
    (text.clone(), text.into_bytes())
}

/// Every key the examiner derives from `image` and the passphrase: from each key file found on it,
/// and SQLCipher's from the passphrase under the database salt `salt` (given to the examiner, who
/// could otherwise try every 16 bytes that start a block).
fn derived_keys(image: &[u8], salt: &[u8]) -> Vec<[u8; 32]> {
    let mut keys = examiner::key_file_keys(image, PASSPHRASE);
    keys.push(examiner::passphrase_key(PASSPHRASE, salt));
    keys
}

fn names(markers: &[(String, Vec<u8>)]) -> Vec<String> {
    markers.iter().map(|(n, _)| n.clone()).collect()
}

/// Sends `texts` from `from` to `to`, one `courier send` each.
fn say(from: &Person, to: &Person, texts: &[(String, Vec<u8>)]) -> Result<()> {
    for (text, _) in texts {
        from.cli(&["send", &to.name, "--text", text])?;
    }
    Ok(())
}

/// A photo of noise (`seed`) from `a` to `b` and one back: chunks in the packs on both sides.
fn photos_each_way(a: &Person, b: &Person, dir: &Path, seed: u64) -> Result<()> {
    let photo = dir.join("photo.png");
    std::fs::write(&photo, courier_e2e::noise_png(640, 480, seed))?;
    let photo = photo.display().to_string();
    a.cli(&["send", &b.name, "--image", &photo])?;
    b.cli(&["send", &a.name, "--image", &photo])?;
    Ok(())
}

/// A place in Vienna from `a` to `b` under `label`.
fn place(a: &Person, b: &Person, label: &str) -> Result<()> {
    a.cli(&[
        "send",
        &b.name,
        "--location",
        "48.2082,16.3738",
        "--label",
        label,
    ])
    .map(drop)
}

/// Waits until every message between `a` and `b` is acked and `a` holds `count` from `b`.
fn settled(a: &Person, b: &Person, count: usize) -> Result<()> {
    wait_until(
        Duration::from_secs(60),
        "everything is acked both ways",
        || {
            let here = a.messages(&b.name)?;
            let there = b.messages(&a.name)?;
            let acked = |rows: &[courier_e2e::Row]| {
                rows.iter()
                    .all(|r| r.direction == "in" || r.state == "acked")
            };
            let received = here.iter().filter(|r| r.direction == "in").count();
            Ok(acked(&here) && acked(&there) && received >= count)
        },
    )
}

#[test]
fn alice_panics_and_her_seized_disk_decrypts_to_nothing_with_her_passphrase() -> Result<()> {
    let Some(mut disk) = Disk::mount("the panic forensic story")? else {
        return Ok(());
    };
    let root = scratch();
    let (mut alice, mut bob) = pair_in(&disk.mount, root.path())?;
    let mut said = Vec::new();
    let mut received = 0;
    // Three runs of her node, each stopped: every stop checkpoints and deletes the WAL, leaving its
    // frames in blocks ext4 freed.
    for round in 0..3 {
        if round > 0 {
            alice.serve()?;
        }
        let out: Vec<_> = (0..4).map(|i| marker("out", round * 10 + i)).collect();
        let back: Vec<_> = (0..4).map(|i| marker("in", round * 10 + i)).collect();
        say(&alice, &bob, &out)?;
        say(&bob, &alice, &back)?;
        received += back.len();
        match round {
            0 => {
                photos_each_way(&alice, &bob, root.path(), 7)?;
                received += 1;
            }
            1 => {
                let (label, bytes) = marker("location", round);
                place(&alice, &bob, &label)?;
                said.push((label, bytes));
            }
            _ => {}
        }
        settled(&alice, &bob, received)?;
        said.extend(out);
        said.extend(back);
        alice.stop()?;
    }
    alice.serve()?;
    let salt = std::fs::read(alice.dir.join("courier.db"))?[..16].to_vec();

    // Before: the examiner's keys open alice's live database, and the scan finds what she said.
    let before = disk.raw()?;
    let keys_before = derived_keys(&before, &salt);
    let found: Findings = examiner::scan(&before, &keys_before, &said);
    assert_eq!(
        found.markers.into_iter().collect::<Vec<_>>(),
        {
            let mut all = names(&said);
            all.sort();
            all
        },
        "the examiner reads everything while the keys exist ({} pages)",
        found.pages
    );

    // Under duress, with her node running.
    alice.passphrase = String::new();
    let printed = alice.cli(&["panic", "--yes"])?;
    assert!(printed.starts_with("wiped "), "{printed}");
    alice.passphrase = PASSPHRASE.to_owned();
    bob.stop()?;
    disk.unmount()?;

    let after = std::fs::read(&disk.image)?;
    assert!(
        examiner::key_file_keys(&after, PASSPHRASE).is_empty(),
        "no copy of the key file opens with the passphrase"
    );
    let found = examiner::scan(&after, &derived_keys(&after, &salt), &said);
    assert_eq!(found.pages, 0, "no page decrypts: {:?}", found.markers);
    assert!(found.markers.is_empty());
    let plain = said
        .iter()
        .filter(|(_, bytes)| examiner::find(&after, bytes).is_some())
        .count();
    assert_eq!(plain, 0, "nothing she said is on the disk in the clear");

    // The stale copies are still there, under keys that no longer exist anywhere: with the keys the
    // examiner had before the wipe, they still decrypt. Only the keys' destruction protects them.
    let stale = examiner::scan(&after, &keys_before, &said);
    assert!(
        stale.pages > 0 && !stale.markers.is_empty(),
        "the image still holds stale encrypted copies ({} pages, {} markers)",
        stale.pages,
        stale.markers.len()
    );
    println!(
        "after the wipe: 0 pages open with the passphrase; {} stale pages and {} of {} markers remain under the destroyed keys",
        stale.pages,
        stale.markers.len(),
        said.len()
    );
    Ok(())
}

#[test]
fn what_disappeared_is_not_on_alice_s_disk_for_her_passphrase_while_her_node_runs() -> Result<()> {
    let Some(disk) = Disk::mount("the disappearing forensic story")? else {
        return Ok(());
    };
    let root = scratch();
    let (mut alice, bob) = pair_in(&disk.mount, root.path())?;
    // Said before any timer: kept, and what shows the examiner can read her live database.
    let kept: Vec<_> = (0..3).map(|i| marker("kept", i)).collect();
    say(&alice, &bob, &kept)?;
    settled(&alice, &bob, 0)?;
    alice.stop()?;
    alice.serve()?;

    alice.cli(&["contacts", "timer", "bob", "1m"])?;
    let gone_out: Vec<_> = (0..5).map(|i| marker("gone-out", i)).collect();
    let gone_in: Vec<_> = (0..5).map(|i| marker("gone-in", i)).collect();
    say(&alice, &bob, &gone_out)?;
    say(&bob, &alice, &gone_in)?;
    // A photo each way (its chunks in the packs beside the database) and a place whose label is
    // marked go under the same timer.
    photos_each_way(&alice, &bob, root.path(), 11)?;
    let place_marked = marker("gone-location", 0);
    place(&alice, &bob, &place_marked.0)?;
    settled(&alice, &bob, gone_in.len() + 1)?;
    // A restart while they are there: their frames go to freed blocks with the deleted WAL.
    alice.stop()?;
    alice.serve()?;
    let salt = std::fs::read(alice.dir.join("courier.db"))?[..16].to_vec();
    let gone: Vec<_> = gone_out
        .iter()
        .chain(&gone_in)
        .chain([&place_marked])
        .cloned()
        .collect();
    let while_there = disk.raw()?;
    let keys_then = derived_keys(&while_there, &salt);
    assert_eq!(
        examiner::scan(&while_there, &keys_then, &gone)
            .markers
            .len(),
        gone.len(),
        "before the timer runs out the examiner reads them"
    );

    // A minute after ack or arrival they are deleted, and the node rotates the key.
    wait_until(
        Duration::from_secs(150),
        "alice's node deleted them and rotated the key",
        || {
            let left = alice
                .messages("bob")?
                .iter()
                .filter(|r| {
                    r.content_type == "courier/image"
                        || gone
                            .iter()
                            .any(|(text, _)| r.summary.contains(text.as_str()))
                })
                .count();
            Ok(left == 0 && !alice.database()?.erasure_owed()?)
        },
    )?;
    assert!(alice.is_serving(), "the node ran all along");

    let image = disk.raw()?;
    let keys_now = derived_keys(&image, &salt);
    let found = examiner::scan(&image, &keys_now, &gone);
    assert!(
        found.markers.is_empty(),
        "disappeared messages decrypt from the disk: {:?}",
        found.markers
    );
    let live = examiner::scan(&image, &keys_now, &kept);
    assert_eq!(
        live.markers.len(),
        kept.len(),
        "the passphrase still reads the live database ({} pages)",
        live.pages
    );
    let plain = gone
        .iter()
        .filter(|(_, bytes)| examiner::find(&image, bytes).is_some())
        .count();
    assert_eq!(
        plain, 0,
        "nothing that disappeared is on the disk in the clear"
    );
    // They are on the disk still, under the key that was destroyed.
    let stale = examiner::scan(&image, &keys_then, &gone);
    assert!(
        !stale.markers.is_empty(),
        "the image still holds them under the destroyed key, so the scan had something to find"
    );
    println!(
        "after the timer: 0 of {} disappeared messages open with the passphrase; {} remain in stale pages under the destroyed key",
        gone.len(),
        stale.markers.len()
    );
    Ok(())
}

#[test]
fn init_warns_on_btrfs_and_journaled_ext4_where_old_copies_of_the_key_file_can_stay_and_not_on_ext4()
-> Result<()> {
    let tools = Tools::locate()?;
    let init = |root: &Path| -> Result<String> {
        let output = Command::new(&tools.courier)
            .arg("--data-dir")
            .arg(root.join("alice"))
            .args(["init", "--name", "alice"])
            .env("COURIER_PASSPHRASE", PASSPHRASE)
            .output()?;
        assert!(output.status.success());
        Ok(String::from_utf8(output.stderr)?)
    };
    let Some(btrfs) = Disk::mount_as("the btrfs init story", "btrfs", &["-q", "-f"], "loop")?
    else {
        return Ok(());
    };
    let warned = init(&btrfs.mount)?;
    assert!(
        warned.contains("courier: warning:") && warned.contains("is on btrfs"),
        "{warned}"
    );
    assert!(warned.contains("copy-on-write"), "{warned}");
    let Some(ext4) = Disk::mount("the ext4 init story")? else {
        return Ok(());
    };
    let quiet = init(&ext4.mount)?;
    assert!(!quiet.contains("is on"), "{quiet}");
    let Some(journaled) = Disk::mount_as(
        "the data=journal init story",
        "ext4",
        &EXT4,
        "loop,data=journal",
    )?
    else {
        return Ok(());
    };
    let warned = init(&journaled.mount)?;
    assert!(
        warned.contains("is on ext4") && warned.contains("data=journal"),
        "{warned}"
    );
    Ok(())
}
