//! `courier mailbox serve`: a mailbox in its own data directory, over `courier-mailbox`; `pair`,
//! `status` and `unpair`: the owner's node and its mailbox, over the service.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result};
use courier_mailbox_client::PairingLink;
use courier_service::DataDir;

use super::unlock;

/// Serves the mailbox of `dir` on `listen`, or as an onion service if its config says so, until
/// SIGINT or SIGTERM.
pub fn serve(dir: &Path, listen: SocketAddr) -> Result<()> {
    courier_mailbox::serving::run(dir, listen, |addr, setup| {
        println!("mailbox: serving on {addr}");
        if let Some(setup) = setup {
            // Shown once, to its owner: whoever has it can take the mailbox over until the owner
            // has paired.
            println!(
                "mailbox: setup token for the owner's node: {}",
                setup.to_hex()
            );
            let link = PairingLink {
                address: addr.to_owned(),
                setup: setup.bytes(),
            };
            println!("mailbox: pair the owner's node with: courier mailbox pair {link}");
        }
    })?;
    Ok(())
}

/// Pairs the node of `dir` with the mailbox `link` names (`-`: read from standard input).
pub fn pair(dir: &DataDir, link: &str) -> Result<()> {
    let link = if link == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_line(&mut text)
            .context("reading the pairing link from standard input")?;
        text
    } else {
        link.to_owned()
    };
    let mut service = unlock::open(dir)?;
    println!("{}", service.mailbox_pair(&link)?);
    Ok(())
}

/// Says whether the mailbox answers.
pub fn status(dir: &DataDir) -> Result<()> {
    let mut service = unlock::open(dir)?;
    println!("{}", service.mailbox_status()?);
    Ok(())
}

/// Stops using the mailbox.
pub fn unpair(dir: &DataDir) -> Result<()> {
    let mut service = unlock::open(dir)?;
    let told = service.mailbox_unpair()?;
    println!(
        "unpaired; {told} contact(s) will be told to stop using it in their next sync with you"
    );
    Ok(())
}
