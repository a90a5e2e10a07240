//! One message of a conversation as it is listed: which way it went and where it stands.

use courier_proto::sync::record::{Message, MessageId};

use crate::contact_store::OutgoingState;

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// We sent it.
    Outgoing,
    /// The contact sent it.
    Incoming,
}

/// Where a message in a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Ours, in one of the outbox states.
    Outgoing(OutgoingState),
    /// Theirs, stored.
    Received,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Content-addressed id.
    pub id: MessageId,
    /// Sent or received.
    pub direction: Direction,
    /// State.
    pub delivery: Delivery,
    /// The message itself (timestamp is the sender's clock).
    pub message: Message,
}
