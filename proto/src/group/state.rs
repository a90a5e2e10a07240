//! One member's view of one group, in memory: the records it accepted (in order, to relay), who
//! is a member, and what it holds back. The rules are [`super::rules`]'; this is a
//! [`GroupStore`] that keeps everything in maps (tests, simulations, tools).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::GroupError;
use super::descriptor::{GroupDescriptor, GroupId, MemberPublic};
use super::record::{Kind, Record, RecordBody, RecordId};
use super::rules::{GroupStore, Member, Outcome, apply};
use crate::sync::session::StoreError;

/// One member's view of a group, in memory.
#[derive(Debug, Clone)]
pub struct GroupState {
    descriptor: GroupDescriptor,
    records: HashMap<RecordId, Record>,
    order: Vec<RecordId>,
    members: BTreeMap<MemberPublic, Member>,
    /// Each author's latest accepted record.
    heads: HashMap<MemberPublic, RecordId>,
    /// Held records, by the previous record each waits for.
    held: HashMap<RecordId, Vec<Record>>,
    held_ids: HashSet<RecordId>,
    dissolved: bool,
}

impl GroupState {
    /// A group as its descriptor makes it, before any record.
    pub fn new(descriptor: GroupDescriptor) -> Self {
        GroupState {
            descriptor,
            records: HashMap::new(),
            order: Vec::new(),
            members: BTreeMap::new(),
            heads: HashMap::new(),
            held: HashMap::new(),
            held_ids: HashSet::new(),
            dissolved: false,
        }
    }

    /// The group's id.
    pub fn id(&self) -> GroupId {
        self.descriptor.id()
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
        !self.dissolved && self.members.get(key).is_some_and(|m| m.ended.is_none())
    }

    /// Whether the creator dissolved the group.
    pub fn is_dissolved(&self) -> bool {
        self.dissolved
    }

    /// The records held back, and what each waits for.
    pub fn waiting_for(&self) -> impl Iterator<Item = &RecordId> {
        self.held.keys()
    }

    /// The body of `author`'s next record saying `kind` at `timestamp_ms`: it names their latest.
    pub fn next_body(&self, author: MemberPublic, timestamp_ms: u64, kind: Kind) -> RecordBody {
        RecordBody {
            group: self.id(),
            author,
            timestamp_ms,
            previous: self.heads.get(&author).copied(),
            kind,
        }
    }

    /// Takes `record` by the group's rules ([`apply`]).
    pub fn apply(&mut self, record: Record) -> Result<Outcome, GroupError> {
        let descriptor = self.descriptor.clone();
        apply(&descriptor, self, record).expect("memory does not fail")
    }
}

impl GroupStore for GroupState {
    fn has(&self, id: &RecordId) -> Result<bool, StoreError> {
        Ok(GroupState::has(self, id))
    }

    fn accepted(
        &self,
        id: &RecordId,
    ) -> Result<Option<(MemberPublic, Option<RecordId>)>, StoreError> {
        Ok(self
            .records
            .get(id)
            .map(|r| (r.body.author, r.body.previous)))
    }

    fn head(&self, author: &MemberPublic) -> Result<Option<RecordId>, StoreError> {
        Ok(self.heads.get(author).copied())
    }

    fn member(&self, key: &MemberPublic) -> Result<Option<Member>, StoreError> {
        Ok(self.members.get(key).cloned())
    }

    fn dissolved(&self) -> Result<bool, StoreError> {
        Ok(self.dissolved)
    }

    fn held(&self) -> Result<usize, StoreError> {
        Ok(self.held_ids.len())
    }

    fn accept(&mut self, record: &Record) -> Result<(), StoreError> {
        self.heads.insert(record.body.author, record.id);
        self.order.push(record.id);
        self.records.insert(record.id, record.clone());
        Ok(())
    }

    fn put_member(&mut self, key: &MemberPublic, member: &Member) -> Result<(), StoreError> {
        self.members.insert(*key, member.clone());
        Ok(())
    }

    fn dissolve(&mut self) -> Result<(), StoreError> {
        self.dissolved = true;
        Ok(())
    }

    fn retract(
        &mut self,
        ids: &[RecordId],
        author: &MemberPublic,
        head: Option<RecordId>,
    ) -> Result<(), StoreError> {
        for id in ids {
            self.records.remove(id);
        }
        self.order.retain(|id| !ids.contains(id));
        match head {
            Some(head) => self.heads.insert(*author, head),
            None => self.heads.remove(author),
        };
        Ok(())
    }

    fn hold(&mut self, record: &Record, waits_for: &RecordId) -> Result<(), StoreError> {
        self.held_ids.insert(record.id);
        self.held
            .entry(*waits_for)
            .or_default()
            .push(record.clone());
        Ok(())
    }

