//! The JSON the API speaks: each type here is what an endpoint takes or answers; the server makes
//! them from the service's types, [`crate::client`] reads them back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What `/v1/ws` sends, and the parts of it the endpoints answer with too.
pub use courier_events::{
    ContactStateJson, DirectionJson, Event, GroupEntry, GroupEntryKind, Message, StateJson,
    Transport,
};

/// Who the user is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Identity {
    /// The name the user goes by (contacts choose their own alias for them).
    pub name: String,
    /// The `courier://` link to give a contact.
    pub link: String,
}

/// A contact or a pending contact.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Contact {
    /// What the user calls them.
    pub alias: String,
    /// `contact` once the handshake ran; `pending` before; `unmet` when not met in 48 hours.
    pub state: ContactStateJson,
    /// Whether the user compared safety numbers with them.
    pub verified: bool,
    /// The transports a sync session with them runs on now (empty when they are not connected,
    /// or when no node runs).
    #[serde(default)]
    pub online: Vec<String>,
}

/// Adds a pending contact.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddContact {
    /// Their `courier://` link.
    pub link: String,
    /// What to call them.
    pub alias: String,
}

/// Renames a contact.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    /// The new alias.
    pub alias: String,
}

/// A conversation's disappearing-messages timer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct DisappearingTimer {
    /// `off`, or how long after it is read or sent each message is deleted, in words (`1 day`).
    pub timer: String,
    /// The same in seconds; absent when off.
    pub seconds: Option<u64>,
}

/// A new timer for a conversation, for both sides.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTimer {
    /// `off`, or 1 minute to 365 days: `30m`, `12h`, `7d`.
    pub timer: String,
}

/// What the user chose for a conversation's read receipts.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptsChoice {
    /// Sent, whatever the profile says.
    On,
    /// Never sent.
    Off,
    /// As the profile's `read-receipts` says (off unless it says on).
    Default,
}

/// Whether a conversation sends read receipts: when the user reads the contact's messages, the
/// contact is told.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ReadReceipts {
    /// What the user chose for this conversation.
    pub chosen: ReceiptsChoice,
    /// Whether it sends them now.
    pub on: bool,
}

/// What marking a conversation read did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct MarkedRead {
    /// Messages that had not been seen.
    pub seen: u64,
    /// Read receipts queued to the contact (none where the conversation sends none).
    pub receipts: u64,
}

/// A new choice of read receipts for a conversation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetReadReceipts {
    /// `on`, `off`, or `default` (as the profile says).
    pub receipts: ReceiptsChoice,
}

/// The number to compare in person.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SafetyNumber {
    /// Sixty digits in twelve groups of five, the same on both sides.
    pub safety_number: String,
}

/// A window of a conversation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Messages {
    /// Oldest first.
    pub messages: Vec<Message>,
    /// Pass as `before` for the messages just older, if there are any.
    pub older: Option<String>,
    /// Pass as `after` for the messages just newer, if there are any.
    pub newer: Option<String>,
}

/// One conversation in the list of them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Conversation {
    /// The contact's alias.
    pub alias: String,
    /// Messages from them not marked read.
    pub unread: u64,
    /// The newest message either way.
    pub newest: Option<Message>,
}

/// A message to send, as JSON: for content whose input is text (a text, a payment URI, a
/// location's `LAT,LON`). Files go as `multipart/form-data` instead.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendText {
    /// An installed content type, e.g. `courier/text`.
    pub content_type: String,
    /// The input its plugin prepares.
    pub text: String,
    /// Options for the plugin, over the config's settings (e.g. `label`, `precision`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// For a reply, reaction, edit or retraction (`courier/reply`, `courier/reaction`,
    /// `courier/edit`, `courier/delete`): the message it relates to, 8 or more hex digits of its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relates_to: Option<String>,
}

