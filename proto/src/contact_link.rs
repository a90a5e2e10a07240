//! `courier://` links: what a user gives a contact to add them remotely. A version byte, the 32-byte
//! public handshake key and a checksum over both, in lowercase base32 without padding.
//!
//! The checksum is there because a link travels through hands: read aloud, retyped, mangled by a chat
//! app. Without it one changed character yields another valid-looking key, and the handshake with
//! nobody fails much later with a warning about interception. With it the link is refused at once,
//! with the position of the changed character when one change explains it.

use courier_error::{ErrorKind, HasKind};
use std::fmt;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};

/// The scheme every link starts with.
pub const SCHEME: &str = "courier://";
/// Link format version.
///
/// Version 1 links (no checksum) are refused with a request for a new link rather than read: they were
/// never given to anyone outside development, and reading them would keep the silent-typo problem alive.
pub const LINK_VERSION: u8 = 2;
/// Length of the checksum: the first bytes of SHA-256 over a label, the version and the key.
const CHECKSUM_LEN: usize = 7;
/// Bytes behind the text: version, key, checksum. 40 bytes are exactly 64 base32 characters, so every
/// character carries five bits of them and no change to one can hide in padding.
const RAW_LEN: usize = 1 + 32 + CHECKSUM_LEN;
/// Characters after the scheme.
pub const ENCODED_LEN: usize = RAW_LEN * 8 / 5;
/// Characters after the scheme in a version 1 link (base32 of the version and the key).
const V1_ENCODED_LEN: usize = 53;
const CHECKSUM_LABEL: &[u8] = b"courier/v2/link";
/// The field prime 2^255 - 19, little-endian: a key encoding at or above it is not canonical.
const FIELD_PRIME: [u8; 32] = {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

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
        "the link has {0} characters after courier:// where {ENCODED_LEN} are expected; it was cut or mangled in copying"
    )]
    WrongLength(usize),
    /// Characters outside base32.
    #[error(
        "the link contains characters that cannot be in a link (only a-z and 2-7); it was mangled in copying"
    )]
    BadCharacters,
    /// An older or newer link format.
    #[error("{}", unsupported_version(*.0))]
    UnsupportedVersion(u8),
    /// The key is not a usable X25519 public key: a low-order point or a non-canonical encoding.
    #[error(
        "the link's key is not a valid public key (a weak or malformed point); ask your contact for a new link"
    )]
    InvalidKey,
    /// The checksum does not match: a character was changed in copying.
    #[error("{}", mistyped(*position))]
    Mistyped {
        /// The changed character, counting from 1 after `courier://`, when a single change explains it.
        position: Option<usize>,
    },
}

fn unsupported_version(version: u8) -> String {
    // mutants: `<=` is equivalent, LINK_VERSION itself is never unsupported.
    if version < LINK_VERSION {
        format!(
            "the link is format version {version}, which had no checksum and is no longer read; ask your contact for a new link"
        )
    } else {
        format!(
            "the link is format version {version}; this build reads version {LINK_VERSION}; update Courier"
        )
    }
}

