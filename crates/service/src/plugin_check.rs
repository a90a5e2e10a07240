//! `plugins check`: one component and its manifest, loaded alone under a config that grants
//! exactly what the manifest asks (TCP on the LAN, a scratch folder for files), so every check the
//! loader makes runs on it: the manifest, the world, the component's real imports, describe, and
//! what a transport declares it reveals against what its grants make possible.

use std::path::Path;

use courier_config::Config;
use courier_plugin_host::manifest::{Manifest, World};

use crate::error::ServiceError;
use crate::plugins::{Inventory, Plugins};

/// Loads `wasm` with the manifest at `manifest` as the only plugin; what it describes, or why it
/// does not load.
pub fn check_component(wasm: &Path, manifest: &Path) -> Result<Inventory, ServiceError> {
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
    let table = match parsed.world {
        World::Transport => "transports",
        World::MessageType => "message_types",
    };
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
    let config = Config::parse(&text, "(plugins check)", dir)?;
    let plugins = Plugins::load(&config)?;
    let mut inventory = plugins.inventory();
    // The scratch config's line means nothing to the author: the problem alone, named by file.
    inventory.not_loaded = plugins
        .failure_in(&format!("{table}.checked"))
        .map(|f| format!("{}: {}", wasm.display(), f.problem))
        .into_iter()
        .collect();
    Ok(inventory)
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
    let inventory = check_component(wasm, manifest)?;
    if let Some(problem) = inventory.not_loaded.first() {
        return Err(ServiceError::NotInstalled(problem.clone()));
    }
    let name = Manifest::read(manifest)?.name;
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