/// A private group.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Group {
    /// Its id, 64 hex digits (any 8 or more of the first name it in a path, as does its name
    /// if no other group has it).
    pub id: String,
    /// Its name, as its creator chose it.
    pub name: String,
    /// `invited`, `declined`, `member`, `left`, `removed` or `dissolved`.
    pub standing: String,
    /// Whether we made it (only its creator invites, removes and dissolves).
    pub ours: bool,
    /// The contact who invited us, if one did.
    pub invited_by: Option<String>,
    /// How many are members now, as far as we know.
    pub members: u64,
    /// How long each post stays on a member's device after it arrives there, as the creator
    /// set it.
    pub timer: DisappearingTimer,
}

/// One member of a group.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct GroupMember {
    /// The name they chose for this group.
    pub name: String,
    /// The first 16 hex digits of their key in this group (two members may share a name).
    pub key: String,
    /// Whether they made the group.
    pub creator: bool,
    /// Whether it is us.
    pub us: bool,
    /// `member`, `left` or `removed`.
    pub state: String,
    /// Our contact who is this member, if we sync the group with them.
    pub contact: Option<String>,
}

/// A window of a group: posts and changes of who is in it, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct GroupEntries {
    /// The records.
    pub entries: Vec<GroupEntry>,
    /// The oldest listed, if older ones exist: pass it as `before` for those.
    pub older: Option<String>,
}

/// Makes a group.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    /// The group's name.
    pub name: String,
    /// The name the members see us by.
    pub join_as: String,
}

/// Invites a contact into a group of ours.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteToGroup {
    /// The contact's alias.
    pub alias: String,
}

/// Answers an invitation into a group.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInvitation {
    /// The name to join as; `null` declines.
    pub join_as: Option<String>,
}

/// A post we wrote into a group.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupPosted {
    /// Its id, 64 hex digits.
    pub id: String,
    /// What a member without the content type's plugin sees.
    pub fallback: String,
}

/// A queued message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Queued {
    /// Its id.
    pub id: String,
    /// `reads` (the contact has the plugin), `lacking` (they will see `fallback`), or `unknown`.
    pub support: String,
    /// What a contact without the plugin sees.
    pub fallback: String,
}

/// A loaded plugin.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Plugin {
    /// Its name (the file stem).
    pub name: String,
    /// `transport` or `message-type`.
    pub world: String,
    /// For a message type, its content type.
    pub content_type: Option<String>,
    /// For a message type, the versions it reads, e.g. `1..=2`.
    pub versions: Option<String>,
    /// For a message type, the largest input it takes, in bytes.
    pub max_input_bytes: Option<u64>,
    /// `up`, `backing-off` or `disabled`.
    pub health: String,
    /// The last fault, if it was disabled.
    pub fault: Option<String>,
    /// Milliseconds it took to load.
    pub load_ms: u64,
}

/// Every plugin: message types the API loaded, transports the node runs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Plugins {
    /// Loaded plugins.
    pub loaded: Vec<Plugin>,
    /// One line for each plugin the config asked for that did not load.
    pub not_loaded: Vec<String>,
}

/// An error: what was wrong and what to do.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// One of `unauthorized`, `forbidden`, `invalid-input`, `not-found`, `conflict`,
    /// `too-large`, `refused-by-policy`, `unavailable`, `locked`, `storage`, `plugin`.
    pub kind: String,
    /// What was wrong and what to do, for a person.
    pub message: String,
    /// The request field it was about, if one.
    pub field: Option<String>,
}

/// Pairs with a mailbox.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairMailbox {
    /// The `courier-mailbox://` link the mailbox printed.
    pub link: String,
}

/// The mailbox this node owns, as it answered just now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OwnMailboxState {
    /// Whether it answered and knows our token.
    pub reachable: bool,
    /// Why not, if not, and what to do.
    pub problem: Option<String>,
    /// Contacts registered there.
    pub contacts: u64,
}

/// Mailboxes as this node sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MailboxState {
    /// The one this node owns, if it is paired with one.
    pub own: Option<OwnMailboxState>,
    /// Contacts this node reaches through their own mailbox.
    pub theirs: u64,
}
