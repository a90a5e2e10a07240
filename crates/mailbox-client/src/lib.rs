//! The node's side of the mailbox's HTTP API (`courier mailbox serve`): the owner's node pairs with
//! it and registers contacts; a transport moves opaque files through it. Blocking, over TCP or through
//! an agent that reaches onion services over Tor: callers off the node's thread.

mod client;
mod error;
mod link;

pub use client::{Folder, MailboxClient, Token, agent_config, is_onion_address};
pub use error::MailboxClientError;
pub use link::PairingLink;
