//! Sync records and their wire codec.
//!
//! A record is `version (1) | type (1) | payload length (4, big-endian) | payload`. Records of a type
//! this build does not know are skipped, so a newer peer can add record types without breaking us.
//! Messages are content-addressed: the id is a hash of the message, recomputed by the receiver, so a
//! peer cannot claim one id for other content, and the same message arriving twice has the same id.

use sha2::{Digest, Sha256};

/// Protocol version of the records this build writes.
pub const PROTOCOL_VERSION: u8 = 1;
/// Bytes before a record's payload.
pub const RECORD_HEADER_LEN: usize = 6;
/// Largest message body: one chunk of an attachment, or a whole small message.
pub const MAX_BODY_LEN: usize = 64 * 1024;
/// Most ids in one offer, request or ack.
pub const MAX_IDS: usize = 1024;
/// Largest record payload.
pub const MAX_PAYLOAD_LEN: usize = MAX_BODY_LEN + 1024;
/// Longest content type, in bytes.
pub const MAX_CONTENT_TYPE_LEN: usize = 64;
/// Longest fallback text, in bytes.
pub const MAX_FALLBACK_LEN: usize = 255;
const MAX_VERSIONS: usize = 16;

/// A message's content-addressed id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub [u8; 32]);

impl std::fmt::Debug for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Ids link messages across logs; show only a short prefix.
        write!(f, "MessageId({}…)", hex::encode(&self.0[..4]))
    }
}

/// One message as sync carries it. The body is opaque here: plaintext of a message type, or a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Sender's clock at creation, Unix milliseconds.
    pub timestamp_ms: u64,
    /// Content type, e.g. `courier/text`.
    pub content_type: String,
    /// Version of the content type the body is written in.
    pub type_version: u32,
    /// Plain text for a reader without the content type's plugin (its summary at the sender); empty
    /// for text itself.
    pub fallback: String,
    /// The payload.
    pub body: Vec<u8>,
}

impl Message {
    /// Checks the limits every reader enforces; a message that fails them could never be delivered.
    pub fn check(&self) -> Result<(), RecordError> {
        let malformed = |reason| RecordError::Malformed {
            kind: "message",
            reason,
        };
        if self.content_type.is_empty() || self.content_type.len() > MAX_CONTENT_TYPE_LEN {
            return Err(malformed("content type must be 1-64 bytes"));
        }
        if self.body.len() > MAX_BODY_LEN {
            return Err(malformed("body over 64 KiB"));
        }
        if self.fallback.len() > MAX_FALLBACK_LEN {
            return Err(malformed("fallback text over 255 bytes"));
        }
        Ok(())
    }

    /// The message's id: SHA-256 over a domain label and every field, length-prefixed.
    pub fn id(&self) -> MessageId {
        let mut h = Sha256::new();
        h.update(b"courier/v1/message-id");
        h.update(self.timestamp_ms.to_be_bytes());
        h.update((self.content_type.len() as u32).to_be_bytes());
        h.update(self.content_type.as_bytes());
        h.update(self.type_version.to_be_bytes());
        h.update((self.fallback.len() as u32).to_be_bytes());
        h.update(self.fallback.as_bytes());
        h.update((self.body.len() as u64).to_be_bytes());
        h.update(&self.body);
        MessageId(h.finalize().into())
    }
}

/// A content type and the versions of it a peer reads and writes, inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentTypeRange {
    /// Content type, e.g. `courier/image`.
    pub content_type: String,
    /// Oldest version.
    pub min: u32,
    /// Newest version.
    pub max: u32,
}

impl ContentTypeRange {
    /// The newest version both we (`self`) and `theirs` speak, if any.
    pub fn best_common(&self, theirs: &ContentTypeRange) -> Option<u32> {
        let best = self.max.min(theirs.max);
        (best >= self.min.max(theirs.min)).then_some(best)
    }
}

/// Most content types one announcement lists.
pub const MAX_CONTENT_TYPES: usize = 64;

/// How a contact can be reached over one transport: what its plugin published, e.g. `address` =
/// `192.168.1.4:7001`. Carried to contacts only, inside encrypted streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportProperties {
    /// Transport id, e.g. `lan`.
    pub transport: String,
    /// Key/value pairs, as the plugin published them.
    pub properties: Vec<(String, String)>,
}

/// Most transports, and properties per transport, one announcement lists.
pub const MAX_PROPERTIES: usize = 16;
const MAX_PROPERTY_VALUE_LEN: usize = 1024;

