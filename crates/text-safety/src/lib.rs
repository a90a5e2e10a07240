//! Characters that change how text looks without being visible: shared by plugins and the host,
//! which refuses plugin summaries that carry them.

/// Whether `c` can change how text is displayed without being visible itself.
pub fn is_spoofing(c: char) -> bool {
    matches!(c,
        // Bidirectional embeddings, overrides and isolates (the "Trojan Source" characters).
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
        // Zero-width and invisible format characters.
        | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}'
        // Interlinear annotation and object replacement.
        | '\u{FFF9}'..='\u{FFFC}'
        // Tag characters, which can hide text.
        | '\u{E0000}'..='\u{E007F}')
        || (c.is_control() && c != '\n' && c != '\t')
}

/// `text` fit for one line of a terminal: every character that could move the cursor, recolour or
/// clear the screen (escape codes), break the line, or hide or reorder text is written as its
/// escape (`\u{1b}`, `\n`), so what a stranger wrote (a file name on a drive, a fallback text) shows
/// as what it is.
pub fn for_terminal(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| is_spoofing(c) || c.is_control()) {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| {
            if is_spoofing(c) || c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_codes_line_breaks_and_bidi_overrides_are_shown_escaped() {
        assert_eq!(for_terminal("plain, ünïcode ✓"), "plain, ünïcode ✓");
        assert_eq!(
            for_terminal("a\nb\x1b[2Jc\u{202E}d\te"),
            "a\\nb\\u{1b}[2Jc\\u{202e}d\\te"
        );
    }
}
