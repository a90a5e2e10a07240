//! Courier's protocol core, sans-IO and free of the plugin runtime: identity and safety numbers,
//! contact links, the contact handshake, transport security (keys, tags, streams) and sync (records,
//! sessions, attachments), and private groups (descriptors, signed records, membership). Small enough
//! to fuzz on its own.

pub mod contact_link;
pub mod group;
pub mod handshake;
pub mod identity;
pub mod introduction;
pub mod sync;
pub mod transport_security;