/// What one contact needs to use our mailbox: where it listens, their token, and their two folders.
/// Carried to that contact only, inside their encrypted sync with the mailbox's owner.
#[derive(Clone, PartialEq, Eq)]
pub struct MailboxAccess {
    /// Where the mailbox listens: `host:port`, or `NAME.onion:port` for an onion service.
    pub address: String,
    /// The contact's bearer token.
    pub token: [u8; 32],
    /// The folder the contact uploads to; the owner downloads from it.
    pub inbox: [u8; 16],
    /// The folder the contact downloads from; the owner uploads to it.
    pub outbox: [u8; 16],
}

impl std::fmt::Debug for MailboxAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token opens the contact's folders; addresses and folder ids link logs to a person.
        f.write_str("MailboxAccess([redacted])")
    }
}

/// Longest mailbox address, in bytes.
pub const MAX_MAILBOX_ADDRESS_LEN: usize = 255;

/// A sync record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// The protocol versions the sender speaks.
    Versions(Vec<u8>),
    /// "I have these messages for you."
    Offer(Vec<MessageId>),
    /// "Send me these."
    Request(Vec<MessageId>),
    /// A message.
    Message(Message),
    /// "I have stored these; stop sending them."
    Ack(Vec<MessageId>),
    /// The content types the sender has plugins for, so a sender can pick a version the peer reads.
    ContentTypes(Vec<ContentTypeRange>),
    /// How the sender can be reached over each of its transports (replaces what it sent before).
    Properties(Vec<TransportProperties>),
    /// How the receiver may use the sender's mailbox (replaces what was sent before); `None`: the
    /// sender has no mailbox now, so stop using the one it told of.
    Mailbox(Option<MailboxAccess>),
}

const VERSIONS: u8 = 0;
const OFFER: u8 = 1;
const REQUEST: u8 = 2;
const MESSAGE: u8 = 3;
const ACK: u8 = 4;
const CONTENT_TYPES: u8 = 5;
const PROPERTIES: u8 = 6;
const MAILBOX: u8 = 7;

/// Why bytes could not be read as records. The stream they came from should be dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The record is from a protocol version we do not speak.
    #[error("record of protocol version {0}; this build speaks version {PROTOCOL_VERSION}")]
    UnsupportedVersion(u8),
    /// The payload length is over the limit.
    #[error("record payload of {0} bytes is over the {MAX_PAYLOAD_LEN}-byte limit")]
    TooLong(u32),
    /// The payload does not parse as its record type.
    #[error("malformed {kind} record: {reason}")]
    Malformed {
        /// Record type.
        kind: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
}

impl Record {
    /// Appends the record's encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[PROTOCOL_VERSION, self.type_byte(), 0, 0, 0, 0]);
        match self {
            Record::Versions(versions) => out.extend_from_slice(versions),
            Record::Offer(ids) | Record::Request(ids) | Record::Ack(ids) => {
                ids.iter().for_each(|id| out.extend_from_slice(&id.0));
            }
            Record::Message(m) => {
                out.extend_from_slice(&m.timestamp_ms.to_be_bytes());
                out.push(m.content_type.len() as u8);
                out.extend_from_slice(m.content_type.as_bytes());
                out.extend_from_slice(&m.type_version.to_be_bytes());
                out.push(m.fallback.len() as u8);
                out.extend_from_slice(m.fallback.as_bytes());
                out.extend_from_slice(&m.body);
            }
            Record::ContentTypes(types) => {
                for t in types {
                    out.push(t.content_type.len() as u8);
                    out.extend_from_slice(t.content_type.as_bytes());
                    out.extend_from_slice(&t.min.to_be_bytes());
                    out.extend_from_slice(&t.max.to_be_bytes());
                }
            }
            Record::Properties(transports) => {
                for t in transports {
                    out.push(t.transport.len() as u8);
                    out.extend_from_slice(t.transport.as_bytes());
                    out.push(t.properties.len() as u8);
                    for (key, value) in &t.properties {
                        out.push(key.len() as u8);
                        out.extend_from_slice(key.as_bytes());
                        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
                        out.extend_from_slice(value.as_bytes());
                    }
                }
            }
            Record::Mailbox(None) => {}
            Record::Mailbox(Some(access)) => {
                out.push(access.address.len() as u8);
                out.extend_from_slice(access.address.as_bytes());
                out.extend_from_slice(&access.token);
                out.extend_from_slice(&access.inbox);
                out.extend_from_slice(&access.outbox);
            }
        }
        let len = u32::try_from(out.len() - start - RECORD_HEADER_LEN).expect("records are small");
        out[start + 2..start + RECORD_HEADER_LEN].copy_from_slice(&len.to_be_bytes());
    }

    /// The encodings of `records`, one after another.
    pub fn encode_all(records: &[Record]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for record in records {
            record.encode(&mut bytes);
        }
        bytes
    }

    fn type_byte(&self) -> u8 {
        match self {
            Record::Versions(_) => VERSIONS,
            Record::Offer(_) => OFFER,
            Record::Request(_) => REQUEST,
            Record::Message(_) => MESSAGE,
            Record::Ack(_) => ACK,
            Record::ContentTypes(_) => CONTENT_TYPES,
            Record::Properties(_) => PROPERTIES,
            Record::Mailbox(_) => MAILBOX,
        }
    }
}

