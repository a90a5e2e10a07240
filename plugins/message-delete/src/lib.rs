//! The `courier/delete` message type: the sender takes one of their own messages back, for both
//! sides. The host puts the id of that message before it, checks it is the sender's, and erases it
//! on both sides as a disappearing message is erased; the retraction itself carries nothing else.

use courier_plugin::content_type::{ContentType, Exports};
use courier_plugin::message_type::courier::plugin::types::{PluginError, Setting};

/// Content type name this plugin owns.
pub const CONTENT_TYPE: &str = "courier/delete";

/// The plugin.
pub struct Delete;

impl ContentType for Delete {
    const NAME: &'static str = CONTENT_TYPE;
    // The host takes no limit of 0; the rule below takes nothing at all.
    const MAX_INPUT_BYTES: u64 = 1;
    const MAX_PAYLOAD_BYTES: u64 = 1;

    fn prepare(input: &[u8], _options: &[Setting]) -> Result<Vec<u8>, PluginError> {
        Self::validate(input).map(|()| Vec::new())
    }

    fn validate(payload: &[u8]) -> Result<(), PluginError> {
        if payload.is_empty() {
            Ok(())
        } else {
            Err(PluginError::InvalidInput(
                "a retraction says nothing but which message it takes back".into(),
            ))
        }
    }

    fn summary(_payload: &[u8]) -> Result<String, PluginError> {
        Ok("deleted a message".into())
    }
}

/// The plugin's exports.
pub type Plugin = Exports<Delete>;

courier_plugin::export_message_type!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use courier_plugin::message_type::exports::courier::plugin::content::Guest;

    #[test]
    fn a_retraction_is_empty_and_says_what_it_did() {
        assert_eq!(Plugin::prepare(vec![], vec![], 1).unwrap(), b"");
        assert!(Plugin::validate(b"x".to_vec(), 1).is_err());
        assert_eq!(Plugin::summary(vec![], 1).unwrap(), "deleted a message");
    }
}
