//! The node config (TOML): which plugins run, what each is granted, and its limits.
//!
//! Parsing refuses anything that contradicts itself (a network grant to a message type, an unknown key,
//! a `files` grant naming a file where a directory should be). Whether the named plugins exist and agree with
//! their grants is checked when they load (see `plugin::loader`), per plugin, so one bad plugin never
//! stops the others.

use courier_error::{ErrorKind, HasKind};
pub mod bluetooth;
pub mod capability;
pub mod limits;
pub mod policy;
pub mod tor;
pub mod world;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::capability::{Capability, Grants, TcpScope};
use crate::limits::PluginLimits;
use crate::policy::{Policy, RawPolicy};
use crate::world::{World, is_plugin_name};

/// Where in the config file something was written, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Dotted key, e.g. `transports.lan.grant`.
    pub key: String,
    /// 1-based line number.
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` (line {})", self.key, self.line)
    }
}

/// Why a config was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// Config path.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Not valid TOML, or a key or value of the wrong shape.
    #[error("config {path} is malformed: {message}")]
    Malformed {
        /// Config path.
        path: String,
        /// Parser message, with line and column.
        message: String,
    },
    /// Well-formed but contradictory or unsafe.
    #[error("config {path}: {at}: {message}")]
    Invalid {
        /// Config path.
        path: String,
        /// Where.
        at: Location,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// A parsed, self-consistent config.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory holding `NAME.wasm` + `NAME.toml` for every plugin.
    pub plugin_dir: PathBuf,
    /// Directory for compiled components; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Plugins to run, transports first, each in the order of its name.
    pub plugins: Vec<PluginEntry>,
    /// How the embedded Tor client finds the network.
    pub tor: tor::TorConfig,
    /// Which radio the `ble` capability drives.
    pub bluetooth: bluetooth::BluetoothConfig,
    /// Where `serve --api` listens.
    pub api: ApiConfig,
    /// The profile's rules, which every plugin is checked against as it loads.
    pub policy: Policy,
}

/// The `[api]` section: where `serve --api` listens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// `ADDRESS:PORT`; a random port on 127.0.0.1 unless set. Anything but loopback is refused
    /// unless `serve` is also given `--api-allow-remote`.
    pub bind: Option<std::net::SocketAddr>,
}

/// One plugin the config asks to run.
#[derive(Debug, Clone)]
pub struct PluginEntry {
    /// The section name, e.g. `lan` in `[transports.lan]`.
    pub section: String,
    /// The world the section requires.
    pub world: World,
    /// Plugin file stem in the plugin directory.
    pub plugin: String,
    /// What the plugin may use.
    pub grants: Grants,
    /// Settings handed to the plugin.
    pub settings: Vec<(String, String)>,
    /// Budget, memory and restart policy.
    pub limits: PluginLimits,
    /// Where `plugin = …` was written.
    pub at: Location,
    /// Where `grant = […]` was written (or the section, when absent).
    pub grant_at: Location,
    /// Where `settings = {…}` was written (or the section, when absent).
    pub settings_at: Location,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    plugins: RawPlugins,
    #[serde(default)]
    transports: BTreeMap<String, Spanned<RawEntry>>,
    #[serde(default)]
    message_types: BTreeMap<String, Spanned<RawEntry>>,
    #[serde(default)]
    tor: tor::TorConfig,
    bluetooth: Option<Spanned<bluetooth::BluetoothConfig>>,
    #[serde(default)]
    api: RawApi,
    #[serde(default)]
    policy: RawPolicy,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawApi {
    bind: Option<Spanned<std::net::SocketAddr>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPlugins {
    dir: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    #[serde(default)]
    no_cache: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    plugin: Spanned<String>,
    #[serde(default)]
    grant: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    tcp_scope: TcpScope,
    files_dir: Option<Spanned<PathBuf>>,
    #[serde(default)]
    settings: Option<Spanned<BTreeMap<String, toml::Value>>>,
    limits: Option<Spanned<PluginLimits>>,
}

/// The largest config file read; a real one is a few KiB.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The config a node runs with when none is given: the LAN transport (mDNS on, local network only)
/// and every message type built here, from `plugin_dir`.
pub const DEFAULT: &str = r#"
[transports.lan]
plugin = "transport-lan"
grant = ["tcp", "mdns", "log", "clock"]
tcp_scope = "lan"

[message_types.text]
plugin = "text"
grant = ["log"]

# Replies, reactions, edits and delete for everyone: each kind its own plugin; the host checks
# what each names.
[message_types.reply]
plugin = "reply"
grant = ["log"]

[message_types.reaction]
plugin = "reaction"
grant = ["log"]

[message_types.edit]
plugin = "edit"
grant = ["log"]

[message_types.delete]
plugin = "delete"
grant = ["log"]

[message_types.location]
plugin = "location"
grant = ["log"]
settings = { precision = 100 }

[message_types.payment]
plugin = "payment"
grant = ["log", "clock"]
settings = { network = "main" }

[message_types.image]
plugin = "image"
grant = ["log"]
limits = { memory_mib = 512, fuel_per_call = 100_000_000_000 }
settings = { max-dimension = 2048 }

[message_types.voice]
plugin = "voice"
grant = ["log"]
limits = { memory_mib = 512, fuel_per_call = 100_000_000_000 }
settings = { distort = false }
"#;

impl Config {
    /// The [`DEFAULT`] config with plugins from `plugin_dir`.
    pub fn default_with_plugins(plugin_dir: &Path) -> Result<Config, ConfigError> {
        let text = format!(
            "[plugins]\ndir = {:?}\n{DEFAULT}",
            plugin_dir.display().to_string()
        );
        Config::parse(&text, "(built-in default config)", Path::new("."))
    }

    /// Reads and checks the config at `path`; relative directories in it are taken from the file's folder.
    pub fn read(path: &Path) -> Result<Config, ConfigError> {
        let read = |source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        };
        let bytes = courier_local_fs::input_file::read_limited(path, MAX_CONFIG_BYTES).map_err(
            |e| match e {
                courier_local_fs::input_file::InputFileError::Io(e) => read(e),
                other => read(std::io::Error::other(other)),
            },
        )?;
        let text = String::from_utf8(bytes)
            .map_err(|e| read(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, &path.display().to_string(), base)
    }

    /// Parses and checks config text; `path` names it in errors, `base` resolves relative directories.
    pub fn parse(text: &str, path: &str, base: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Malformed {
            path: path.into(),
            message: e.to_string(),
        })?;
        let locate = |key: String, span: Range<usize>| Location {
            key,
            line: line_of(text, span.start),
        };
        let invalid = |at: Location, message: String| ConfigError::Invalid {
            path: path.into(),
            at,
            message,
        };

        let policy = raw
            .policy
            .check(&|key, span| locate(key.to_owned(), span))
            .map_err(|(at, message)| invalid(at, message))?;
        if let Some(bind) = &raw.api.bind {
            policy.admit_api(*bind.get_ref()).map_err(|refusal| {
                invalid(locate("api.bind".into(), bind.span()), refusal.to_string())
            })?;
        }
        let plugin_dir = base.join(raw.plugins.dir.unwrap_or_else(|| PathBuf::from("plugins")));
        let cache_dir = if raw.plugins.no_cache {
            None
        } else {
            // `plugin_dir` is already resolved against the config's folder; only a given path is not.
            Some(
                raw.plugins
                    .cache_dir
                    .map_or_else(|| plugin_dir.join(".cache"), |dir| base.join(dir)),
            )
        };

        let mut plugins = Vec::new();
        let sections = [
            ("transports", World::Transport, &raw.transports),
            ("message_types", World::MessageType, &raw.message_types),
        ];
        for (table, world, entries) in sections {
            for (section, entry) in entries {
                let section_at = locate(format!("{table}.{section}"), entry.span());
                let entry = entry.get_ref();
                let at = locate(format!("{table}.{section}.plugin"), entry.plugin.span());
                if !is_plugin_name(entry.plugin.get_ref()) {
                    return Err(invalid(
                        at,
                        format!(
                            "{:?} is not a plugin name (1-64 characters of a-z, 0-9 and '-'; the file is NAME.wasm)",
                            entry.plugin.get_ref()
                        ),
                    ));
                }
                let grant_at = match &entry.grant {
                    Some(g) => locate(format!("{table}.{section}.grant"), g.span()),
                    None => section_at.clone(),
                };
                let mut capabilities = Vec::new();
                for (i, name) in entry.grant.iter().flat_map(|g| g.get_ref()).enumerate() {
                    let here = locate(format!("{table}.{section}.grant[{i}]"), name.span());
                    let capability: Capability = name.get_ref().parse().map_err(
                        |e: crate::capability::UnknownCapability| {
                            invalid(here.clone(), e.to_string())
                        },
                    )?;
                    if !capability.allowed_in(world) {
                        return Err(invalid(
                            here,
                            format!(
                                "message types never get `{capability}`: they see plaintext and must have no way to send it; remove it from the grant"
                            ),
                        ));
                    }
                    capabilities.push(capability);
                }
                let files_dir = entry.files_dir.as_ref().map(|d| base.join(d.get_ref()));
                if capabilities.contains(&Capability::Files) && files_dir.is_none() {
                    return Err(invalid(grant_at, "`files` is granted but no `files_dir` says which directory; add files_dir = \"…\"".into()));
                }
                if let (Some(dir), Some(given)) = (&files_dir, &entry.files_dir) {
                    // A missing folder is a drive not plugged in yet: the node runs and uses it
                    // when it appears. Something else in its place is a typo, found now.
                    if dir.exists() && !dir.is_dir() {
                        return Err(invalid(
                            locate(format!("{table}.{section}.files_dir"), given.span()),
                            format!(
                                "{} is not a directory; fix files_dir (a folder, perhaps on a drive)",
                                dir.display()
                            ),
                        ));
                    }
                }
                let limits = match &entry.limits {
                    Some(limits) => {
                        let here = locate(format!("{table}.{section}.limits"), limits.span());
                        limits
                            .get_ref()
                            .check()
                            .map_err(|message| invalid(here, message))?;
                        limits.get_ref().clone()
                    }
                    None => PluginLimits::default(),
                };
                let settings_at = match &entry.settings {
                    Some(s) => locate(format!("{table}.{section}.settings"), s.span()),
                    None => section_at.clone(),
                };
                let settings = entry
                    .settings
                    .iter()
                    .flat_map(|s| s.get_ref())
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            match v {
                                toml::Value::String(s) => s.clone(),
                                // A list of strings reaches the plugin comma-separated.
                                toml::Value::Array(items)
                                    if items.iter().all(toml::Value::is_str) =>
                                {
                                    items
                                        .iter()
                                        .filter_map(toml::Value::as_str)
                                        .collect::<Vec<_>>()
                                        .join(",")
                                }
                                other => other.to_string(),
                            },
                        )
                    })
                    .collect();
                plugins.push(PluginEntry {
                    section: section.clone(),
                    world,
                    plugin: entry.plugin.get_ref().clone(),
                    grants: Grants {
                        capabilities,
                        tcp_scope: entry.tcp_scope,
                        files_dir,
                    },
                    settings,
                    limits,
                    at,
                    grant_at,
                    settings_at,
                });
            }
        }
        let uses_tor = plugins.iter().any(|p| p.grants.has(Capability::TorStream));
        if uses_tor && raw.tor.require_bridges && raw.tor.bridges.is_empty() {
            let line = text
                .find("require_bridges")
                .map_or(1, |at| line_of(text, at));
            return Err(ConfigError::Invalid {
                path: path.into(),
                at: Location {
                    key: "tor.require_bridges".into(),
                    line,
                },
                message: "this profile reaches Tor only through bridges, and none is given; add \
                          bridges = [\"ADDRESS:PORT FINGERPRINT\", …] (from bridges.torproject.org, \
                          or someone you trust), or remove require_bridges"
                    .into(),
            });
        }
        let bluetooth = match raw.bluetooth {
            None => bluetooth::BluetoothConfig::default(),
            Some(section) => {
                if let Some((key, message)) = section.get_ref().problem() {
                    return Err(invalid(locate(key.into(), section.span()), message));
                }
                let mut bluetooth = section.into_inner();
                if let Some(sim) = &mut bluetooth.sim {
                    sim.air = base.join(&sim.air);
                }
                bluetooth
            }
        };
        Ok(Config {
            plugin_dir,
            cache_dir,
            plugins,
            tor: raw.tor,
            bluetooth,
            api: ApiConfig {
                bind: raw.api.bind.map(Spanned::into_inner),
            },
            policy,
        })
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

impl HasKind for ConfigError {
    fn kind(&self) -> ErrorKind {
        match self {
            ConfigError::Read { .. } => ErrorKind::NotFound,
            _ => ErrorKind::InvalidInput,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "test.toml", Path::new("/etc/courier"))
    }

    #[test]
    fn a_good_config_resolves_directories_and_grants() {
        let config = parse(
            r#"
[plugins]
dir = "plugins"

[transports.lan]
plugin = "transport-lan"
grant = ["tcp", "mdns", "log"]
tcp_scope = "lan"
settings = { port = 7001, announce = true }

[message_types.text]
plugin = "text"
grant = ["log"]
limits = { memory_mib = 8 }
"#,
        )
        .unwrap();
        assert_eq!(config.plugin_dir, Path::new("/etc/courier/plugins"));
        assert_eq!(
            config.cache_dir.as_deref(),
            Some(Path::new("/etc/courier/plugins/.cache"))
        );
        let lan = &config.plugins[0];
        assert_eq!(
            (lan.world, lan.plugin.as_str()),
            (World::Transport, "transport-lan")
        );
        assert_eq!(
            lan.grants.capabilities,
            vec![Capability::Tcp, Capability::Mdns, Capability::Log]
        );
        assert_eq!(
            lan.settings,
            vec![
                ("announce".into(), "true".into()),
                ("port".into(), "7001".into())
            ]
        );
        assert_eq!(lan.at.line, 6);
        assert_eq!(config.plugins[1].limits.memory_mib, 8);
    }

    #[test]
    fn the_default_cache_sits_in_the_plugin_directory_however_relative_it_is() {
        // A relative `dir` was once joined to the config's folder twice (config/config/../target/…).
        // A config read by a relative path, as `courier plugins --config config/x.toml` does.
        let read = |text: &str| Config::parse(text, "x.toml", Path::new("config")).unwrap();
        let config = read("[plugins]\ndir = \"../target/plugins\"\n");
        assert_eq!(config.plugin_dir, Path::new("config/../target/plugins"));
        assert_eq!(
            config.cache_dir.as_deref(),
            Some(Path::new("config/../target/plugins/.cache"))
        );
        let given = read("[plugins]\ncache_dir = \"cache\"\n");
        assert_eq!(given.cache_dir.as_deref(), Some(Path::new("config/cache")));
    }

    #[test]
    fn contradictions_name_the_key_and_line() {
        let cases = [
            (
                "[message_types.text]\nplugin = \"text\"\ngrant = [\"log\", \"tcp\"]\n",
                "`message_types.text.grant[1]` (line 3)",
                "never get `tcp`",
            ),
            (
                "[transports.lan]\nplugin = \"lan\"\ngrant = [\"teleport\"]\n",
                "`transports.lan.grant[0]` (line 3)",
                "unknown capability",
            ),
            (
                "[transports.usb]\nplugin = \"usb\"\ngrant = [\"files\"]\n",
                "`transports.usb.grant` (line 3)",
                "files_dir",
            ),
            (
                "[transports.usb]\nplugin = \"usb\"\ngrant = [\"files\"]\nfiles_dir = \"/dev/null\"\n",
                "`transports.usb.files_dir` (line 4)",
                "/dev/null is not a directory; fix files_dir (a folder, perhaps on a drive)",
            ),
            (
                "[transports.lan]\nplugin = \"../evil\"\n",
                "`transports.lan.plugin` (line 2)",
                "not a plugin name",
            ),
            (
                "[transports.lan]\nplugin = \"lan\"\nlimits = { memory_mib = 0 }\n",
                "`transports.lan.limits`",
                "memory_mib",
            ),
        ];
        for (text, at, message) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(
                err.contains(at) && err.contains(message),
                "{err:?} should contain {at:?} and {message:?}"
            );
        }
    }

    #[test]
    fn malformed_toml_and_unknown_keys_give_the_line() {
        let err = parse("[transports.lan\nplugin = 1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("malformed") && err.contains("line 1"), "{err}");
        let err = parse("[transports.lan]\nplugin = \"lan\"\ngrnat = []\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown field `grnat`") && err.contains("line 3"),
            "{err}"
        );
    }

    #[test]
    fn a_drive_folder_that_is_not_there_yet_is_accepted_for_when_the_drive_is_plugged_in() {
        let text = "[transports.drive]\nplugin = \"transport-drive\"\ngrant = [\"files\"]\n\
                    files_dir = \"/nonexistent/drive\"\n";
        let config = Config::parse(text, "offline.toml", Path::new("/")).unwrap();
        let dir = config.plugins[0].grants.files_dir.as_deref();
        assert_eq!(dir, Some(Path::new("/nonexistent/drive")));
    }

    #[test]
    fn a_private_tor_network_is_named_by_its_authorities_and_the_public_one_by_nothing() {
        let text = "[tor]\nhsdir_interval_minutes = 8\n[[tor.authorities]]\nv3ident = \"AB\"\n\
                    rsa_identity = \"CD\"\ned_identity = \"EF\"\nor_port = 5000\n";
        let config = Config::parse(text, "test.toml", Path::new("/")).unwrap();
        assert!(config.tor.is_private());
        assert_eq!(config.tor.hsdir_interval_minutes, Some(8));
        assert_eq!(config.tor.authorities[0].or_port, 5000);
        assert!(
            !Config::parse("", "empty.toml", Path::new("/"))
                .unwrap()
                .tor
                .is_private()
        );
        let typo = Config::parse("[tor]\nauthorites = []\n", "t.toml", Path::new("/"));
        assert!(typo.unwrap_err().to_string().contains("authorites"));
    }

    #[test]
    fn a_profile_that_requires_bridges_refuses_tor_without_one() {
        let tor = "[transports.tor]\nplugin = \"transport-tor\"\ngrant = [\"tor-stream\"]\n\n";
        let refused = Config::parse(
            &format!("{tor}[tor]\nrequire_bridges = true\n"),
            "high-risk.toml",
            Path::new("/"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            refused.contains("`tor.require_bridges` (line 6)"),
            "{refused}"
        );
        assert!(refused.contains("add bridges = "), "{refused}");
        let bridged = format!(
            "{tor}[tor]\nrequire_bridges = true\nbridges = [\"192.0.2.1:443 {}\"]\n",
            "AB".repeat(20)
        );
        let config = Config::parse(&bridged, "high-risk.toml", Path::new("/")).unwrap();
        assert_eq!(config.tor.bridges.len(), 1);
        // Without a Tor transport, the requirement asks nothing.
        assert!(Config::parse("[tor]\nrequire_bridges = true\n", "t.toml", Path::new("/")).is_ok());
    }
}
