//! `serve`: runs the node until SIGINT or SIGTERM.

use std::path::Path;

use anyhow::{Context, Result};
use courier_service::node::Notice;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use courier_service::DataDir;

use super::unlock;

/// Runs the node on `dir` with the config at `config` (or the directory's, or the default).
pub fn run(dir: &DataDir, config: Option<&Path>) -> Result<()> {
    let service = unlock::open(dir)?;
    let config = dir.config(config)?;
    let mut node = service.serve(&config)?;
    let handle = node.handle.clone();
    let mut signals = Signals::new([SIGINT, SIGTERM]).context("installing signal handlers")?;
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            handle.stop();
        }
    });
    let notices = std::mem::replace(&mut node.notices, std::sync::mpsc::channel().1);
    std::thread::spawn(move || {
        let mut unreadable: Option<String> = None;
        for notice in notices {
            match notice {
                Notice::Listening { transport, address } => {
                    // The address is the driver's; a TCP one ends in its port, which is all we show.
                    match address.rsplit_once(':') {
                        Some((_, port)) => println!("{transport}: listening on port {port}"),
                        None => println!("{transport}: listening"),
                    }
                }
                Notice::Introduced { .. } => println!("a pending contact is now a contact"),
                Notice::Received { count, .. } => println!("received {count} message(s)"),
                Notice::Read { outcome, name, .. } => {
                    if let courier_service::node::ReadOutcome::Damaged { reason } = outcome {
                        let name = name.unwrap_or_default();
                        println!("skipped a damaged file {name}: {reason}");
                    }
                }
                Notice::Wrote { transport, .. } => println!("{transport}: wrote a stream"),
                Notice::Medium { transport, state } => println!("{transport}: {state}"),
                // Said once when the folder goes (a stick pulled out), again once it is back.
                Notice::Scanned {
                    error, transport, ..
                } => {
                    if error != unreadable {
                        match &error {
                            Some(error) => println!("{transport}: {error}"),
                            None => println!("{transport}: reading the folder again"),
                        }
                        unreadable = error;
                    }
                }
            }
        }
    });
    println!("serving; stop with Ctrl-C");
    node.wait()?;
    println!("stopped cleanly");
    Ok(())
}
