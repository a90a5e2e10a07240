//! The plugins a config loads, loaded once: the message types the use cases compose and summarise
//! content with, and what every loaded plugin describes of itself and how it is doing.

use std::time::{Duration, Instant};

use courier_config::Config;
use courier_plugin_host::PluginHost;
use courier_plugin_host::bindings::transport_types::Mode;
use courier_plugin_host::component_cache::Origin;
use courier_plugin_host::instance::{Bindings, Supervised};
use courier_plugin_host::manifest::World;
use courier_plugin_host::message_plugin::MessageTypePlugin;
use courier_plugin_host::supervisor::Health;
use courier_plugin_host::transport_plugin::reveal_names;

use crate::error::ServiceError;

/// A config's loaded plugins, with each message type's config settings.
pub struct Plugins {
    host: PluginHost,
    /// Each message-type plugin's name with its config settings (defaults for `prepare`, e.g. a
    /// profile's location precision).
    settings: Vec<(String, Vec<(String, String)>)>,
    /// The settings the profile's policy governs, per plugin: given after a message's own options,
    /// so none overrides them.
    pinned: Vec<(String, Vec<(String, String)>)>,
    /// The profile's policy.
    policy: courier_config::policy::Policy,
}

/// A loaded plugin as it describes itself, and how it is doing.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginInfo {
    /// Its name (the file stem in the plugin directory).
    pub name: String,
    /// Its world and what it described of itself in that world.
    pub description: Description,
    /// Whether it is running.
    pub health: PluginHealth,
    /// Whether its component came from the cache or was compiled now.
    pub cached: bool,
    /// How long loading it took.
    pub load_time: Duration,
}

/// What a plugin described of itself when it loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Description {
    /// A transport.
    Transport {
        /// The stable transport id.
        id: String,
        /// Both directions on one channel, or one.
        duplex: bool,
        /// The longest a stream may take to reach the peer.
        max_latency_ms: u64,
        /// The largest unit handed down at once, in bytes.
        frame_size: u32,
        /// What using it reveals to an observer: `ip-address`, `presence`, `location`.
        reveals: Vec<&'static str>,
    },
    /// A message type.
    MessageType {
        /// The content type it handles, e.g. `courier/text`.
        content_type: String,
        /// The oldest version it reads.
        min_version: u32,
        /// The newest version it reads and writes.
        max_version: u32,
        /// The largest input `prepare` takes, in bytes.
        max_input_bytes: u64,
        /// The largest payload it produces or accepts, in bytes.
        max_payload_bytes: u64,
    },
}

impl Description {
    /// The plugin's world.
    pub fn world(&self) -> World {
        match self {
            Description::Transport { .. } => World::Transport,
            Description::MessageType { .. } => World::MessageType,
        }
    }
}

/// Whether a plugin runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginHealth {
    /// Running, or ready to be (re)started.
    Up,
    /// Faulted; restarted after `retry_in`.
    BackingOff {
        /// Time left before the restart.
        retry_in: Duration,
    },
    /// Faulted too often; off until the host restarts.
    Disabled {
        /// The last fault.
        reason: String,
    },
}

impl PluginHealth {
    /// How a supervised plugin's `health` reads at `now`.
    pub fn of(health: &Health, now: Instant) -> PluginHealth {
        match health {
            Health::Up => PluginHealth::Up,
            Health::BackingOff { until } => PluginHealth::BackingOff {
                retry_in: until.saturating_duration_since(now),
            },
            Health::Disabled { reason } => PluginHealth::Disabled {
                reason: reason.clone(),
            },
        }
    }
}

/// Every loaded plugin and why each of the others was not loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// Loaded plugins, transports first.
    pub loaded: Vec<PluginInfo>,
    /// One line per plugin the config asked for that did not load, saying why and what to do.
    pub not_loaded: Vec<String>,
}

impl Plugins {
    /// Loads every plugin in `config`.
    pub fn load(config: &Config) -> Result<Plugins, ServiceError> {
        let settings = config
            .plugins
            .iter()
            .filter(|p| p.world == World::MessageType)
            .map(|p| (p.plugin.clone(), p.settings.clone()))
            .collect();
        let host = PluginHost::load(config)?;
        let pinned = host
            .message_types()
            .filter_map(|m| {
                let keys = config.policy.pinned(&m.description().content_type);
                let entry = config.plugins.iter().find(|p| p.plugin == m.name())?;
                let values = entry
                    .settings
                    .iter()
                    .filter(|(k, _)| keys.contains(&k.as_str()))
                    .cloned()
                    .collect();
                Some((m.name().to_owned(), values))
            })
            .collect();
        Ok(Plugins {
            host,
            settings,
            pinned,
            policy: config.policy.clone(),
        })
    }

    /// Loads only the message types of `config`: the use cases need no transport (the node owns those).
    pub fn message_types_of(config: &Config) -> Result<Plugins, ServiceError> {
        let mut config = config.clone();
        config.plugins.retain(|p| p.world == World::MessageType);
        Plugins::load(&config)
    }

    /// Every content type a loaded plugin handles, sorted.
    pub fn content_types(&self) -> Vec<String> {
        let mut types: Vec<String> = self
            .host
            .message_types()
            .map(|p| p.description().content_type.clone())
            .collect();
        types.sort();
        types
    }

