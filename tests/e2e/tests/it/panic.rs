//! The panic wipe, as someone under duress would use it: one command, no passphrase, a running node
//! and a gigabyte of attachments, and nothing left that the passphrase can open.

use courier_proto::sync::timer::Timer;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use courier_e2e::{PASSPHRASE, Person, Tools};
use courier_storage::{Database, Draft, Passphrase};

use super::{pair, scratch};

/// Attachments alice holds when she panics: 9 of the largest size, over 1 GiB in all.
const ATTACHMENTS: usize = 9;
const ATTACHMENT_LEN: usize = courier_proto::sync::attachment::MAX_ATTACHMENT_LEN as usize;
const GIB: u64 = 1 << 30;

/// `len` bytes that repeat nowhere (chunks are content-addressed, so a repeating file would be
/// stored once).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    let mut bytes = Vec::with_capacity(len);
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// Hard links to every file under `from`, in the same places under `to`: the blocks a raw read of
/// the disk would find after the files are removed.
fn link_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            link_tree(&entry.path(), &target)?;
        } else {
            std::fs::hard_link(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Waits until process `pid` has `file` open.
fn holding(pid: u32, file: &Path) -> Result<()> {
    courier_e2e::wait_until(
        Duration::from_secs(5),
        &format!("process {pid} opens {}", file.display()),
        || {
            Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?
                .flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t == file)))
        },
    )
}

fn size_of_tree(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        total += if entry.file_type()?.is_dir() {
            size_of_tree(&entry.path())?
        } else {
            entry.metadata()?.len()
        };
    }
    Ok(total)
}

#[test]
fn alice_panics_with_a_gigabyte_of_attachments_and_her_node_running_and_nothing_opens_after()
-> Result<()> {
    let tools = Tools::locate()?;
    let root = scratch();
    let (mut alice, mut bob) = pair(root.path())?;
    // Bob goes away: everything alice sends now waits in her packs.
    bob.stop()?;
    alice.stop()?;
    {
        let mut db = alice.database()?;
        let contact = db.contact("bob")?;
        for i in 0..ATTACHMENTS {
            let draft = Draft::new("courier/image", 1, noise(i as u64 + 1, ATTACHMENT_LEN));
            db.send(contact, draft, 1_700_000_000_000 + i as u64, Timer::OFF)?;
        }
    }
    let stored = size_of_tree(&alice.dir)?;
    assert!(stored >= GIB, "{stored} bytes stored");
    alice.serve()?;
    let pid = alice.pid().context("alice's node runs")?;
    let remains = root.path().join("remains");
    link_tree(&alice.dir, &remains)?;
    let salt_before = std::fs::read(remains.join("courier.db"))?[..16].to_vec();

    // Under duress there is no passphrase to give.
    alice.passphrase = String::new();
    let started = Instant::now();
    let printed = alice.cli(&["panic", "--yes"])?;
    let took = started.elapsed();
    println!(
        "courier panic --yes with {stored} bytes stored and serve running: {took:?} ({printed})"
    );
    assert!(took < Duration::from_secs(1), "the wipe took {took:?}");
    assert!(printed.starts_with("wiped "), "{printed}");
    assert!(
        printed.contains("stopped 1 running courier process"),
        "{printed}"
    );

    // Serve was stopped by SIGKILL, which gives it no chance to write anything after.
    let status = alice.wait_exit(Duration::from_secs(5))?;
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "serve (pid {pid}) ended with {status}"
    );
    assert!(!alice.dir.exists(), "the data directory is gone");

    // The same passphrase opens nothing: not the directory, and not what its blocks still hold.
    alice.passphrase = PASSPHRASE.to_owned();
    let refused = alice.fails(&["contacts", "list"])?;
    assert!(refused.contains("is not initialised"), "{refused}");
    let salt_after = std::fs::read(remains.join("courier.db"))?[..16].to_vec();
    assert_ne!(salt_after, salt_before, "the salt is written over in place");
    let opened = Database::open(
        &remains.join("courier.db"),
        &Passphrase::new(PASSPHRASE.into())?,
    );
    assert!(
        opened.is_err(),
        "the remains must not open with the passphrase"
    );
    let output = Command::new(&tools.courier)
        .arg("--data-dir")
        .arg(&remains)
        .args(["contacts", "list"])
        .env("COURIER_PASSPHRASE", PASSPHRASE)
        .env("COURIER_PLUGIN_DIR", &tools.plugin_dir)
        .output()?;
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("key file"), "{said}");
    // The sealed chunks are still on those blocks, under a key that was inside the database.
    assert!(size_of_tree(&remains)? >= GIB);
    Ok(())
}

