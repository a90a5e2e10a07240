//! `plugins check`: one component and its manifest, loaded alone under a config that grants
//! exactly what the manifest asks (TCP on the LAN, a scratch folder for files), so every check the
//! loader makes runs on it: the manifest, the world, the component's real imports, describe, and
//! what a transport declares it reveals against what its grants make possible; then run once as a
//! node first would, so a plugin that faults at once is caught too. No node runs here: the
//! sockets and radios it asks for are never opened, and its `files` are the scratch folder's.
//! `plugins try` runs a message type loaded that way on one input, and `plugins install` copies a
//! checked one.

use std::path::Path;

use courier_config::limits::PluginLimits;
use courier_config::{Config, PluginEntry};
use courier_plugin_host::CallError;
use courier_plugin_host::bindings::transport_types::Event;
use courier_plugin_host::instance::Usage;
use courier_plugin_host::manifest::{Manifest, World};

use crate::error::ServiceError;
use crate::plugins::{Inventory, Plugins};

/// Loads `wasm` with the manifest at `manifest` as the only plugin and runs it once as a node
/// first would; what it describes, or why it does not load or faults at once.
pub fn check_component(wasm: &Path, manifest: &Path) -> Result<Inventory, ServiceError> {
    Ok(checked(wasm, manifest)?.inventory)
}

/// [`check_component`]'s work, keeping the loaded plugin and its manifest.
fn checked(wasm: &Path, manifest: &Path) -> Result<Alone, ServiceError> {
    let mut alone = Alone::load(wasm, manifest, None)?;
    if alone.inventory.not_loaded.is_empty()
        && let Some(fault) = alone.first_run()
    {
        alone.inventory = alone.plugins.inventory();
        alone.inventory.not_loaded = vec![format!("{}: {fault}", wasm.display())];
    }
    Ok(alone)
}

/// One component loaded alone, with the scratch directory it was linked into.
struct Alone {
    plugins: Plugins,
    /// The section of the given config it ran like (its limits and settings), if any.
    like: Option<PluginEntry>,
    inventory: Inventory,
    manifest: Manifest,
    _scratch: tempfile::TempDir,
}

impl Alone {
    /// Loads `wasm` granted what `manifest` asks; with `like_in`, under the limits and settings of
    /// that config's section for a plugin of the manifest's name, if it has one.
    fn load(wasm: &Path, manifest: &Path, like_in: Option<&Config>) -> Result<Alone, ServiceError> {
        let unreadable = |source| ServiceError::PluginFile {
            path: wasm.to_path_buf(),
            source,
        };
        let component = wasm.canonicalize().map_err(unreadable)?;
        let parsed = Manifest::read(manifest)?;
        let scratch = tempfile::tempdir().map_err(unreadable)?;
        let dir = scratch.path();
        std::os::unix::fs::symlink(&component, dir.join(format!("{}.wasm", parsed.name)))
            .map_err(unreadable)?;
        std::fs::copy(manifest, dir.join(format!("{}.toml", parsed.name))).map_err(unreadable)?;
        let table = parsed.world.table();
        let grant: Vec<String> = parsed
            .capabilities
            .iter()
            .map(|c| format!("{:?}", c.name()))
            .collect();
        let files = dir.join("files");
        let text = format!(
            "[plugins]\ndir = {dir:?}\nno_cache = true\n\n[{table}.checked]\nplugin = {name:?}\n\
             grant = [{grant}]\n{scope}{files}",
            dir = dir.display().to_string(),
            name = parsed.name,
            grant = grant.join(", "),
            scope = if parsed.world == World::Transport {
                "tcp_scope = \"lan\"\n"
            } else {
                ""
            },
            files = if grant.iter().any(|g| g == "\"files\"") {
                format!("files_dir = {:?}\n", files.display().to_string())
            } else {
                String::new()
            },
        );
        let mut config = Config::parse(&text, "(plugins check)", dir)?;
        let like = like_in
            .and_then(|c| c.plugins.iter().find(|p| p.plugin == parsed.name))
            .cloned();
        if let (Some(like), Some(entry)) = (&like, config.plugins.first_mut()) {
            entry.limits = like.limits.clone();
            entry.settings = like.settings.clone();
        }
        let plugins = Plugins::load(&config)?;
        let mut inventory = plugins.inventory();
        // The scratch config's line means nothing to the author: the problem alone, named by file.
        inventory.not_loaded = plugins
            .failure_in(&format!("{table}.checked"))
            .map(|f| format!("{}: {}", wasm.display(), f.problem))
            .into_iter()
            .collect();
        Ok(Alone {
            plugins,
            like,
            inventory,
            manifest: parsed,
            _scratch: scratch,
        })
    }

