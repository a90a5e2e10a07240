//! The `courier/reply` message type: a text that answers an earlier message. The host puts the id
//! of the message it answers before it (`courier_proto::sync::relation`) and checks that message is
//! in the conversation; this plugin makes and checks the text, under the same rules as a text.

use courier_plugin::content_type::{ContentType, Exports};
use courier_plugin::message_type::courier::plugin::types::{PluginError, Setting};
use courier_plugin::text::{check, clean, one_line};

/// Content type name this plugin owns.
pub const CONTENT_TYPE: &str = "courier/reply";
/// Largest reply, in bytes of UTF-8.
pub const MAX_BYTES: u64 = 32 * 1024;

/// The plugin.
pub struct Reply;

impl ContentType for Reply {
    const NAME: &'static str = CONTENT_TYPE;
    const MAX_INPUT_BYTES: u64 = MAX_BYTES;
    const MAX_PAYLOAD_BYTES: u64 = MAX_BYTES;

    fn prepare(input: &[u8], _options: &[Setting]) -> Result<Vec<u8>, PluginError> {
        Ok(clean(input, MAX_BYTES, "reply")?.into_bytes())
    }

    fn validate(payload: &[u8]) -> Result<(), PluginError> {
        check(payload, MAX_BYTES, "reply").map(drop)
    }

    /// "↩ " and the reply's text, so a reader without the plugin still sees it answers something.
    fn summary(payload: &[u8]) -> Result<String, PluginError> {
        Ok(format!(
            "↩ {}",
            one_line(check(payload, MAX_BYTES, "reply")?)
        ))
    }
}

/// The plugin's exports.
pub type Plugin = Exports<Reply>;

courier_plugin::export_message_type!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use courier_plugin::message_type::exports::courier::plugin::content::Guest;

    #[test]
    fn a_reply_is_a_clean_text_and_says_it_answers() {
        let reply = Plugin::prepare(" which gate?\u{200B} ".into(), vec![], 1).unwrap();
        assert_eq!(reply, b"which gate?");
        assert_eq!(Plugin::summary(reply, 1).unwrap(), "↩ which gate?");
        assert!(Plugin::prepare("\u{200B}".into(), vec![], 1).is_err());
        assert!(Plugin::validate("a\u{202E}b".into(), 1).is_err());
    }
}
