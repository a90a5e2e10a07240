//! `serve`: runs the node until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result};
use courier_service::node::Notice;

use courier_api::{ApiOptions, Serving};
use courier_service::DataDir;

use super::unlock;

/// Whether and where `serve` runs the API.
#[derive(Debug, Clone, Default)]
pub struct ApiFlags {
    /// `--api`.
    pub on: bool,
    /// `--api-bind`, over the config's `[api] bind`.
    pub bind: Option<SocketAddr>,
    /// `--api-allow-remote`.
    pub allow_remote: bool,
}

/// Runs the node on `dir` with the config at `config` (or the directory's, or the default), and
/// the API beside it if asked.
pub fn run(dir: &DataDir, config: Option<&Path>, api: &ApiFlags) -> Result<()> {
    let config = dir.config(config)?;
    let options = ApiOptions {
        bind: api
            .bind
            .or(config.api.bind)
            .unwrap_or(ApiOptions::default().bind),
        allow_remote: api.allow_remote,
    };
    // Refused before the passphrase is asked for or anything starts.
    if api.on {
        config.policy.admit_api(options.bind).map_err(|refusal| {
            super::CliError::new(
                courier_service::ErrorKind::RefusedByPolicy,
                format!("refusing --api-bind {}: {refusal}", options.bind),
            )
        })?;
        options.check()?;
    }
    let (service, api_service) = if api.on {
        let (node, api) = unlock::open_twice(dir)?;
        (node, Some((api, options)))
    } else {
        (unlock::open(dir)?, None)
    };
    let mut serving = Serving::start(&config, service, api_service)?;
    if let Some(addr) = serving.api_addr() {
        if !addr.ip().is_loopback() {
            eprintln!(
                "warning: the API listens on {addr}, beyond this machine: anyone who can reach it \
                 can try tokens, and the token and your messages cross the network in the clear; \
                 put TLS in front or use it on loopback only"
            );
        }
        println!(
            "api: listening on http://{addr}/ (the token is in {})",
            dir.path().join(courier_api::TOKEN_FILE).display()
        );
    }
    serving
        .stop_on_signals()
        .context("installing signal handlers")?;
    let notices = serving.take_notices();
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
    serving.wait()?;
    println!("stopped cleanly");
    Ok(())
}
