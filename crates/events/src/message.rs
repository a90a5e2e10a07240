//! One message as a conversation shows it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One message as a conversation shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Message {
    /// Its id, 64 hex digits.
    pub id: String,
    /// `outgoing` (ours) or `incoming`.
    pub direction: DirectionJson,
    /// `queued`, `sent`, `acked`, `read` (ours) or `received`.
    pub state: StateJson,
    /// Its content type, e.g. `courier/text`.
    pub content_type: String,
    /// One line of text for it, from its plugin (or the sender's fallback).
    pub summary: String,
    /// When it was sent, by the sender's clock, in Unix milliseconds.
    pub time_ms: u64,
    /// Its size, once all of it is there.
    pub bytes: Option<u64>,
    /// Whether it could not be put together.
    pub damaged: bool,
    /// For a reply, reaction, edit or retraction: `reply`, `reaction`, `edit` or `delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
    /// The message it relates to (64 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relates_to: Option<String>,
    /// Reactions to it, each side's latest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionJson>,
    /// Its edits' texts, oldest first; the last is what it says now (the summary is the original).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<String>,
}

/// One side's reaction to a message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ReactionJson {
    /// `outgoing` (ours) or `incoming`.
    pub from: DirectionJson,
    /// An emoji or a short word.
    pub reaction: String,
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DirectionJson {
    /// Ours.
    Outgoing,
    /// Theirs.
    Incoming,
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StateJson {
    /// On disk here, not sent yet.
    Queued,
    /// Sent at least once, not acked.
    Sent,
    /// The contact stored it.
    Acked,
    /// The contact read it (they send read receipts).
    Read,
    /// Theirs, stored.
    Received,
}
