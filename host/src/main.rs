//! The `courier` command line. Library code returns typed errors; this edge turns them into one clear
//! line and a non-zero exit.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use courier_host::config::Config;
use courier_host::plugin::PluginHost;
use courier_host::plugin::bindings::transport_types::Mode;

/// Courier: end-to-end encrypted messaging over whatever network is left.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Loads every plugin in the config and prints what each one describes.
    Plugins {
        /// The node config (TOML).
        #[arg(long, default_value = "config/demo.toml")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COURIER_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("courier: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Plugins { config } => plugins(&Config::read(&config)?),
    }
}

fn plugins(config: &Config) -> Result<()> {
    let host = PluginHost::load(config).context("starting the wasm engine")?;
    for report in &host.reports {
        println!(
            "loaded {:<18} {:?} in {:.1} ms",
            report.plugin,
            report.origin,
            report.elapsed.as_secs_f64() * 1e3
        );
    }
    for t in &host.transports {
        let d = t.description();
        let mode = match d.mode {
            Mode::Duplex => "duplex",
            Mode::Simplex => "simplex",
        };
        println!(
            "transport    {:<18} id={} {mode} max-latency={}s frame={}B reveals={:?}",
            t.name(),
            d.id,
            d.max_latency_ms / 1000,
            d.frame_size,
            d.reveals
        );
    }
    for m in &host.message_types {
        let d = m.description();
        println!(
            "message-type {:<18} {} v{}..=v{} input<={}B payload<={}B",
            m.name(),
            d.content_type,
            d.versions.min,
            d.versions.max,
            d.max_input_bytes,
            d.max_payload_bytes
        );
    }
    for failure in &host.failures {
        println!("not loaded   {failure}");
    }
    if host.failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} plugin(s) were not loaded; see above",
            host.failures.len()
        )
    }
}
