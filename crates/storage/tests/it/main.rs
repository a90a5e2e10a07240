//! Storage's stories: real SQLCipher files under the sync protocol, attachments in chunk packs.

mod sync_session;

mod attachments;
mod sync_protocol;
