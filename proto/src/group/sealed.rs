//! A sealed post: one whose content can be erased. Its content is encrypted under a key of its own
//! that travels beside the record as a [`GROUP_CHUNK_TYPE`] message, so a member erases the post by
//! erasing that key (and the chunks), while the signed record, which later records of its author
//! name, stays whole and can still be relayed and checked. Without the key the record says who
//! wrote it, when, what it replies to and roughly how long it is; not what it says. Every post is
//! written sealed: one that is to disappear (a lifetime), and one that stays until its author
//! deletes it for everyone (no lifetime of its own).
//!
//! The sealed body is postcard's encoding of `{ key: [u8; 32], lifetime_secs: u64, nonce: [u8;
//! 24], ciphertext: bytes }`: `key` is the id of the key's chunk message, `lifetime_secs` how long
//! the author keeps it (0: no end of its own), and the ciphertext is XChaCha20-Poly1305 under the
//! key, with associated data `"courier/v1/group-sealed" ‖ group id`, of postcard's encoding of
//! [`Content`].

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::descriptor::GroupId;
use super::record::group_chunk;
use super::{GroupError, decode_exact, encode};
use crate::sync::record::{Message, MessageId};
use crate::sync::timer::Timer;

/// Content type of a sealed post.
pub const SEALED_TYPE: &str = "courier/group-sealed";
/// The one version of the sealed body.
pub const SEALED_VERSION: u32 = 1;
/// The line a sealed post's record shows in place of its content (its own line is sealed).
pub const SEALED_FALLBACK: &str = "🕓 a disappearing post";
/// The same for a post with no lifetime of its own (sealed so that a deletion can erase it).
pub const SEALED_POST_FALLBACK: &str = "🔒 a post";
/// Bytes sealing adds to a content's encoding at most: the key's id (32), the lifetime (a varint
/// of at most 4 bytes for 365 days), the nonce (24), the ciphertext's length (a varint of 3 bytes
/// for a record's size) and the tag (16).
pub const SEAL_OVERHEAD: usize = 79;
/// What the associated data starts with.
const AAD: &[u8] = b"courier/v1/group-sealed";

/// What a sealed post says, as an open post would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    /// Content type, e.g. `courier/text`, or an attachment's manifest.
    pub content_type: String,
    /// The version of the content type the body is written in.
    pub type_version: u32,
    /// Plain text for a reader without the content type's plugin.
    pub fallback: String,
    /// The payload.
    pub body: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    key: [u8; 32],
    lifetime_secs: u64,
    nonce: [u8; 24],
    ciphertext: Vec<u8>,
}

/// A sealed body, read but not opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The id of the key's chunk message.
    pub key: MessageId,
    /// How long its author keeps it.
    pub lifetime: Timer,
    nonce: [u8; 24],
    ciphertext: Vec<u8>,
}

impl Sealed {
    /// Reads a sealed post's body.
    pub fn parse(body: &[u8]) -> Result<Sealed, GroupError> {
        let wire: Wire = decode_exact("sealed post", body)?;
        let lifetime = match wire.lifetime_secs {
            0 => Timer::OFF,
            secs => Timer::of_secs(secs).map_err(|e| GroupError::Malformed {
                what: "sealed post",
                reason: e.to_string(),
            })?,
        };
        Ok(Sealed {
            key: MessageId(wire.key),
            lifetime,
            nonce: wire.nonce,
            ciphertext: wire.ciphertext,
        })
    }

    /// The content of group `group`'s post, with its key's chunk message `key` (the one whose id
    /// the post names).
    pub fn open(&self, group: &GroupId, key: &Message) -> Result<Content, GroupError> {
        let refused = |reason: &str| GroupError::Malformed {
            what: "sealed post",
            reason: reason.to_owned(),
        };
        if key.id() != self.key {
            return Err(refused("that is not its key"));
        }
        let key: [u8; 32] = key
            .body
            .as_slice()
            .try_into()
            .map_err(|_| refused("a key of another length"))?;
        let plain = Zeroizing::new(
            XChaCha20Poly1305::new(&key.into())
                .decrypt(
                    XNonce::from_slice(&self.nonce),
                    Payload {
                        msg: &self.ciphertext,
                        aad: &aad(group),
                    },
                )
                .map_err(|_| refused("its content does not open under its key"))?,
        );
        decode_exact("sealed content", &plain)
    }
}

/// Seals `content` for `group`, kept `lifetime` by its author: the post's body and its key's
/// chunk message, both at `timestamp_ms`.
pub fn seal(
    group: &GroupId,
    content: &Content,
    lifetime: Timer,
    timestamp_ms: u64,
) -> (Vec<u8>, Message) {
    let mut key = Zeroizing::new([0u8; 32]);
    let mut nonce = [0u8; 24];
    getrandom::fill(key.as_mut()).expect("the OS random number generator is available");
    getrandom::fill(&mut nonce).expect("the OS random number generator is available");
    seal_with(group, content, lifetime, timestamp_ms, &key, nonce)
}

