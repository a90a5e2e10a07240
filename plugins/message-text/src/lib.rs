//! The `courier/text` message type: the smallest complete Courier plugin.
//!
//! `prepare` removes characters that can make a message display differently from what it says
//! (bidirectional overrides, zero-width and other invisible format characters, C0/C1 controls but
//! newline and tab) and enforces a length limit; `validate` applies the same rules to incoming text.

use courier_plugin::content_type::{ContentType, Exports};
use courier_plugin::message_type::courier::plugin::types::{PluginError, Setting};
use courier_plugin::text::{check, clean, one_line};

/// Content type name this plugin owns.
pub const CONTENT_TYPE: &str = "courier/text";
/// Largest text, in bytes of UTF-8.
pub const MAX_BYTES: u64 = 32 * 1024;

/// The plugin's exports.
pub struct Text;

impl ContentType for Text {
    const NAME: &'static str = CONTENT_TYPE;
    const MAX_INPUT_BYTES: u64 = MAX_BYTES;
    const MAX_PAYLOAD_BYTES: u64 = MAX_BYTES;

    fn prepare(input: &[u8], _options: &[Setting]) -> Result<Vec<u8>, PluginError> {
        Ok(clean(input, MAX_BYTES, "text")?.into_bytes())
    }

    fn validate(payload: &[u8]) -> Result<(), PluginError> {
        check(payload, MAX_BYTES, "text").map(drop)
    }

    fn summary(payload: &[u8]) -> Result<String, PluginError> {
        Ok(one_line(check(payload, MAX_BYTES, "text")?))
    }
}

/// The plugin's exports.
pub type Plugin = Exports<Text>;

courier_plugin::export_message_type!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use courier_plugin::message_type::exports::courier::plugin::content::Guest;

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_removed() {
        let input = "pay \u{202E}3pm\u{202C} to\u{200B} alice\u{0007}"
            .as_bytes()
            .to_vec();
        let out = Plugin::prepare(input, Vec::new(), 1).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "pay 3pm to alice");
    }

    #[test]
    fn incoming_text_with_an_override_is_refused() {
        let err = Plugin::validate("a\u{2066}b".as_bytes().to_vec(), 1).unwrap_err();
        assert!(matches!(err, PluginError::InvalidInput(m) if m.contains("U+2066")));
    }

    #[test]
    fn over_long_and_non_utf8_input_is_refused() {
        let long = vec![b'a'; MAX_BYTES as usize + 1];
        assert!(matches!(
            Plugin::prepare(long, Vec::new(), 1),
            Err(PluginError::TooLarge(MAX_BYTES))
        ));
        assert!(matches!(
            Plugin::validate(vec![0xff, 0xfe], 1),
            Err(PluginError::InvalidInput(_))
        ));
        assert!(matches!(
            Plugin::validate(b"hi".to_vec(), 2),
            Err(PluginError::UnsupportedVersion(2))
        ));
    }

    #[test]
    fn summary_is_one_line_and_shortened() {
        let text = format!("line one\n{}", "x".repeat(200));
        let summary = Plugin::summary(text.into_bytes(), 1).unwrap();
        assert!(!summary.contains('\n'));
        assert_eq!(
            summary.chars().count(),
            100 + 1,
            "a hundred characters and the ellipsis"
        );
    }
}
