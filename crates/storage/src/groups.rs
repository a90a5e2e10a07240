//! Private groups (#30) in the encrypted database: each group we were invited to or belong to,
//! our key in it, its members, its records (accepted, in order, or held for the record before
//! them), and the contacts we sync it with. The group's rules are the protocol's
//! (`courier_proto::group::apply`), run here over [`GroupRecords`], one transaction a record.

use courier_proto::group::{
    Ended, GroupDescriptor, GroupError, GroupId, GroupStore, Kind, Member, MemberKey, MemberPublic,
    Outcome, Record, RecordBody, RecordId, apply,
};
use courier_proto::sync::session::StoreError;
use courier_proto::sync::timer::Timer;
use rusqlite::{Connection, OptionalExtension, params};

use super::database::Database;
use super::group_chunks::note_post_chunks;
use super::group_expiry::{self, Arrival};
use super::group_relations;
use super::mailbox_routes::bytes;
use crate::error::store_error;
use crate::{ContactId, Durability, StorageError};

/// Where we stand in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// A contact invited us; we have not answered.
    Invited,
    /// We declined.
    Declined,
    /// We made it, or joined it.
    Member,
    /// We left.
    Left,
}

impl Standing {
    fn as_str(self) -> &'static str {
        match self {
            Standing::Invited => "invited",
            Standing::Declined => "declined",
            Standing::Member => "member",
            Standing::Left => "left",
        }
    }

    fn parse(text: &str) -> rusqlite::Result<Standing> {
        Ok(match text {
            "invited" => Standing::Invited,
            "declined" => Standing::Declined,
            "member" => Standing::Member,
            "left" => Standing::Left,
            other => {
                return Err(rusqlite::Error::FromSqlConversionFailure(
                    2,
                    rusqlite::types::Type::Text,
                    format!("no standing {other:?}").into(),
                ));
            }
        })
    }
}

/// A group as this node knows it.
#[derive(Debug)]
pub struct Group {
    /// What names it.
    pub descriptor: GroupDescriptor,
    /// Where we stand.
    pub standing: Standing,
    /// The contact who invited us, if one did (and is still a contact).
    pub invited_by: Option<ContactId>,
    /// Our key in it, once we made or joined it.
    pub key: Option<MemberKey>,
    /// Whether its creator dissolved it.
    pub dissolved: bool,
    /// How long a post stays after it arrives, as the creator last set it.
    pub timer: Timer,
}

const GROUP: &str =
    "SELECT descriptor, standing, invited_by, member_secret, dissolved, timer_secs FROM groups";

fn group_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Vec<u8>, Group)> {
    let descriptor: Vec<u8> = r.get(0)?;
    let secret: Option<Vec<u8>> = r.get(3)?;
    let group = Group {
        descriptor: GroupDescriptor::from_bytes(&descriptor).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Blob,
                e.to_string().into(),
            )
        })?,
        standing: Standing::parse(&r.get::<_, String>(1)?)?,
        invited_by: r.get(2)?,
        key: secret
            .map(|s| bytes(s, 3).map(MemberKey::from_secret))
            .transpose()?,
        dissolved: r.get(4)?,
        timer: match u64::try_from(r.get::<_, i64>(5)?) {
            Ok(secs) if secs > 0 => Timer::of_secs(secs).unwrap_or(Timer::OFF),
            _ => Timer::OFF,
        },
    };
    Ok((descriptor, group))
}

