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
mod entry;
mod error;
mod group_chunks;
mod group_expiry;
mod group_relations;
mod group_sync;
mod groups;
mod held_sends;
mod identity_store;
mod key_file;
mod mailbox_routes;
mod message_row;
mod migrations;
mod name;
mod opened;
mod passphrase;
mod peer_announcements;
#[cfg(test)]
mod query_plans;
mod receipts;
mod relations;
mod rotation;
mod sealed_secrets;
mod stream_state;
mod sync_store;
#[cfg(test)]
mod two_sides;
mod window;
pub mod wipe;

pub use activity::{Activity, ActivityMark, Arrived, CommitMark, OutgoingRow, Progress};
pub use attachments::{Content, Draft, Payload};
pub use contact_store::{Contact, OutgoingState};
pub use conversation::Durability;
pub use database::Database;
pub use entry::{Delivery, Direction, Entry};
pub use error::{MIN_PASSPHRASE_CHARS, RelationRefused, StorageError};
pub use group_expiry::Arrival;
pub use group_sync::GroupNews;
pub use groups::{Group, GroupRecords, Standing};
pub use identity_store::PendingContact;
pub use mailbox_routes::{MailboxRoute, OwnMailbox};
pub use name::{NameError, check_name};
pub use passphrase::Passphrase;
pub use receipts::MarkedRead;
pub use rotation::Rotated;
pub use sealed_secrets::Resealed;
pub use stream_state::Peer;
pub use sync_store::{ConversationStore, HeldSends};
pub use window::{Around, Window};

/// Row id of a contact.
pub type ContactId = i64;
