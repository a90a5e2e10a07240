//! `courier://` links: what a user gives a contact to add them remotely. A version byte and the
//! 32-byte public handshake key, in lowercase base32 without padding.

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;

/// The scheme every link starts with.
pub const SCHEME: &str = "courier://";
/// Link format version.
pub const LINK_VERSION: u8 = 1;
const ENCODED_LEN: usize = 53; // base32 of 33 bytes, no padding

/// A parsed contact link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContactLink {
    public_key: [u8; 32],
}

/// Why text is not a contact link; each says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The text does not start with `courier://`.
    #[error("a contact link starts with courier:// ; ask your contact to copy the whole link")]
    MissingScheme,
    /// The link is too short or too long.
    #[error(
        "the link has {0} characters after courier:// where 53 are expected; it was cut or mangled in copying"
    )]
    WrongLength(usize),
    /// Characters outside base32.
    #[error(
        "the link contains characters that cannot be in a link (only a-z and 2-7); it was mangled in copying"
    )]
    BadCharacters,
    /// A newer link format.
    #[error("the link is format version {0}; this build reads version 1; update Courier")]
    UnsupportedVersion(u8),
    /// The key is not a usable X25519 public key.
    #[error("the link's key is not a valid public key; ask your contact for a new link")]
    InvalidKey,
}

impl ContactLink {
    /// The link for a public handshake key.
    pub fn new(public_key: [u8; 32]) -> Self {
        ContactLink { public_key }
    }

    /// The public handshake key the link carries.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }
}

impl fmt::Display for ContactLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = [0u8; 33];
        bytes[0] = LINK_VERSION;
        bytes[1..].copy_from_slice(&self.public_key);
        write!(
            f,
            "{SCHEME}{}",
            BASE32_NOPAD.encode(&bytes).to_ascii_lowercase()
        )
    }
}

impl FromStr for ContactLink {
    type Err = LinkError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let rest = text
            .get(..SCHEME.len())
            .filter(|s| s.eq_ignore_ascii_case(SCHEME))
            .map(|_| &text[SCHEME.len()..])
            .ok_or(LinkError::MissingScheme)?;
        if rest.len() != ENCODED_LEN {
            return Err(LinkError::WrongLength(rest.chars().count()));
        }
        let bytes = BASE32_NOPAD
            .decode(rest.to_ascii_uppercase().as_bytes())
            .map_err(|_| LinkError::BadCharacters)?;
        if bytes[0] != LINK_VERSION {
            return Err(LinkError::UnsupportedVersion(bytes[0]));
        }
        let public_key: [u8; 32] = bytes[1..].try_into().expect("33 bytes decoded");
        // The all-zero and other low-order points make every shared secret predictable.
        if public_key.iter().all(|b| *b == 0) {
            return Err(LinkError::InvalidKey);
        }
        Ok(ContactLink { public_key })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_link_round_trips_and_tolerates_case_and_whitespace() {
        let link = ContactLink::new([0xAB; 32]);
        let text = link.to_string();
        assert!(text.starts_with("courier://") && text.len() == SCHEME.len() + ENCODED_LEN);
        assert_eq!(text.parse::<ContactLink>().unwrap(), link);
        assert_eq!(
            format!("  {}\n", text.to_uppercase())
                .parse::<ContactLink>()
                .unwrap(),
            link
        );
    }

    #[test]
    fn bad_links_say_what_went_wrong() {
        let good = ContactLink::new([7; 32]).to_string();
        let cases = [
            ("briar://abc".to_string(), LinkError::MissingScheme),
            (
                good[..good.len() - 3].to_string(),
                LinkError::WrongLength(50),
            ),
            (good.replace('a', "1"), LinkError::BadCharacters),
            (
                format!(
                    "{SCHEME}{}",
                    BASE32_NOPAD
                        .encode(&[[2u8].as_slice(), &[7; 32]].concat())
                        .to_lowercase()
                ),
                LinkError::UnsupportedVersion(2),
            ),
            (ContactLink::new([0; 32]).to_string(), LinkError::InvalidKey),
            ("courier://é".to_string(), LinkError::WrongLength(1)),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<ContactLink>(), Err(expected), "{text}");
        }
    }

    proptest! {
        #[test]
        fn random_text_is_refused_or_round_trips(text in ".{0,80}") {
            if let Ok(link) = text.parse::<ContactLink>() {
                prop_assert_eq!(link.to_string().parse::<ContactLink>(), Ok(link));
            }
        }

        #[test]
        fn any_key_round_trips(key in any::<[u8; 32]>().prop_filter("non-zero", |k| k.iter().any(|b| *b != 0))) {
            let link = ContactLink::new(key);
            prop_assert_eq!(link.to_string().parse::<ContactLink>(), Ok(link));
        }
    }
}