    /// The plugin for `content_type`; an unknown type's error lists the installed ones.
    pub fn message_type(
        &mut self,
        content_type: &str,
    ) -> Result<&mut MessageTypePlugin, ServiceError> {
        let types = &self.host.message_types;
        match types
            .iter()
            .position(|p| p.description().content_type == content_type)
        {
            Some(i) => Ok(&mut self.host.message_types[i]),
            None => Err(ServiceError::UnknownContentType {
                content_type: content_type.to_owned(),
                installed: self.content_types(),
            }),
        }
    }

    /// The transport plugin with transport id `id`, if loaded.
    pub fn transport(
        &mut self,
        id: &str,
    ) -> Option<&mut courier_plugin_host::transport_plugin::TransportPlugin> {
        self.host.transport(id)
    }

    /// The plugin for `content_type` if one is loaded (for showing content, where a missing plugin
    /// only means the sender's fallback text is shown).
    pub fn message_type_if_loaded(&mut self, content_type: &str) -> Option<&mut MessageTypePlugin> {
        self.host.message_type(content_type)
    }

    /// The config settings of the plugin called `name`.
    pub fn settings(&self, name: &str) -> &[(String, String)] {
        self.settings
            .iter()
            .find(|(plugin, _)| plugin == name)
            .map_or(&[], |(_, s)| s.as_slice())
    }

    /// The policy of the profile the plugins were loaded with.
    pub fn policy(&self) -> &courier_config::policy::Policy {
        &self.policy
    }

    /// The settings of the plugin called `name` that the profile's policy governs.
    pub fn pinned(&self, name: &str) -> &[(String, String)] {
        self.pinned
            .iter()
            .find(|(plugin, _)| plugin == name)
            .map_or(&[], |(_, s)| s.as_slice())
    }

    /// The options `prepare` gets for `content_type` when a caller gives `given`: the config's
    /// settings first, the caller's after (the later value of a key wins), and what the
    /// profile's policy governs last, so no caller overrides it.
    pub fn options_for(
        &mut self,
        content_type: &str,
        given: &[(String, String)],
    ) -> Result<Vec<(String, String)>, ServiceError> {
        let name = self.message_type(content_type)?.name().to_owned();
        let mut all = self.settings(&name).to_vec();
        all.extend_from_slice(given);
        all.extend_from_slice(self.pinned(&name));
        Ok(all)
    }

    /// Why the plugin of config section `section` (`transports.lan`) was not loaded, if it was not.
    pub fn failure_in(&self, section: &str) -> Option<&courier_plugin_host::LoadError> {
        self.host
            .failures
            .iter()
            .find(|f| f.at.key == section || f.at.key.starts_with(&format!("{section}.")))
    }

    /// What each plugin describes and how it is doing, now.
    pub fn inventory(&self) -> Inventory {
        let now = Instant::now();
        let transports = self.host.transports.iter().map(|t| {
            let d = t.description();
            let description = Description::Transport {
                id: d.id.clone(),
                duplex: matches!(d.mode, Mode::Duplex),
                max_latency_ms: d.max_latency_ms,
                frame_size: d.frame_size,
                reveals: reveal_names(d.reveals),
            };
            self.info(t.instance(), description, now)
        });
        let message_types = self.host.message_types().map(|m| {
            let d = m.description();
            let description = Description::MessageType {
                content_type: d.content_type.clone(),
                min_version: d.versions.min,
                max_version: d.versions.max,
                max_input_bytes: d.max_input_bytes,
                max_payload_bytes: d.max_payload_bytes,
            };
            self.info(m.instance(), description, now)
        });
        Inventory {
            loaded: transports.chain(message_types).collect(),
            not_loaded: self.host.failures.iter().map(ToString::to_string).collect(),
        }
    }

    fn info<B: Bindings>(
        &self,
        instance: &Supervised<B>,
        description: Description,
        now: Instant,
    ) -> PluginInfo {
        let name = instance.name().to_owned();
        let report = self.host.reports.iter().find(|r| r.plugin == name);
        let health = PluginHealth::of(instance.health(), now);
        PluginInfo {
            name,
            description,
            health,
            cached: report.is_some_and(|r| matches!(r.origin, Origin::Cached)),
            load_time: report.map_or(Duration::ZERO, |r| r.elapsed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_plugins() -> Plugins {
        let dir = tempfile::tempdir().unwrap();
        let config =
            Config::parse("[plugins]\ndir = \"plugins\"\n", "test.toml", dir.path()).unwrap();
        Plugins::load(&config).unwrap()
    }

    #[test]
    fn an_unknown_content_type_is_not_found_and_names_what_is_installed() {
        let mut plugins = no_plugins();
        let error = plugins.message_type("courier/poll").err().unwrap();
        assert_eq!(error.kind(), crate::ErrorKind::NotFound);
        assert!(
            error
                .to_string()
                .starts_with("no message type \"courier/poll\" is installed; installed: none"),
            "{error}"
        );
        assert_eq!(
            plugins.inventory(),
            Inventory {
                loaded: Vec::new(),
                not_loaded: Vec::new()
            }
        );
    }
}
