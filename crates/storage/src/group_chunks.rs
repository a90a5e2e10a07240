//! Group posts larger than one record: the post's body is an attachment manifest, as a
//! conversation's is, and its chunks travel beside the record as `courier/group-chunk` messages
//! over the same links, each acked and resent on its own (so a post resumes where it stopped).
//! Chunks are kept once, by their content address, whichever contact brought them; a member relays
//! the chunks it has with the post, and a chunk that comes after its post as it arrives.

use courier_proto::group::record::group_chunk;
use courier_proto::group::sealed::{SEALED_TYPE, Sealed};
use courier_proto::group::{GroupId, Kind, Record, RecordId};
use courier_proto::sync::attachment::{self, MANIFEST_TYPE};
use courier_proto::sync::record::{Message, MessageId};
use rusqlite::{Connection, params};

use super::attachments::put_together;
use super::database::Database;
use super::group_expiry::of_gone_posts;
use super::group_relations;
use super::opened::{kept_chunk, open};
use crate::{ContactId, Content, Payload, StorageError};

/// The chunks `record` names, in the order they go before it: a sealed post's key, then the
/// chunks of the attachment its content is, as far as what is here says.
fn chunks_named(
    conn: &Connection,
    group: &GroupId,
    record: &Record,
) -> rusqlite::Result<Vec<MessageId>> {
    let Kind::Post {
        content_type, body, ..
    } = &record.body.kind
    else {
        return Ok(Vec::new());
    };
    if content_type == SEALED_TYPE {
        let Ok(sealed) = Sealed::parse(body) else {
            return Ok(Vec::new());
        };
        let mut ids = vec![sealed.key];
        if let Some(Ok(content)) = open(conn, group, &sealed)? {
            ids.extend(manifest_chunks(&content.content_type, &content.body));
        }
        return Ok(ids);
    }
    Ok(manifest_chunks(content_type, body))
}

/// The id of `record`'s key, if it is a sealed post.
fn key_of(record: &Record) -> Option<MessageId> {
    match &record.body.kind {
        Kind::Post {
            content_type, body, ..
        } if content_type == SEALED_TYPE => Sealed::parse(body).ok().map(|s| s.key),
        _ => None,
    }
}

/// The chunks a post's payload lists, if it is an attachment's manifest.
fn manifest_chunks(content_type: &str, body: &[u8]) -> Vec<MessageId> {
    if content_type != MANIFEST_TYPE {
        return Vec::new();
    }
    attachment::parse_manifest(body).map_or_else(|_| Vec::new(), |m| m.chunks)
}

/// Notes, as `record` of `group` is accepted (or its key arrives), which chunks it names.
pub(crate) fn note_post_chunks(
    conn: &Connection,
    group: &GroupId,
    record: &Record,
) -> rusqlite::Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO group_post_chunks (chunk_id, group_id, record_id) VALUES (?1, ?2, ?3)",
    )?;
    for chunk in chunks_named(conn, group, record)? {
        insert.execute(params![chunk.0, group.0, record.id.0])?;
    }
    Ok(())
}