fn mistyped(position: Option<usize>) -> String {
    match position {
        Some(position) => format!(
            "character {position} after courier:// was changed in copying (the link's checksum does not match); ask your contact for the link again"
        ),
        None => "a character was changed in copying (the link's checksum does not match); ask your contact for the link again".into(),
    }
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

/// The checksum of a link's version and key.
fn checksum(version_and_key: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::new()
        .chain_update(CHECKSUM_LABEL)
        .chain_update(version_and_key)
        .finalize();
    digest[..CHECKSUM_LEN].try_into().expect("7 of 32 bytes")
}

fn checksum_matches(raw: &[u8; RAW_LEN]) -> bool {
    let (body, sum) = raw.split_at(RAW_LEN - CHECKSUM_LEN);
    checksum(body) == sum
}

/// The character (from 1) whose change alone explains a wrong checksum, if exactly one does.
///
/// Changing character i changes the five bits at bit 5i of the decoded bytes, so trying the 31 other
/// values of each group is trying every other character there.
fn changed_character(raw: &[u8; RAW_LEN]) -> Option<usize> {
    let mut found = None;
    for group in 0..ENCODED_LEN {
        for delta in 1..32u8 {
            let mut fixed = *raw;
            xor_group(&mut fixed, group, delta);
            if checksum_matches(&fixed) {
                if found.is_some() {
                    return None;
                }
                found = Some(group + 1);
            }
        }
    }
    found
}

/// XORs `delta` (five bits) into the `group`th five-bit group of `raw`, most significant bit first.
fn xor_group(raw: &mut [u8; RAW_LEN], group: usize, delta: u8) {
    let bit = group * 5;
    let shifted = u16::from(delta) << (11 - bit % 8);
    let [high, low] = shifted.to_be_bytes();
    raw[bit / 8] ^= high;
    if let Some(next) = raw.get_mut(bit / 8 + 1) {
        *next ^= low;
    }
}

/// Refuses keys no honest peer has: encodings of u ≥ 2^255 - 19 or with the unused top bit set (their
/// value is another key's), and low-order points, which make every shared secret predictable.
fn check_key(key: &[u8; 32]) -> Result<(), LinkError> {
    if key.iter().rev().ge(FIELD_PRIME.iter().rev()) {
        return Err(LinkError::InvalidKey);
    }
    // Clamping makes every scalar a multiple of the cofactor 8, so the product is all zeros exactly
    // when the point's order divides 8: the small-order points of the curve and of its twist.
    let probe = StaticSecret::from([1; 32]).diffie_hellman(&PublicKey::from(*key));
    if !probe.was_contributory() {
        return Err(LinkError::InvalidKey);
    }
    Ok(())
}

impl fmt::Display for ContactLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = [0u8; RAW_LEN];
        raw[0] = LINK_VERSION;
        raw[1..33].copy_from_slice(&self.public_key);
        let sum = checksum(&raw[..33]);
        raw[33..].copy_from_slice(&sum);
        write!(
            f,
            "{SCHEME}{}",
            BASE32_NOPAD.encode(&raw).to_ascii_lowercase()
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
        let decode = |rest: &str| {
            BASE32_NOPAD
                .decode(rest.to_ascii_uppercase().as_bytes())
                .map_err(|_| LinkError::BadCharacters)
        };
        if rest.len() == V1_ENCODED_LEN
            && let Ok(old) = decode(rest)
            && old[0] < LINK_VERSION
        {
            return Err(LinkError::UnsupportedVersion(old[0]));
        }
        if rest.len() != ENCODED_LEN {
            return Err(LinkError::WrongLength(rest.chars().count()));
        }
        let raw: [u8; RAW_LEN] = decode(rest)?
            .try_into()
            .expect("64 characters decode to 40 bytes");
        if !checksum_matches(&raw) {
            return match changed_character(&raw) {
                None if raw[0] != LINK_VERSION => Err(LinkError::UnsupportedVersion(raw[0])),
                position => Err(LinkError::Mistyped { position }),
            };
        }
        if raw[0] != LINK_VERSION {
            return Err(LinkError::UnsupportedVersion(raw[0]));
        }
        let public_key: [u8; 32] = raw[1..33].try_into().expect("32 bytes");
        check_key(&public_key)?;
        Ok(ContactLink { public_key })
    }
}

