//! `serve`: runs the node until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result};
use courier_api::{ApiOptions, Serving};
use courier_service::DataDir;
use courier_service::events::Event;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

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

/// How `serve` prints its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventFormat {
    /// A line each for a person.
    Text,
    /// The API's JSON, a line each.
    Json,
}

/// Runs the node on `dir` with the config at `config` (or the directory's, or the default), and
/// the API beside it if asked, printing its events in `format`.
pub fn run(
    dir: &DataDir,
    config: Option<&Path>,
    api: &ApiFlags,
    format: EventFormat,
) -> Result<()> {
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
    // Two connections: the node's, and the front end's (the feed of events, and the API's).
    let (node, front) = unlock::open_twice(dir)?;
    let mut serving = Serving::start(&config, node, front, api.on.then_some(options))?;
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
    let events = serving.events();
    std::thread::spawn(move || print(events, format));
    println!("serving; stop with Ctrl-C");
    serving.wait()?;
    println!("stopped cleanly");
    Ok(())
}

/// Prints every event of `events` in `format`, until the node stops.
fn print(mut events: Receiver<Event>, format: EventFormat) {
    loop {
        match events.blocking_recv() {
            Ok(event) => match format {
                EventFormat::Text => println!("{event}"),
                EventFormat::Json => {
                    println!(
                        "{}",
                        serde_json::to_string(&event).expect("events serialise")
                    );
                }
            },
            Err(RecvError::Lagged(missed)) => match format {
                EventFormat::Text => println!("({missed} events were missed)"),
                EventFormat::Json => println!(r#"{{"type":"lagged","missed":{missed}}}"#),
            },
            Err(RecvError::Closed) => return,
        }
    }
}
