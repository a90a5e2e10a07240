//! The plugin host: loads sandboxed wasm components, grants them capabilities, and contains their faults.

pub mod bindings;
pub mod component_cache;
pub mod fault;
mod host_imports;
pub mod instance;
pub mod limiter;
pub mod loader;
pub mod manifest;
pub mod message_plugin;
pub mod sandbox;
pub mod supervisor;
pub mod testing;
pub mod transport_plugin;

pub use courier_config::{capability, limits};
pub use courier_io::MAX_FILE_BYTES;
pub use host_imports::{MAX_REQUESTS_PER_CALL, is_onion_v3};
pub use instance::CallError;
pub use loader::{EngineError, LoadError, LoadProblem, PluginHost};

/// A WIT file's doc comments as one line of text, so a test can find a sentence that wraps.
#[cfg(test)]
fn doc_text(wit: &str) -> String {
    wit.lines()
        .filter_map(|l| l.trim_start().strip_prefix("///"))
        .collect()
}
