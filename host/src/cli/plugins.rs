//! `plugins`: what a config loads; `plugins check`, `try` and `install`: one built component.

use std::path::Path;

use anyhow::Result;
use courier_service::Config;
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

/// Where this courier was built from: its SDK is the default for `plugins new`.
const BUILT_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugin-api");

/// Writes a new plugin crate `into/name` from the template of `world`, and says what to do next.
pub fn new(
    world: &str,
    name: &str,
    content_type: Option<&str>,
    sdk: Option<&Path>,
    into: &Path,
) -> Result<()> {
    use courier_service::plugin_template::{NewPlugin, new_plugin};
    let world = match world {
        "transport" => courier_service::World::Transport,
        _ => courier_service::World::MessageType,
    };
    let plugin = NewPlugin {
        world,
        name,
        content_type,
        sdk: sdk.unwrap_or(Path::new(BUILT_SDK)),
    };
    let folder = new_plugin(&plugin, into)?;
    let wasm = name.replace('-', "_");
    println!("wrote the {world} plugin {name} in {}", folder.display());
    println!(
        "build it:  cd {} && cargo build --release --target wasm32-wasip2",
        folder.display()
    );
    println!(
        "check it:  courier plugins check target/wasm32-wasip2/release/{wasm}.wasm --manifest plugin.toml"
    );
    Ok(())
}

/// The most `plugins try` reads; the plugin's own `max-input-bytes` is checked after.
const TRY_INPUT_LIMIT: u64 = 256 << 20;

/// Runs the message type at `wasm` on `input` (a file or `-`): prepare, validate and summary, and
/// prints the payload's size, its summary and what each call used of its limits.
pub fn try_run(
    wasm: &Path,
    manifest: Option<&Path>,
    input: &Path,
    config: Option<&Path>,
    options: Vec<(String, String)>,
) -> Result<()> {
    let beside = wasm.with_extension("toml");
    let config = config
        .map(Config::read)
        .transpose()
        .map_err(ServiceError::from)?;
    let input = super::conversation::Input::path_or_stdin(input, "input").read(TRY_INPUT_LIMIT)?;
    let run = courier_service::plugin_check::TryRun {
        config: config.as_ref(),
        options,
    };
    let tried = courier_service::plugin_check::try_component(
        wasm,
        manifest.unwrap_or(&beside),
        &input,
        &run,
    )?;
    let limits = &tried.limits;
    println!(
        "{} v{}: {} bytes in, a payload of {} bytes",
        tried.content_type,
        tried.version,
        input.len(),
        tried.payload_bytes
    );
    println!("summary: {}", tried.summary);
    println!(
        "limits: fuel {} per call, memory {} MiB ({})",
        limits.fuel_per_call,
        limits.memory_mib,
        tried
            .limits_from
            .as_deref()
            .map_or("the host's defaults".to_owned(), |at| format!(
                "from [{at}]"
            ))
    );
    for call in &tried.calls {
        println!(
            "{:<8} fuel {:>13} ({:.2}% of the budget)  memory {:.1} MiB",
            call.export,
            call.usage.fuel,
            call.usage.fuel as f64 * 100.0 / limits.fuel_per_call as f64,
            call.usage.memory_bytes as f64 / f64::from(1 << 20),
        );
    }
    Ok(())
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
