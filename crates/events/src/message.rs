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
    /// `queued`, `sent`, `acked` (ours) or `received`.
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
    /// Theirs, stored.
    Received,
}
