//! The rules of a group, over any store of it: what a member accepts, holds back (waiting for a
//! record it names) or refuses. [`super::state::GroupState`] keeps a group in memory; the host's
//! database is another [`GroupStore`].

use super::GroupError;
use super::descriptor::{GroupDescriptor, MemberPublic};
use super::record::{Kind, Record, RecordId};
use crate::sync::session::StoreError;
use sha2::{Digest, Sha256};

/// Most records held back at once, waiting for the one before them; more are refused (their
/// relay offers them again).
pub const MAX_HELD: usize = 10_000;

/// What taking a record did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Accepted now, in order: the record, then any it released that waited for it.
    pub accepted: Vec<RecordId>,
    /// Taken back: records accepted earlier that a removal now puts after its cut.
    pub retracted: Vec<RecordId>,
    /// Already here (accepted or held); nothing changed.
    pub duplicate: bool,
    /// Held back until the record it names as its author's previous arrives.
    pub waiting_for: Option<RecordId>,
}

/// How a member's time in the group ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// They left, with this record.
    Left(RecordId),
    /// The creator removed them; of theirs, records up to `last` stand.
    Removed {
        /// The creator's removal.
        by: RecordId,
        /// Their last record that stands.
        last: Option<RecordId>,
    },
}

/// One member as this group knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The name they chose for this group.
    pub name: String,
    /// The creator's record that added them.
    pub added_by: RecordId,
    /// How their membership ended, if it did.
    pub ended: Option<Ended>,
}

/// Where one member keeps one group. Each method is one read or one write; [`apply`] calls them
/// in an order that leaves the store consistent after each record, so a store that commits per
/// record (or per batch) needs nothing more.
pub trait GroupStore {
    /// Whether `id` is here, accepted or held.
    fn has(&self, id: &RecordId) -> Result<bool, StoreError>;
    /// The author and previous record of the accepted record `id`.
    fn accepted(
        &self,
        id: &RecordId,
    ) -> Result<Option<(MemberPublic, Option<RecordId>)>, StoreError>;
    /// `author`'s latest accepted record.
    fn head(&self, author: &MemberPublic) -> Result<Option<RecordId>, StoreError>;
    /// The member `key`, if ever added.
    fn member(&self, key: &MemberPublic) -> Result<Option<Member>, StoreError>;
    /// Whether the group was dissolved.
    fn dissolved(&self) -> Result<bool, StoreError>;
    /// How many records are held back.
    fn held(&self) -> Result<usize, StoreError>;
    /// Keeps `record` as accepted (after every record accepted before it); its author's latest
    /// is now it.
    fn accept(&mut self, record: &Record) -> Result<(), StoreError>;
    /// Adds or updates the member `key`.
    fn put_member(&mut self, key: &MemberPublic, member: &Member) -> Result<(), StoreError>;
    /// Marks the group dissolved.
    fn dissolve(&mut self) -> Result<(), StoreError>;
    /// Takes back the accepted records `ids` of `author`, whose latest is then `head`.
    fn retract(
        &mut self,
        ids: &[RecordId],
        author: &MemberPublic,
        head: Option<RecordId>,
    ) -> Result<(), StoreError>;
    /// Holds `record` until `waits_for` is accepted.
    fn hold(&mut self, record: &Record, waits_for: &RecordId) -> Result<(), StoreError>;
    /// The records held for `waited_for`, no longer held.
    fn release(&mut self, waited_for: &RecordId) -> Result<Vec<Record>, StoreError>;
}

/// Takes `record` (whose signature [`Record::decode`] or [`Record::sign`] checked) into
/// `descriptor`'s group in `store`: accepts it, holds it until what it names arrives, or refuses
/// it (the inner error). A refused record is not kept and must not be relayed.
pub fn apply<S: GroupStore>(
    descriptor: &GroupDescriptor,
    store: &mut S,
    record: Record,
) -> Result<Result<Outcome, GroupError>, StoreError> {
    if store.has(&record.id)? {
        return Ok(Ok(Outcome {
            duplicate: true,
            ..Outcome::default()
        }));
    }
    let mut outcome = Outcome::default();
    // What was accepted, and what its acceptance may release: a record's id, and for an `Add`
    // also what waits for that member's add.
    let mut due = Vec::new();
    match take(descriptor, store, record, &mut outcome, &mut due)? {
        Err(refused) => return Ok(Err(refused)),
        Ok(Some(previous)) => {
            outcome.waiting_for = Some(previous);
            return Ok(Ok(outcome));
        }
        Ok(None) => {}
    }
    // What waited for a record accepted now is taken in turn.
    let mut next = 0;
    while next < due.len() {
        let id = due[next];
        next += 1;
        for waiting in store.release(&id)? {
            // A record released here that breaks a rule is dropped, as if it had come now.
            take(descriptor, store, waiting, &mut outcome, &mut due)?.ok();
        }
    }
    Ok(Ok(outcome))
}

/// What a record from `member`, not yet added, waits for: the creator's `Add` of them. Records
/// are held under it as under a record id (a hash under its own label, so it names no record).
pub fn awaiting_add(member: &MemberPublic) -> RecordId {
    let mut h = Sha256::new();
    h.update(b"courier/v1/group-awaiting-add");
    h.update(member.0);
    RecordId(h.finalize().into())
}