fn decode_ids(kind: &'static str, payload: &[u8]) -> Result<Vec<MessageId>, RecordError> {
    if !payload.len().is_multiple_of(32) {
        return Err(RecordError::Malformed {
            kind,
            reason: "length is not a whole number of ids",
        });
    }
    if payload.len() / 32 > MAX_IDS {
        return Err(RecordError::Malformed {
            kind,
            reason: "more than 1024 ids",
        });
    }
    Ok(payload
        .chunks_exact(32)
        .map(|c| MessageId(c.try_into().expect("32 bytes")))
        .collect())
}

fn decode_message(payload: &[u8]) -> Result<Message, RecordError> {
    let malformed = |reason| RecordError::Malformed {
        kind: "message",
        reason,
    };
    let (timestamp, rest) = payload
        .split_at_checked(8)
        .ok_or(malformed("too short for a timestamp"))?;
    let (&type_len, rest) = rest
        .split_first()
        .ok_or(malformed("too short for a content type"))?;
    let (content_type, rest) = rest
        .split_at_checked(usize::from(type_len))
        .ok_or(malformed("content type runs past the end"))?;
    let content_type =
        std::str::from_utf8(content_type).map_err(|_| malformed("content type is not UTF-8"))?;
    let (type_version, rest) = rest
        .split_at_checked(4)
        .ok_or(malformed("too short for a type version"))?;
    let (&fallback_len, rest) = rest
        .split_first()
        .ok_or(malformed("too short for a fallback text"))?;
    let (fallback, body) = rest
        .split_at_checked(usize::from(fallback_len))
        .ok_or(malformed("fallback text runs past the end"))?;
    let fallback =
        std::str::from_utf8(fallback).map_err(|_| malformed("fallback text is not UTF-8"))?;
    let message = Message {
        timestamp_ms: u64::from_be_bytes(timestamp.try_into().expect("8 bytes")),
        content_type: content_type.to_owned(),
        type_version: u32::from_be_bytes(type_version.try_into().expect("4 bytes")),
        fallback: fallback.to_owned(),
        body: body.to_vec(),
    };
    message.check()?;
    Ok(message)
}

fn decode_content_types(mut payload: &[u8]) -> Result<Vec<ContentTypeRange>, RecordError> {
    let malformed = |reason| RecordError::Malformed {
        kind: "content types",
        reason,
    };
    let mut types = Vec::new();
    while let Some((&len, rest)) = payload.split_first() {
        let (name, rest) = rest
            .split_at_checked(usize::from(len))
            .ok_or(malformed("content type runs past the end"))?;
        let (min, rest) = rest.split_at_checked(4).ok_or(malformed("too short"))?;
        let (max, rest) = rest.split_at_checked(4).ok_or(malformed("too short"))?;
        let range = ContentTypeRange {
            content_type: std::str::from_utf8(name)
                .map_err(|_| malformed("content type is not UTF-8"))?
                .to_owned(),
            min: u32::from_be_bytes(min.try_into().expect("4 bytes")),
            max: u32::from_be_bytes(max.try_into().expect("4 bytes")),
        };
        if range.content_type.is_empty() || range.content_type.len() > MAX_CONTENT_TYPE_LEN {
            return Err(malformed("content type must be 1-64 bytes"));
        }
        if range.min > range.max {
            return Err(malformed("a version range ends before it starts"));
        }
        types.push(range);
        if types.len() > MAX_CONTENT_TYPES {
            return Err(malformed("more than 64 content types"));
        }
        payload = rest;
    }
    Ok(types)
}