/// [`seal`] under `key` and `nonce`.
fn seal_with(
    group: &GroupId,
    content: &Content,
    lifetime: Timer,
    timestamp_ms: u64,
    key: &[u8; 32],
    nonce: [u8; 24],
) -> (Vec<u8>, Message) {
    let plain = Zeroizing::new(encode(content));
    let ciphertext = XChaCha20Poly1305::new(key.into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: &aad(group),
            },
        )
        .expect("XChaCha20-Poly1305 seals any length a record holds");
    let chunk = group_chunk(timestamp_ms, key.to_vec());
    let body = encode(&Wire {
        key: chunk.id().0,
        lifetime_secs: lifetime.secs().unwrap_or(0),
        nonce,
        ciphertext,
    });
    (body, chunk)
}

fn aad(group: &GroupId) -> Vec<u8> {
    [AAD, &group.0[..]].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello() -> Content {
        Content {
            content_type: "courier/text".into(),
            type_version: 1,
            fallback: String::new(),
            body: b"hi".to_vec(),
        }
    }

    #[test]
    fn a_sealed_post_is_pinned_to_known_values_and_opens_under_its_key_alone() {
        // proto/vectors/known_answers.py, "# sealed": key 05..05, nonce 06..06, group 07..07,
        // lifetime one day, at 1_700_000_000_000.
        let group = GroupId([7; 32]);
        let day = Timer::of_secs(86_400).unwrap();
        let (body, chunk) = seal_with(&group, &hello(), day, 1_700_000_000_000, &[5; 32], [6; 24]);
        assert_eq!(hex::encode(&chunk.body), "05".repeat(32));
        // A record's kind that sets a one-day timer.
        assert_eq!(
            hex::encode(encode(&super::super::Kind::Timer { secs: 86_400 })),
            "0580a305"
        );
        assert_eq!(chunk.content_type, super::super::record::GROUP_CHUNK_TYPE);
        assert_eq!(
            hex::encode(&body),
            "a7a1571f940f42e2e6020e42bf93f72f89fa7c74ed204dc837ec82fc8b8882fa80a3050606060606060606060606\
             0606060606060606060606060622cc320d47433586172b54403df9534541f74408bbd2f8161a5c11d67fbd5a7ee7\
             b6e9"
        );
        let sealed = Sealed::parse(&body).unwrap();
        assert_eq!((sealed.key, sealed.lifetime), (chunk.id(), day));
        assert_eq!(sealed.open(&group, &chunk), Ok(hello()));
        // Another key, another group, the key of another time, a key that is not 32 bytes (named
        // as the key), or a changed byte: refused.
        let short = group_chunk(1_700_000_000_000, vec![5; 31]);
        let short_named = Sealed {
            key: short.id(),
            ..sealed.clone()
        };
        let refusals = [
            sealed.open(&group, &group_chunk(1_700_000_000_000, vec![4; 32])),
            sealed.open(&GroupId([8; 32]), &chunk),
            sealed.open(&group, &group_chunk(1_700_000_000_001, vec![5; 32])),
            short_named.open(&group, &short),
        ];
        for refused in refusals {
            assert!(
                matches!(refused, Err(GroupError::Malformed { .. })),
                "{refused:?}"
            );
        }
        let mut altered = body.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(
            Sealed::parse(&altered)
                .unwrap()
                .open(&group, &chunk)
                .is_err()
        );
    }

    #[test]
    fn two_seals_of_one_content_share_nothing_and_a_bad_lifetime_or_trailing_bytes_are_refused() {
        let group = GroupId([7; 32]);
        let (one, key_one) = seal(&group, &hello(), Timer::OFF, 1);
        let (two, key_two) = seal(&group, &hello(), Timer::OFF, 1);
        assert_ne!(one, two);
        assert_ne!(key_one.id(), key_two.id());
        assert_eq!(Sealed::parse(&one).unwrap().lifetime, Timer::OFF);
        let mut trailing = one.clone();
        trailing.push(0);
        assert!(Sealed::parse(&trailing).is_err());
        let wire = Wire {
            key: [0; 32],
            lifetime_secs: 5,
            nonce: [0; 24],
            ciphertext: vec![],
        };
        assert!(matches!(
            Sealed::parse(&encode(&wire)),
            Err(GroupError::Malformed { .. })
        ));
        // The overhead covers the longest lifetime and a large content.
        let large = Content {
            body: vec![1; 60_000],
            ..hello()
        };
        let (body, _) = seal(&group, &large, Timer::of_secs(365 * 86_400).unwrap(), 1);
        assert!(
            body.len() <= encode(&large).len() + SEAL_OVERHEAD,
            "{}",
            body.len()
        );
    }
}
