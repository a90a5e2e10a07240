//! `profile check`: what a profile lets each of its plugins do. Every plugin is loaded as `serve`
//! would load it, under the profile's policy; none is started.

use courier_config::capability::Capability;
use courier_config::world::World;
use courier_config::{Config, PluginEntry};

use crate::error::ServiceError;
use crate::plugins::Plugins;

/// One section of a profile and whether its policy lets it run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionReport {
    /// `transports.lan` or `message_types.image`.
    pub section: String,
    /// The world it is in.
    pub world: World,
    /// The plugin it names.
    pub plugin: String,
    /// What it is granted, scopes included (`tcp(lan)`, `files(/media/…)`).
    pub granted: Vec<String>,
    /// What it reveals: as declared once it loaded, else as its grants make possible.
    pub reveals: Vec<&'static str>,
    /// The settings it runs with.
    pub settings: Vec<(String, String)>,
    /// `None` when it may run; else why it may not.
    pub refused: Option<String>,
}

/// Every section of a profile, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileReport {
    /// Transports first, then message types.
    pub sections: Vec<SectionReport>,
}

impl ProfileReport {
    /// Whether anything is refused, or no transport would run.
    pub fn passes(&self) -> bool {
        self.sections.iter().all(|s| s.refused.is_none())
            && self.sections.iter().any(|s| s.world == World::Transport)
    }
}

/// Loads every plugin of `config` under its policy and says, per section, what it reveals, what it
/// is granted and whether it may run.
pub fn check(config: &Config) -> Result<ProfileReport, ServiceError> {
    let plugins = Plugins::load(config)?;
    let inventory = plugins.inventory();
    let sections = config
        .plugins
        .iter()
        .map(|entry| {
            let section = format!("{}.{}", entry.world.table(), entry.section);
            let refused = plugins
                .failure_in(&section)
                .map(|failure| failure.problem.to_string());
            let declared = inventory
                .loaded
                .iter()
                .find(|p| p.name == entry.plugin)
                .and_then(|p| match &p.description {
                    crate::Description::Transport { reveals, .. } => Some(reveals.clone()),
                    crate::Description::MessageType { .. } => None,
                });
            let reveals = match (refused.is_none(), declared) {
                (true, Some(declared)) => declared,
                _ => entry
                    .grants
                    .possible_reveals()
                    .into_iter()
                    .map(|r| r.name())
                    .collect(),
            };
            SectionReport {
                section,
                world: entry.world,
                plugin: entry.plugin.clone(),
                granted: granted(entry),
                reveals,
                settings: entry.settings.clone(),
                refused,
            }
        })
        .collect();
    Ok(ProfileReport { sections })
}

fn granted(entry: &PluginEntry) -> Vec<String> {
    entry
        .grants
        .capabilities
        .iter()
        .map(|c| match c {
            Capability::Tcp => format!("tcp({})", entry.grants.tcp_scope.name()),
            Capability::Files => format!(
                "files({})",
                entry
                    .grants
                    .files_dir
                    .as_deref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default()
            ),
            other => other.name().to_owned(),
        })
        .collect()
}
