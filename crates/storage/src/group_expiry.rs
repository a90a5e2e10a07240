//! Disappearing posts in groups. The creator's `Timer` record is the group's timer; a post
//! written under it is sealed (`courier_proto::group::sealed`), and each member erases its key
//! and chunks the post's lifetime after it arrived there (held to this device's longest), so its
//! content is gone while its signed record, which its author's later records name, stays and is
//! still relayed (to a newcomer, say). A key or chunk that comes after its post went is not kept.

use courier_proto::group::sealed::{SEALED_TYPE, Sealed};
use courier_proto::group::{GroupId, Kind, Record};
use courier_proto::sync::record::MessageId;
use courier_proto::sync::timer::Timer;
use rusqlite::{Connection, params};

use super::database::Database;
use super::mailbox_routes::bytes;
use crate::StorageError;

/// When a record is taken here, and the longest this device keeps a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Now, Unix ms.
    pub now_ms: u64,
    /// This device's longest (a profile's `disappear-within`); [`Timer::OFF`] for none.
    pub longest: Timer,
}

impl Arrival {
    /// Taken at `now_ms` by a device that keeps posts as long as they say.
    pub fn at(now_ms: u64) -> Arrival {
        Arrival {
            now_ms,
            longest: Timer::OFF,
        }
    }
}

/// The sealed posts whose time is up at `?1`.
pub(crate) const GROUP_EXPIRED: &str = "SELECT id FROM group_records WHERE expires_ms <= ?1";

/// After `record` was accepted into `group` on `arrival`: a timer becomes the group's, and a
/// sealed post gets the time it goes (or is gone at once: past its lifetime by its author's clock
/// with no key here, it went from every member before it reached us).
pub(crate) fn accepted(
    conn: &Connection,
    group: &GroupId,
    record: &Record,
    arrival: Arrival,
) -> rusqlite::Result<()> {
    match &record.body.kind {
        Kind::Timer { secs } => {
            conn.execute(
                "UPDATE groups SET timer_secs = ?2 WHERE id = ?1",
                params![group.0, i64::try_from(*secs).unwrap_or(0)],
            )?;
        }
        Kind::Post {
            content_type, body, ..
        } if content_type == SEALED_TYPE => {
            // A sealed body that does not parse shows as damaged; it has nothing to erase.
            let Ok(sealed) = Sealed::parse(body) else {
                return Ok(());
            };
            let lifetime = if sealed.lifetime.within(arrival.longest) {
                sealed.lifetime
            } else {
                arrival.longest
            };
            let Some(secs) = lifetime.secs() else {
                return Ok(());
            };
            let ms = secs.saturating_mul(1000);
            let key_here: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM group_chunks WHERE id = ?1)",
                [sealed.key.0],
                |r| r.get(0),
            )?;
            if !key_here && record.body.timestamp_ms.saturating_add(ms) <= arrival.now_ms {
                conn.execute(
                    "UPDATE group_records SET gone = 1 WHERE id = ?1",
                    [record.id.0],
                )?;
            } else {
                let at = arrival.now_ms.saturating_add(ms);
                conn.execute(
                    "UPDATE group_records SET expires_ms = ?2 WHERE id = ?1",
                    params![record.id.0, i64::try_from(at).unwrap_or(i64::MAX)],
                )?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Whether the chunk `id` belongs only to posts that went: it is not kept again.
pub(crate) fn of_gone_posts(conn: &Connection, id: &MessageId) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM group_post_chunks p JOIN group_records r
                ON r.id = p.record_id WHERE p.chunk_id = ?1 AND r.gone = 1)
            AND NOT EXISTS (SELECT 1 FROM group_post_chunks p JOIN group_records r
                ON r.id = p.record_id WHERE p.chunk_id = ?1 AND r.gone = 0)",
        [id.0],
        |r| r.get(0),
    )
}

impl Database {
    /// Erases the content of every sealed post whose time is up at `now_ms`: its key and the
    /// chunks no post still shown names. How many went.
    pub(crate) fn sweep_group_posts(&mut self, now_ms: u64) -> Result<usize, StorageError> {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let due: Vec<Vec<u8>> = self
            .conn
            .prepare_cached(GROUP_EXPIRED)?
            .query_map([now], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if due.is_empty() {
            return Ok(0);
        }
        // What is still queued of theirs to the members we sync with (a key or chunk not yet
        // acked) goes too: the post's content is not to arrive after its time.
        let mut queued = Vec::new();
        for id in &due {
            let chunks: Vec<(Vec<u8>, Vec<u8>)> = self
                .conn
                .prepare_cached(
                    "SELECT chunk_id, group_id FROM group_post_chunks p WHERE record_id = ?1
                        AND NOT EXISTS (SELECT 1 FROM group_post_chunks o JOIN group_records r
                            ON r.id = o.record_id WHERE o.chunk_id = p.chunk_id
                            AND o.record_id != ?1 AND r.gone = 0)",
                )?
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            for (chunk, group) in chunks {
                let chunk = MessageId(bytes(chunk, 0)?);
                let group = GroupId(bytes(group, 1)?);
                for (contact, _) in self.group_peers(&group)? {
                    queued.push((contact, chunk));
                }
            }
        }
        let gone = self.atomically(|db| {
            for id in &due {
                // The links stay: a key or chunk that comes again is known as a gone post's.
                db.conn.execute(
                    "UPDATE group_records SET gone = 1, expires_ms = NULL WHERE id = ?1",
                    [id],
                )?;
                db.conn.execute(
                    "DELETE FROM group_chunks WHERE id IN (SELECT chunk_id FROM group_post_chunks
                        WHERE record_id = ?1)
                        AND NOT EXISTS (SELECT 1 FROM group_post_chunks p JOIN group_records r
                            ON r.id = p.record_id WHERE p.chunk_id = group_chunks.id
                            AND r.gone = 0)",
                    [id],
                )?;
            }
            Ok(due.len())
        })?;
        self.delete_messages(&queued)?;
        Ok(gone)
    }
}