fn decode_properties(mut payload: &[u8]) -> Result<Vec<TransportProperties>, RecordError> {
    let malformed = |reason| RecordError::Malformed {
        kind: "properties",
        reason,
    };
    let text = |bytes: &[u8]| {
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| malformed("a name or value is not UTF-8"))
    };
    let mut transports = Vec::new();
    while let Some((&len, rest)) = payload.split_first() {
        let (name, rest) = rest
            .split_at_checked(usize::from(len))
            .ok_or(malformed("transport id runs past the end"))?;
        let (&count, mut rest) = rest.split_first().ok_or(malformed("too short"))?;
        if name.is_empty() || usize::from(count) > MAX_PROPERTIES {
            return Err(malformed("an empty transport id or over 16 properties"));
        }
        let mut properties = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let (&key_len, after) = rest.split_first().ok_or(malformed("too short"))?;
            let (key, after) = after
                .split_at_checked(usize::from(key_len))
                .ok_or(malformed("a key runs past the end"))?;
            let (value_len, after) = after.split_at_checked(2).ok_or(malformed("too short"))?;
            let value_len = usize::from(u16::from_be_bytes([value_len[0], value_len[1]]));
            if value_len > MAX_PROPERTY_VALUE_LEN {
                return Err(malformed("a value over 1024 bytes"));
            }
            let (value, after) = after
                .split_at_checked(value_len)
                .ok_or(malformed("a value runs past the end"))?;
            properties.push((text(key)?, text(value)?));
            rest = after;
        }
        transports.push(TransportProperties {
            transport: text(name)?,
            properties,
        });
        if transports.len() > MAX_PROPERTIES {
            return Err(malformed("more than 16 transports"));
        }
        payload = rest;
    }
    Ok(transports)
}

fn decode_mailbox(payload: &[u8]) -> Result<Option<MailboxAccess>, RecordError> {
    let malformed = |reason| RecordError::Malformed {
        kind: "mailbox",
        reason,
    };
    let Some((&len, rest)) = payload.split_first() else {
        return Ok(None);
    };
    let (address, rest) = rest
        .split_at_checked(usize::from(len))
        .ok_or(malformed("the address runs past the end"))?;
    let address = std::str::from_utf8(address)
        .ok()
        .filter(|a| !a.is_empty())
        .ok_or(malformed("the address is empty or not UTF-8"))?;
    let (token, rest) = rest
        .split_first_chunk::<32>()
        .ok_or(malformed("too short"))?;
    let (inbox, rest) = rest
        .split_first_chunk::<16>()
        .ok_or(malformed("too short"))?;
    let (outbox, rest) = rest
        .split_first_chunk::<16>()
        .ok_or(malformed("too short"))?;
    if !rest.is_empty() {
        return Err(malformed("bytes after the outbox"));
    }
    Ok(Some(MailboxAccess {
        address: address.to_owned(),
        token: *token,
        inbox: *inbox,
        outbox: *outbox,
    }))
}

/// Reads records from bytes that arrive in arbitrary pieces.
#[derive(Debug, Default)]
pub struct RecordReader {
    buffer: Vec<u8>,
}

impl RecordReader {
    /// A reader with nothing buffered.
    pub fn new() -> Self {
        RecordReader::default()
    }

