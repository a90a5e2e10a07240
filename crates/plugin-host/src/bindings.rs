//! Host-side bindings for the two plugin worlds, generated from `plugin-api/wit`.

/// The `transport` world.
pub mod transport {
    wasmtime::component::bindgen!({
        path: "../../plugin-api/wit",
        world: "transport",
        additional_derives: [PartialEq, Eq],
    });
}

/// The `message-type` world; shares the common interfaces' types with the transport bindings.
pub mod message_type {
    wasmtime::component::bindgen!({
        path: "../../plugin-api/wit",
        world: "message-type",
        additional_derives: [PartialEq, Eq],
        with: {
            "courier:plugin/types": super::transport::courier::plugin::types,
            "courier:plugin/log": super::transport::courier::plugin::log,
            "courier:plugin/clock": super::transport::courier::plugin::clock,
            "courier:plugin/random": super::transport::courier::plugin::random,
        },
    });
}

pub use transport::courier::plugin::transport_types;
pub use transport::courier::plugin::types::{CapabilityError, Level, PluginError, Setting};

impl From<courier_io::Medium> for transport_types::Medium {
    fn from(medium: courier_io::Medium) -> Self {
        match medium {
            courier_io::Medium::Tcp => transport_types::Medium::Tcp,
            courier_io::Medium::Tor => transport_types::Medium::Tor,
            courier_io::Medium::Ble => transport_types::Medium::Ble,
        }
    }
}

/// A plugin's own error as one line of text for logs and users.
pub fn plugin_error_text(error: &PluginError) -> String {
    match error {
        PluginError::InvalidInput(m) => format!("invalid input: {m}"),
        PluginError::TooLarge(max) => format!("input too large (limit {max} bytes)"),
        PluginError::UnsupportedVersion(v) => format!("version {v} is not supported"),
        PluginError::CapabilityDenied(m) => format!("a capability was refused: {m}"),
        PluginError::Internal(m) => format!("internal error: {m}"),
    }
}

/// The `(key, value)` pairs of a config section as WIT settings.
pub fn settings(pairs: &[(String, String)]) -> Vec<Setting> {
    pairs
        .iter()
        .map(|(key, value)| Setting {
            key: key.clone(),
            value: value.clone(),
        })
        .collect()
}
