//! Durable storage: one SQLCipher database per data directory, encrypted at rest with a key derived
//! from the user's passphrase (SQLCipher's PBKDF2), in WAL mode with full fsync on commit; attachment
//! chunks beside it in sealed packs whose key the database holds.

mod activity;
mod attachments;
mod chunk_packs;
mod contact_store;
mod conversation;
mod database;
mod disappearing;
mod identity_store;
mod migrations;
mod peer_announcements;
mod stream_state;
mod sync_store;
pub mod wipe;

pub use activity::{Activity, ActivityMark, OutgoingRow, Progress};
pub use attachments::{Content, Draft, Payload};
pub use contact_store::{Contact, OutgoingState};
pub use conversation::{Delivery, Direction, Durability, Entry};
pub use database::{
    ContactId, Database, MIN_PASSPHRASE_CHARS, NameError, Passphrase, StorageError, check_name,
};
pub use identity_store::PendingContact;
pub use stream_state::Peer;
pub use sync_store::ConversationStore;
