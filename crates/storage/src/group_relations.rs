//! Reactions, edits and deletions for everyone in private groups (#31). A post whose content is a
//! relation (`courier_proto::sync::relation`: the id of the post it names, then the kind's own
//! body) is read as soon as its content is: when it is accepted, or when a sealed post's key
//! arrives after it. What it names is kept beside it (`relates_to`, migration 30): a reaction or an
//! edit leaves the group's window (`aside`) and is shown with its post. An edit or a deletion counts
//! only from the author of the post it names (the records' signatures say who); anyone else's is
//! kept in the chain and does nothing. A deletion makes the post, with its reactions and edits, go
//! now on this device as a disappearing post goes: its key and chunks erased, its signed record
//! kept for the chain. Only a sealed post can be erased so, since an open post's text is inside the
//! record every member keeps and relays: every post is written sealed.
//!
//! A group replies by a post's `parent` (a thread), so a post of the reply kind is shown as one.

use courier_proto::group::{GroupId, Record, RecordId};
use courier_proto::sync::relation::{self, RelationKind};
use rusqlite::{Connection, OptionalExtension, params};

use super::database::Database;
use super::mailbox_routes::bytes;
use super::opened::post_content;
use crate::StorageError;

/// The relations of group `?1` that name post `?2`, accepted and not gone (a handful: they are put
/// in order after).
pub(crate) const GROUP_RELATIONS_TO: &str = "SELECT seq, bytes FROM group_records
    WHERE group_id = ?1 AND relates_to = ?2 AND held_for IS NULL AND gone = 0";

/// Group `?1`'s accepted relations that name a post, after position `?2`, in order, at most `?3`:
/// what a watcher tells (read among the records after the position only).
pub(crate) const RELATIONS_AFTER: &str = "SELECT seq, relation, relates_to FROM group_records
    WHERE group_id = ?1 AND held_for IS NULL AND seq > ?2 AND relates_to IS NOT NULL
    ORDER BY seq LIMIT ?3";

/// What the accepted post `?2` of group `?1` is: its author and the relation it is, if any.
const TARGET: &str = "SELECT author, relation FROM group_records
    WHERE id = ?2 AND group_id = ?1 AND held_for IS NULL";

/// Reads `record` of `group`, accepted (or its key just arrived), as a relation if its content is
/// one, at `now_ms`; nothing for a post whose content is not here yet or is no relation.
pub(crate) fn resolve(
    conn: &Connection,
    group: &GroupId,
    record: &Record,
    now_ms: u64,
) -> rusqlite::Result<()> {
    let Some((content_type, body)) = post_content(conn, group, record)? else {
        return Ok(());
    };
    let kind = match RelationKind::of(&content_type) {
        None | Some(RelationKind::Reply) => return Ok(()),
        Some(kind) => kind,
    };
    let aside = matches!(kind, RelationKind::Reaction | RelationKind::Edit);
    // Kept as what it is, so that it is never shown as a post; a relation that does not parse,
    // or names what it may not, names nothing.
    let named = relation::read(kind, &body)
        .ok()
        .map(|r| RecordId(r.target.0));
    let target: Option<(Vec<u8>, Option<String>)> = match named {
        Some(target) => conn
            .prepare_cached(TARGET)?
            .query_row(params![group.0, target.0], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?,
        None => None,
    };
    let allowed = match (&target, named) {
        // A relation of a relation (but a reply) names nothing.
        (Some((_, Some(its))), _) if its != RelationKind::Reply.as_str() => false,
        // An edit or a deletion is its author's alone; their own chain brings the post first.
        (Some((author, _)), _) if kind.own_only() => author.as_slice() == record.body.author.0,
        (None, _) if kind.own_only() => false,
        // A reaction may come before the post it names (another member's chain): it waits.
        (_, Some(_)) => true,
        (_, None) => false,
    };
    let relates_to = named.filter(|_| allowed);
    conn.execute(
        "UPDATE group_records SET relation = ?2, relates_to = ?3, aside = ?4 WHERE id = ?1",
        params![record.id.0, kind.as_str(), relates_to.map(|t| t.0), aside],
    )?;
    if let (RelationKind::Delete, Some(target)) = (kind, relates_to) {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        conn.execute(
            "UPDATE group_records SET expires_ms = ?3 WHERE group_id = ?1 AND gone = 0
                AND (id = ?2 OR (relates_to = ?2 AND relation IN ('reaction', 'edit')))",
            params![group.0, target.0, now],
        )?;
    }
    Ok(())
}

impl Database {
    /// The reactions, edits and deletions of group `id` that name post `post`, oldest first by
    /// their authors' clocks.
    pub fn group_relations_to(
        &self,
        id: &GroupId,
        post: &RecordId,
    ) -> Result<Vec<(RelationKind, Record)>, StorageError> {
        let mut found = self.records_of(GROUP_RELATIONS_TO, params![id.0, post.0])?;
        // By their authors' clocks, as every member orders them, then as they came here.
        found.sort_by_key(|(seq, r)| (r.body.timestamp_ms, *seq));
        let mut relations = Vec::with_capacity(found.len());
        for (_, record) in found {
            let content = post_content(&self.conn, id, &record)?;
            if let Some(kind) = content.and_then(|(t, _)| RelationKind::of(&t)) {
                relations.push((kind, record));
            }
        }
        Ok(relations)
    }

    /// Group `id`'s relations that name a post, accepted after position `after`, in order, at
    /// most `limit`: each one's position, what it does and the post it names.
    pub fn group_relations_after(
        &self,
        id: &GroupId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, RelationKind, RecordId)>, StorageError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let mut statement = self.conn.prepare_cached(RELATIONS_AFTER)?;
        let rows = statement.query_map(params![id.0, after, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        let mut found = Vec::new();
        for row in rows {
            let (seq, kind, target) = row?;
            let kind = RelationKind::ALL.into_iter().find(|k| k.as_str() == kind);
            if let (Some(kind), Ok(target)) = (kind, <[u8; 32]>::try_from(target.as_slice())) {
                found.push((seq as u64, kind, RecordId(target)));
            }
        }
        Ok(found)
    }

    /// Whether `post` is a post group `id` shows now (accepted, not gone, no reaction or edit).
    pub fn group_post_shown(&self, id: &GroupId, post: &RecordId) -> Result<bool, StorageError> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM group_records WHERE id = ?1 AND group_id = ?2
                AND held_for IS NULL AND gone = 0 AND aside = 0)",
            params![post.0, id.0],
            |r| r.get(0),
        )?)
    }

    /// The post that the group relation `record` names, and what it does; `None` for a record that
    /// is no relation or names nothing it may.
    pub fn group_relation(
        &self,
        record: &RecordId,
    ) -> Result<Option<(RelationKind, RecordId)>, StorageError> {
        let row: Option<(Option<String>, Option<Vec<u8>>)> = self
            .conn
            .query_row(
                "SELECT relation, relates_to FROM group_records WHERE id = ?1",
                [record.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((Some(kind), Some(target))) = row else {
            return Ok(None);
        };
        let kind = RelationKind::ALL.into_iter().find(|k| k.as_str() == kind);
        Ok(kind.map(|k| (k, RecordId(bytes(target, 1).unwrap_or_default()))))
    }
}
