//! The JSON Courier's local API speaks ([`json`]) and a blocking client of it ([`client`]), apart
//! from the server so that a program driving a node (the CLI, a test, a bench) links no node.

pub mod client;
pub mod json;
mod unix_socket;

/// Where a node serving the API writes its address, in the data directory.
pub const ADDRESS_FILE: &str = "api.addr";
/// Where a node serving the API listens on a Unix socket too, in the data directory.
pub const SOCKET_FILE: &str = "api.sock";
/// Where a node serving the API writes its token, readable by its owner only.
pub const TOKEN_FILE: &str = "api.token";
