//! Reading a stored message back from its row.

use courier_proto::sync::record::{Message, MessageId};
use rusqlite::Row;

use crate::chunk_packs::PackRef;

/// A message row as `SELECT timestamp_ms, content_type, type_version, body, fallback, id,
/// pack_offset, pack_len` reads it: the message (a packed chunk's body still empty), its id, and
/// where its body is if packed.
pub(super) fn stored_message(
    row: &Row<'_>,
) -> rusqlite::Result<(Message, MessageId, Option<PackRef>)> {
    let message = message_at(row, 0)?;
    let packed = PackRef::from_columns(row.get(6)?, row.get(7)?);
    Ok((message, message_id(row, 5)?, packed))
}

/// The message in five columns of `row` from `first`: timestamp, content type, type version, body
/// and fallback.
pub(super) fn message_at(row: &Row<'_>, first: usize) -> rusqlite::Result<Message> {
    Ok(Message {
        timestamp_ms: row.get::<_, i64>(first)? as u64,
        content_type: row.get(first + 1)?,
        type_version: row.get(first + 2)?,
        body: row.get(first + 3)?,
        fallback: row.get(first + 4)?,
    })
}

/// The message id in `column` of `row`.
pub(super) fn message_id(row: &Row<'_>, column: usize) -> rusqlite::Result<MessageId> {
    let id: Vec<u8> = row.get(column)?;
    let id: [u8; 32] = id.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Blob,
            "a stored message id is not 32 bytes".into(),
        )
    })?;
    Ok(MessageId(id))
}
