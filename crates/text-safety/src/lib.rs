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
