//! The `courier/reaction` message type: a reaction to a message, one emoji (one grapheme cluster:
//! a skin tone, a flag or a joined sequence is one emoji) or a short word ("ok", "same"). The host
//! puts the id of the message it reacts to before it; a later reaction of the same sender to the
//! same message replaces this one.

use courier_plugin::content_type::{ContentType, Exports};
use courier_plugin::message_type::courier::plugin::types::{PluginError, Setting};
use courier_plugin::text_safety::is_spoofing;
use unicode_segmentation::UnicodeSegmentation;

/// Content type name this plugin owns.
pub const CONTENT_TYPE: &str = "courier/reaction";
/// Longest word a reaction may be, in characters.
pub const MAX_WORD_CHARS: usize = 16;
/// Largest reaction in bytes (the longest emoji sequences are some 35 bytes); the host's own
/// bound on a reaction (`courier_proto::sync::relation::MAX_REACTION_LEN`) is the same.
pub const MAX_BYTES: u64 = 64;

fn invalid(why: &str) -> PluginError {
    PluginError::InvalidInput(why.to_owned())
}

/// Whether `grapheme` is one emoji (with or without its emoji presentation selector).
fn is_emoji(grapheme: &str) -> bool {
    emojis::get(grapheme).is_some()
        || emojis::get(&format!("{grapheme}\u{FE0F}")).is_some()
        || emojis::get(&grapheme.replace('\u{FE0F}', "")).is_some()
}

/// The reaction `payload` says, if it is one: one emoji, or a word of at most
/// [`MAX_WORD_CHARS`] characters with no emoji, no line break and nothing invisible.
pub fn reaction(payload: &[u8]) -> Result<&str, PluginError> {
    if payload.len() as u64 > MAX_BYTES {
        return Err(PluginError::TooLarge(MAX_BYTES));
    }
    let text = std::str::from_utf8(payload).map_err(|_| invalid("a reaction is text"))?;
    let graphemes: Vec<&str> = text.graphemes(true).collect();
    match graphemes.as_slice() {
        [] => Err(invalid(
            "a reaction is one emoji or a short word; this one is empty",
        )),
        [one] if is_emoji(one) => Ok(text),
        _ if graphemes.iter().any(|g| is_emoji(g)) => Err(invalid(
            "a reaction is one emoji, not several, nor an emoji with words",
        )),
        _ if text
            .chars()
            .any(|c| is_spoofing(c) || c.is_control() || c.is_whitespace()) =>
        {
            Err(invalid("a reaction word is one visible word on one line"))
        }
        _ if text.chars().count() > MAX_WORD_CHARS => Err(invalid(
            "a reaction word is at most 16 characters; send a reply for more",
        )),
        _ => Ok(text),
    }
}

/// The plugin.
pub struct Reaction;

impl ContentType for Reaction {
    const NAME: &'static str = CONTENT_TYPE;
    const MAX_INPUT_BYTES: u64 = MAX_BYTES;
    const MAX_PAYLOAD_BYTES: u64 = MAX_BYTES;

    fn prepare(input: &[u8], _options: &[Setting]) -> Result<Vec<u8>, PluginError> {
        let text = std::str::from_utf8(input).map_err(|_| invalid("a reaction is text"))?;
        reaction(text.trim().as_bytes()).map(|r| r.as_bytes().to_vec())
    }

    fn validate(payload: &[u8]) -> Result<(), PluginError> {
        reaction(payload).map(drop)
    }

    fn summary(payload: &[u8]) -> Result<String, PluginError> {
        Ok(format!("reacted {} to a message", reaction(payload)?))
    }
}

/// The plugin's exports.
pub type Plugin = Exports<Reaction>;

courier_plugin::export_message_type!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_emoji_of_any_shape_or_a_short_word_is_a_reaction() {
        for ok in ["👍", "❤", "❤️", "👍🏽", "🇺🇦", "👩‍👩‍👧", "ok", "same", "+1"]
        {
            assert_eq!(reaction(ok.as_bytes()).unwrap(), ok, "{ok}");
        }
        assert_eq!(
            Reaction::summary("👍".as_bytes()).unwrap(),
            "reacted 👍 to a message"
        );
        assert_eq!(
            Reaction::prepare(" 👍 ".as_bytes(), &[]).unwrap(),
            "👍".as_bytes()
        );
    }

    #[test]
    fn several_emoji_an_emoji_with_words_a_sentence_or_hidden_characters_are_refused() {
        for bad in [
            "",
            "👍👍",
            "👍 yes",
            "two words",
            "a word far too long to be a reaction",
            "ok\u{202E}",
            "ok\n",
        ] {
            assert!(
                matches!(reaction(bad.as_bytes()), Err(PluginError::InvalidInput(_))),
                "{bad:?} was accepted"
            );
        }
        assert!(matches!(
            reaction(&[0xff]),
            Err(PluginError::InvalidInput(_))
        ));
        assert!(matches!(
            reaction(&[b'a'; 65]),
            Err(PluginError::TooLarge(64))
        ));
    }
}
