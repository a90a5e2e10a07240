//! `panic`: the data directory destroyed at once, without the passphrase.

use std::io::{BufRead, Write};

use anyhow::Result;
use courier_service::{DataDir, ErrorKind};

use super::CliError;

/// Asks once (unless `yes`), then wipes `dir` and says how long it took.
pub fn run(dir: &DataDir, yes: bool) -> Result<()> {
    if !yes {
        let mut stderr = std::io::stderr();
        write!(
            stderr,
            "This destroys {} at once: your identity, contacts and every message, for good. \
             Type yes to go on: ",
            dir.path().display()
        )?;
        stderr.flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            eprintln!();
            return Err(CliError::new(ErrorKind::InvalidInput, "nothing was wiped").into());
        }
    }
    let wiped = dir.panic_wipe()?;
    println!(
        "wiped {} in {} ms{}",
        dir.path().display(),
        wiped.elapsed.as_millis(),
        match wiped.stopped {
            0 => String::new(),
            n => format!("; stopped {n} running courier process(es)"),
        }
    );
    for other in &wiped.others {
        println!(
            "courier process {} of user {} holds files there and was not stopped (not yours); its keys on disk are destroyed all the same",
            other.pid, other.uid
        );
    }
    if !wiped.left.is_empty() {
        let names: Vec<String> = wiped.left.iter().map(|n| format!("{n:?}")).collect();
        println!("left what Courier did not write: {}", names.join(", "));
    }
    Ok(())
}
