//! Hostile plugin: answers break the rules it describes (oversized payloads, a summary full of controls).

use courier_plugin::message_type::courier::plugin::types::{PluginError, Setting};
use courier_plugin::message_type::exports::courier::plugin::content::{
    Description, Guest, VersionRange,
};

/// The plugin's exports.
pub struct MalformedOutput;

impl Guest for MalformedOutput {
    fn describe() -> Description {
        Description {
            content_type: "test/malformed-output".into(),
            versions: VersionRange { min: 1, max: 1 },
            max_input_bytes: 1024,
            max_payload_bytes: 16,
        }
    }
    fn prepare(
        _input: Vec<u8>,
        _options: Vec<Setting>,
        _version: u32,
    ) -> Result<Vec<u8>, PluginError> {
        // Says payloads are at most 16 bytes, then returns 64 KiB.
        Ok(vec![7; 64 * 1024])
    }
    fn check_settings(_settings: Vec<Setting>) -> Result<(), PluginError> {
        Ok(())
    }
    fn validate(_payload: Vec<u8>, _version: u32) -> Result<(), PluginError> {
        Ok(())
    }
    fn summary(_payload: Vec<u8>, _version: u32) -> Result<String, PluginError> {
        // Terminal escape sequences and a right-to-left override in a "summary".
        Ok("\u{1b}[2J\u{202E}gnp.exe".repeat(1000))
    }
}

courier_plugin::export_message_type!(MalformedOutput);
