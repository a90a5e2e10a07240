//! Integration tests for the host: real components built from `plugins/` and `tests/plugins/`, loaded by
//! wasmtime exactly as `courier` loads them. Run `cargo xtask build-plugins` first (`cargo xtask test` does).

mod fixture;
mod two_nodes;

mod attachments;
mod black_hole;
mod component_cache;
mod config_errors;
mod hostile_plugins;
mod rendezvous;
mod simplex;
mod storage;
mod tor_boundary;
mod tor_cut_off;
mod transport_world;
