//! Hostile plugin: `prepare` spins forever, so only the host's per-call budget can stop it.

use courier_plugin::message_type::courier::plugin::types::{PluginError, Setting};
use courier_plugin::message_type::exports::courier::plugin::content::{
    Description, Guest, VersionRange,
};

/// The plugin's exports.
pub struct EndlessLoop;

impl Guest for EndlessLoop {
    fn describe() -> Description {
        Description {
            content_type: "test/endless-loop".into(),
            versions: VersionRange { min: 1, max: 1 },
            max_input_bytes: 1024,
            max_payload_bytes: 1024,
        }
    }
    fn prepare(
        input: Vec<u8>,
        _options: Vec<Setting>,
        _version: u32,
    ) -> Result<Vec<u8>, PluginError> {
        courier_plugin::log!(info, "starting an endless loop");
        let mut n = input.len() as u64;
        loop {
            n = std::hint::black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    fn check_settings(_settings: Vec<Setting>) -> Result<(), PluginError> {
        Ok(())
    }
    fn validate(_payload: Vec<u8>, _version: u32) -> Result<(), PluginError> {
        Ok(())
    }
    fn summary(_payload: Vec<u8>, _version: u32) -> Result<String, PluginError> {
        Ok("endless loop".into())
    }
}

courier_plugin::export_message_type!(EndlessLoop);
