//! Which names (a contact's alias, the user's own) are fit to show.

/// Why an alias (or the user's own name) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing, or only spaces.
    #[error("an alias is 1-64 characters; this one is empty")]
    Empty,
    /// Over 64 characters.
    #[error("an alias is 1-64 characters; this one has {0}")]
    TooLong(usize),
    /// A control, bidi or invisible character, which can make one name look like another.
    #[error(
        "character {position} of the alias is U+{code:04X}, a control, bidi or invisible character that can make one name look like another; type the alias without it"
    )]
    Hidden {
        /// 1-based position among the characters.
        position: usize,
        /// The character's code point.
        code: u32,
    },
}

/// `name` without surrounding spaces, if it is fit to show as an alias: 1-64 characters, none that
/// hide text or change how the text around them is shown (the characters `text_safety` names, and
/// every control character).
pub fn check_name(name: &str) -> Result<&str, NameError> {
    let name = name.trim();
    if let Some((i, c)) = name
        .chars()
        .enumerate()
        .find(|&(_, c)| c.is_control() || courier_text_safety::is_spoofing(c))
    {
        return Err(NameError::Hidden {
            position: i + 1,
            code: u32::from(c),
        });
    }
    match name.chars().count() {
        0 => Err(NameError::Empty),
        1..=64 => Ok(name),
        n => Err(NameError::TooLong(n)),
    }
}
