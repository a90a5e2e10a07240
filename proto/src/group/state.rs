//! One member's view of one group: which records it accepted (in order, to relay), who is a
//! member, and what it holds back waiting for a record it names.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::GroupError;
use super::descriptor::{GroupDescriptor, GroupId, MemberPublic};
use super::record::{Kind, Record, RecordBody, RecordId};

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

/// One member's view of a group.
#[derive(Debug, Clone)]
pub struct GroupState {
    descriptor: GroupDescriptor,
    id: GroupId,
    records: HashMap<RecordId, Record>,
    order: Vec<RecordId>,
    members: BTreeMap<MemberPublic, Member>,
    /// Each author's latest accepted record.
    heads: HashMap<MemberPublic, RecordId>,
    /// Held records, by the previous record each waits for.
    held: HashMap<RecordId, Vec<Record>>,
    held_ids: HashSet<RecordId>,
    dissolved: Option<RecordId>,
}

impl GroupState {
    /// A group as its descriptor makes it, before any record.
    pub fn new(descriptor: GroupDescriptor) -> Self {
        GroupState {
            id: descriptor.id(),
            descriptor,
            records: HashMap::new(),
            order: Vec::new(),
            members: BTreeMap::new(),
            heads: HashMap::new(),
            held: HashMap::new(),
            held_ids: HashSet::new(),
            dissolved: None,
        }
    }

    /// The group's id.
    pub fn id(&self) -> GroupId {
        self.id
    }

    /// The group's descriptor.
    pub fn descriptor(&self) -> &GroupDescriptor {
        &self.descriptor
    }

