//! A group record: what a member signed, as it travels.
//!
//! On the wire a record is postcard's encoding of `{ body: bytes, signature: bytes }`, where the
//! body is postcard's encoding of [`RecordBody`] and the signature is the author's Ed25519
//! signature over `"courier/v1/group-record" ‖ body`. Its id is SHA-256 over
//! `"courier/v1/group-record-id" ‖ body`. A reader checks the signature and computes the id over
//! the bytes it received, never over a re-encoding, and relays those bytes unchanged.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::descriptor::{GroupId, MemberKey, MemberPublic, check_name};
use super::{GroupError, decode_exact, encode};
#[cfg(test)]
use crate::sync::record::MAX_FALLBACK_LEN;
use crate::sync::record::{MAX_BODY_LEN, Message};
use crate::sync::timer::Timer;

/// What a record's signature covers, before its body.
const SIGNED: &[u8] = b"courier/v1/group-record";
/// Largest record on the wire: one conversation message's body, since a record travels to a
/// member inside one ([`Record::to_message`]).
pub const MAX_RECORD_LEN: usize = MAX_BODY_LEN;
/// Largest payload of a post: what leaves room in [`MAX_RECORD_LEN`] for every other field at
/// its longest and the signature. (A larger payload travels as [`GROUP_CHUNK_TYPE`] chunks, which
/// the post's manifest names.)
pub const MAX_POST_BODY: usize = MAX_BODY_LEN - 1024;
/// Content type of the conversation message that carries a group record to a member.
pub const RECORD_TYPE: &str = "courier/group-record";
/// The content type of a chunk of a group post's attachment (its record's body is the manifest,
/// `courier/attachment`, as a conversation's is).
pub const GROUP_CHUNK_TYPE: &str = "courier/group-chunk";

/// The [`GROUP_CHUNK_TYPE`] message of `body` (a chunk of a post's attachment, or a sealed
/// post's key), as its author made it at `timestamp_ms`.
pub fn group_chunk(timestamp_ms: u64, body: Vec<u8>) -> Message {
    Message {
        timestamp_ms,
        content_type: GROUP_CHUNK_TYPE.into(),
        type_version: 1,
        fallback: String::new(),
        body,
    }
}

/// A record's content-addressed id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordId(pub [u8; 32]);

impl std::fmt::Debug for RecordId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecordId({}…)", hex::encode(&self.0[..4]))
    }
}

/// What a member signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordBody {
    /// The group.
    pub group: GroupId,
    /// Who wrote it.
    pub author: MemberPublic,
    /// The author's clock, Unix milliseconds.
    pub timestamp_ms: u64,
    /// The author's previous record in this group; `None` for their first.
    pub previous: Option<RecordId>,
    /// What it says.
    pub kind: Kind,
}

/// What a record says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// The creator adds `member` (the creator's first record adds the creator), under the name the
    /// member chose for this group.
    Add {
        /// The new member's key in this group.
        member: MemberPublic,
        /// The name the member chose to be shown by.
        name: String,
    },
    /// A post: a message of any content type, optionally in reply to another record.
    Post {
        /// The record this one answers, for threads.
        parent: Option<RecordId>,
        /// Content type, e.g. `courier/text`.
        content_type: String,
        /// The version of the content type the body is written in.
        type_version: u32,
        /// Plain text for a reader without the content type's plugin.
        fallback: String,
        /// The payload, as in a conversation (an attachment's manifest, or one of its chunks).
        body: Vec<u8>,
    },
    /// The author leaves; nothing after this from them is taken.
    Leave,
    /// The creator removes `member`: of theirs, `last` and what came before it is kept, nothing
    /// after it is taken by anyone.
    Remove {
        /// The removed member.
        member: MemberPublic,
        /// The removed member's last record the creator accepts; `None` for none at all.
        last: Option<RecordId>,
    },
    /// The creator dissolves the group: it takes nothing new.
    Dissolve,
    /// The creator sets how long each post stays on a member's device after it arrives there
    /// (0: for ever); the latest in the creator's chain is the group's timer.
    Timer {
        /// Seconds, within the range of a conversation's timer, or 0 for off.
        secs: u64,
    },
}

impl RecordBody {
    /// A post's content as a conversation message (what message-type plugins validate and show).
    pub fn message(&self) -> Option<Message> {
        match &self.kind {
            Kind::Post {
                content_type,
                type_version,
                fallback,
                body,
                ..
            } => Some(Message {
                timestamp_ms: self.timestamp_ms,
                content_type: content_type.clone(),
                type_version: *type_version,
                fallback: fallback.clone(),
                body: body.clone(),
            }),
            _ => None,
        }
    }

