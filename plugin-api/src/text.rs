//! Rules for text that message types share (a text, a reply, an edit): what `prepare` removes, what
//! `validate` refuses, and the one line a summary shows.

use crate::message_type::courier::plugin::types::PluginError;
use crate::payload::utf8;
use crate::text_safety::is_spoofing;

/// Characters a summary shows before it cuts the text with an ellipsis.
const SUMMARY_CHARS: usize = 100;

/// `input` as text of at most `max` bytes, without the characters that can make it display
/// differently from what it says (bidirectional overrides, zero-width and other invisible format
/// characters, controls but newline and tab), trimmed; refused when nothing is left.
pub fn clean(input: &[u8], max: u64, what: &str) -> Result<String, PluginError> {
    let text = utf8(input, max, what)?;
    let clean: String = text.chars().filter(|c| !is_spoofing(*c)).collect();
    let clean = clean.trim();
    if clean.is_empty() {
        return Err(PluginError::InvalidInput(format!(
            "the {what} is empty once invisible characters are removed; type some text"
        )));
    }
    Ok(clean.to_owned())
}

/// `payload` as text of at most `max` bytes holding none of the characters [`clean`] removes.
pub fn check<'a>(payload: &'a [u8], max: u64, what: &str) -> Result<&'a str, PluginError> {
    let text = utf8(payload, max, what)?;
    match text.chars().find(|c| is_spoofing(*c)) {
        Some(c) => Err(PluginError::InvalidInput(format!(
            "{what} contains the invisible or direction-changing character U+{:04X}",
            c as u32
        ))),
        None => Ok(text),
    }
}

/// `text` on one line, cut to a hundred characters.
pub fn one_line(text: &str) -> String {
    let mut line: String = text
        .chars()
        .map(|c| if c == '\n' { ' ' } else { c })
        .take(SUMMARY_CHARS)
        .collect();
    if text.chars().count() > SUMMARY_CHARS {
        line.push('…');
    }
    line
}
