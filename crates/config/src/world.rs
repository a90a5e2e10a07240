//! The two kinds of plugin (WIT worlds) and what a plugin may be called.

use std::fmt;

use serde::Deserialize;

/// Which world a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    /// `courier:plugin/transport`.
    Transport,
    /// `courier:plugin/message-type`.
    MessageType,
}

impl fmt::Display for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            World::Transport => "transport",
            World::MessageType => "message-type",
        })
    }
}

impl World {
    /// The config table its plugins' sections are in: `transports` or `message_types`.
    pub fn table(self) -> &'static str {
        match self {
            World::Transport => "transports",
            World::MessageType => "message_types",
        }
    }
}

/// Whether `name` is a valid plugin name (also a safe file stem).
pub fn is_plugin_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}
