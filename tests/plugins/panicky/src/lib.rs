//! Hostile plugin: `prepare` panics; `summary` works, to show the host restarts it.

use courier_plugin::message_type::courier::plugin::types::{PluginError, Setting};
use courier_plugin::message_type::exports::courier::plugin::content::{
    Description, Guest, VersionRange,
};

/// The plugin's exports.
pub struct Panicky;

impl Guest for Panicky {
    fn describe() -> Description {
        Description {
            content_type: "test/panicky".into(),
            versions: VersionRange { min: 1, max: 1 },
            max_input_bytes: 1024,
            max_payload_bytes: 1024,
        }
    }
    fn prepare(
        _input: Vec<u8>,
        _options: Vec<Setting>,
        _version: u32,
    ) -> Result<Vec<u8>, PluginError> {
        panic!("the panicky plugin gives up on purpose");
    }
    fn check_settings(_settings: Vec<Setting>) -> Result<(), PluginError> {
        Ok(())
    }
    fn validate(_payload: Vec<u8>, _version: u32) -> Result<(), PluginError> {
        Ok(())
    }
    fn summary(payload: Vec<u8>, _version: u32) -> Result<String, PluginError> {
        Ok(format!("{} bytes", payload.len()))
    }
}

courier_plugin::export_message_type!(Panicky);
