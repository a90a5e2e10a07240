//! Payloads larger than one message: split into chunk messages on send, put back together on read.
//! The conversation shows an attachment through its manifest; its chunks travel, and are acked and
//! resent, like any other message.

use rusqlite::{OptionalExtension, params};

use super::chunk_packs::{PackRef, Side};
use super::database::Database;
use super::entry::{Direction, Entry};
use crate::{ContactId, StorageError};
use courier_proto::sync::attachment::{self, MANIFEST_TYPE};
use courier_proto::sync::record::{MAX_BODY_LEN, Message, MessageId};

/// A message ready for the outbox: a plugin's payload of any size, and the text a reader without
/// the plugin sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// Content type, e.g. `courier/image`.
    pub content_type: String,
    /// Version of the type the payload is written in.
    pub version: u32,
    /// Plain text for a reader without the plugin; empty when the payload is text itself.
    pub fallback: String,
    /// The payload.
    pub payload: Vec<u8>,
}

impl From<Message> for Draft {
    /// A message the host writes itself (a timer, a receipt) as a draft: its time is the outbox's.
    fn from(message: Message) -> Draft {
        Draft {
            content_type: message.content_type,
            version: message.type_version,
            fallback: message.fallback,
            payload: message.body,
        }
    }
}

impl Draft {
    /// A draft with no fallback text.
    pub fn new(content_type: &str, version: u32, payload: Vec<u8>) -> Draft {
        Draft {
            content_type: content_type.to_owned(),
            version,
            fallback: String::new(),
            payload,
        }
    }
}

/// The message to show (the draft itself, or the manifest of its chunks) and the chunks, if any,
/// each with its id: the manifest lists them as `split` hashed them, so no chunk is hashed twice.
pub(super) fn split_if_large(
    draft: Draft,
    timestamp_ms: u64,
) -> Result<(Message, Vec<(MessageId, Message)>), StorageError> {
    if draft.payload.len() <= MAX_BODY_LEN {
        let message = Message {
            timestamp_ms,
            content_type: draft.content_type,
            type_version: draft.version,
            fallback: String::new(),
            body: draft.payload,
        };
        return Ok((message, Vec::new()));
    }
    let (manifest, chunks) = attachment::split(
        &draft.payload,
        &draft.content_type,
        draft.version,
        timestamp_ms,
    )?;
    let ids = attachment::parse_manifest(&manifest.body)?.chunks;
    Ok((manifest, ids.into_iter().zip(chunks).collect()))
}

/// What a conversation entry holds, attachments put back together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// The content type of the payload (an attachment's own, not the manifest's).
    pub content_type: String,
    /// Its version.
    pub version: u32,
    /// The payload, or how far it has arrived.
    pub payload: Payload,
}

/// A payload as far as it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// All of it.
    Complete(Vec<u8>),
    /// An attachment whose chunks are still arriving.
    Partial {
        /// Chunks stored.
        received: usize,
        /// Chunks in all.
        total: usize,
    },
    /// A manifest that does not parse, or chunks that do not add up to the file it describes.
    Damaged(String),
}

impl Database {
    /// The content of `entry`, a message of the conversation with `contact`.
    pub fn content(&self, contact: ContactId, entry: &Entry) -> Result<Content, StorageError> {
        let message = &entry.message;
        if message.content_type != MANIFEST_TYPE {
            return Ok(Content {
                content_type: message.content_type.clone(),
                version: message.type_version,
                payload: Payload::Complete(message.body.clone()),
            });
        }
        let manifest = match attachment::parse_manifest(&message.body) {
            Ok(manifest) => manifest,
            Err(e) => {
                return Ok(Content {
                    content_type: MANIFEST_TYPE.to_owned(),
                    version: message.type_version,
                    payload: Payload::Damaged(e.to_string()),
                });
            }
        };
        let (table, side) = match entry.direction {
            Direction::Outgoing => ("outgoing", Side::Outgoing),
            Direction::Incoming => ("incoming", Side::Incoming),
        };
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT body, pack_offset, pack_len FROM {table} WHERE contact_id = ?1 AND id = ?2"
        ))?;
        let mut chunks = Vec::with_capacity(manifest.chunks.len());
        for id in &manifest.chunks {
            let Some((body, offset, len)) = statement
                .query_row(params![contact, &id.0[..]], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?
            else {
                continue;
            };
            match PackRef::from_columns(offset, len) {
                None => chunks.push(body),
                Some(at) => match self.packs.read(side, contact, id, at) {
                    Ok(body) => chunks.push(body),
                    Err(e @ StorageError::PackDamaged { .. }) => {
                        return Ok(Content {
                            content_type: manifest.content_type,
                            version: manifest.version,
                            payload: Payload::Damaged(e.to_string()),
                        });
                    }
                    Err(e) => return Err(e),
                },
            }
        }
        Ok(put_together(manifest, chunks))
    }
}

/// The attachment `manifest` names, from the `chunks` found of it in order, or how far it has come.
pub(super) fn put_together(manifest: attachment::Manifest, chunks: Vec<Vec<u8>>) -> Content {
    let total = manifest.chunks.len();
    let payload = if chunks.len() < total {
        Payload::Partial {
            received: chunks.len(),
            total,
        }
    } else {
        let mut bodies = chunks.into_iter();
        match attachment::assemble(&manifest, |_| bodies.next()) {
            Some(Ok(data)) => Payload::Complete(data),
            Some(Err(e)) => Payload::Damaged(e.to_string()),
            None => Payload::Partial {
                received: total,
                total,
            },
        }
    };
    Content {
        content_type: manifest.content_type,
        version: manifest.version,
        payload,
    }
}
