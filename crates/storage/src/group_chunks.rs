//! Group posts larger than one record: the post's body is an attachment manifest, as a
//! conversation's is, and its chunks travel beside the record as `courier/group-chunk` messages
//! over the same links, each acked and resent on its own (so a post resumes where it stopped).
//! Chunks are kept once, by their content address, whichever contact brought them; a member relays
//! the chunks it has with the post, and a chunk that comes after its post as it arrives.

use courier_proto::group::record::GROUP_CHUNK_TYPE;
use courier_proto::group::{GroupId, Kind, Record};
use courier_proto::sync::attachment::{self, MANIFEST_TYPE};
use courier_proto::sync::record::{Message, MessageId};
use rusqlite::{Connection, OptionalExtension, params};

use super::attachments::put_together;
use super::database::Database;
use crate::{ContactId, Content, Payload, StorageError};

/// The chunk message of `body`, as the author made it at `timestamp_ms`.
fn chunk_message(timestamp_ms: u64, body: Vec<u8>) -> Message {
    Message {
        timestamp_ms,
        content_type: GROUP_CHUNK_TYPE.into(),
        type_version: 1,
        fallback: String::new(),
        body,
    }
}

/// The manifest `record` carries, if it is a post of an attachment.
fn manifest_of(record: &Record) -> Option<attachment::Manifest> {
    match &record.body.kind {
        Kind::Post {
            content_type, body, ..
        } if content_type == MANIFEST_TYPE => attachment::parse_manifest(body).ok(),
        _ => None,
    }
}

/// Notes, as `record` of `group` is accepted, which chunks it names.
pub(crate) fn note_post_chunks(
    conn: &Connection,
    group: &GroupId,
    record: &Record,
) -> rusqlite::Result<()> {
    let Some(manifest) = manifest_of(record) else {
        return Ok(());
    };
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO group_post_chunks (chunk_id, group_id, record_id) VALUES (?1, ?2, ?3)",
    )?;
    for chunk in &manifest.chunks {
        insert.execute(params![chunk.0, group.0, record.id.0])?;
    }
    Ok(())
}

impl Database {
    /// Keeps our own post's `chunks` (from `attachment::split_as` with [`GROUP_CHUNK_TYPE`]),
    /// before the post that names them is published.
    pub fn keep_group_chunks(&mut self, chunks: &[Message]) -> Result<(), StorageError> {
        for chunk in chunks {
            self.keep_chunk(chunk)?;
        }
        Ok(())
    }

    fn keep_chunk(&mut self, chunk: &Message) -> Result<MessageId, StorageError> {
        let id = chunk.id();
        self.conn.execute(
            "INSERT OR IGNORE INTO group_chunks (id, timestamp_ms, body) VALUES (?1, ?2, ?3)",
            params![
                id.0,
                i64::try_from(chunk.timestamp_ms).unwrap_or(i64::MAX),
                chunk.body
            ],
        )?;
        Ok(id)
    }

    /// The kept chunk `id`.
    fn group_chunk(&self, id: &MessageId) -> Result<Option<Message>, StorageError> {
        Ok(self
            .conn
            .prepare_cached("SELECT timestamp_ms, body FROM group_chunks WHERE id = ?1")?
            .query_row([id.0], |r| {
                Ok(chunk_message(r.get::<_, i64>(0)? as u64, r.get(1)?))
            })
            .optional()?)
    }

    /// The chunks of `record` (a post of an attachment) kept here, in order.
    pub(crate) fn post_chunks(&self, record: &Record) -> Result<Vec<Message>, StorageError> {
        let Some(manifest) = manifest_of(record) else {
            return Ok(Vec::new());
        };
        let mut chunks = Vec::new();
        for id in &manifest.chunks {
            chunks.extend(self.group_chunk(id)?);
        }
        Ok(chunks)
    }

    /// A chunk `contact` sent: kept if they are someone we sync a group with (true), and relayed
    /// to the members of each group whose accepted post names it (the post came first).
    pub(crate) fn take_group_chunk(
        &mut self,
        contact: ContactId,
        message: &Message,
    ) -> Result<bool, StorageError> {
        let peer: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM group_peers WHERE contact_id = ?1)",
            [contact],
            |r| r.get(0),
        )?;
        if !peer {
            return Ok(false);
        }
        let chunk = chunk_message(message.timestamp_ms, message.body.clone());
        self.atomically(|db| {
            let id = db.keep_chunk(&chunk)?;
            let groups: Vec<Vec<u8>> = db
                .conn
                .prepare_cached(
                    "SELECT DISTINCT group_id FROM group_post_chunks WHERE chunk_id = ?1",
                )?
                .query_map([id.0], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for group in groups {
                let group = GroupId(
                    group
                        .try_into()
                        .map_err(|_| StorageError::Corrupt("a group id is not 32 bytes"))?,
                );
                for to in db.current_peers(&group, Some(contact))? {
                    db.queue(to, &chunk)?;
                    db.relayed = true;
                }
            }
            Ok(true)
        })
    }

    /// The content of a post of `content_type` (version `version`) whose payload is `body`: the
    /// attachment a manifest names, put back together from the chunks kept here, or how far it
    /// has come.
    pub fn group_content(
        &self,
        content_type: &str,
        version: u32,
        body: &[u8],
    ) -> Result<Content, StorageError> {
        if content_type != MANIFEST_TYPE {
            return Ok(Content {
                content_type: content_type.to_owned(),
                version,
                payload: Payload::Complete(body.to_vec()),
            });
        }
        let manifest = match attachment::parse_manifest(body) {
            Ok(manifest) => manifest,
            Err(e) => {
                return Ok(Content {
                    content_type: MANIFEST_TYPE.to_owned(),
                    version,
                    payload: Payload::Damaged(e.to_string()),
                });
            }
        };
        let mut chunks = Vec::with_capacity(manifest.chunks.len());
        for id in &manifest.chunks {
            if let Some(chunk) = self.group_chunk(id)? {
                chunks.push(chunk.body);
            }
        }
        Ok(put_together(manifest, chunks))
    }
}