    /// Runs the loaded plugin once, as a node first does: a message type's `prepare` of an empty
    /// input (then `validate` and `summary` of what it made), a transport's first `tick`. A
    /// refusal is an answer; a fault (a trap, a panic, fuel or memory run out, an answer that
    /// breaks the host's limits) is what this returns.
    fn first_run(&mut self) -> Option<CallError> {
        let answer = match self.manifest.world {
            World::MessageType => {
                let content_type = self.plugins.content_types().into_iter().next()?;
                let plugin = self.plugins.message_type(&content_type).ok()?;
                let version = plugin.description().versions.max;
                plugin.prepare(b"", &[], version).and_then(|payload| {
                    plugin.validate(&payload, version)?;
                    plugin.summary(&payload, version).map(drop)
                })
            }
            World::Transport => {
                let id = self
                    .inventory
                    .loaded
                    .iter()
                    .find_map(|p| match &p.description {
                        crate::plugins::Description::Transport { id, .. } => Some(id.clone()),
                        crate::plugins::Description::MessageType { .. } => None,
                    })?;
                let transport = self.plugins.transport(&id)?;
                transport
                    .handle(&Event::Tick(crate::service::now_ms()))
                    .map(drop)
            }
        };
        answer
            .err()
            .filter(|e| !matches!(e, CallError::Refused { .. }))
    }
}

/// What [`try_component`] runs a message type with.
#[derive(Debug, Clone, Default)]
pub struct TryRun<'a> {
    /// A node config: the section that loads this plugin (by the manifest's name) gives the limits
    /// and settings; without one, the host's default limits and no settings.
    pub config: Option<&'a Config>,
    /// Options for `prepare`, as a user gives them with a message (`key=value`).
    pub options: Vec<(String, String)>,
}

/// One call [`try_component`] made, and what it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `prepare`, `validate` or `summary`.
    pub export: &'static str,
    /// The fuel it burned and the memory the instance had grown to.
    pub usage: Usage,
}

/// What a message type made of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tried {
    /// The content type, as it described it.
    pub content_type: String,
    /// The version the payload was written in (its newest).
    pub version: u32,
    /// The payload's size in bytes.
    pub payload_bytes: usize,
    /// Its summary, as a receiver without the plugin would see it.
    pub summary: String,
    /// Each call with what it used.
    pub calls: Vec<Call>,
    /// The limits the calls ran under.
    pub limits: PluginLimits,
    /// Where the limits came from: a config section's key, or `None` for the host's defaults.
    pub limits_from: Option<String>,
}

/// Runs the message type at `wasm` on `input` as a sending node and then a receiving node would:
/// `prepare` (with the config's settings, then `run.options`), `validate` and `summary` of the
/// payload, each under the limits a node would give it.
pub fn try_component(
    wasm: &Path,
    manifest: &Path,
    input: &[u8],
    run: &TryRun<'_>,
) -> Result<Tried, ServiceError> {
    let mut alone = Alone::load(wasm, manifest, run.config)?;
    let like = alone.like.take();
    if let Some(problem) = alone.inventory.not_loaded.first() {
        return Err(ServiceError::NotTried(problem.clone()));
    }
    if alone.manifest.world != World::MessageType {
        return Err(ServiceError::NotTried(format!(
            "{}: `plugins try` runs message types; this is a transport, which only runs between \
             nodes (`plugins check` checks it alone)",
            wasm.display()
        )));
    }
    let content_type = alone.plugins.content_types().remove(0);
    let plugin = alone.plugins.message_type(&content_type)?;
    let version = plugin.description().versions.max;
    let options: Vec<(String, String)> = like
        .as_ref()
        .map(|l| l.settings.clone())
        .unwrap_or_default()
        .into_iter()
        .chain(run.options.iter().cloned())
        .collect();
    let mut calls = Vec::new();
    let mut used = |plugin: &courier_plugin_host::message_plugin::MessageTypePlugin, export| {
        if let Some(usage) = plugin.instance().last_usage() {
            calls.push(Call { export, usage });
        }
    };
    let payload = plugin.prepare(input, &options, version);
    used(plugin, "prepare");
    let payload = payload?;
    let valid = plugin.validate(&payload, version);
    used(plugin, "validate");
    valid?;
    let summary = plugin.summary(&payload, version);
    used(plugin, "summary");
    Ok(Tried {
        content_type,
        version,
        payload_bytes: payload.len(),
        summary: summary?,
        calls,
        limits: plugin.instance().limits().clone(),
        limits_from: like.map(|l| format!("{}.{}", l.world.table(), l.section)),
    })
}

/// Where [`install`] put a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// Its name, the manifest's.
    pub name: String,
    /// The component's path in the plugin directory.
    pub wasm: std::path::PathBuf,
    /// Whether a plugin of that name was there before and is replaced.
    pub replaced: bool,
}

/// Checks `wasm` with `manifest` as [`check_component`] does and, only if it loads, copies both
/// into `plugin_dir` as `NAME.wasm` and `NAME.toml` (written beside, then renamed into place).
pub fn install(wasm: &Path, manifest: &Path, plugin_dir: &Path) -> Result<Installed, ServiceError> {
    let alone = checked(wasm, manifest)?;
    if let Some(problem) = alone.inventory.not_loaded.first() {
        return Err(ServiceError::NotInstalled(problem.clone()));
    }
    let name = alone.manifest.name;
    let failed = |source| ServiceError::PluginFile {
        path: plugin_dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(plugin_dir).map_err(failed)?;
    let target = plugin_dir.join(format!("{name}.wasm"));
    let replaced = target.exists();
    for (from, to) in [
        (wasm, target.clone()),
        (manifest, plugin_dir.join(format!("{name}.toml"))),
    ] {
        let part = to.with_extension("part");
        std::fs::copy(from, &part).map_err(failed)?;
        std::fs::rename(&part, &to).map_err(failed)?;
    }
    Ok(Installed {
        name,
        wasm: target,
        replaced,
    })
}