impl HasKind for LinkError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Alice's public key from RFC 7748, section 6.1: a real, valid key.
    const RFC_7748_ALICE: &str = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";

    fn rfc_key() -> [u8; 32] {
        hex::decode(RFC_7748_ALICE).unwrap().try_into().unwrap()
    }

    /// The text of a link with any version byte and key, with a correct checksum.
    fn encode(version: u8, key: &[u8; 32]) -> String {
        let body = [[version].as_slice(), key].concat();
        let raw = [body.as_slice(), &checksum(&body)].concat();
        format!("{SCHEME}{}", BASE32_NOPAD.encode(&raw).to_lowercase())
    }

    #[test]
    fn a_version_2_link_is_pinned_to_known_text() {
        // Computed independently with Python's hashlib and base64: base32 of
        // 02 ‖ key ‖ SHA-256("courier/v2/link" ‖ 02 ‖ key)[..7], lowercase, no padding.
        let link = ContactLink::new(rfc_key());
        assert_eq!(
            link.to_string(),
            "courier://akcsb4ajreykovdurn65znb665na3pz2butdqgxu5osktdvktnhgvvn6ezr2nkwj"
        );
        assert_eq!(link.to_string().parse::<ContactLink>(), Ok(link));
    }

    #[test]
    fn a_link_round_trips_and_tolerates_case_and_whitespace() {
        let link = ContactLink::new(rfc_key());
        let text = link.to_string();
        assert!(text.starts_with("courier://") && text.len() == SCHEME.len() + ENCODED_LEN);
        assert_eq!(ENCODED_LEN, 64);
        assert_eq!(text.parse::<ContactLink>().unwrap(), link);
        assert_eq!(
            format!("  {}\n", text.to_uppercase())
                .parse::<ContactLink>()
                .unwrap(),
            link
        );
    }

    #[test]
    fn every_single_changed_character_is_refused_and_located() {
        let text = ContactLink::new(rfc_key()).to_string();
        let alphabet: Vec<char> = "abcdefghijklmnopqrstuvwxyz234567".chars().collect();
        // One other character at every position, and every other character at the first and last.
        let mut typos: Vec<(usize, char)> = (1..=ENCODED_LEN)
            .map(|position| (position, alphabet[position % 32]))
            .collect();
        for position in [1, ENCODED_LEN] {
            typos.extend(alphabet.iter().map(|c| (position, *c)));
        }
        for (position, replacement) in typos {
            let i = SCHEME.len() + position - 1;
            if text[i..].starts_with(replacement) {
                continue;
            }
            let mut typo = text.clone();
            typo.replace_range(i..=i, &replacement.to_string());
            let error = typo.parse::<ContactLink>().unwrap_err();
            assert_eq!(
                error,
                LinkError::Mistyped {
                    position: Some(position)
                },
                "{typo}"
            );
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("character {position} after"))
            );
        }
    }

    #[test]
    fn two_changed_characters_are_refused_without_a_position() {
        let mut typo = ContactLink::new(rfc_key()).to_string();
        let flip = |c: char| if c == 'a' { "b" } else { "a" };
        for i in [SCHEME.len() + 10, SCHEME.len() + 40] {
            let c = typo[i..].chars().next().unwrap();
            typo.replace_range(i..=i, flip(c));
        }
        let error = typo.parse::<ContactLink>().unwrap_err();
        assert_eq!(error, LinkError::Mistyped { position: None });
        assert!(
            error
                .to_string()
                .contains("ask your contact for the link again")
        );
    }

    #[test]
    fn a_version_1_link_is_refused_with_a_request_for_a_new_one() {
        let v1 = format!(
            "{SCHEME}{}",
            BASE32_NOPAD
                .encode(&[[1u8].as_slice(), &rfc_key()].concat())
                .to_lowercase()
        );
        assert_eq!(v1.len(), SCHEME.len() + V1_ENCODED_LEN);
        let error = v1.parse::<ContactLink>().unwrap_err();
        assert_eq!(error, LinkError::UnsupportedVersion(1));
        assert!(
            error
                .to_string()
                .contains("ask your contact for a new link")
        );
    }

    #[test]
    fn a_newer_link_says_to_update() {
        let error = encode(3, &rfc_key()).parse::<ContactLink>().unwrap_err();
        assert_eq!(error, LinkError::UnsupportedVersion(3));
        assert!(error.to_string().contains("update Courier"));
        // A future format may checksum differently: its version still shows through.
        let foreign = [[3u8].as_slice(), &rfc_key(), &[0; CHECKSUM_LEN]].concat();
        let text = format!("{SCHEME}{}", BASE32_NOPAD.encode(&foreign).to_lowercase());
        assert_eq!(
            text.parse::<ContactLink>(),
            Err(LinkError::UnsupportedVersion(3))
        );
    }

    #[test]
    fn text_of_the_old_length_is_only_an_old_link_when_it_says_so() {
        let not_v1 = [[LINK_VERSION].as_slice(), &rfc_key()].concat();
        let text = format!("{SCHEME}{}", BASE32_NOPAD.encode(&not_v1).to_lowercase());
        assert_eq!(
            text.parse::<ContactLink>(),
            Err(LinkError::WrongLength(V1_ENCODED_LEN))
        );
    }

    #[test]
    fn low_order_and_non_canonical_keys_are_refused() {
        let mut weak: Vec<[u8; 32]> = [
            // The small-order points of Curve25519 and its twist (as libsodium lists them).
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0100000000000000000000000000000000000000000000000000000000000000",
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            // p and p + 1: non-canonical encodings of 0 and 1.
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ]
        .iter()
        .map(|h| hex::decode(h).unwrap().try_into().unwrap())
        .collect();
        // The same points with the unused top bit set, and a valid key with it set.
        let high: Vec<[u8; 32]> = weak
            .iter()
            .chain([rfc_key()].iter())
            .map(|k| {
                let mut k = *k;
                k[31] |= 0x80;
                k
            })
            .collect();
        weak.extend(high);
        for key in weak {
            assert_eq!(
                ContactLink::new(key).to_string().parse::<ContactLink>(),
                Err(LinkError::InvalidKey),
                "{}",
                hex::encode(key)
            );
        }
        // u = 2 is an ordinary point; p + 2 encodes the same value and is refused for its encoding alone.
        let mut two = [0u8; 32];
        two[0] = 2;
        assert_eq!(check_key(&two), Ok(()));
        let mut p_plus_2 = FIELD_PRIME;
        p_plus_2[0] += 2;
        assert_eq!(check_key(&p_plus_2), Err(LinkError::InvalidKey));
    }

    #[test]
    fn bad_links_say_what_went_wrong() {
        let good = ContactLink::new(rfc_key()).to_string();
        let cases = [
            ("briar://abc".to_string(), LinkError::MissingScheme),
            (
                good[..good.len() - 3].to_string(),
                LinkError::WrongLength(61),
            ),
            (good.replace('a', "1"), LinkError::BadCharacters),
            ("courier://é".to_string(), LinkError::WrongLength(1)),
            (format!("{SCHEME}{}", "a".repeat(V1_ENCODED_LEN)), {
                LinkError::UnsupportedVersion(0)
            }),
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
        fn any_real_public_key_round_trips(secret in any::<[u8; 32]>()) {
            let link = ContactLink::new(PublicKey::from(&StaticSecret::from(secret)).to_bytes());
            prop_assert_eq!(link.to_string().parse::<ContactLink>(), Ok(link));
        }
    }
}