    /// Adds bytes and returns every record now complete, in order; unknown record types are skipped.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Record>, RecordError> {
        self.buffer.extend_from_slice(bytes);
        let mut records = Vec::new();
        let mut start = 0;
        while self.buffer.len() - start >= RECORD_HEADER_LEN {
            let header = &self.buffer[start..start + RECORD_HEADER_LEN];
            if header[0] != PROTOCOL_VERSION {
                return Err(RecordError::UnsupportedVersion(header[0]));
            }
            let len = u32::from_be_bytes(header[2..6].try_into().expect("4 bytes"));
            if len as usize > MAX_PAYLOAD_LEN {
                return Err(RecordError::TooLong(len));
            }
            let end = start + RECORD_HEADER_LEN + len as usize;
            if self.buffer.len() < end {
                break;
            }
            let payload = &self.buffer[start + RECORD_HEADER_LEN..end];
            let record = match header[1] {
                VERSIONS if payload.is_empty() || payload.len() > MAX_VERSIONS => {
                    return Err(RecordError::Malformed {
                        kind: "versions",
                        reason: "must list 1-16 versions",
                    });
                }
                VERSIONS => Some(Record::Versions(payload.to_vec())),
                OFFER => Some(Record::Offer(decode_ids("offer", payload)?)),
                REQUEST => Some(Record::Request(decode_ids("request", payload)?)),
                MESSAGE => Some(Record::Message(decode_message(payload)?)),
                ACK => Some(Record::Ack(decode_ids("ack", payload)?)),
                CONTENT_TYPES => Some(Record::ContentTypes(decode_content_types(payload)?)),
                PROPERTIES => Some(Record::Properties(decode_properties(payload)?)),
                MAILBOX => Some(Record::Mailbox(decode_mailbox(payload)?)),
                _ => None,
            };
            records.extend(record);
            start = end;
        }
        self.buffer.drain(..start);
        Ok(records)
    }

    /// Bytes held for a record that is not complete yet.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn text(body: &str) -> Message {
        Message {
            timestamp_ms: 1_700_000_000_000,
            content_type: "courier/text".into(),
            type_version: 1,
            fallback: String::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_same_message_has_the_same_id_and_any_change_changes_it() {
        let m = text("hello");
        assert_eq!(m.id(), text("hello").id());
        assert_ne!(m.id(), text("hellO").id());
        assert_ne!(
            m.id(),
            Message {
                type_version: 2,
                ..m.clone()
            }
            .id()
        );
        assert_ne!(
            m.id(),
            Message {
                fallback: "hello".into(),
                ..m.clone()
            }
            .id()
        );
        assert_ne!(
            m.id(),
            Message {
                timestamp_ms: 1,
                ..m.clone()
            }
            .id()
        );
    }

    #[test]
    fn message_ids_are_pinned_to_known_bytes() {
        // Computed independently by proto/vectors/known_answers.py: SHA-256 of "courier/v1/message-id",
        // timestamp (8), content type length (4) and bytes, type version (4), fallback length (4) and
        // bytes, body length (8) and bytes, all big-endian.
        assert_eq!(
            hex::encode(text("hi").id().0),
            "92bde37a7502dbfb110577606e0f08cbdb11f28acb9cb05872e553c0a632c888"
        );
        let image = Message {
            timestamp_ms: 5,
            content_type: "courier/image".into(),
            type_version: 3,
            fallback: "a photo".into(),
            body: vec![1, 2, 3],
        };
        assert_eq!(
            hex::encode(image.id().0),
            "c0b228387ca209b865514aea50de608b5df603b126d2d7c1bfd76b2fc279dafd"
        );
    }

    #[test]
    fn every_record_type_is_pinned_to_known_bytes() {
        // Written field by field from the format: version 01, type, payload length (4), payload.
        let id = |b: u8| MessageId([b; 32]);
        let ids = |b: &[u8]| b.iter().map(|b| hex::encode([*b; 32])).collect::<String>();
        let cases = [
            (
                Record::Versions(vec![1]),
                "0100".to_owned() + "00000001" + "01",
            ),
            (
                Record::Offer(vec![id(0xaa)]),
                "0101".to_owned() + "00000020" + &ids(&[0xaa]),
            ),
            (
                Record::Request(vec![id(0xaa), id(0xbb)]),
                "0102".to_owned() + "00000040" + &ids(&[0xaa, 0xbb]),
            ),
            (
                Record::Message(text("hi")),
                "0103".to_owned()
                    + "0000001c"
                    + "0000018bcfe56800" // 1 700 000 000 000 ms
                    + "0c" + "636f75726965722f74657874" // "courier/text"
                    + "00000001" // type version
                    + "00" // no fallback
                    + "6869", // "hi"
            ),
            (
                Record::Ack(vec![id(0xcc)]),
                "0104".to_owned() + "00000020" + &ids(&[0xcc]),
            ),
            (
                Record::ContentTypes(vec![ContentTypeRange {
                    content_type: "courier/image".into(),
                    min: 1,
                    max: 3,
                }]),
                "0105".to_owned()
                    + "00000016"
                    + "0d" + "636f75726965722f696d616765" // "courier/image"
                    + "00000001" + "00000003",
            ),
            (
                Record::Properties(vec![TransportProperties {
                    transport: "lan".into(),
                    properties: vec![("address".into(), "10.0.0.1:7001".into())],
                }]),
                "0106".to_owned()
                    + "0000001c"
                    + "03" + "6c616e" // "lan"
                    + "01" // one property
                    + "07" + "61646472657373" // "address"
                    + "000d" + "31302e302e302e313a37303031", // "10.0.0.1:7001"
            ),
            (Record::Mailbox(None), "0107".to_owned() + "00000000"),
            (
                Record::Mailbox(Some(MailboxAccess {
                    address: "127.0.0.1:9".into(),
                    token: [0x11; 32],
                    inbox: [0x22; 16],
                    outbox: [0x33; 16],
                })),
                "0107".to_owned()
                    + "0000004c"
                    + "0b" + "3132372e302e302e313a39" // "127.0.0.1:9"
                    + &"11".repeat(32) // token
                    + &"22".repeat(16) // inbox
                    + &"33".repeat(16), // outbox
            ),
        ];
        for (record, expected) in cases {
            let mut wire = Vec::new();
            record.encode(&mut wire);
            assert_eq!(hex::encode(&wire), expected, "{record:?}");
            assert_eq!(RecordReader::new().push(&wire), Ok(vec![record]));
        }
    }

    #[test]
    fn a_message_at_each_limit_passes_and_one_byte_over_fails() {
        let at_limits = Message {
            content_type: "t".repeat(MAX_CONTENT_TYPE_LEN),
            fallback: "f".repeat(MAX_FALLBACK_LEN),
            body: vec![0; MAX_BODY_LEN],
            ..text("")
        };
        assert_eq!(at_limits.check(), Ok(()));
        let mut wire = Vec::new();
        Record::Message(at_limits.clone()).encode(&mut wire);
        assert_eq!(
            RecordReader::new().push(&wire),
            Ok(vec![Record::Message(at_limits.clone())]),
            "the largest message fits the largest payload"
        );
        let over = [
            (
                Message {
                    content_type: "t".repeat(MAX_CONTENT_TYPE_LEN + 1),
                    ..at_limits.clone()
                },
                "content type must be 1-64 bytes",
            ),
            (
                Message {
                    fallback: "f".repeat(MAX_FALLBACK_LEN + 1),
                    ..at_limits.clone()
                },
                "fallback text over 255 bytes",
            ),
            (
                Message {
                    body: vec![0; MAX_BODY_LEN + 1],
                    ..at_limits.clone()
                },
                "body over 64 KiB",
            ),
        ];
        for (message, reason) in over {
            assert_eq!(
                message.check(),
                Err(RecordError::Malformed {
                    kind: "message",
                    reason
                })
            );
        }
    }

    #[test]
    fn lists_at_their_limits_are_read_and_one_more_is_refused() {
        let decode = |record: Record| {
            let mut wire = Vec::new();
            record.encode(&mut wire);
            RecordReader::new().push(&wire)
        };
        let ids = |n: usize| (0..n).map(|i| MessageId([i as u8; 32])).collect::<Vec<_>>();
        assert!(decode(Record::Offer(ids(MAX_IDS))).is_ok());
        assert!(decode(Record::Offer(ids(MAX_IDS + 1))).is_err());
        assert!(decode(Record::Versions(vec![1; MAX_VERSIONS])).is_ok());
        assert!(decode(Record::Versions(vec![1; MAX_VERSIONS + 1])).is_err());
        let range = ContentTypeRange {
            content_type: "courier/text".into(),
            min: 1,
            max: 1,
        };
        assert!(decode(Record::ContentTypes(vec![range.clone(); MAX_CONTENT_TYPES])).is_ok());
        assert!(
            decode(Record::ContentTypes(vec![
                range.clone();
                MAX_CONTENT_TYPES + 1
            ]))
            .is_err()
        );
        let named = |len: usize| ContentTypeRange {
            content_type: "t".repeat(len),
            ..range.clone()
        };
        assert!(decode(Record::ContentTypes(vec![named(MAX_CONTENT_TYPE_LEN)])).is_ok());
        for bad in [0, MAX_CONTENT_TYPE_LEN + 1] {
            assert_eq!(
                decode(Record::ContentTypes(vec![named(bad)])),
                Err(RecordError::Malformed {
                    kind: "content types",
                    reason: "content type must be 1-64 bytes"
                })
            );
        }
        let transport = |properties: usize, value_len: usize| TransportProperties {
            transport: "lan".into(),
            properties: vec![("k".into(), "v".repeat(value_len)); properties],
        };
        let fine = transport(MAX_PROPERTIES, 1);
        assert!(decode(Record::Properties(vec![fine.clone(); MAX_PROPERTIES])).is_ok());
        assert!(
            decode(Record::Properties(vec![transport(
                1,
                MAX_PROPERTY_VALUE_LEN
            )]))
            .is_ok()
        );
        for too_many in [
            vec![fine.clone(); MAX_PROPERTIES + 1],
            vec![transport(MAX_PROPERTIES + 1, 1)],
            vec![transport(1, MAX_PROPERTY_VALUE_LEN + 1)],
            vec![TransportProperties {
                transport: String::new(),
                properties: Vec::new(),
            }],
        ] {
            assert!(decode(Record::Properties(too_many)).is_err());
        }
    }

    #[test]
    fn a_payload_at_the_limit_is_awaited_and_one_byte_over_is_refused() {
        let header = |len: usize| {
            let mut h = vec![PROTOCOL_VERSION, 99];
            h.extend_from_slice(&(len as u32).to_be_bytes());
            h
        };
        let mut reader = RecordReader::new();
        assert_eq!(reader.push(&header(MAX_PAYLOAD_LEN)), Ok(vec![]));
        assert_eq!(reader.pending(), RECORD_HEADER_LEN, "waits for the payload");
        assert_eq!(reader.push(&vec![0; MAX_PAYLOAD_LEN]), Ok(vec![]));
        assert_eq!(reader.pending(), 0, "an unknown type is skipped whole");
        assert_eq!(
            RecordReader::new().push(&header(MAX_PAYLOAD_LEN + 1)),
            Err(RecordError::TooLong(MAX_PAYLOAD_LEN as u32 + 1))
        );
        assert_eq!(RecordReader::new().push(&header(5)[..5]), Ok(vec![]));
        assert_eq!(
            RecordReader::new().push(&header(65 * 1024 + 1)),
            Err(RecordError::TooLong(66_561)),
            "a body's 64 KiB and 1 KiB for the rest of a message"
        );
    }

    #[test]
    fn mailbox_access_prints_nothing_of_itself() {
        let access = MailboxAccess {
            address: "mailbox.example:9".into(),
            token: [0xab; 32],
            inbox: [0xcd; 16],
            outbox: [0xef; 16],
        };
        assert_eq!(format!("{access:?}"), "MailboxAccess([redacted])");
    }

    #[test]
    fn ids_print_only_a_short_prefix() {
        let id = MessageId([0xab; 32]);
        assert_eq!(format!("{id:?}"), "MessageId(abababab…)");
    }

    #[test]
    fn the_best_common_version_is_the_newest_both_speak() {
        let range = |min, max| ContentTypeRange {
            content_type: "courier/image".into(),
            min,
            max,
        };
        assert_eq!(range(1, 3).best_common(&range(2, 5)), Some(3));
        assert_eq!(range(1, 3).best_common(&range(1, 1)), Some(1));
        assert_eq!(range(3, 4).best_common(&range(1, 2)), None);
        let mut wire = Vec::new();
        Record::ContentTypes(vec![range(2, 1)]).encode(&mut wire);
        assert!(
            RecordReader::new().push(&wire).is_err(),
            "a range that ends before it starts"
        );
    }

    #[test]
    fn unknown_record_types_are_skipped() {
        let mut wire = vec![PROTOCOL_VERSION, 99, 0, 0, 0, 3, 1, 2, 3];
        Record::Ack(vec![text("x").id()]).encode(&mut wire);
        assert_eq!(
            RecordReader::new().push(&wire).unwrap(),
            vec![Record::Ack(vec![text("x").id()])]
        );
    }

    #[test]
    fn bad_records_say_what_is_wrong() {
        let mailbox = |reason| RecordError::Malformed {
            kind: "mailbox",
            reason,
        };
        let mut one_byte_long = vec![1, 7, 0, 0, 0, 0x43, 1, b'x'];
        one_byte_long.extend([0; 65]);
        let cases: [(&[u8], RecordError); 8] = [
            (
                &[1, 7, 0, 0, 0, 2, 3, b'x'],
                mailbox("the address runs past the end"),
            ),
            (
                &[1, 7, 0, 0, 0, 1, 0],
                mailbox("the address is empty or not UTF-8"),
            ),
            (&[1, 7, 0, 0, 0, 3, 1, b'x', 0], mailbox("too short")),
            (&one_byte_long, mailbox("bytes after the outbox")),
            (&[2, 0, 0, 0, 0, 1, 1], RecordError::UnsupportedVersion(2)),
            (
                &[1, 1, 0xff, 0xff, 0xff, 0xff],
                RecordError::TooLong(u32::MAX),
            ),
            (
                &[1, 1, 0, 0, 0, 3, 1, 2, 3],
                RecordError::Malformed {
                    kind: "offer",
                    reason: "length is not a whole number of ids",
                },
            ),
            (
                &[1, 0, 0, 0, 0, 0],
                RecordError::Malformed {
                    kind: "versions",
                    reason: "must list 1-16 versions",
                },
            ),
        ];
        for (wire, expected) in cases {
            assert_eq!(RecordReader::new().push(wire), Err(expected));
        }
        let oversized = Message {
            body: vec![0; MAX_BODY_LEN + 1],
            ..text("")
        };
        assert!(oversized.check().is_err());
        let mut wire = Vec::new();
        Record::Message(oversized).encode(&mut wire);
        assert!(
            RecordReader::new().push(&wire).is_err(),
            "the reader enforces the same limit"
        );
        assert!(text("fine").check().is_ok());
        assert!(
            Message {
                content_type: String::new(),
                ..text("")
            }
            .check()
            .is_err()
        );
    }

    fn any_id() -> impl Strategy<Value = MessageId> {
        any::<[u8; 32]>().prop_map(MessageId)
    }

    fn any_record() -> impl Strategy<Value = Record> {
        let ids = || proptest::collection::vec(any_id(), 0..50);
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 1..16).prop_map(Record::Versions),
            ids().prop_map(Record::Offer),
            ids().prop_map(Record::Request),
            ids().prop_map(Record::Ack),
            proptest::collection::vec(
                ("[a-z]{1,20}/[a-z0-9-]{1,20}", any::<u32>(), any::<u32>()).prop_map(
                    |(content_type, a, b)| ContentTypeRange {
                        content_type,
                        min: a.min(b),
                        max: a.max(b),
                    }
                ),
                0..10
            )
            .prop_map(Record::ContentTypes),
            proptest::collection::vec(
                (
                    "[a-z]{1,10}",
                    proptest::collection::vec(("[a-z]{1,10}", "\\PC{0,40}"), 0..4)
                )
                    .prop_map(|(transport, properties)| TransportProperties {
                        transport,
                        properties,
                    }),
                0..4
            )
            .prop_map(Record::Properties),
            proptest::option::of(
                (
                    "[a-z0-9.:]{1,60}",
                    any::<[u8; 32]>(),
                    any::<[u8; 16]>(),
                    any::<[u8; 16]>()
                )
                    .prop_map(|(address, token, inbox, outbox)| MailboxAccess {
                        address,
                        token,
                        inbox,
                        outbox,
                    })
            )
            .prop_map(Record::Mailbox),
            (
                any::<u64>(),
                "[a-z]{1,20}/[a-z0-9-]{1,20}",
                any::<u32>(),
                "\\PC{0,60}",
                proptest::collection::vec(any::<u8>(), 0..2000)
            )
                .prop_map(
                    |(timestamp_ms, content_type, type_version, fallback, body)| {
                        Record::Message(Message {
                            timestamp_ms,
                            content_type,
                            type_version,
                            fallback,
                            body,
                        })
                    }
                ),
        ]
    }

    proptest! {
        #[test]
        fn decode_of_encode_is_identity_in_any_pieces(records in proptest::collection::vec(any_record(), 0..8), piece in 1usize..500) {
            let mut wire = Vec::new();
            records.iter().for_each(|r| r.encode(&mut wire));
            let mut reader = RecordReader::new();
            let mut decoded = Vec::new();
            for chunk in wire.chunks(piece) {
                decoded.extend(reader.push(chunk).unwrap());
            }
            prop_assert_eq!(decoded, records);
            prop_assert_eq!(reader.pending(), 0);
        }

        #[test]
        fn random_bytes_decode_to_records_that_re_encode_the_same(noise in proptest::collection::vec(any::<u8>(), 0..4096)) {
            if let Ok(records) = RecordReader::new().push(&noise) {
                let mut wire = Vec::new();
                records.iter().for_each(|r| r.encode(&mut wire));
                prop_assert_eq!(RecordReader::new().push(&wire).unwrap(), records);
            }
        }
    }
}
