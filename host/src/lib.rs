//! Courier's host: the crates that make a node, gathered under the names the `courier` binary, the
//! host's integration tests and its benchmarks use. See ARCHITECTURE.md for the map.

pub use courier_config as config;
pub use courier_drivers as drivers;
pub use courier_local_fs::{input_file, owner_only};
pub use courier_node as node;
pub use courier_plugin_host as plugin;
pub use courier_proto::{
    contact_link, handshake, identity, introduction, sync, transport_security,
};
pub use courier_storage as storage;
