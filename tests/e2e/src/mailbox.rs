//! A mailbox (`courier mailbox serve`) in its own process, and two people who met once and since
//! reach each other only through it: for the mailbox stories and the bench.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::{Person, Tools, dialing_pair, introduce, wait_for_contact, wait_until};

/// A running `courier mailbox serve` and what it printed first.
pub struct MailboxProcess {
    child: Child,
    pub setup: Option<String>,
    /// The pairing link a new mailbox prints for its owner's node.
    pub link: Option<String>,
}

impl MailboxProcess {
    pub fn start(tools: &Tools, dir: &Path, listen: &str) -> Result<MailboxProcess> {
        let mut child = Command::new(&tools.courier)
            .args(["mailbox", "serve", "--listen", listen, "--dir"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting courier mailbox serve")?;
        let mut lines = BufReader::new(child.stdout.take().context("its stdout")?).lines();
        let first = lines.next().context("it printed nothing")??;
        if !first.starts_with("mailbox: serving on ") {
            bail!("unexpected first line: {first}");
        }
        // A new mailbox prints its setup token next; one in use prints nothing more.
        let new = std::fs::read_to_string(dir.join("registry.json"))?.contains("\"owner\": null");
        let (mut setup, mut link) = (None, None);
        if new {
            for found in [&mut setup, &mut link] {
                let line = lines.next().context("no setup token or link")??;
                *found = Some(line.rsplit(' ').next().context("an empty line")?.to_owned());
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        Ok(MailboxProcess { child, setup, link })
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for MailboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The TCP ports the process `pid` listens on (IPv4 and IPv6).
pub fn listening_ports(pid: u32) -> Result<Vec<u16>> {
    let process = procfs::process::Process::new(i32::try_from(pid)?)?;
    let sockets: std::collections::HashSet<u64> = process
        .fd()?
        .filter_map(|fd| match fd.ok()?.target {
            procfs::process::FDTarget::Socket(inode) => Some(inode),
            _ => None,
        })
        .collect();
    let mut entries = process.tcp()?;
    entries.extend(process.tcp6()?);
    Ok(entries
        .into_iter()
        .filter(|e| e.state == procfs::net::TcpState::Listen && sockets.contains(&e.inode))
        .map(|e| e.local_address.port())
        .collect())
}

/// A new mailbox serving `dir` on a free loopback port, and the pairing link it printed.
pub fn new_mailbox(tools: &Tools, dir: &Path) -> Result<(MailboxProcess, String)> {
    let mailbox = MailboxProcess::start(tools, dir, "127.0.0.1:0")?;
    let link = mailbox
        .link
        .clone()
        .context("a new mailbox prints its pairing link")?;
    Ok((mailbox, link))
}

/// Alice's mailbox running in `mailbox_dir`, and alice and bob, who met once on the LAN: alice paired
/// with her mailbox and bob learned his folders in it in their sync. Both nodes are stopped and
/// configured with the mailbox transport and no LAN: from now on they reach each other only
/// through the mailbox.
pub fn parted_with_a_mailbox(
    tools: &Tools,
    root: &Path,
    mailbox_dir: &Path,
) -> Result<(MailboxProcess, Person, Person)> {
    parted(tools, root, mailbox_dir, None)
}

/// As [`parted_with_a_mailbox`], the mailbox an onion service on the Tor network `network` names
/// (its `[tor]` section), which both nodes reach over Tor.
pub fn parted_with_an_onion_mailbox(
    tools: &Tools,
    root: &Path,
    mailbox_dir: &Path,
    network: &str,
) -> Result<(MailboxProcess, Person, Person)> {
    std::fs::create_dir_all(mailbox_dir)?;
    std::fs::write(mailbox_dir.join("mailbox.toml"), network)?;
    parted(tools, root, mailbox_dir, Some(network))
}

fn parted(
    tools: &Tools,
    root: &Path,
    mailbox_dir: &Path,
    network: Option<&str>,
) -> Result<(MailboxProcess, Person, Person)> {
    let (mailbox, link) = new_mailbox(tools, mailbox_dir)?;
    let (mut alice, mut bob) = dialing_pair(tools, root, root)?;
    introduce(&alice, &bob)?;
    alice.serve()?;
    bob.serve()?;
    wait_for_contact(&alice, &bob)?;
    alice.stop()?;
    // The mailbox transport first: how it reaches mailboxes is how pairing reaches this one.
    for person in [&mut alice, &mut bob] {
        person.mailbox = true;
        person.mailbox_tor = network.map(str::to_owned);
    }
    alice.configure(&[bob.port], false, "loopback")?;
    let paired = alice.cli(&["mailbox", "pair", &link])?;
    if !paired.contains("1 contact(s) registered now") {
        bail!("pairing said: {paired}");
    }
    if !alice
        .cli(&["mailbox", "pair", &link])?
        .contains("0 contact(s) registered now, 1 before")
    {
        bail!("pairing again registered bob again");
    }
    if !alice
        .cli(&["mailbox", "status"])?
        .contains("mailbox: reachable, 1 contact(s)")
    {
        bail!("alice's mailbox is not reachable");
    }
    // Bob learns his token and folders inside his next sync with alice, never from the mailbox.
    bob.stop()?;
    bob.configure(&[alice.port], false, "loopback")?;
    alice.serve()?;
    bob.serve()?;
    wait_until(
        Duration::from_secs(30),
        "bob learns of alice's mailbox",
        || {
            Ok(bob
                .cli(&["mailbox", "status"])?
                .contains("1 contact(s) reachable through their own"))
        },
    )?;
    for person in [&mut alice, &mut bob] {
        person.stop()?;
        person.lan = false;
    }
    alice.configure(&[], false, "loopback")?;
    bob.configure(&[], false, "loopback")?;
    Ok((mailbox, alice, bob))
}