impl Database {
    /// Keeps `descriptor`'s group where we stand as `standing` (invited by `by`; a member with
    /// `key`). A group kept already is left as it is: an invitation repeated is one invitation.
    /// True if it is new.
    pub fn add_group(
        &mut self,
        descriptor: &GroupDescriptor,
        standing: Standing,
        by: Option<ContactId>,
        key: Option<&MemberKey>,
        now_ms: u64,
    ) -> Result<bool, StorageError> {
        let added = self.conn.execute(
            "INSERT OR IGNORE INTO groups (id, descriptor, standing, invited_by, member_secret,
                added_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                descriptor.id().0,
                descriptor.to_bytes(),
                standing.as_str(),
                by,
                key.map(|k| k.secret()),
                i64::try_from(now_ms).unwrap_or(i64::MAX)
            ],
        )?;
        Ok(added == 1)
    }

    /// The group `id`, if we know it.
    pub fn group(&self, id: &GroupId) -> Result<Option<Group>, StorageError> {
        Ok(self
            .conn
            .query_row(&format!("{GROUP} WHERE id = ?1"), [id.0], group_row)
            .optional()?
            .map(|(_, g)| g))
    }

    /// Every group we know, oldest first.
    pub fn groups(&self) -> Result<Vec<Group>, StorageError> {
        let mut statement = self
            .conn
            .prepare(&format!("{GROUP} ORDER BY added_ms, id"))?;
        let rows = statement.query_map([], group_row)?;
        Ok(rows.map(|r| r.map(|(_, g)| g)).collect::<Result<_, _>>()?)
    }

    /// We now stand as `standing` in group `id`, with our `key` in it if we joined.
    pub fn set_group_standing(
        &mut self,
        id: &GroupId,
        standing: Standing,
        key: Option<&MemberKey>,
    ) -> Result<(), StorageError> {
        self.conn.execute(
            "UPDATE groups SET standing = ?2, member_secret = coalesce(?3, member_secret)
                WHERE id = ?1",
            params![id.0, standing.as_str(), key.map(|k| k.secret())],
        )?;
        Ok(())
    }

    /// Takes `record` into its group (which we must know) by the group's rules, in one
    /// transaction: accepted, held, or refused (the inner error; nothing kept).
    pub fn apply_group_record(
        &mut self,
        record: Record,
        arrival: Arrival,
    ) -> Result<Result<Outcome, GroupError>, StorageError> {
        self.batch(Durability::Full, |db| db.take_group_record(record, arrival))
    }

    /// [`Database::apply_group_record`] inside a transaction the caller runs.
    pub(crate) fn take_group_record(
        &mut self,
        record: Record,
        arrival: Arrival,
    ) -> Result<Result<Outcome, GroupError>, StorageError> {
        let group = record.body.group;
        let descriptor = self
            .group(&group)?
            .ok_or(StorageError::UnknownGroup)?
            .descriptor;
        let mut store = GroupRecords {
            conn: &self.conn,
            group,
            arrival,
        };
        Ok(apply(&descriptor, &mut store, record)?)
    }

    /// The body of `author`'s next record in group `id` saying `kind`: it names their latest.
    pub fn next_group_body(
        &self,
        id: &GroupId,
        author: MemberPublic,
        timestamp_ms: u64,
        kind: Kind,
    ) -> Result<RecordBody, StorageError> {
        let store = GroupRecords::reading(&self.conn, *id);
        Ok(RecordBody {
            group: *id,
            author,
            timestamp_ms,
            previous: store.head(&author)?,
            kind,
        })
    }

    /// Group `id`'s accepted records after position `after` (0 for the first), in the order
    /// they were accepted, at most `limit`, each with its position.
    pub fn group_records(
        &self,
        id: &GroupId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Record)>, StorageError> {
        self.records_after(RECORDS_AFTER, id, after, limit)
    }

    /// Group `id`'s shown records (accepted, not gone) after position `after`, in order, at most
    /// `limit`, each with its position: what a watcher tells.
    pub fn group_shown_after(
        &self,
        id: &GroupId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Record)>, StorageError> {
        self.records_after(SHOWN_AFTER, id, after, limit)
    }

    /// The records `sql` (one of the `…_AFTER` queries) selects of group `id` after `after`.
    fn records_after(
        &self,
        sql: &str,
        id: &GroupId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Record)>, StorageError> {
        self.records_of(
            sql,
            params![id.0, i64::try_from(after).unwrap_or(i64::MAX), limit as i64],
        )
    }

    /// Group `id`'s newest shown records before position `before` (all when `None`), at most
    /// `limit`, oldest first, each with its position.
    pub fn group_records_before(
        &self,
        id: &GroupId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Record)>, StorageError> {
        let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
        let mut records = self.records_of(RECORDS_BEFORE, params![id.0, before, limit as i64])?;
        records.reverse();
        Ok(records)
    }

    /// The accepted records of group `id` that reply to `parent`, after position `after`, in
    /// order, at most `limit`.
    pub fn group_replies(
        &self,
        id: &GroupId,
        parent: &RecordId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Record)>, StorageError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        self.records_of(REPLIES, params![id.0, parent.0, after, limit as i64])
    }

    /// The position of the accepted record `record` in group `id`.
    pub fn group_record_position(
        &self,
        id: &GroupId,
        record: &RecordId,
    ) -> Result<Option<u64>, StorageError> {
        Ok(self
            .conn
            .query_row(
                "SELECT seq FROM group_records WHERE id = ?2 AND group_id = ?1
                    AND held_for IS NULL",
                params![id.0, record.0],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .map(|s| s as u64))
    }

    /// The shown records of group `id` (accepted, not gone) whose ids lie between `first` and
    /// `last` (a prefix's range), at most `limit`.
    pub fn group_records_between(
        &self,
        id: &GroupId,
        first: &[u8; 32],
        last: &[u8; 32],
        limit: usize,
    ) -> Result<Vec<RecordId>, StorageError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT id FROM group_records WHERE id BETWEEN ?2 AND ?3 AND group_id = ?1
                AND held_for IS NULL AND gone = 0 LIMIT ?4",
        )?;
        let rows = statement.query_map(params![id.0, first, last, limit as i64], |r| {
            Ok(RecordId(bytes(r.get(0)?, 0)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The position of group `id`'s latest accepted record (0 when it has none).
    pub fn group_position(&self, id: &GroupId) -> Result<u64, StorageError> {
        let last: Option<i64> = self
            .conn
            .query_row("SELECT last_seq FROM groups WHERE id = ?1", [id.0], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(last.unwrap_or(0) as u64)
    }

    /// `member`'s latest accepted record in group `id`.
    pub fn group_head(
        &self,
        id: &GroupId,
        member: &MemberPublic,
    ) -> Result<Option<RecordId>, StorageError> {
        let store = GroupRecords::reading(&self.conn, *id);
        Ok(store.head(member)?)
    }

    /// The (position, record) rows `sql` selects with `params`.
    pub(crate) fn records_of(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<(u64, Record)>, StorageError> {
        let mut statement = self.conn.prepare_cached(sql)?;
        let rows = statement.query_map(params, |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut records = Vec::new();
        for row in rows {
            let (seq, bytes) = row?;
            let record =
                Record::decode(&bytes).map_err(|_| StorageError::Corrupt("a group record"))?;
            records.push((seq as u64, record));
        }
        Ok(records)
    }

    /// Everyone ever added to group `id`, by key.
    pub fn group_members(&self, id: &GroupId) -> Result<Vec<(MemberPublic, Member)>, StorageError> {
        let mut statement = self.conn.prepare(
            "SELECT member, name, added_by, ended, ended_by, cut FROM group_members
                WHERE group_id = ?1 ORDER BY rowid",
        )?;
        let rows = statement.query_map([id.0], |r| {
            Ok((MemberPublic(bytes(r.get(0)?, 0)?), member_row(r, 1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// We sync group `id` with `contact`, whose key in it is `member`.
    pub fn add_group_peer(
        &mut self,
        id: &GroupId,
        contact: ContactId,
        member: &MemberPublic,
    ) -> Result<(), StorageError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO group_peers (group_id, contact_id, member) VALUES (?1, ?2, ?3)",
            params![id.0, contact, member.0],
        )?;
        Ok(())
    }

    /// The contacts we sync group `id` with, and their keys in it.
    pub fn group_peers(
        &self,
        id: &GroupId,
    ) -> Result<Vec<(ContactId, MemberPublic)>, StorageError> {
        let mut statement = self.conn.prepare(
            "SELECT contact_id, member FROM group_peers WHERE group_id = ?1 ORDER BY contact_id",
        )?;
        let rows = statement.query_map([id.0], |r| {
            Ok((r.get(0)?, MemberPublic(bytes(r.get(1)?, 1)?)))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Group `?1`'s accepted records after position `?2`, in order, at most `?3`.
pub(crate) const RECORDS_AFTER: &str = "SELECT seq, bytes FROM group_records
    WHERE group_id = ?1 AND held_for IS NULL AND seq > ?2 ORDER BY seq LIMIT ?3";
/// Group `?1`'s shown records (accepted, not gone, no reaction or edit) after position `?2`, in
/// order, at most `?3`.
pub(crate) const SHOWN_AFTER: &str = "SELECT seq, bytes FROM group_records
    WHERE group_id = ?1 AND held_for IS NULL AND gone = 0 AND aside = 0 AND seq > ?2
    ORDER BY seq LIMIT ?3";
/// Group `?1`'s shown records before position `?2`, newest first, at most `?3`.
pub(crate) const RECORDS_BEFORE: &str = "SELECT seq, bytes FROM group_records
    WHERE group_id = ?1 AND held_for IS NULL AND gone = 0 AND aside = 0 AND seq < ?2
    ORDER BY seq DESC LIMIT ?3";
/// Group `?1`'s shown replies to `?2` after position `?3`, in order, at most `?4`.
pub(crate) const REPLIES: &str = "SELECT seq, bytes FROM group_records
    WHERE group_id = ?1 AND parent = ?2 AND held_for IS NULL AND gone = 0 AND aside = 0
    AND seq > ?3 ORDER BY seq LIMIT ?4";
/// The records of group `?1` held for record `?2`.
pub(crate) const HELD_FOR: &str =
    "SELECT id, bytes FROM group_records WHERE group_id = ?1 AND held_for = ?2";
/// How many records of group `?1` are held.
pub(crate) const HELD_COUNT: &str =
    "SELECT count(*) FROM group_records WHERE group_id = ?1 AND held_for IS NOT NULL";
/// Takes the next position in group `?1`: positions only grow, even past records a removal took
/// back, so a reader that saw position N never misses what comes after it.
pub(crate) const NEXT_SEQ: &str =
    "UPDATE groups SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq";

fn member_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Member> {
    let id = |i: usize| -> rusqlite::Result<Option<RecordId>> {
        r.get::<_, Option<Vec<u8>>>(i)?
            .map(|b| bytes(b, i).map(RecordId))
            .transpose()
    };
    let ended: Option<String> = r.get(at + 2)?;
    let ended = match ended.as_deref() {
        None => None,
        Some("left") => Some(Ended::Left(id(at + 3)?.unwrap_or(RecordId([0; 32])))),
        Some(_) => Some(Ended::Removed {
            by: id(at + 3)?.unwrap_or(RecordId([0; 32])),
            last: id(at + 4)?,
        }),
    };
    Ok(Member {
        name: r.get(at)?,
        added_by: RecordId(bytes(r.get(at + 1)?, at + 1)?),
        ended,
    })
}

/// One group's records in the database, as the group's rules read and write them.
pub struct GroupRecords<'a> {
    conn: &'a Connection,
    group: GroupId,
    arrival: Arrival,
}

impl<'a> GroupRecords<'a> {
    /// For reading only: what it would take is taken now.
    fn reading(conn: &'a Connection, group: GroupId) -> GroupRecords<'a> {
        GroupRecords {
            conn,
            group,
            arrival: Arrival::at(0),
        }
    }
}

impl GroupStore for GroupRecords<'_> {
    fn has(&self, id: &RecordId) -> Result<bool, StoreError> {
        self.conn
            .query_row("SELECT 1 FROM group_records WHERE id = ?1", [id.0], |_| {
                Ok(())
            })
            .optional()
            .map(|found| found.is_some())
            .map_err(store_error)
    }

    fn accepted(
        &self,
        id: &RecordId,
    ) -> Result<Option<(MemberPublic, Option<RecordId>)>, StoreError> {
        self.conn
            .query_row(
                "SELECT author, previous FROM group_records
                    WHERE id = ?1 AND group_id = ?2 AND held_for IS NULL",
                params![id.0, self.group.0],
                |r| {
                    let previous: Option<Vec<u8>> = r.get(1)?;
                    Ok((
                        MemberPublic(bytes(r.get(0)?, 0)?),
                        previous.map(|b| bytes(b, 1).map(RecordId)).transpose()?,
                    ))
                },
            )
            .optional()
            .map_err(store_error)
    }

    fn head(&self, author: &MemberPublic) -> Result<Option<RecordId>, StoreError> {
        let head: Option<Option<Vec<u8>>> = self
            .conn
            .query_row(
                "SELECT head FROM group_members WHERE group_id = ?1 AND member = ?2",
                params![self.group.0, author.0],
                |r| r.get(0),
            )
            .optional()
            .map_err(store_error)?;
        head.flatten()
            .map(|b| bytes(b, 0).map(RecordId))
            .transpose()
            .map_err(store_error)
    }

    fn member(&self, key: &MemberPublic) -> Result<Option<Member>, StoreError> {
        self.conn
            .query_row(
                "SELECT name, added_by, ended, ended_by, cut FROM group_members
                    WHERE group_id = ?1 AND member = ?2",
                params![self.group.0, key.0],
                |r| member_row(r, 0),
            )
            .optional()
            .map_err(store_error)
    }

    fn dissolved(&self) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT dissolved FROM groups WHERE id = ?1",
                [self.group.0],
                |r| r.get(0),
            )
            .map_err(store_error)
    }

    fn held(&self) -> Result<usize, StoreError> {
        self.conn
            .query_row(HELD_COUNT, [self.group.0], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(store_error)
    }

    fn accept(&mut self, record: &Record) -> Result<(), StoreError> {
        let body = &record.body;
        let seq: i64 = self
            .conn
            .query_row(NEXT_SEQ, [self.group.0], |r| r.get(0))
            .map_err(store_error)?;
        self.conn
            .execute(
                "INSERT INTO group_records (id, group_id, seq, author, previous, timestamp_ms,
                    bytes, parent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    record.id.0,
                    self.group.0,
                    seq,
                    body.author.0,
                    body.previous.map(|p| p.0),
                    i64::try_from(body.timestamp_ms).unwrap_or(i64::MAX),
                    record.bytes,
                    match &body.kind {
                        Kind::Post { parent, .. } => parent.map(|p| p.0),
                        _ => None,
                    }
                ],
            )
            .map_err(store_error)?;
        self.conn
            .execute(
                "UPDATE group_members SET head = ?3 WHERE group_id = ?1 AND member = ?2",
                params![self.group.0, body.author.0, record.id.0],
            )
            .map_err(store_error)?;
        note_post_chunks(self.conn, &self.group, record).map_err(store_error)?;
        group_expiry::accepted(self.conn, &self.group, record, self.arrival)
            .map_err(store_error)?;
        group_relations::resolve(self.conn, &self.group, record, self.arrival.now_ms)
            .map_err(store_error)?;
        Ok(())
    }

    fn put_member(&mut self, key: &MemberPublic, member: &Member) -> Result<(), StoreError> {
        let (ended, by, cut) = match member.ended {
            None => (None, None, None),
            Some(Ended::Left(by)) => (Some("left"), Some(by.0), None),
            Some(Ended::Removed { by, last }) => (Some("removed"), Some(by.0), last.map(|l| l.0)),
        };
        self.conn
            .execute(
                "INSERT INTO group_members (group_id, member, name, added_by, ended, ended_by, cut)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                    ON CONFLICT (group_id, member) DO UPDATE SET name = ?3, added_by = ?4,
                    ended = ?5, ended_by = ?6, cut = ?7",
                params![
                    self.group.0,
                    key.0,
                    member.name,
                    member.added_by.0,
                    ended,
                    by,
                    cut
                ],
            )
            .map_err(store_error)?;
        Ok(())
    }

    fn dissolve(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE groups SET dissolved = 1 WHERE id = ?1",
                [self.group.0],
            )
            .map_err(store_error)?;
        Ok(())
    }

    fn retract(
        &mut self,
        ids: &[RecordId],
        author: &MemberPublic,
        head: Option<RecordId>,
    ) -> Result<(), StoreError> {
        for id in ids {
            self.conn
                .execute("DELETE FROM group_records WHERE id = ?1", [id.0])
                .map_err(store_error)?;
        }
        self.conn
            .execute(
                "UPDATE group_members SET head = ?3 WHERE group_id = ?1 AND member = ?2",
                params![self.group.0, author.0, head.map(|h| h.0)],
            )
            .map_err(store_error)?;
        Ok(())
    }

    fn hold(&mut self, record: &Record, waits_for: &RecordId) -> Result<(), StoreError> {
        let body = &record.body;
        self.conn
            .execute(
                "INSERT INTO group_records (id, group_id, held_for, author, previous,
                    timestamp_ms, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    record.id.0,
                    self.group.0,
                    waits_for.0,
                    body.author.0,
                    body.previous.map(|p| p.0),
                    i64::try_from(body.timestamp_ms).unwrap_or(i64::MAX),
                    record.bytes
                ],
            )
            .map_err(store_error)?;
        Ok(())
    }

    fn release(&mut self, waited_for: &RecordId) -> Result<Vec<Record>, StoreError> {
        let held: Vec<(Vec<u8>, Vec<u8>)> = {
            let mut statement = self.conn.prepare_cached(HELD_FOR).map_err(store_error)?;
            statement
                .query_map(params![self.group.0, waited_for.0], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(store_error)?
                .collect::<Result<_, _>>()
                .map_err(store_error)?
        };
        let mut released = Vec::new();
        for (id, bytes) in held {
            self.conn
                .execute("DELETE FROM group_records WHERE id = ?1", [&id])
                .map_err(store_error)?;
            // Verified when it came; a row that no longer decodes is dropped, not released.
            if let Ok(record) = Record::decode(&bytes) {
                released.push(record);
            }
        }
        Ok(released)
    }
}

#[cfg(test)]
mod tests {
    use courier_proto::group::MemberKey;

    use super::*;
    use crate::Passphrase;

    const T: u64 = 1_700_000_000_000;

    fn open(dir: &std::path::Path, name: &str) -> Database {
        let passphrase = Passphrase::new(format!("{name}'s passphrase")).unwrap();
        Database::open(&dir.join(format!("{name}.db")), &passphrase).unwrap()
    }

    fn text(s: &str) -> Kind {
        Kind::Post {
            parent: None,
            content_type: "courier/text".into(),
            type_version: 1,
            fallback: String::new(),
            body: s.as_bytes().to_vec(),
        }
    }

    /// `key`'s next record in `db`'s copy of group `id`, signed, not yet taken.
    fn next(db: &Database, id: &GroupId, key: &MemberKey, kind: Kind) -> Record {
        let body = db.next_group_body(id, key.public(), T, kind).unwrap();
        Record::sign(key, body).unwrap()
    }

    /// Writes and takes `key`'s next record in `db`.
    fn write(db: &mut Database, id: &GroupId, key: &MemberKey, kind: Kind) -> Record {
        let record = next(db, id, key, kind);
        let outcome = db
            .apply_group_record(record.clone(), Arrival::at(T))
            .unwrap()
            .unwrap();
        assert_eq!(outcome.accepted, [record.id]);
        record
    }

    fn ids(db: &Database, id: &GroupId) -> Vec<RecordId> {
        db.group_records(id, 0, 1000)
            .unwrap()
            .into_iter()
            .map(|(_, r)| r.id)
            .collect()
    }

    #[test]
    fn positions_only_grow_even_past_records_a_removal_took_back() {
        let dir = tempfile::tempdir().unwrap();
        let (alice, bob) = (MemberKey::generate(), MemberKey::generate());
        let descriptor = GroupDescriptor::new(&alice, "Newsroom").unwrap();
        let id = descriptor.id();
        let mut db = open(dir.path(), "alice");
        db.add_group(&descriptor, Standing::Member, None, Some(&alice), T)
            .unwrap();
        for (key, name) in [(&alice, "alice"), (&bob, "bob")] {
            let add = Kind::Add {
                member: key.public(),
                name: name.into(),
            };
            write(&mut db, &id, &alice, add);
        }
        let kept = write(&mut db, &id, &bob, text("kept"));
        let taken_back = write(&mut db, &id, &bob, text("taken back"));
        assert_eq!(db.group_position(&id).unwrap(), 4);
        // The removal's cut is bob's first post: his second, the newest, is taken back.
        let remove = next(
            &db,
            &id,
            &alice,
            Kind::Remove {
                member: bob.public(),
                last: Some(kept.id),
            },
        );
        let outcome = db
            .apply_group_record(remove.clone(), Arrival::at(T))
            .unwrap()
            .unwrap();
        assert_eq!(outcome.retracted, [taken_back.id]);
        assert_eq!(db.group_position(&id).unwrap(), 5, "not 4 again");
        let after: Vec<(u64, RecordId)> = db
            .group_records(&id, 4, 10)
            .unwrap()
            .into_iter()
            .map(|(seq, r)| (seq, r.id))
            .collect();
        assert_eq!(
            after,
            [(5, remove.id)],
            "a reader that saw 4 is told the removal"
        );
    }

    #[test]
    fn alice_makes_a_group_bob_joins_and_posts_and_it_all_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (alice, bob) = (MemberKey::generate(), MemberKey::generate());
        let descriptor = GroupDescriptor::new(&alice, "Newsroom").unwrap();
        let id = descriptor.id();
        let mut at_alice = open(dir.path(), "alice");
        let mut at_bob = open(dir.path(), "bob");
        assert!(
            at_alice
                .add_group(&descriptor, Standing::Member, None, Some(&alice), T)
                .unwrap()
        );
        let adds = [
            write(
                &mut at_alice,
                &id,
                &alice,
                Kind::Add {
                    member: alice.public(),
                    name: "alice".into(),
                },
            ),
            write(
                &mut at_alice,
                &id,
                &alice,
                Kind::Add {
                    member: bob.public(),
                    name: "bob".into(),
                },
            ),
        ];
        // Bob is invited, then joins with his key; he gets alice's records.
        let from_alice = at_bob.add_contact("alice").unwrap();
        assert!(
            at_bob
                .add_group(&descriptor, Standing::Invited, Some(from_alice), None, T)
                .unwrap()
        );
        assert!(
            !at_bob
                .add_group(&descriptor, Standing::Invited, Some(from_alice), None, T)
                .unwrap(),
            "an invitation repeated is one"
        );
        at_bob
            .set_group_standing(&id, Standing::Member, Some(&bob))
            .unwrap();
        for add in &adds {
            at_bob
                .apply_group_record(add.clone(), Arrival::at(T))
                .unwrap()
                .unwrap();
        }
        let post = write(&mut at_bob, &id, &bob, text("first post"));
        assert_eq!(
            at_alice
                .apply_group_record(post.clone(), Arrival::at(T))
                .unwrap()
                .unwrap()
                .accepted,
            [post.id]
        );
        assert!(
            at_alice
                .apply_group_record(post.clone(), Arrival::at(T))
                .unwrap()
                .unwrap()
                .duplicate
        );
        drop((at_alice, at_bob));

        let at_alice = open(dir.path(), "alice");
        assert_eq!(ids(&at_alice, &id), [adds[0].id, adds[1].id, post.id]);
        let group = at_alice.group(&id).unwrap().unwrap();
        assert_eq!(group.standing, Standing::Member);
        assert_eq!(group.key.unwrap().public(), alice.public());
        let members = at_alice.group_members(&id).unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(
            (members[1].0, members[1].1.name.as_str()),
            (bob.public(), "bob")
        );
        let at_bob = open(dir.path(), "bob");
        let group = at_bob.group(&id).unwrap().unwrap();
        assert_eq!(
            (group.standing, group.invited_by),
            (Standing::Member, Some(from_alice))
        );
        assert_eq!(group.key.unwrap().public(), bob.public());
        // Reading after a position: what a relay or a window asks for.
        let after = at_alice.group_records(&id, 2, 10).unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(after[0], (3, post));
    }

    #[test]
    fn a_gap_is_held_on_disk_and_released_in_order_and_a_removal_deletes_what_is_after_its_cut() {
        let dir = tempfile::tempdir().unwrap();
        let (alice, dave) = (MemberKey::generate(), MemberKey::generate());
        let descriptor = GroupDescriptor::new(&alice, "Medics").unwrap();
        let id = descriptor.id();
        let mut at_alice = open(dir.path(), "alice");
        let mut at_dave = open(dir.path(), "dave");
        at_alice
            .add_group(&descriptor, Standing::Member, None, Some(&alice), T)
            .unwrap();
        at_dave
            .add_group(&descriptor, Standing::Member, None, Some(&dave), T)
            .unwrap();
        for kind in [
            Kind::Add {
                member: alice.public(),
                name: "alice".into(),
            },
            Kind::Add {
                member: dave.public(),
                name: "dave".into(),
            },
        ] {
            let record = write(&mut at_alice, &id, &alice, kind);
            at_dave
                .apply_group_record(record, Arrival::at(T))
                .unwrap()
                .unwrap();
        }
        let posts: Vec<Record> = ["one", "two", "three"]
            .iter()
            .map(|t| write(&mut at_dave, &id, &dave, text(t)))
            .collect();
        // Alice gets three, then two (held, on disk), restarts, then one: all three, in order.
        for post in [&posts[2], &posts[1]] {
            let outcome = at_alice
                .apply_group_record(post.clone(), Arrival::at(T))
                .unwrap()
                .unwrap();
            assert!(outcome.waiting_for.is_some());
        }
        drop(at_alice);
        let mut at_alice = open(dir.path(), "alice");
        let outcome = at_alice
            .apply_group_record(posts[0].clone(), Arrival::at(T))
            .unwrap()
            .unwrap();
        assert_eq!(outcome.accepted, [posts[0].id, posts[1].id, posts[2].id]);
        // Alice removes dave after his first post: the two after it are deleted.
        let removal = write(
            &mut at_alice,
            &id,
            &alice,
            Kind::Remove {
                member: dave.public(),
                last: Some(posts[0].id),
            },
        );
        let members = at_alice.group_members(&id).unwrap();
        assert_eq!(
            members[1].1.ended,
            Some(Ended::Removed {
                by: removal.id,
                last: Some(posts[0].id)
            })
        );
        let kept = ids(&at_alice, &id);
        assert!(kept.contains(&posts[0].id));
        assert!(!kept.contains(&posts[1].id) && !kept.contains(&posts[2].id));
        let late = next(&at_dave, &id, &dave, text("four"));
        assert!(matches!(
            at_alice.apply_group_record(late, Arrival::at(T)),
            Ok(Err(GroupError::AfterTheEnd(_)))
        ));
        // A record of a group we do not know is an error, not a refusal.
        let other = MemberKey::generate();
        let stranger = Record::sign(
            &other,
            RecordBody {
                group: GroupId([9; 32]),
                author: other.public(),
                timestamp_ms: T,
                previous: None,
                kind: text("x"),
            },
        )
        .unwrap();
        assert!(matches!(
            at_alice.apply_group_record(stranger, Arrival::at(T)),
            Err(StorageError::UnknownGroup)
        ));
    }
}
