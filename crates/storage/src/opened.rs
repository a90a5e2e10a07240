//! A group post's content as this device can read it: an open post's as it is, a sealed one's
//! through its key, kept among the group's chunks.

use courier_proto::group::record::group_chunk;
use courier_proto::group::sealed::{Content as SealedContent, SEALED_TYPE, Sealed};
use courier_proto::group::{GroupError, GroupId, Kind, Record};
use courier_proto::sync::record::{Message, MessageId};
use rusqlite::{Connection, OptionalExtension};

/// `sealed`'s content: `None` while its key is not here, an error if it does not open.
pub(crate) fn open(
    conn: &Connection,
    group: &GroupId,
    sealed: &Sealed,
) -> rusqlite::Result<Option<Result<SealedContent, GroupError>>> {
    Ok(kept_chunk(conn, &sealed.key)?.map(|key| sealed.open(group, &key)))
}

/// The content type and payload of post `record` of `group` (a sealed one opened with its key):
/// `None` for a record that is no post, or a sealed post whose key is not here or does not open.
pub(crate) fn post_content(
    conn: &Connection,
    group: &GroupId,
    record: &Record,
) -> rusqlite::Result<Option<(String, Vec<u8>)>> {
    let Kind::Post {
        content_type, body, ..
    } = &record.body.kind
    else {
        return Ok(None);
    };
    if content_type != SEALED_TYPE {
        return Ok(Some((content_type.clone(), body.clone())));
    }
    let Ok(sealed) = Sealed::parse(body) else {
        return Ok(None);
    };
    Ok(open(conn, group, &sealed)?
        .and_then(Result::ok)
        .map(|content| (content.content_type, content.body)))
}

/// The kept chunk `id`.
pub(crate) fn kept_chunk(conn: &Connection, id: &MessageId) -> rusqlite::Result<Option<Message>> {
    conn.prepare_cached("SELECT timestamp_ms, body FROM group_chunks WHERE id = ?1")?
        .query_row([id.0], |r| {
            Ok(group_chunk(r.get::<_, i64>(0)? as u64, r.get(1)?))
        })
        .optional()
}
