//! `plugins`: what a config loads.

use std::path::Path;

use anyhow::{Context, Result};
use courier_host::config::Config;
use courier_host::plugin::PluginHost;
use courier_host::plugin::bindings::transport_types::Mode;

/// Loads every plugin in the config at `path` and prints what each describes.
pub fn list(path: &Path) -> Result<()> {
    let config = Config::read(path)?;
    let host = PluginHost::load(&config).context("starting the wasm engine")?;
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
