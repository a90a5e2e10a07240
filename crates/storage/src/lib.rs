//! Durable storage: one SQLCipher database per data directory, encrypted at rest under a random key
//! that a small key file beside it keeps sealed by the user's passphrase (Argon2id), in WAL mode
//! with full fsync on commit; attachment chunks beside it in sealed packs whose key the database
//! holds. Destroying the key file's keys (a panic wipe, a rotation after messages disappear) makes
//! every copy of what they encrypted unreadable, wherever a file system left it.

mod activity;
mod attachments;
mod chunk_packs;
mod contact_store;
mod conversation;
mod database;
mod disappearing;
mod identity_store;
mod key_file;
mod migrations;
mod peer_announcements;
mod rotation;
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
pub use rotation::Rotated;
pub use stream_state::Peer;
pub use sync_store::ConversationStore;