/// A group post as a reader sees it: its own line and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPost {
    /// The post it replies to, if any.
    pub parent: Option<RecordId>,
    /// What a reader without the content type's plugin sees.
    pub fallback: String,
    /// Its content, or how far it has come.
    pub content: Content,
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

    /// Keeps `chunk`; whether it is new here.
    fn keep_chunk(&mut self, chunk: &Message) -> Result<bool, StorageError> {
        let id = chunk.id();
        let kept = self.conn.execute(
            "INSERT OR IGNORE INTO group_chunks (id, timestamp_ms, body) VALUES (?1, ?2, ?3)",
            params![
                id.0,
                i64::try_from(chunk.timestamp_ms).unwrap_or(i64::MAX),
                chunk.body
            ],
        )?;
        Ok(kept == 1)
    }

    /// The chunks `record` names that are kept here (a sealed post's key first), in order.
    pub(crate) fn post_chunks(&self, record: &Record) -> Result<Vec<Message>, StorageError> {
        let mut chunks = Vec::new();
        for id in chunks_named(&self.conn, &record.body.group, record)? {
            chunks.extend(kept_chunk(&self.conn, &id)?);
        }
        Ok(chunks)
    }

    /// The post `record` as a reader sees it (a sealed one opened with its key); `None` for a
    /// record that is no post.
    pub fn group_post(&self, record: &Record) -> Result<Option<GroupPost>, StorageError> {
        let Kind::Post {
            parent,
            content_type,
            type_version,
            fallback,
            body,
        } = &record.body.kind
        else {
            return Ok(None);
        };
        let post = |fallback: &str, content| GroupPost {
            parent: *parent,
            fallback: fallback.to_owned(),
            content,
        };
        if content_type != SEALED_TYPE {
            let content = self.group_content(content_type, *type_version, body)?;
            return Ok(Some(post(fallback, content)));
        }
        let damaged = |why: String| Content {
            content_type: content_type.clone(),
            version: *type_version,
            payload: Payload::Damaged(why),
        };
        let sealed = match Sealed::parse(body) {
            Ok(sealed) => sealed,
            Err(e) => return Ok(Some(post(fallback, damaged(e.to_string())))),
        };
        Ok(Some(match open(&self.conn, &record.body.group, &sealed)? {
            // Its key is on its way, like a chunk.
            None => post(
                fallback,
                Content {
                    content_type: content_type.clone(),
                    version: *type_version,
                    payload: Payload::Partial {
                        received: 0,
                        total: 1,
                    },
                },
            ),
            Some(Err(e)) => post(fallback, damaged(e.to_string())),
            Some(Ok(inner)) => post(
                &inner.fallback,
                self.group_content(&inner.content_type, inner.type_version, &inner.body)?,
            ),
        }))
    }

    /// A chunk `contact` sent at `now_ms`: kept if they are someone we sync a group with (true),
    /// and relayed to the members of each group whose accepted post names it (the post came
    /// first).
    pub(crate) fn take_group_chunk(
        &mut self,
        contact: ContactId,
        message: &Message,
        now_ms: u64,
    ) -> Result<bool, StorageError> {
        let peer: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM group_peers WHERE contact_id = ?1)",
            [contact],
            |r| r.get(0),
        )?;
        if !peer {
            return Ok(false);
        }
        let chunk = group_chunk(message.timestamp_ms, message.body.clone());
        if of_gone_posts(&self.conn, &chunk.id())? {
            return Ok(false);
        }
        let id = chunk.id();
        self.atomically(|db| {
            // A chunk come again (from another member, or resent) goes nowhere: relaying each
            // copy would send it round a ring of members for ever.
            if !db.keep_chunk(&chunk)? {
                return Ok(true);
            }
            let records: Vec<Vec<u8>> = db
                .conn
                .prepare_cached("SELECT record_id FROM group_post_chunks WHERE chunk_id = ?1")?
                .query_map([id.0], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for record in records {
                let record = RecordId(
                    record
                        .try_into()
                        .map_err(|_| StorageError::Corrupt("a record id is not 32 bytes"))?,
                );
                let Some(record) = db.group_record(&record)? else {
                    continue;
                };
                // A sealed post's key that came after its post opens it: the chunks its content
                // names are noted now, and those kept here go on with the key.
                let chunks = if key_of(&record) == Some(id) {
                    note_post_chunks(&db.conn, &record.body.group, &record)?;
                    // A relation is read once its content is.
                    group_relations::resolve(&db.conn, &record.body.group, &record, now_ms)?;
                    db.post_chunks(&record)?
                } else {
                    vec![chunk.clone()]
                };
                for to in db.current_peers(&record.body.group, Some(contact))? {
                    for chunk in &chunks {
                        db.queue(to, chunk)?;
                    }
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
            if let Some(chunk) = kept_chunk(&self.conn, id)? {
                chunks.push(chunk.body);
            }
        }
        Ok(put_together(manifest, chunks))
    }
}
