//! Loads the plugins a config names. Each plugin is checked on its own (files, manifest, world, grants,
//! the component's real imports) and a plugin that fails is left out with an error that names it, the
//! config key, the problem and the fix; the others load regardless.

use courier_error::{ErrorKind, HasKind};
use std::fmt;
use std::time::{Duration, Instant};

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::component_cache::{ComponentCache, Origin};
use super::fault::Fault;
use super::instance::{Bindings, CallError, Supervised};
use super::manifest::{API_VERSION, Manifest, ManifestError, World};
use super::message_plugin::MessageTypePlugin;
use super::sandbox;
use super::sandbox::PluginState;
use super::transport_plugin::{TransportPlugin, declared_reveals};
use courier_config::capability::{Capability, Reveal};
use courier_config::policy::Refusal;
use courier_config::{Config, Location, PluginEntry};

/// Why one plugin was not loaded.
#[derive(Debug, thiserror::Error)]
#[error("plugin `{plugin}` ({at}) was not loaded: {problem}")]
pub struct LoadError {
    /// Plugin name as the config gives it.
    pub plugin: String,
    /// Where the config names it (or grants it).
    pub at: Location,
    /// What is wrong.
    pub problem: LoadProblem,
}

/// What was wrong with a plugin.
#[derive(Debug)]
pub enum LoadProblem {
    /// `NAME.wasm` is missing or unreadable.
    MissingComponent {
        /// The path tried.
        path: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The manifest is missing or invalid.
    Manifest(ManifestError),
    /// The manifest's name is not the file's.
    NameMismatch {
        /// The name in the manifest.
        manifest: String,
    },
    /// The config section and the manifest disagree about the world.
    WrongWorld {
        /// What the config section needs.
        config: World,
        /// What the plugin is.
        manifest: World,
    },
    /// The manifest asks for a capability the config does not grant.
    NotGranted(Capability),
    /// The config grants a directory to a plugin whose manifest does not ask for one.
    FilesNotRequested,
    /// The component imports a capability its manifest does not request.
    UndeclaredImport(String),
    /// The component imports an interface the host does not provide.
    UnknownImport(String),
    /// Compiling or linking the component failed.
    Component(String),
    /// The plugin faulted while describing itself.
    Faulted(CallError),
    /// Two plugins claim the same transport id or content type.
    Duplicate(String),
    /// The profile's policy does not let it run.
    Policy(Refusal),
    /// A transport declares it reveals less than its grants make possible.
    UnderDeclared {
        /// What the grants make possible and the plugin does not declare.
        missing: Vec<Reveal>,
    },
}

impl fmt::Display for LoadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadProblem::MissingComponent { path, error } => write!(
                f,
                "cannot read {path} ({error}); build the plugin (cargo xtask build-plugins) or fix `plugins.dir`"
            ),
            LoadProblem::Manifest(e) => write!(f, "{e}"),
            LoadProblem::NameMismatch { manifest } => write!(
                f,
                "its manifest calls it `{manifest}`; the file name and the manifest name must match"
            ),
            LoadProblem::WrongWorld { config, manifest } => write!(
                f,
                "it is a {manifest} plugin but is listed as a {config}; move it to the [{}.…] table",
                manifest.table()
            ),
            LoadProblem::NotGranted(c) => write!(
                f,
                "it requests the `{c}` capability, which the config does not grant; add \"{c}\" to its grant if you trust it with that, or remove the plugin"
            ),
            LoadProblem::FilesNotRequested => write!(
                f,
                "the config grants it `files` (a directory), which its manifest does not ask for; remove \"files\" and files_dir from its section"
            ),
            LoadProblem::UndeclaredImport(i) => write!(
                f,
                "its component imports `{i}` although its manifest does not request it; the plugin is lying about what it does"
            ),
            LoadProblem::UnknownImport(i) => write!(
                f,
                "its component imports `{i}`, which this host does not provide; rebuild it against courier:plugin@{}.{}.{}",
                API_VERSION.0, API_VERSION.1, API_VERSION.2
            ),
            LoadProblem::Component(m) => write!(f, "{m}"),
            LoadProblem::Faulted(e) => write!(f, "{e}"),
            LoadProblem::Duplicate(what) => write!(
                f,
                "another plugin already provides {what}; keep one of them"
            ),
            LoadProblem::Policy(refusal) => write!(f, "{refusal}"),
            LoadProblem::UnderDeclared { missing } => write!(
                f,
                "its grants make it possible to reveal {}, which it does not declare; a transport \
                 must declare all it can reveal, so fix the plugin or narrow its grant",
                missing
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The wasm engine itself could not start (not one plugin's fault: the host's build or platform).
#[derive(Debug, thiserror::Error)]
#[error("cannot start the wasm engine: {0}; this platform may not support wasmtime's compiler")]
pub struct EngineError(String);

/// How one plugin came to be loaded, for start-up reports and benchmarks.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Plugin name.
    pub plugin: String,
    /// Cached or compiled.
    pub origin: Origin,
    /// Time from reading the file to a described instance.
    pub elapsed: Duration,
}

/// Every plugin the config asked for that loaded, and why the others did not.
pub struct PluginHost {
    engine: Engine,
    /// Loaded transports.
    pub transports: Vec<TransportPlugin>,
    /// Loaded message types.
    pub message_types: Vec<MessageTypePlugin>,
    /// Plugins left out, with reasons.
    pub failures: Vec<LoadError>,
    /// How each loaded plugin was loaded.
    pub reports: Vec<LoadReport>,
}

impl PluginHost {
    /// Loads every plugin in `config`, logging each one left out.
    pub fn load(config: &Config) -> Result<PluginHost, EngineError> {
        let engine = super::component_cache::engine().map_err(|e| EngineError(format!("{e:#}")))?;
        let cache = ComponentCache::new(config.cache_dir.clone());
        let mut host = PluginHost {
            engine,
            transports: Vec::new(),
            message_types: Vec::new(),
            failures: Vec::new(),
            reports: Vec::new(),
        };
        for entry in &config.plugins {
            let started = Instant::now();
            match host.load_one(config, &cache, entry) {
                Ok(origin) => host.reports.push(LoadReport {
                    plugin: entry.plugin.clone(),
                    origin,
                    elapsed: started.elapsed(),
                }),
                Err((problem, at)) => {
                    let error = LoadError {
                        plugin: entry.plugin.clone(),
                        at,
                        problem,
                    };
                    tracing::error!("{error}");
                    host.failures.push(error);
                }
            }
        }
        Ok(host)
    }