    fn check(&self) -> Result<(), GroupError> {
        match &self.kind {
            Kind::Add { name, .. } => check_name("add record", name),
            Kind::Post { body, .. } if body.len() > MAX_POST_BODY => Err(GroupError::Malformed {
                what: "post",
                reason: format!("a payload over {MAX_POST_BODY} bytes; send it as an attachment"),
            }),
            Kind::Timer { secs } if *secs != 0 => {
                Timer::of_secs(*secs)
                    .map(drop)
                    .map_err(|e| GroupError::Malformed {
                        what: "timer record",
                        reason: e.to_string(),
                    })
            }
            Kind::Post { .. } => {
                self.message()
                    .expect("a post")
                    .check()
                    .map_err(|e| GroupError::Malformed {
                        what: "post",
                        reason: e.to_string(),
                    })
            }
            _ => Ok(()),
        }
    }
}

/// The record as it travels.
#[derive(Serialize, Deserialize)]
struct Envelope {
    body: Vec<u8>,
    signature: Vec<u8>,
}

/// A record whose signature verified, with its id and the bytes it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its id.
    pub id: RecordId,
    /// What it says.
    pub body: RecordBody,
    /// Its encoding, relayed unchanged.
    pub bytes: Vec<u8>,
}

fn record_id(body: &[u8]) -> RecordId {
    let mut h = Sha256::new();
    h.update(b"courier/v1/group-record-id");
    h.update(body);
    RecordId(h.finalize().into())
}

impl Record {
    /// `body` signed by `key` (the body's author).
    pub fn sign(key: &MemberKey, body: RecordBody) -> Result<Record, GroupError> {
        debug_assert_eq!(
            body.author,
            key.public(),
            "a record is signed by its author"
        );
        body.check()?;
        let signed = encode(&body);
        let signature = key.sign(SIGNED, &signed).to_vec();
        let bytes = encode(&Envelope {
            body: signed.clone(),
            signature,
        });
        // `check` bounds every field, so what it passed fits the limit a reader enforces.
        debug_assert!(bytes.len() <= MAX_RECORD_LEN);
        Ok(Record {
            id: record_id(&signed),
            body,
            bytes,
        })
    }

    /// The conversation message that carries this record to a member: the same record makes the
    /// same message (its time is the record's), so queuing it twice for one contact is once.
    pub fn to_message(&self) -> Message {
        Message {
            timestamp_ms: self.body.timestamp_ms,
            content_type: RECORD_TYPE.into(),
            type_version: 1,
            fallback: String::new(),
            body: self.bytes.clone(),
        }
    }