    fn release(&mut self, waited_for: &RecordId) -> Result<Vec<Record>, StoreError> {
        let released = self.held.remove(waited_for).unwrap_or_default();
        for record in &released {
            self.held_ids.remove(&record.id);
        }
        Ok(released)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::MemberKey;
    use crate::group::rules::{MAX_HELD, awaiting_add};

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
    fn a_non_member_s_post_waits_unseen_for_an_add_that_never_comes_and_forgeries_of_the_creator_are_refused()
     {
        let (alice, bob, mallory) = (
            MemberKey::generate(),
            MemberKey::generate(),
            MemberKey::generate(),
        );
        let mut at_alice = group(&alice, &[(&bob, "bob")]);
        let injected = signed(&at_alice, &mallory, text("x"));
        // A newcomer's first post may come before their add (another path): it waits for the
        // add, held, so not accepted, shown or relayed; mallory's add never comes.
        let outcome = at_alice.apply(injected.clone()).unwrap();
        assert_eq!(outcome.waiting_for, Some(awaiting_add(&mallory.public())));
        assert!(outcome.accepted.is_empty());
        assert!(at_alice.records().all(|r| r.id != injected.id));
        assert!(!at_alice.is_member(&mallory.public()));
        // Bob's add names no one but him: it does not release mallory's post.
        assert_ne!(awaiting_add(&mallory.public()), awaiting_add(&bob.public()));
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
            (Kind::Timer { secs: 3600 }, "set the group's timer"),
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
    fn a_newcomer_s_posts_that_arrive_before_their_add_wait_for_it_and_then_show_in_order() {
        let (alice, bob, carol) = (
            MemberKey::generate(),
            MemberKey::generate(),
            MemberKey::generate(),
        );
        let at_alice = group(&alice, &[(&bob, "bob")]);
        // Carol is added at alice's and posts twice; bob, who knows only carol, hears her posts
        // before alice's add of her.
        let mut at_carol = copy(&at_alice);
        let mut at_alice = at_alice;
        let add_carol = write(&mut at_alice, &alice, add(&carol, "carol"));
        at_carol.apply(add_carol.clone()).unwrap();
        let first = write(&mut at_carol, &carol, text("one"));
        let second = write(&mut at_carol, &carol, text("two"));
        let mut at_bob = GroupState::new(at_alice.descriptor().clone());
        for record in at_alice.records().filter(|r| r.id != add_carol.id) {
            at_bob.apply(record.clone()).unwrap();
        }
        let waits = at_bob.apply(first.clone()).unwrap();
        assert_eq!(waits.waiting_for, Some(awaiting_add(&carol.public())));
        let waits = at_bob.apply(second.clone()).unwrap();
        assert_eq!(waits.waiting_for, Some(first.id));
        let released = at_bob.apply(add_carol.clone()).unwrap();
        assert_eq!(released.accepted, [add_carol.id, first.id, second.id]);
        assert_eq!(at_bob.waiting_for().count(), 0);
        assert_eq!(at_bob.records().count(), at_carol.records().count());
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
        // And what dave writes after that names a record bob took back: refused, not held.
        let mut at_dave_later = at_dave.clone();
        let later = write(&mut at_dave_later, &dave, text("later still"));
        assert_eq!(
            at_bob.apply(later),
            Err(GroupError::AfterTheEnd("their removal"))
        );
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

    #[test]
    fn the_creator_cannot_leave_and_what_waits_is_bounded() {
        let (alice, bob) = (MemberKey::generate(), MemberKey::generate());
        let mut at_alice = group(&alice, &[(&bob, "bob")]);
        let leave = signed(&at_alice, &alice, Kind::Leave);
        assert!(matches!(
            at_alice.apply(leave),
            Err(GroupError::Malformed { .. })
        ));
        // Records whose previous never comes: held up to MAX_HELD, then refused.
        let waiting = |i: u32| {
            let mut body = at_alice.next_body(bob.public(), T, text("x"));
            let mut previous = [0; 32];
            previous[..4].copy_from_slice(&i.to_be_bytes());
            body.previous = Some(RecordId(previous));
            Record::sign(&bob, body).unwrap()
        };
        let records: Vec<Record> = (0..=MAX_HELD as u32).map(waiting).collect();
        let (last, first) = records.split_last().unwrap();
        for record in first {
            assert!(
                at_alice
                    .apply(record.clone())
                    .unwrap()
                    .waiting_for
                    .is_some()
            );
        }
        assert!(matches!(
            at_alice.apply(last.clone()),
            Err(GroupError::Malformed { .. })
        ));
        assert!(!at_alice.has(&last.id));
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
