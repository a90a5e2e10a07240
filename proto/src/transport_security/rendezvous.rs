//! Rendezvous tags: what a node announces on a local network (mDNS, Bluetooth) so that a contact, and
//! nobody else, can find it. A tag is a PRF of a key the two share and the rotation period, so it changes
//! when the period does and strangers cannot link two announcements of the same node.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::transport_keys::SecretKey;

/// Length of a rendezvous tag in characters (10 bytes, lowercase base32).
pub const RENDEZVOUS_TAG_LEN: usize = 16;

/// The tag announced under `key` in `period`: 16 characters of a-z and 2-7.
pub fn rendezvous_tag(key: &SecretKey, period: u64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose()).expect("HMAC takes any key length");
    mac.update(b"courier/v1/rendezvous");
    mac.update(&period.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    data_encoding::BASE32_NOPAD
        .encode(&digest[..10])
        .to_ascii_lowercase()
}

/// The secret of a pending pair's meeting point on a medium that meets by address (Tor): both make
/// the same one from the tag key one side writes under and the other reads under, so the host's
/// onion service is the one the seeker looks for, and nobody else can make either.
pub fn meeting_secret(key: &SecretKey) -> zeroize::Zeroizing<[u8; 32]> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose()).expect("HMAC takes any key length");
    mac.update(b"courier/v1/meeting");
    zeroize::Zeroizing::new(mac.finalize().into_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_change_with_the_period_and_the_key() {
        let (k1, k2) = (
            SecretKey::from_bytes([1; 32]),
            SecretKey::from_bytes([2; 32]),
        );
        let t = rendezvous_tag(&k1, 7);
        assert_eq!(t.len(), RENDEZVOUS_TAG_LEN);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        );
        assert_eq!(t, rendezvous_tag(&k1, 7));
        assert_ne!(t, rendezvous_tag(&k1, 8));
        assert_ne!(t, rendezvous_tag(&k2, 7));
    }

    #[test]
    fn a_meeting_secret_is_pinned_and_differs_from_every_tag() {
        // Computed independently by proto/vectors/known_answers.py: HMAC-SHA256(07..07,
        // "courier/v1/meeting").
        let secret = meeting_secret(&SecretKey::from_bytes([7; 32]));
        assert_eq!(
            hex::encode(*secret),
            "963f453e80dcbf95a92d210a6a63825d6d5c9edf933a1b8040c9a7fd4cf0211c"
        );
        assert_ne!(*meeting_secret(&SecretKey::from_bytes([8; 32])), *secret);
    }

    #[test]
    fn a_tag_is_pinned_to_known_text() {
        // Computed independently by proto/vectors/known_answers.py: the first 10 bytes of
        // HMAC-SHA256(01..01, "courier/v1/rendezvous" ‖ 7 as 8 big-endian bytes), base32, lowercase.
        assert_eq!(
            rendezvous_tag(&SecretKey::from_bytes([1; 32]), 7),
            "wdhvmjr32pev4rww"
        );
    }
}
