//! The `courier/edit` message type: the new text of one of the sender's own earlier messages. The
//! host puts the id of the message it edits before it and checks that message is the sender's;
//! this plugin makes and checks the new text, under the same rules as a text.

use courier_plugin::content_type::{ContentType, Exports};
use courier_plugin::message_type::courier::plugin::types::{PluginError, Setting};
use courier_plugin::text::{check, clean, one_line};

/// Content type name this plugin owns.
pub const CONTENT_TYPE: &str = "courier/edit";
/// Largest new text, in bytes of UTF-8.
pub const MAX_BYTES: u64 = 32 * 1024;

/// The plugin.
pub struct Edit;

impl ContentType for Edit {
    const NAME: &'static str = CONTENT_TYPE;
    const MAX_INPUT_BYTES: u64 = MAX_BYTES;
    const MAX_PAYLOAD_BYTES: u64 = MAX_BYTES;

    fn prepare(input: &[u8], _options: &[Setting]) -> Result<Vec<u8>, PluginError> {
        Ok(clean(input, MAX_BYTES, "edit")?.into_bytes())
    }

    fn validate(payload: &[u8]) -> Result<(), PluginError> {
        check(payload, MAX_BYTES, "edit").map(drop)
    }

    /// "edited: " and the new text.
    fn summary(payload: &[u8]) -> Result<String, PluginError> {
        Ok(format!(
            "edited: {}",
            one_line(check(payload, MAX_BYTES, "edit")?)
        ))
    }
}

/// The plugin's exports.
pub type Plugin = Exports<Edit>;

courier_plugin::export_message_type!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use courier_plugin::message_type::exports::courier::plugin::content::Guest;

    #[test]
    fn an_edit_is_a_clean_text_and_says_it_is_one() {
        let edit = Plugin::prepare("the old gate\u{200B}".into(), vec![], 1).unwrap();
        assert_eq!(Plugin::summary(edit, 1).unwrap(), "edited: the old gate");
        assert!(Plugin::prepare(" ".into(), vec![], 1).is_err());
    }
}
