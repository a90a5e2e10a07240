//! What a front end is told as a node runs: messages arriving, ours sent and acked, contacts and
//! transports changing, what the node's media are doing. One typed [`Event`] that the API's
//! WebSocket sends as JSON (derived here, never kept as a twin), that `courier serve` prints (its
//! line written once, in [`terminal`]), and that tests read back.
//!
//! Architecture Invariant: this crate is a leaf of plain data. The service makes events, the API
//! and the CLI show them, a desktop app's client reads them; none of those needs a node to link it.

mod contact;
mod group;
mod message;
pub mod terminal;
mod transport;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use contact::ContactStateJson;
pub use group::{GroupEntry, GroupEntryKind, GroupReactionJson};
pub use message::{DirectionJson, Message, ReactionJson, StateJson};
pub use transport::Transport;

/// One change, as a front end is told it (on `/v1/ws`, one JSON text frame each).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A message arrived (an attachment once all of it is there).
    MessageReceived {
        /// From whom.
        contact: String,
        /// The message.
        message: Message,
    },
    /// One of ours left on some transport for the first time.
    MessageSent {
        /// To whom.
        contact: String,
        /// Which (64 hex digits).
        id: String,
    },
    /// The contact stored one of ours.
    MessageAcked {
        /// Whose.
        contact: String,
        /// Which.
        id: String,
    },
    /// The contact read one of ours (their read receipt came).
    MessageRead {
        /// Who.
        contact: String,
        /// Which.
        id: String,
    },
    /// Either side reacted to a message, or changed their reaction.
    MessageReacted {
        /// The conversation's contact.
        contact: String,
        /// The message reacted to, with its reactions now.
        message: Message,
    },
    /// Its sender edited a message.
    MessageEdited {
        /// The conversation's contact.
        contact: String,
        /// The message, with its edits now.
        message: Message,
    },
    /// Its sender deleted a message for everyone: it is gone on both sides.
    MessageDeleted {
        /// The conversation's contact.
        contact: String,
        /// Which (64 hex digits).
        id: String,
    },
    /// A contact was added (a pending contact met).
    ContactAdded {
        /// Their alias.
        alias: String,
    },
    /// A pending contact was added or changed state.
    ContactPending {
        /// Their alias.
        alias: String,
        /// Their state.
        state: ContactStateJson,
    },
    /// A contact or pending contact was removed.
    ContactRemoved {
        /// Their alias.
        alias: String,
    },
    /// A sync session with a contact began on a transport.
    ContactConnected {
        /// Their alias.
        alias: String,
        /// On which transport.
        transport: String,
    },
    /// The last sync session with a contact on a transport ended.
    ContactDisconnected {
        /// Their alias.
        alias: String,
        /// On which transport.
        transport: String,
    },
    /// More chunks of one of our attachments were sent, or stored by the contact.
    AttachmentProgress {
        /// To whom.
        contact: String,
        /// The attachment's message.
        id: String,
        /// Chunks sent at least once.
        sent: u64,
        /// Chunks the contact stored.
        acked: u64,
        /// Chunks in all.
        total: u64,
    },
    /// A transport's state changed (its links, its health, its medium).
    TransportState {
        /// It, now.
        transport: Transport,
    },
    /// A transport is listening for contacts.
    Listening {
        /// Its id.
        transport: String,
        /// The port, for one on a network.
        port: Option<u16>,
    },
    /// A one-way stream for a contact was written (a file on a drive).
    StreamWritten {
        /// The transport's id.
        transport: String,
        /// For whom.
        contact: String,
    },
    /// A contact's one-way stream could not be read whole (cut short or tampered with); what came
    /// before the damage is kept, the rest comes again.
    FileSkipped {
        /// The transport's id.
        transport: String,
        /// The file's name, as its driver gave it (a stranger may have chosen it).
        name: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A transport's folder cannot be listed (a stick pulled out): told once, until it is back.
    FolderUnreadable {
        /// The transport's id.
        transport: String,
        /// Why.
        error: String,
    },
    /// A member's post reached us in a group (relayed by whichever member we sync with).
    GroupPostReceived {
        /// The group's id (64 hex digits).
        group: String,
        /// The group's name.
        name: String,
        /// The post.
        post: GroupEntry,
    },
    /// A member reacted to a group's post, or its author edited it (ours too).
    GroupPostChanged {
        /// The group's id (64 hex digits).
        group: String,
        /// The group's name.
        name: String,
        /// The post as it shows now, with its reactions and edits.
        post: GroupEntry,
    },
    /// Its author deleted a group's post for everyone: it is gone from this device.
    GroupPostDeleted {
        /// The group's id (64 hex digits).
        group: String,
        /// The group's name.
        name: String,
        /// The post's id (64 hex digits).
        id: String,
    },
    /// Who is in a group changed: someone was added, left or was removed, or it was dissolved
    /// (ours too, written here or by another process).
    GroupMembership {
        /// The group's id (64 hex digits).
        group: String,
        /// The group's name.
        name: String,
        /// The record that changed it.
        change: GroupEntry,
    },
    /// A transport's folder that could not be listed can be again.
    FolderReadable {
        /// The transport's id.
        transport: String,
    },
}
