//! Checks every message-type plugin makes first: the version asked for, and text payloads that must
//! be UTF-8 under a size limit.

use crate::message_type::courier::plugin::types::PluginError;

/// Refuses any version but `supported` (for plugins that speak one version).
pub fn expect_version(version: u32, supported: u32) -> Result<(), PluginError> {
    if version == supported {
        Ok(())
    } else {
        Err(PluginError::UnsupportedVersion(version))
    }
}

/// `bytes` as UTF-8 text of at most `max` bytes, or the error to return; `what` names it in the error.
pub fn utf8<'a>(bytes: &'a [u8], max: u64, what: &str) -> Result<&'a str, PluginError> {
    if bytes.len() as u64 > max {
        return Err(PluginError::TooLarge(max));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        PluginError::InvalidInput(format!(
            "{what} is not valid UTF-8 (byte {})",
            e.valid_up_to()
        ))
    })
}
