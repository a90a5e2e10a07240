//! The plugin host's stories: real components built from `plugins/` and `tests/plugins/`, loaded by
//! wasmtime exactly as `courier` loads them. Run `cargo xtask build-plugins` first (`cargo xtask
//! test` does).

mod fixture;

mod component_cache;
mod config_errors;
mod hostile_plugins;
mod transport_world;
