//! One record of a private group as its window shows it: a post, or a change of who is in it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One accepted record of a group.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct GroupEntry {
    /// Its id, 64 hex digits.
    pub id: String,
    /// Its author's name in the group.
    pub author: String,
    /// Whether we wrote it.
    pub ours: bool,
    /// When it was written, by the author's clock, in Unix milliseconds.
    pub time_ms: u64,
    /// `post`, `added` (the creator added `member`; the creator adding themselves made the
    /// group), `left`, `removed` (the creator removed `member`), `dissolved` or `timer` (the
    /// creator set how long posts stay: `timer`).
    pub kind: GroupEntryKind,
    /// For a post: the post it replies to (64 hex digits).
    pub parent: Option<String>,
    /// For a post: its content type, e.g. `courier/text`.
    pub content_type: Option<String>,
    /// For a post: one line of text for it, from its plugin (or the author's fallback).
    pub summary: Option<String>,
    /// For a post: its size.
    pub bytes: Option<u64>,
    /// For `added` and `removed`: whom.
    pub member: Option<String>,
    /// For `timer`: `off`, or how long each post stays after it arrives, in words (`1 day`).
    pub timer: Option<String>,
    /// For a post: its reactions, each member's latest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<GroupReactionJson>,
    /// For a post: its author's edits' texts, oldest first; the last is what it says now (the
    /// summary is the original).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<String>,
}

/// A member's reaction to a post.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct GroupReactionJson {
    /// The member's name in the group.
    pub author: String,
    /// Whether it is ours.
    pub ours: bool,
    /// An emoji or a short word.
    pub reaction: String,
}

/// What a group's record says.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GroupEntryKind {
    /// A post.
    Post,
    /// The creator added a member.
    Added,
    /// Its author left.
    Left,
    /// The creator removed a member.
    Removed,
    /// The creator dissolved the group.
    Dissolved,
    /// The creator set how long posts stay.
    Timer,
}

impl GroupEntryKind {
    /// Its JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupEntryKind::Post => "post",
            GroupEntryKind::Added => "added",
            GroupEntryKind::Left => "left",
            GroupEntryKind::Removed => "removed",
            GroupEntryKind::Dissolved => "dissolved",
            GroupEntryKind::Timer => "timer",
        }
    }
}
