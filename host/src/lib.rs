//! Courier's host runtime: identity, crypto, storage and sync live here; transports and message types are
//! sandboxed wasm plugins loaded by [`plugin::PluginHost`]. See ARCHITECTURE.md for the map.

pub mod config;
pub mod contact_link;
pub mod handshake;
pub mod identity;
pub mod plugin;
pub mod storage;
pub mod sync;
pub mod transport_security;