    /// Every accepted record, in the order this member accepted them (the order to relay them
    /// in: each after the records it names).
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.order.iter().map(|id| &self.records[id])
    }

    /// The accepted record `id`.
    pub fn record(&self, id: &RecordId) -> Option<&Record> {
        self.records.get(id)
    }

    /// Whether `id` is here, accepted or held.
    pub fn has(&self, id: &RecordId) -> bool {
        self.records.contains_key(id) || self.held_ids.contains(id)
    }

    /// Everyone ever added, with how their membership ended.
    pub fn members(&self) -> &BTreeMap<MemberPublic, Member> {
        &self.members
    }

    /// Whether `key` is a member now: added, not gone, the group not dissolved. Only members
    /// are offered new records.
    pub fn is_member(&self, key: &MemberPublic) -> bool {
        self.dissolved.is_none() && self.members.get(key).is_some_and(|m| m.ended.is_none())
    }

    /// Whether the creator dissolved the group.
    pub fn is_dissolved(&self) -> bool {
        self.dissolved.is_some()
    }

    /// The records held back, and what each waits for.
    pub fn waiting_for(&self) -> impl Iterator<Item = &RecordId> {
        self.held.keys()
    }

    /// The body of `author`'s next record saying `kind` at `timestamp_ms`: it names their latest.
    pub fn next_body(&self, author: MemberPublic, timestamp_ms: u64, kind: Kind) -> RecordBody {
        RecordBody {
            group: self.id,
            author,
            timestamp_ms,
            previous: self.heads.get(&author).copied(),
            kind,
        }
    }

    /// Takes `record` (whose signature [`Record::decode`] or [`Record::sign`] checked): accepts
    /// it, holds it until what it names arrives, or refuses it. A refused record is not kept and
    /// must not be relayed.
    pub fn apply(&mut self, record: Record) -> Result<Outcome, GroupError> {
        if self.has(&record.id) {
            return Ok(Outcome {
                duplicate: true,
                ..Outcome::default()
            });
        }
        let mut outcome = Outcome::default();
        if let Some(previous) = self.take(record, &mut outcome)? {
            outcome.waiting_for = Some(previous);
            return Ok(outcome);
        }
        // What waited for a record accepted now is taken in turn.
        let mut next = 0;
        while next < outcome.accepted.len() {
            let id = outcome.accepted[next];
            next += 1;
            for waiting in self.held.remove(&id).unwrap_or_default() {
                self.held_ids.remove(&waiting.id);
                // A record released here that breaks a rule is dropped, as if it had come now.
                let _ = self.take(waiting, &mut outcome);
            }
        }
        Ok(outcome)
    }

    /// Accepts `record` into `outcome`, or returns the previous record it must wait for.
    fn take(
        &mut self,
        record: Record,
        outcome: &mut Outcome,
    ) -> Result<Option<RecordId>, GroupError> {
        let body = &record.body;
        if body.group != self.id {
            return Err(GroupError::WrongGroup);
        }
        if self.dissolved.is_some() {
            return Err(GroupError::Dissolved);
        }
        let author = body.author;
        let creator = author == self.descriptor.creator;
        if let Some(previous) = body.previous {
            match self.records.get(&previous) {
                None => return self.hold(record, previous).map(Some),
                Some(p) if p.body.author != author => {
                    return Err(GroupError::Malformed {
                        what: "record",
                        reason: "it names another author's record as its author's previous".into(),
                    });
                }
                Some(_) => {}
            }
        }
        if self.heads.get(&author) != body.previous.as_ref() {
            return Err(GroupError::Fork);
        }
        // Membership: the creator's first record adds the creator; anyone else needs the
        // creator's `Add`, and nothing of theirs after how they ended.
        match self.members.get(&author) {
            None if creator => match &body.kind {
                Kind::Add { member, .. } if *member == author => {}
                _ => {
                    return Err(GroupError::Malformed {
                        what: "record",
                        reason: "the creator's first record must add the creator".into(),
                    });
                }
            },
            None => return Err(GroupError::NotAMember),
            Some(m) => match m.ended {
                Some(Ended::Left(_)) => return Err(GroupError::AfterTheEnd("they left")),
                Some(Ended::Removed { last, .. }) if self.heads.get(&author) == last.as_ref() => {
                    return Err(GroupError::AfterTheEnd("their removal"));
                }
                _ => {}
            },
        }
        match &body.kind {
            Kind::Add { member, name } => {
                if !creator {
                    return Err(GroupError::NotTheCreator("add members"));
                }
                if self.members.contains_key(member) {
                    return Err(GroupError::Malformed {
                        what: "add record",
                        reason: "that key was added before (a removed key never comes back)".into(),
                    });
                }
                self.members.insert(
                    *member,
                    Member {
                        name: name.clone(),
                        added_by: record.id,
                        ended: None,
                    },
                );
            }
            Kind::Post { .. } => {}
            Kind::Leave => {
                if creator {
                    return Err(GroupError::Malformed {
                        what: "leave record",
                        reason: "the creator dissolves the group instead of leaving it".into(),
                    });
                }
                self.members.get_mut(&author).expect("a member").ended =
                    Some(Ended::Left(record.id));
            }
            Kind::Remove { member, last } => {
                if !creator {
                    return Err(GroupError::NotTheCreator("remove members"));
                }
                if *member == author || !self.members.contains_key(member) {
                    return Err(GroupError::Malformed {
                        what: "remove record",
                        reason: "it removes the creator or someone never added".into(),
                    });
                }
                if let Some(last) = last
                    && self
                        .records
                        .get(last)
                        .is_some_and(|r| r.body.author != *member)
                {
                    return Err(GroupError::Malformed {
                        what: "remove record",
                        reason: "its cut names another member's record".into(),
                    });
                }
                self.members.get_mut(member).expect("a member").ended = Some(Ended::Removed {
                    by: record.id,
                    last: *last,
                });
                outcome.retracted.extend(self.cut(*member, *last));
            }
            Kind::Dissolve => {
                if !creator {
                    return Err(GroupError::NotTheCreator("dissolve the group"));
                }
                self.dissolved = Some(record.id);
            }
        }
        self.heads.insert(author, record.id);
        self.order.push(record.id);
        outcome.accepted.push(record.id);
        self.records.insert(record.id, record);
        Ok(None)
    }

    /// Holds `record` until `previous` arrives; refused when too much is held already.
    fn hold(&mut self, record: Record, previous: RecordId) -> Result<RecordId, GroupError> {
        if self.held_ids.len() >= MAX_HELD {
            return Err(GroupError::Malformed {
                what: "record",
                reason: format!("{MAX_HELD} records already wait for the ones before them"),
            });
        }
        self.held_ids.insert(record.id);
        self.held.entry(previous).or_default().push(record);
        Ok(previous)
    }

    /// Takes back `member`'s accepted records after `last` (all of them for `None`): the
    /// removal's cut, the same on every member whatever order records arrived in.
    fn cut(&mut self, member: MemberPublic, last: Option<RecordId>) -> Vec<RecordId> {
        let mut after = Vec::new();
        let mut at = self.heads.get(&member).copied();
        while at.is_some() && at != last {
            let id = at.expect("checked");
            let Some(record) = self.records.get(&id) else {
                break;
            };
            after.push(id);
            at = record.body.previous;
        }
        if at != last {
            // The cut is not in what we hold of their chain: it is further on, still to come.
            return Vec::new();
        }
        for id in &after {
            self.records.remove(id);
        }
        self.order.retain(|id| !after.contains(id));
        match last {
            Some(last) => self.heads.insert(member, last),
            None => self.heads.remove(&member),
        };
        after.reverse();
        after
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::MemberKey;

    const T: u64 = 1_700_000_000_000;

    fn text(s: &str) -> Kind {
        Kind::Post {
            parent: None,
            content_type: "courier/text".into(),
            type_version: 1,
            fallback: String::new(),
            body: s.as_bytes().to_vec(),
        }
    }

    /// `kind` signed as `key`'s next record in `state`, not taken there.
    fn signed(state: &GroupState, key: &MemberKey, kind: Kind) -> Record {
        Record::sign(key, state.next_body(key.public(), T, kind)).unwrap()
    }

    /// The creator's record adding `key` under `name`.
    fn add(key: &MemberKey, name: &str) -> Kind {
        Kind::Add {
            member: key.public(),
            name: name.into(),
        }
    }

    /// Writes `kind` as `key`'s next record in `state` and takes it there.
    fn write(state: &mut GroupState, key: &MemberKey, kind: Kind) -> Record {
        let record = signed(state, key, kind);
        let outcome = state.apply(record.clone()).unwrap();
        assert_eq!(outcome.accepted, [record.id], "{outcome:?}");
        record
    }

    /// A group made by `creator`, with `members` added, as the creator sees it.
    fn group(creator: &MemberKey, members: &[(&MemberKey, &str)]) -> GroupState {
        let mut state = GroupState::new(GroupDescriptor::new(creator, "Newsroom").unwrap());
        write(&mut state, creator, add(creator, "alice"));
        for (key, name) in members {
            write(
                &mut state,
                creator,
                Kind::Add {
                    member: key.public(),
                    name: (*name).into(),
                },
            );
        }
        state
    }

    /// A second member's view, fed `state`'s records in order.
    fn copy(state: &GroupState) -> GroupState {
        let mut other = GroupState::new(state.descriptor().clone());
        for record in state.records() {
            other.apply(record.clone()).unwrap();
        }
        other
    }

    #[test]
    fn a_post_by_a_member_is_accepted_once_and_a_replay_changes_nothing() {
        let (alice, bob) = (MemberKey::generate(), MemberKey::generate());
        let mut at_alice = group(&alice, &[(&bob, "bob")]);
        let mut at_bob = copy(&at_alice);
        let post = write(&mut at_bob, &bob, text("hello"));
        let outcome = at_alice.apply(post.clone()).unwrap();
        assert_eq!(outcome.accepted, [post.id]);
        let again = at_alice.apply(post.clone()).unwrap();
        assert!(again.duplicate && again.accepted.is_empty(), "a replay");
        assert_eq!(at_alice.records().filter(|r| r.id == post.id).count(), 1);
        assert_eq!(at_alice.members()[&bob.public()].name, "bob");
    }

    #[test]
    fn a_non_member_s_post_and_a_member_s_forgery_of_the_creator_are_refused() {
        let (alice, bob, mallory) = (
            MemberKey::generate(),
            MemberKey::generate(),
            MemberKey::generate(),
        );
        let mut at_alice = group(&alice, &[(&bob, "bob")]);
        let injected = signed(&at_alice, &mallory, text("x"));
        assert_eq!(
            at_alice.apply(injected.clone()),
            Err(GroupError::NotAMember)
        );
        assert!(!at_alice.has(&injected.id), "not kept, so never relayed");
        // Bob adds mallory: only the creator adds.
        let add = signed(&at_alice, &bob, add(&mallory, "m"));
        assert_eq!(
            at_alice.apply(add),
            Err(GroupError::NotTheCreator("add members"))
        );
        for (kind, what) in [
            (
                Kind::Remove {
                    member: alice.public(),
                    last: None,
                },
                "remove members",
            ),
            (Kind::Dissolve, "dissolve the group"),
        ] {
            let record = signed(&at_alice, &bob, kind);
            assert_eq!(at_alice.apply(record), Err(GroupError::NotTheCreator(what)));
        }
        // Another group's record.
        let elsewhere = group(&MemberKey::generate(), &[]);
        let foreign = elsewhere.records().next().unwrap().clone();
        assert_eq!(at_alice.apply(foreign), Err(GroupError::WrongGroup));
    }

    #[test]
    fn a_post_whose_previous_is_missing_waits_for_it_and_a_fork_is_refused() {
        let (alice, bob) = (MemberKey::generate(), MemberKey::generate());
        let mut at_alice = group(&alice, &[(&bob, "bob")]);
        let mut at_bob = copy(&at_alice);
        let first = write(&mut at_bob, &bob, text("one"));
        let second = write(&mut at_bob, &bob, text("two"));
        let third = write(&mut at_bob, &bob, text("three"));
        let held = at_alice.apply(third.clone()).unwrap();
        assert_eq!(held.waiting_for, Some(second.id), "the gap is noticed");
        assert!(held.accepted.is_empty());
        assert_eq!(at_alice.waiting_for().collect::<Vec<_>>(), [&second.id]);
        assert!(at_alice.apply(third.clone()).unwrap().duplicate);
        assert_eq!(
            at_alice.apply(second.clone()).unwrap().waiting_for,
            Some(first.id)
        );
        let released = at_alice.apply(first.clone()).unwrap();
        assert_eq!(
            released.accepted,
            [first.id, second.id, third.id],
            "in order"
        );
        assert_eq!(at_alice.waiting_for().count(), 0);
        // Bob signs another record after his first: a fork.
        let mut fork = at_bob.next_body(bob.public(), T + 1, text("two, again"));
        fork.previous = Some(first.id);
        let fork = Record::sign(&bob, fork).unwrap();
        assert_eq!(at_alice.apply(fork), Err(GroupError::Fork));
    }

    #[test]
    fn after_a_removal_the_removed_member_s_later_posts_are_refused_everywhere_whatever_the_order()
    {
        let (alice, bob, dave) = (
            MemberKey::generate(),
            MemberKey::generate(),
            MemberKey::generate(),
        );
        let mut at_alice = group(&alice, &[(&bob, "bob"), (&dave, "dave")]);
        let mut at_dave = copy(&at_alice);
        let mut at_bob = copy(&at_alice);
        let before = write(&mut at_dave, &dave, text("before"));
        at_alice.apply(before.clone()).unwrap();
        let removal = write(
            &mut at_alice,
            &alice,
            Kind::Remove {
                member: dave.public(),
                last: Some(before.id),
            },
        );
        assert!(!at_alice.is_member(&dave.public()), "offered nothing new");
        // Dave had not heard: he writes on.
        let after = write(&mut at_dave, &dave, text("after"));
        assert_eq!(
            at_alice.apply(after.clone()),
            Err(GroupError::AfterTheEnd("their removal"))
        );
        // Bob gets dave's later post first, then the removal: it is taken back.
        at_bob.apply(before.clone()).unwrap();
        assert_eq!(at_bob.apply(after.clone()).unwrap().accepted, [after.id]);
        let outcome = at_bob.apply(removal.clone()).unwrap();
        assert_eq!(outcome.retracted, [after.id]);
        assert!(at_bob.record(&after.id).is_none());
        assert!(
            at_bob.record(&before.id).is_some(),
            "what came before stays"
        );
        // Carol gets the removal before dave's first post: that one still stands.
        let mut at_carol = GroupState::new(at_alice.descriptor().clone());
        for record in at_alice.records().filter(|r| r.id != before.id) {
            at_carol.apply(record.clone()).unwrap();
        }
        assert_eq!(
            at_carol.apply(before.clone()).unwrap().accepted,
            [before.id]
        );
        assert!(at_carol.apply(after).is_err());
        let ids = |s: &GroupState| s.records().map(|r| r.id).collect::<HashSet<_>>();
        assert_eq!(ids(&at_alice), ids(&at_bob));
        assert_eq!(ids(&at_alice), ids(&at_carol));
    }

    #[test]
    fn a_member_who_left_writes_nothing_more_and_a_dissolved_group_takes_nothing() {
        let (alice, bob) = (MemberKey::generate(), MemberKey::generate());
        let mut at_alice = group(&alice, &[(&bob, "bob")]);
        let mut at_bob = copy(&at_alice);
        let leave = write(&mut at_bob, &bob, Kind::Leave);
        at_alice.apply(leave).unwrap();
        assert!(!at_alice.is_member(&bob.public()));
        let late = signed(&at_bob, &bob, text("one more"));
        assert_eq!(
            at_alice.apply(late),
            Err(GroupError::AfterTheEnd("they left"))
        );
        write(&mut at_alice, &alice, Kind::Dissolve);
        assert!(at_alice.is_dissolved() && !at_alice.is_member(&alice.public()));
        let post = signed(&at_alice, &alice, text("x"));
        assert_eq!(at_alice.apply(post), Err(GroupError::Dissolved));
    }

    #[test]
    fn membership_is_what_the_creator_s_records_say_and_nothing_else() {
        let (alice, bob, carol) = (
            MemberKey::generate(),
            MemberKey::generate(),
            MemberKey::generate(),
        );
        // The creator's first record must add the creator.
        let mut empty = GroupState::new(GroupDescriptor::new(&alice, "Newsroom").unwrap());
        let first = signed(&empty, &alice, add(&bob, "bob"));
        assert!(matches!(
            empty.apply(first),
            Err(GroupError::Malformed { .. })
        ));
        let mut at_alice = group(&alice, &[(&bob, "bob")]);
        assert!(at_alice.is_member(&alice.public()) && at_alice.is_member(&bob.public()));
        assert!(!at_alice.is_member(&carol.public()) && !at_alice.is_dissolved());
        // The creator cannot be removed, nor someone never added.
        for member in [alice.public(), carol.public()] {
            let removal = signed(&at_alice, &alice, Kind::Remove { member, last: None });
            assert!(matches!(
                at_alice.apply(removal),
                Err(GroupError::Malformed { .. })
            ));
        }
        // A removal's cut must be the removed member's own record.
        let alices = at_alice.records().next().unwrap().id;
        let removal = signed(
            &at_alice,
            &alice,
            Kind::Remove {
                member: bob.public(),
                last: Some(alices),
            },
        );
        assert!(matches!(
            at_alice.apply(removal),
            Err(GroupError::Malformed { .. })
        ));
        // Bob cannot chain his record to alice's.
        let mut borrowed = at_alice.next_body(bob.public(), T, text("x"));
        borrowed.previous = Some(alices);
        let borrowed = Record::sign(&bob, borrowed).unwrap();
        assert!(matches!(
            at_alice.apply(borrowed),
            Err(GroupError::Malformed { .. })
        ));
        // Adding a key twice is refused (a removed key never comes back).
        let again = signed(&at_alice, &alice, add(&bob, "bob"));
        assert!(matches!(
            at_alice.apply(again),
            Err(GroupError::Malformed { .. })
        ));
    }

    /// Fifty members on a chain of contacts (member i talks only to i−1 and i+1), syncing by offer
    /// and request: one post reaches every member exactly once, and what crosses each link is
    /// counted.
    #[test]
    fn fifty_members_on_a_chain_of_contacts_each_get_one_post_exactly_once() {
        const N: usize = 50;
        let keys: Vec<MemberKey> = (0..N).map(|_| MemberKey::generate()).collect();
        let names: Vec<String> = (0..N).map(|i| format!("member {i}")).collect();
        let others: Vec<(&MemberKey, &str)> = keys[1..]
            .iter()
            .zip(&names[1..])
            .map(|(k, n)| (k, n.as_str()))
            .collect();
        // The creator, member 0, added everyone; each member starts from what it was given.
        let creator_view = group(&keys[0], &others);
        let mut states: Vec<GroupState> = (0..N).map(|_| copy(&creator_view)).collect();
        let post = write(
            &mut states[N / 2],
            &keys[N / 2],
            text("meet at the square at nine"),
        );
        let mut accepted = vec![0usize; N];
        accepted[N / 2] = 1;
        let (mut bytes, mut sends) = (0usize, 0usize);
        // Rounds of offer/request over each link until nothing moves.
        loop {
            let mut moved = false;
            for i in 0..N {
                for j in [i.wrapping_sub(1), i + 1] {
                    if j >= N {
                        continue;
                    }
                    let wanted: Vec<Record> = states[i]
                        .records()
                        .filter(|r| !states[j].has(&r.id))
                        .cloned()
                        .collect();
                    for record in wanted {
                        bytes += record.bytes.len();
                        sends += 1;
                        let decoded = Record::decode(&record.bytes).unwrap();
                        let outcome = states[j].apply(decoded).unwrap();
                        accepted[j] += outcome.accepted.iter().filter(|id| **id == post.id).count();
                        moved = true;
                    }
                }
            }
            if !moved {
                break;
            }
        }
        assert_eq!(accepted, vec![1; N], "every member took the post once");
        assert_eq!(
            sends,
            N - 1,
            "one send per member who lacked it: no copy twice"
        );
        assert_eq!(bytes, (N - 1) * post.bytes.len());
        for state in &states {
            assert_eq!(state.record(&post.id), Some(&post));
        }
    }
}
