//! `plugins`: what a config loads, and `plugins check`: whether one component would.

use std::path::Path;

use anyhow::Result;
use courier_host::config::Config;
use courier_service::{Description, ErrorKind, Inventory, PluginHealth, Plugins, ServiceError};

use super::CliError;

/// Loads every plugin in the config at `path` and prints what each describes and how it is doing.
pub fn list(path: &Path) -> Result<()> {
    let config = Config::read(path).map_err(ServiceError::from)?;
    print(&Plugins::load(&config)?.inventory())
}

/// Loads the component at `wasm` with its manifest (`manifest`, else the `.toml` beside it) alone,
/// and prints what it describes, or in one line why it would not load.
pub fn check(wasm: &Path, manifest: Option<&Path>) -> Result<()> {
    let beside = wasm.with_extension("toml");
    let inventory =
        courier_service::plugin_check::check_component(wasm, manifest.unwrap_or(&beside))?;
    print(&inventory)
}

/// Checks the component at `wasm` and, if it loads, copies it with its manifest into the plugin
/// directory of the data directory's config (or of `config`).
pub fn install(
    dir: &courier_service::DataDir,
    config: Option<&Path>,
    wasm: &Path,
    manifest: Option<&Path>,
) -> Result<()> {
    let beside = wasm.with_extension("toml");
    let plugin_dir = dir.plugin_dir(config)?;
    let installed =
        courier_service::plugin_check::install(wasm, manifest.unwrap_or(&beside), &plugin_dir)?;
    println!(
        "{} {} as {}; grant it under [transports.…] or [message_types.…] in the config to run it",
        if installed.replaced {
            "replaced"
        } else {
            "installed"
        },
        installed.name,
        installed.wasm.display()
    );
    Ok(())
}

fn print(inventory: &Inventory) -> Result<()> {
    for p in &inventory.loaded {
        println!(
            "loaded {:<18} {} in {:.1} ms",
            p.name,
            if p.cached { "Cached" } else { "Compiled" },
            p.load_time.as_secs_f64() * 1e3
        );
    }
    for p in &inventory.loaded {
        let health = match &p.health {
            PluginHealth::Up => "up".to_owned(),
            PluginHealth::BackingOff { retry_in } => {
                format!("restarting in {} ms", retry_in.as_millis())
            }
            PluginHealth::Disabled { reason } => format!("disabled ({reason})"),
        };
        match &p.description {
            Description::Transport {
                id,
                duplex,
                max_latency_ms,
                frame_size,
                reveals,
            } => println!(
                "transport    {:<18} id={id} {} max-latency={}s frame={frame_size}B reveals={} health={health}",
                p.name,
                if *duplex { "duplex" } else { "simplex" },
                max_latency_ms / 1000,
                if reveals.is_empty() {
                    "nothing".to_owned()
                } else {
                    reveals.join(",")
                },
            ),
            Description::MessageType {
                content_type,
                min_version,
                max_version,
                max_input_bytes,
                max_payload_bytes,
            } => println!(
                "message-type {:<18} {content_type} v{min_version}..=v{max_version} input<={max_input_bytes}B payload<={max_payload_bytes}B health={health}",
                p.name,
            ),
        }
    }
    for failure in &inventory.not_loaded {
        println!("not loaded   {failure}");
    }
    if inventory.not_loaded.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(
            ErrorKind::Plugin,
            format!(
                "{} plugin(s) were not loaded; see above",
                inventory.not_loaded.len()
            ),
        )
        .into())
    }
}
