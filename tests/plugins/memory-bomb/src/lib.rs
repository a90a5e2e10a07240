//! Hostile plugin: `prepare` grabs memory until something stops it.

use courier_plugin::message_type::courier::plugin::types::{PluginError, Setting};
use courier_plugin::message_type::exports::courier::plugin::content::{
    Description, Guest, VersionRange,
};

/// The plugin's exports.
pub struct MemoryBomb;

impl Guest for MemoryBomb {
    fn describe() -> Description {
        Description {
            content_type: "test/memory-bomb".into(),
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
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            // Touch every page so the memory is really committed, not just reserved.
            hoard.push(vec![0xA5; 1 << 20]);
            std::hint::black_box(&hoard);
        }
    }
    fn check_settings(_settings: Vec<Setting>) -> Result<(), PluginError> {
        Ok(())
    }
    fn validate(_payload: Vec<u8>, _version: u32) -> Result<(), PluginError> {
        Ok(())
    }
    fn summary(_payload: Vec<u8>, _version: u32) -> Result<String, PluginError> {
        Ok("memory bomb".into())
    }
}

courier_plugin::export_message_type!(MemoryBomb);