    /// A record from the wire: parsed, within its limits, its signature its author's.
    pub fn decode(bytes: &[u8]) -> Result<Record, GroupError> {
        if bytes.len() > MAX_RECORD_LEN {
            return Err(GroupError::Malformed {
                what: "record",
                reason: format!(
                    "{} bytes is over the {MAX_RECORD_LEN}-byte limit",
                    bytes.len()
                ),
            });
        }
        let envelope: Envelope = decode_exact("record", bytes)?;
        let body: RecordBody = decode_exact("record body", &envelope.body)?;
        body.check()?;
        if !body
            .author
            .verifies(SIGNED, &envelope.body, &envelope.signature)
        {
            return Err(GroupError::BadSignature("record"));
        }
        Ok(Record {
            id: record_id(&envelope.body),
            body,
            bytes: bytes.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(key: &MemberKey, previous: Option<RecordId>, text: &str) -> RecordBody {
        RecordBody {
            group: GroupId([7; 32]),
            author: key.public(),
            timestamp_ms: 1_700_000_000_000,
            previous,
            kind: Kind::Post {
                parent: None,
                content_type: "courier/text".into(),
                type_version: 1,
                fallback: String::new(),
                body: text.as_bytes().to_vec(),
            },
        }
    }

    #[test]
    fn a_post_s_encoding_id_and_signature_are_pinned_to_known_values() {
        // proto/vectors/known_answers.py, "# group": postcard's encoding written out by hand,
        // Ed25519 from Python's `cryptography`.
        let key = MemberKey::from_secret([1; 32]);
        let record = Record::sign(&key, post(&key, Some(RecordId([3; 32])), "hi")).unwrap();
        assert_eq!(
            hex::encode(&record.bytes),
            "7b07070707070707070707070707070707070707070707070707070707070707078a88e3dd7409f195fd52db2d3cba5d\
             72ca6709bf1d94121bf3748801b40f6f5c80d095ffbc3101030303030303030303030303030303030303030303030303\
             030303030303030301000c636f75726965722f74657874010002686940c54f45632be612bd32c555de1d76b102a7b908\
             d2f3c80fcebc6c039b52ab39f3bb497584d86949b8f31fc2c7a0983c0fe95931a853b6bade13c6f32d6f364c0e"
        );
        assert_eq!(
            hex::encode(record.id.0),
            "4ef4c8cc83e801726951d282b369257466826abbbac55f9ea64624172be19d55"
        );
        assert_eq!(Record::decode(&record.bytes), Ok(record));
    }

    #[test]
    fn the_largest_post_fits_and_a_record_over_the_limit_is_refused_unread() {
        let key = MemberKey::generate();
        let mut body = post(&key, Some(RecordId([3; 32])), "");
        body.kind = Kind::Post {
            parent: Some(RecordId([4; 32])),
            content_type: "c".repeat(64),
            type_version: u32::MAX,
            fallback: "f".repeat(MAX_FALLBACK_LEN),
            body: vec![9; MAX_POST_BODY],
        };
        body.timestamp_ms = u64::MAX;
        let largest = Record::sign(&key, body).unwrap();
        assert!(largest.bytes.len() <= MAX_RECORD_LEN);
        assert!(
            largest.bytes.len() > MAX_RECORD_LEN - 512,
            "{}",
            largest.bytes.len()
        );
        let message = largest.to_message();
        message
            .check()
            .expect("the largest record rides in one message");
        assert_eq!(
            (message.content_type.as_str(), message.timestamp_ms),
            (RECORD_TYPE, u64::MAX)
        );
        assert_eq!(message.body, largest.bytes);
        let mut over = largest.body.clone();
        if let Kind::Post { body, .. } = &mut over.kind {
            body.push(0);
        }
        assert!(matches!(
            Record::sign(&key, over),
            Err(GroupError::Malformed { what: "post", .. })
        ));
        assert_eq!(Record::decode(&largest.bytes), Ok(largest));
        let reason = |bytes: &[u8]| match Record::decode(bytes) {
            Err(GroupError::Malformed { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert!(
            !reason(&vec![0xff; MAX_RECORD_LEN]).contains("limit"),
            "read, found bad"
        );
        assert!(
            reason(&vec![0xff; MAX_RECORD_LEN + 1]).contains("limit"),
            "refused unread"
        );
        assert_eq!(
            MAX_RECORD_LEN, 65_536,
            "a reader's limit is part of the format"
        );
    }

    #[test]
    fn an_add_with_a_bad_name_is_refused_both_ways() {
        let key = MemberKey::generate();
        let body = RecordBody {
            group: GroupId([7; 32]),
            author: key.public(),
            timestamp_ms: 1,
            previous: None,
            kind: Kind::Add {
                member: key.public(),
                name: "\u{7}bell".into(),
            },
        };
        assert!(matches!(
            Record::sign(&key, body.clone()),
            Err(GroupError::Malformed { .. })
        ));
        let signed = encode(&body);
        let bytes = encode(&Envelope {
            body: signed.clone(),
            signature: key.sign(SIGNED, &signed).to_vec(),
        });
        assert!(matches!(
            Record::decode(&bytes),
            Err(GroupError::Malformed { .. })
        ));
    }

    #[test]
    fn ids_print_short_and_a_post_reads_as_a_message() {
        assert_eq!(format!("{:?}", RecordId([0xab; 32])), "RecordId(abababab…)");
        let key = MemberKey::generate();
        let body = post(&key, None, "hi");
        let message = body.message().unwrap();
        assert_eq!(
            (
                message.timestamp_ms,
                message.content_type.as_str(),
                message.body.as_slice()
            ),
            (body.timestamp_ms, "courier/text", &b"hi"[..])
        );
        let leave = RecordBody {
            kind: Kind::Leave,
            ..body
        };
        assert_eq!(leave.message(), None);
    }

    #[test]
    fn an_altered_record_a_forged_author_or_trailing_bytes_are_refused() {
        let (bob, mallory) = (MemberKey::generate(), MemberKey::generate());
        let record = Record::sign(&bob, post(&bob, None, "meet at nine")).unwrap();
        // Altered in flight: every single-bit change of the body is refused or another record.
        for at in 0..record.bytes.len() {
            let mut altered = record.bytes.clone();
            altered[at] ^= 0x01;
            assert!(Record::decode(&altered).is_err(), "byte {at} altered");
        }
        // Mallory signs a post that names bob as its author.
        let mut forged = post(&bob, None, "meet at ten");
        let signed = encode(&forged);
        let bytes = encode(&Envelope {
            body: signed.clone(),
            signature: mallory.sign(SIGNED, &signed).to_vec(),
        });
        assert_eq!(
            Record::decode(&bytes),
            Err(GroupError::BadSignature("record"))
        );
        // Signed for another purpose (no domain label): refused.
        let bytes = encode(&Envelope {
            body: signed.clone(),
            signature: bob.sign(b"", &signed).to_vec(),
        });
        assert!(Record::decode(&bytes).is_err());
        let mut long = record.bytes.clone();
        long.push(0);
        assert!(matches!(
            Record::decode(&long),
            Err(GroupError::Malformed { .. })
        ));
        forged.kind = Kind::Post {
            parent: None,
            content_type: String::new(),
            type_version: 1,
            fallback: String::new(),
            body: Vec::new(),
        };
        assert!(Record::sign(&bob, forged).is_err(), "no content type");
    }
}
