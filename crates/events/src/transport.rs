//! A transport and what it is doing.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A transport and what it is doing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Transport {
    /// Its id, e.g. `lan`.
    pub id: String,
    /// The plugin that runs it.
    pub plugin: String,
    /// Whether it carries one-way streams (a drive).
    pub simplex: bool,
    /// Channels open now.
    pub links: u64,
    /// Contacts a sync session runs with now.
    pub contacts: Vec<String>,
    /// Whether it told contacts how to reach us.
    pub published: bool,
    /// `up`, `backing-off` or `disabled`.
    pub health: String,
    /// Why it was disabled, if it was.
    pub fault: Option<String>,
    /// Where its network stands (`bootstrapping (40%)`, `ready`, `unreachable: …`), for Tor.
    pub medium: Option<String>,
    /// What using it reveals to an observer.
    pub reveals: Vec<String>,
}