/// Accepts `record` into `outcome` (and what it may release into `due`), or says which record
/// it must wait for, or why it is refused.
fn take<S: GroupStore>(
    descriptor: &GroupDescriptor,
    store: &mut S,
    record: Record,
    outcome: &mut Outcome,
    due: &mut Vec<RecordId>,
) -> Result<Result<Option<RecordId>, GroupError>, StoreError> {
    let body = &record.body;
    if body.group != descriptor.id() {
        return Ok(Err(GroupError::WrongGroup));
    }
    if store.dissolved()? {
        return Ok(Err(GroupError::Dissolved));
    }
    let author = body.author;
    let creator = author == descriptor.creator;
    let head = store.head(&author)?;
    let member = store.member(&author)?;
    // Nothing of theirs after how they ended, not even held: a leave is their last record, and
    // once their chain reaches a removal's cut every record after it is refused.
    match member.as_ref().and_then(|m| m.ended) {
        Some(Ended::Left(_)) => return Ok(Err(GroupError::AfterTheEnd("they left"))),
        Some(Ended::Removed { last, .. }) if head == last => {
            return Ok(Err(GroupError::AfterTheEnd("their removal")));
        }
        _ => {}
    }
    if let Some(previous) = body.previous {
        match store.accepted(&previous)? {
            None => return hold(store, &record, previous),
            Some((by, _)) if by != author => {
                return Ok(Err(GroupError::Malformed {
                    what: "record",
                    reason: "it names another author's record as its author's previous".into(),
                }));
            }
            Some(_) => {}
        }
    }
    if head != body.previous {
        return Ok(Err(GroupError::Fork));
    }
    // Membership: the creator's first record adds the creator; anyone else needs the creator's
    // `Add`, which may come after their first record (another path, another clock): it waits.
    if member.is_none() {
        match &body.kind {
            Kind::Add { member, .. } if creator && *member == author => {}
            _ if creator => {
                return Ok(Err(GroupError::Malformed {
                    what: "record",
                    reason: "the creator's first record must add the creator".into(),
                }));
            }
            _ => return hold(store, &record, awaiting_add(&author)),
        }
    }
    if let Err(refused) = kind_rules(store, &record, creator)? {
        return Ok(Err(refused));
    }
    // Only now, the record being good, does it change anything.
    match &record.body.kind {
        Kind::Add { member, name } => {
            store.put_member(
                member,
                &Member {
                    name: name.clone(),
                    added_by: record.id,
                    ended: None,
                },
            )?;
            due.push(awaiting_add(member));
        }
        Kind::Leave => {
            let mut member = store.member(&author)?.expect("a member");
            member.ended = Some(Ended::Left(record.id));
            store.put_member(&author, &member)?;
        }
        Kind::Remove { member: key, last } => {
            let mut member = store.member(key)?.expect("checked: a member");
            member.ended = Some(Ended::Removed {
                by: record.id,
                last: *last,
            });
            store.put_member(key, &member)?;
            outcome.retracted.extend(cut(store, *key, *last)?);
        }
        Kind::Dissolve => store.dissolve()?,
        // The store keeps the group's timer as it accepts the record.
        Kind::Post { .. } | Kind::Timer { .. } => {}
    }
    store.accept(&record)?;
    outcome.accepted.push(record.id);
    due.push(record.id);
    Ok(Ok(None))
}

/// What each kind of record asks of its author and its fields, beyond membership.
fn kind_rules<S: GroupStore>(
    store: &S,
    record: &Record,
    creator: bool,
) -> Result<Result<(), GroupError>, StoreError> {
    let author = record.body.author;
    Ok(match &record.body.kind {
        Kind::Add { .. } | Kind::Remove { .. } | Kind::Dissolve | Kind::Timer { .. }
            if !creator =>
        {
            Err(GroupError::NotTheCreator(match &record.body.kind {
                Kind::Add { .. } => "add members",
                Kind::Remove { .. } => "remove members",
                Kind::Timer { .. } => "set the group's timer",
                _ => "dissolve the group",
            }))
        }
        Kind::Add { member, .. } if store.member(member)?.is_some() => Err(GroupError::Malformed {
            what: "add record",
            reason: "that key was added before (a removed key never comes back)".into(),
        }),
        Kind::Leave if creator => Err(GroupError::Malformed {
            what: "leave record",
            reason: "the creator dissolves the group instead of leaving it".into(),
        }),
        Kind::Remove { member, .. } if *member == author || store.member(member)?.is_none() => {
            Err(GroupError::Malformed {
                what: "remove record",
                reason: "it removes the creator or someone never added".into(),
            })
        }
        Kind::Remove {
            member,
            last: Some(last),
        } if store.accepted(last)?.is_some_and(|(by, _)| by != *member) => {
            Err(GroupError::Malformed {
                what: "remove record",
                reason: "its cut names another member's record".into(),
            })
        }
        _ => Ok(()),
    })
}

/// Holds `record` until `previous` arrives; refused when too much is held already.
fn hold<S: GroupStore>(
    store: &mut S,
    record: &Record,
    previous: RecordId,
) -> Result<Result<Option<RecordId>, GroupError>, StoreError> {
    if store.held()? >= MAX_HELD {
        return Ok(Err(GroupError::Malformed {
            what: "record",
            reason: format!("{MAX_HELD} records already wait for the ones before them"),
        }));
    }
    store.hold(record, &previous)?;
    Ok(Ok(Some(previous)))
}

/// Takes back `member`'s accepted records after `last` (all of them for `None`): the removal's
/// cut, the same on every member whatever order records arrived in.
fn cut<S: GroupStore>(
    store: &mut S,
    member: MemberPublic,
    last: Option<RecordId>,
) -> Result<Vec<RecordId>, StoreError> {
    let mut after = Vec::new();
    let mut at = store.head(&member)?;
    while let Some(id) = at.filter(|id| Some(*id) != last) {
        let Some((_, previous)) = store.accepted(&id)? else {
            break;
        };
        after.push(id);
        at = previous;
    }
    if at != last {
        // The cut is not in what we hold of their chain: it is further on, still to come.
        return Ok(Vec::new());
    }
    after.reverse();
    store.retract(&after, &member, last)?;
    Ok(after)
}