#[test]
fn panic_without_yes_asks_once_and_wipes_nothing_unless_told_yes() -> Result<()> {
    let tools = Tools::locate()?;
    let root = scratch();
    let mut alice = Person::init(&tools, root.path(), "alice")?;
    alice.passphrase = String::new();
    let (_, said) = alice.fails_with_code(&["panic"], b"no\n")?;
    assert!(
        said.contains("Type yes to go on") && said.contains("nothing was wiped"),
        "{said}"
    );
    assert!(alice.dir.join("courier.db").exists());
    let printed = alice.cli_with_stdin(&["panic"], b"yes\n")?;
    assert!(
        printed.starts_with("wiped ") && !printed.contains("stopped"),
        "{printed}"
    );
    assert!(!alice.dir.exists());
    let (_, again) = alice.fails_with_code(&["panic", "--yes"], b"")?;
    assert!(again.contains("not a Courier data directory"), "{again}");
    Ok(())
}

#[test]
fn panic_pointed_at_the_wrong_folder_removes_nothing_and_stops_nothing() -> Result<()> {
    let tools = Tools::locate()?;
    let root = scratch();
    // A folder of the user's own, named by mistake, with a program reading a file in it.
    let photos = root.path().join("photos");
    std::fs::create_dir(&photos)?;
    std::fs::write(photos.join("holiday.jpg"), b"a photo")?;
    let mut reader = Command::new("tail")
        .arg("-f")
        .arg(photos.join("holiday.jpg"))
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let output = Command::new(&tools.courier)
        .arg("--data-dir")
        .arg(&photos)
        .args(["panic", "--yes"])
        .output()?;
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{said}");
    assert!(said.contains("not a Courier data directory"), "{said}");
    assert!(said.contains("nothing was removed"), "{said}");
    assert_eq!(std::fs::read(photos.join("holiday.jpg"))?, b"a photo");
    assert!(reader.try_wait()?.is_none(), "tail was stopped");
    reader.kill()?;
    reader.wait()?;
    Ok(())
}

#[test]
fn alice_panics_and_her_own_notes_beside_the_database_and_a_program_reading_them_survive()
-> Result<()> {
    let root = scratch();
    let (mut alice, mut bob) = pair(root.path())?;
    bob.stop()?;
    let notes = alice.dir.join("notes.txt");
    std::fs::write(&notes, b"my own notes\n")?;
    // Not Courier: it holds a file in the folder, and must be left running.
    let mut reader = Command::new("tail")
        .arg("-f")
        .arg(&notes)
        .stdout(std::process::Stdio::null())
        .spawn()?;
    holding(reader.id(), &notes)?;
    alice.passphrase = String::new();
    let printed = alice.cli(&["panic", "--yes"])?;
    assert!(
        printed.contains("stopped 1 running courier process"),
        "{printed}"
    );
    assert!(
        printed.contains("left what Courier did not write: \"notes.txt\""),
        "{printed}"
    );
    let status = alice.wait_exit(Duration::from_secs(5))?;
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "her node was killed"
    );
    assert!(reader.try_wait()?.is_none(), "tail was stopped");
    assert_eq!(std::fs::read(&notes)?, b"my own notes\n");
    let left: Vec<_> = std::fs::read_dir(&alice.dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    assert_eq!(left, vec![std::ffi::OsString::from("notes.txt")]);
    reader.kill()?;
    reader.wait()?;
    Ok(())
}

#[test]
fn a_courier_of_another_user_holding_a_file_there_is_named_and_not_killed() -> Result<()> {
    let root_user =
        std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    if !root_user {
        if std::env::var_os("CI").is_some() {
            anyhow::bail!("this story must run in CI, which runs as root");
        }
        println!("SKIPPED: another user's process needs root to start");
        return Ok(());
    }
    let tools = Tools::locate()?;
    let root = scratch();
    let mut alice = Person::init(&tools, root.path(), "alice")?;
    // A file alice shares with another user on this machine, beside her database.
    let shared = alice.dir.join("shared.txt");
    std::fs::write(&shared, b"for everyone")?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&alice.dir, std::fs::Permissions::from_mode(0o755))?;
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644))?;
    // Another user runs a program called courier that holds it open.
    let bin = root.path().join("bin");
    std::fs::create_dir(&bin)?;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))?;
    std::fs::copy("/bin/sleep", bin.join("courier"))?;
    let mut theirs = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sh",
            "-c",
        ])
        .arg("exec 3<\"$0\"; exec \"$1\" 30")
        .arg(&shared)
        .arg(bin.join("courier"))
        .spawn()?;
    holding(theirs.id(), &shared)?;
    alice.passphrase = String::new();
    let printed = alice.cli(&["panic", "--yes"])?;
    assert!(
        printed.contains(&format!(
            "courier process {} of user 65534 holds files there and was not stopped",
            theirs.id()
        )),
        "{printed}"
    );
    assert!(
        theirs.try_wait()?.is_none(),
        "another user's process was killed"
    );
    assert!(!alice.dir.join("courier.keys").exists());
    theirs.kill()?;
    theirs.wait()?;
    Ok(())
}
