//! The `courier/text` message type: the smallest complete Courier plugin.
//!
//! `prepare` removes characters that can make a message display differently from what it says
//! (bidirectional overrides, zero-width and other invisible format characters, C0/C1 controls but
//! newline and tab) and enforces a length limit; `validate` applies the same rules to incoming text.

use courier_plugin::content_type::{ContentType, Exports};
use courier_plugin::message_type::courier::plugin::types::{PluginError, Setting};
use courier_plugin::payload::utf8;
use courier_plugin::text_safety::is_spoofing;

/// Content type name this plugin owns.
pub const CONTENT_TYPE: &str = "courier/text";
/// Largest text, in bytes of UTF-8.
pub const MAX_BYTES: u64 = 32 * 1024;
const SUMMARY_CHARS: usize = 100;

/// The plugin's exports.
pub struct Text;

impl ContentType for Text {
    const NAME: &'static str = CONTENT_TYPE;
    const MAX_INPUT_BYTES: u64 = MAX_BYTES;
    const MAX_PAYLOAD_BYTES: u64 = MAX_BYTES;

    fn prepare(input: &[u8], _options: &[Setting]) -> Result<Vec<u8>, PluginError> {
        let text = utf8(input, MAX_BYTES, "text")?;
        let clean: String = text.chars().filter(|c| !is_spoofing(*c)).collect();
        let clean = clean.trim();
        if clean.is_empty() {
            return Err(PluginError::InvalidInput(
                "the message is empty once invisible characters are removed; type some text".into(),
            ));
        }
        Ok(clean.as_bytes().to_vec())
    }

    fn validate(payload: &[u8]) -> Result<(), PluginError> {
        let text = utf8(payload, MAX_BYTES, "text")?;
        match text.chars().find(|c| is_spoofing(*c)) {
            Some(c) => Err(PluginError::InvalidInput(format!(
                "text contains the invisible or direction-changing character U+{:04X}",
                c as u32
            ))),
            None => Ok(()),
        }
    }

    fn summary(payload: &[u8]) -> Result<String, PluginError> {
        let text = utf8(payload, MAX_BYTES, "text")?;
        let mut summary: String = text
            .chars()
            .map(|c| if c == '\n' { ' ' } else { c })
            .take(SUMMARY_CHARS)
            .collect();
        if text.chars().count() > SUMMARY_CHARS {
            summary.push('…');
        }
        Ok(summary)
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
        assert_eq!(summary.chars().count(), SUMMARY_CHARS + 1);
    }
}