    /// The engine plugins run on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The message type plugin for `content_type`, if loaded.
    pub fn message_type(&mut self, content_type: &str) -> Option<&mut MessageTypePlugin> {
        self.message_types
            .iter_mut()
            .find(|p| p.description().content_type == content_type)
    }

    /// Every loaded message-type plugin.
    pub fn message_types(&self) -> impl Iterator<Item = &MessageTypePlugin> {
        self.message_types.iter()
    }

    /// The transport plugin with transport id `id`, if loaded.
    pub fn transport(&mut self, id: &str) -> Option<&mut TransportPlugin> {
        self.transports
            .iter_mut()
            .find(|p| p.description().id == id)
    }

    fn supervised<B: Bindings>(
        &self,
        entry: &PluginEntry,
        linker: &Linker<PluginState>,
        component: &Component,
    ) -> wasmtime::Result<Supervised<B>> {
        Supervised::new(
            &entry.plugin,
            &self.engine,
            linker,
            component,
            entry.grants.clone(),
            entry.limits.clone(),
            entry.settings.clone(),
        )
    }

    fn load_one(
        &mut self,
        config: &Config,
        cache: &ComponentCache,
        entry: &PluginEntry,
    ) -> Result<Origin, (LoadProblem, Location)> {
        let at = || entry.at.clone();
        // Refused before anything of it is read or run.
        config
            .policy
            .admit(entry)
            .map_err(|r| (LoadProblem::Policy(r), at()))?;
        let wasm_path = config.plugin_dir.join(format!("{}.wasm", entry.plugin));
        let manifest = Manifest::read(&config.plugin_dir.join(format!("{}.toml", entry.plugin)))
            .map_err(|e| (LoadProblem::Manifest(e), at()))?;
        if manifest.name != entry.plugin {
            return Err((
                LoadProblem::NameMismatch {
                    manifest: manifest.name,
                },
                at(),
            ));
        }
        if manifest.world != entry.world {
            return Err((
                LoadProblem::WrongWorld {
                    config: entry.world,
                    manifest: manifest.world,
                },
                at(),
            ));
        }
        if let Some(missing) = manifest
            .capabilities
            .iter()
            .find(|c| !entry.grants.has(**c))
        {
            return Err((LoadProblem::NotGranted(*missing), entry.grant_at.clone()));
        }
        // A directory is the one grant that reaches the user's files: never given unasked.
        if entry.grants.has(Capability::Files)
            && !manifest.capabilities.contains(&Capability::Files)
        {
            return Err((LoadProblem::FilesNotRequested, entry.grant_at.clone()));
        }
        let wasm = std::fs::read(&wasm_path).map_err(|error| {
            (
                LoadProblem::MissingComponent {
                    path: wasm_path.display().to_string(),
                    error,
                },
                at(),
            )
        })?;
        let (component, origin) = cache.load(&self.engine, &wasm).map_err(|e| {
            (
                LoadProblem::Component(format!(
                    "{} is not a valid component: {e:#}",
                    wasm_path.display()
                )),
                at(),
            )
        })?;
        check_imports(&self.engine, &component, &manifest).map_err(|p| (p, at()))?;
        let linker = sandbox::linker(&self.engine, entry.world, &entry.grants).map_err(|e| {
            (
                LoadProblem::Component(format!("linking failed: {e:#}")),
                at(),
            )
        })?;
        let not_world = |e: wasmtime::Error| {
            (
                LoadProblem::Component(format!(
                    "it does not implement the {} world of courier:plugin: {e:#}",
                    entry.world
                )),
                at(),
            )
        };
        let faulted = |e: CallError| {
            let at = match &e {
                CallError::Faulted {
                    fault: Fault::Settings { .. },
                    ..
                } => entry.settings_at.clone(),
                _ => at(),
            };
            (LoadProblem::Faulted(e), at)
        };
        match entry.world {
            World::Transport => {
                let instance = self
                    .supervised(entry, &linker, &component)
                    .map_err(not_world)?;
                let plugin = TransportPlugin::start(instance).map_err(faulted)?;
                let declared = declared_reveals(plugin.description().reveals);
                let missing: Vec<Reveal> = entry
                    .grants
                    .possible_reveals()
                    .into_iter()
                    .filter(|r| !declared.contains(r))
                    .collect();
                if !missing.is_empty() {
                    return Err((
                        LoadProblem::UnderDeclared { missing },
                        entry.grant_at.clone(),
                    ));
                }
                config
                    .policy
                    .admit_transport(&declared)
                    .map_err(|r| (LoadProblem::Policy(r), at()))?;
                let id = &plugin.description().id;
                if self.transports.iter().any(|t| &t.description().id == id) {
                    return Err((LoadProblem::Duplicate(format!("transport `{id}`")), at()));
                }
                self.transports.push(plugin);
            }
            World::MessageType => {
                let instance = self
                    .supervised(entry, &linker, &component)
                    .map_err(not_world)?;
                let plugin = MessageTypePlugin::start(instance).map_err(faulted)?;
                let content_type = &plugin.description().content_type;
                config
                    .policy
                    .admit_message_type(entry, content_type)
                    .map_err(|r| (LoadProblem::Policy(r), entry.settings_at.clone()))?;
                if self
                    .message_types
                    .iter()
                    .any(|m| &m.description().content_type == content_type)
                {
                    return Err((
                        LoadProblem::Duplicate(format!("content type `{content_type}`")),
                        at(),
                    ));
                }
                self.message_types.push(plugin);
            }
        }
        Ok(origin)
    }
}

/// Refuses a component whose imports go beyond its manifest: the manifest is a claim, the imports are fact.
fn check_imports(
    engine: &Engine,
    component: &Component,
    manifest: &Manifest,
) -> Result<(), LoadProblem> {
    for (name, _) in component.component_type().imports(engine) {
        if name.starts_with("wasi:") {
            // WASI is linked with nothing granted: no files, no sockets, no environment.
            continue;
        }
        let Some(rest) = name.strip_prefix("courier:plugin/") else {
            return Err(LoadProblem::UnknownImport(name.to_owned()));
        };
        let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
        let (major, minor, _) = API_VERSION;
        if !version.starts_with(&format!("{major}.{minor}.")) {
            return Err(LoadProblem::UnknownImport(name.to_owned()));
        }
        match interface {
            "types" | "transport-types" => {}
            other => match Capability::from_interface(other) {
                Some(c) if manifest.capabilities.contains(&c) => {}
                Some(_) => {
                    return Err(LoadProblem::UndeclaredImport(format!(
                        "courier:plugin/{other}"
                    )));
                }
                None => return Err(LoadProblem::UnknownImport(name.to_owned())),
            },
        }
    }
    Ok(())
}

impl HasKind for EngineError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Plugin
    }
}

impl HasKind for LoadError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Plugin
    }
}
