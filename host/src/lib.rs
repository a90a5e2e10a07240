//! Courier's host runtime: identity, crypto, storage and sync live here; transports and message types are
//! sandboxed wasm plugins loaded by [`plugin::PluginHost`]. See ARCHITECTURE.md for the map.

pub mod config;
pub mod content;
pub mod drivers;
pub mod input_file;
pub mod node;
pub mod owner_only;
pub mod plugin;
pub mod storage;

pub use courier_proto::{
    contact_link, handshake, identity, introduction, sync, transport_security,
};
