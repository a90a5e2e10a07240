//! Groups between contacts: what a contact's message about a group does here, and what members
//! are sent. A group record travels to a member as a 1:1 message of [`RECORD_TYPE`] whose body is
//! the record's bytes, so it is queued, sent, acked and retransmitted like any message, over every
//! transport, duplex or simplex, and the same record queued twice for one contact is one message.
//! Accepted records are relayed unchanged to every contact we sync the group with who is still a
//! member, except the one they came from; refused ones go nowhere.

use courier_proto::group::descriptor::check_name;
use courier_proto::group::invitation::{ANSWER_TYPE, GroupNote, INVITE_TYPE, PRESENCE_TYPE};
use courier_proto::group::record::{GROUP_CHUNK_TYPE, RECORD_TYPE};
use courier_proto::group::{
    GroupDescriptor, GroupError, GroupId, Kind, MemberKey, MemberPublic, Outcome, Record,
    RecordBody, RecordId, presence_tag,
};
use courier_proto::sync::record::Message;
use rusqlite::{OptionalExtension, params};

use super::database::Database;
use super::group_expiry::Arrival;
use super::groups::Standing;
use crate::{ContactId, Durability, StorageError};

/// Whether `content_type` is a group invitation (kept as a conversation message too).
pub(crate) fn is_invitation(content_type: &str) -> bool {
    content_type == INVITE_TYPE
}

/// What a contact's message about a group did here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupNews {
    /// They invited us (kept until we answer).
    Invited(GroupId),
    /// They joined our group: their `Add` is written and relayed.
    Joined(GroupId),
    /// They declined our invitation.
    Declined(GroupId),
    /// They are a member too: we sync the group with them now.
    Paired(GroupId),
    /// Records taken (some may be held, or duplicates).
    Records(GroupId, Outcome),
    /// Refused: nothing kept, nothing relayed.
    Refused(GroupError),
    /// A chunk of a post's attachment, kept (and relayed if its post is here).
    Chunk,
    /// Nothing to do (a group we do not know or left, an answer we did not ask for).
    Ignored,
}

/// Whether `content_type` is group traffic that is no conversation message: a record, an answer
/// or a presence tag (an invitation is one, and shows in the conversation).
pub(crate) fn is_group_traffic(content_type: &str) -> bool {
    matches!(
        content_type,
        RECORD_TYPE | ANSWER_TYPE | PRESENCE_TYPE | GROUP_CHUNK_TYPE
    )
}

impl Database {
    /// Runs `f` in a transaction of its own, or in the caller's if one is open (a sync session
    /// stores a batch of arrivals in one).
    pub(crate) fn atomically<T>(
        &mut self,
        f: impl FnOnce(&mut Database) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        if self.conn.is_autocommit() {
            self.batch(Durability::Full, f)
        } else {
            f(self)
        }
    }

    /// Queues `record` to `contact`, after the chunks it names that are kept here.
    fn send_record(&mut self, contact: ContactId, record: &Record) -> Result<(), StorageError> {
        for chunk in self.post_chunks(record)? {
            self.queue(contact, &chunk)?;
        }
        self.queue(contact, &record.to_message())?;
        self.relayed = true;
        Ok(())
    }

    /// The contacts we sync `group` with who are members now, but `except`.
    pub(crate) fn current_peers(
        &self,
        group: &GroupId,
        except: Option<ContactId>,
    ) -> Result<Vec<ContactId>, StorageError> {
        let members = self.group_members(group)?;
        Ok(self
            .group_peers(group)?
            .into_iter()
            .filter(|(c, key)| {
                Some(*c) != except && members.iter().any(|(k, m)| k == key && m.ended.is_none())
            })
            .map(|(c, _)| c)
            .collect())
    }

    /// Queues the accepted records `ids` of group `group` to every contact we sync it with who
    /// is a member now, except `except`.
    fn relay(
        &mut self,
        group: &GroupId,
        records: &[Record],
        except: Option<ContactId>,
    ) -> Result<(), StorageError> {
        let members = self.group_members(group)?;
        let current =
            |key: &MemberPublic| members.iter().any(|(k, m)| k == key && m.ended.is_none());
        // A removed member is told of their removal, and of nothing after it.
        let tells = |record: &Record, key: &MemberPublic| {
            current(key)
                || matches!(record.body.kind, Kind::Remove { member, .. } if member == *key)
        };
        for (contact, key) in self.group_peers(group)? {
            if Some(contact) == except {
                continue;
            }
            for record in records.iter().filter(|r| tells(r, &key)) {
                self.send_record(contact, record)?;
            }
        }
        Ok(())
    }

    /// Every accepted record of `group`, to `contact` (who dedupes what they have).
    fn send_history(&mut self, group: &GroupId, contact: ContactId) -> Result<(), StorageError> {
        let mut after = 0;
        loop {
            let page = self.group_records(group, after, 256)?;
            let Some((last, _)) = page.last() else {
                return Ok(());
            };
            after = *last;
            for (_, record) in page {
                self.send_record(contact, &record)?;
            }
        }
    }

    /// Takes `record`, written by us, into its group and sends it to the members we sync with.
    pub fn publish_group_record(
        &mut self,
        record: Record,
    ) -> Result<Result<Outcome, GroupError>, StorageError> {
        let group = record.body.group;
        self.atomically(|db| {
            let arrival = Arrival::at(record.body.timestamp_ms);
            let outcome = match db.take_group_record(record.clone(), arrival)? {
                Ok(outcome) => outcome,
                Err(refused) => return Ok(Err(refused)),
            };
            db.relay(&group, &[record], None)?;
            Ok(Ok(outcome))
        })
    }

    /// What `message` from `contact` does if it is about a group; `None` if it is not.
    pub fn take_group_message(
        &mut self,
        contact: ContactId,
        message: &Message,
        arrival: Arrival,
    ) -> Result<Option<GroupNews>, StorageError> {
        let now_ms = arrival.now_ms;
        if message.content_type == RECORD_TYPE {
            return self.take_record(contact, message, arrival).map(Some);
        }
        if message.content_type == GROUP_CHUNK_TYPE {
            let kept = self.take_group_chunk(contact, message, now_ms)?;
            return Ok(Some(if kept {
                GroupNews::Chunk
            } else {
                GroupNews::Ignored
            }));
        }
        let note = match GroupNote::from_message(message) {
            Ok(Some(note)) => note,
            Ok(None) => return Ok(None),
            Err(refused) => return Ok(Some(GroupNews::Refused(refused))),
        };
        self.atomically(|db| {
            Ok(Some(match note {
                GroupNote::Invite { descriptor } => {
                    db.add_group(&descriptor, Standing::Invited, Some(contact), None, now_ms)?;
                    GroupNews::Invited(descriptor.id())
                }
                GroupNote::Answer { group, member } => {
                    db.answered(contact, group, member, now_ms)?
                }
                GroupNote::Presence { tag, member } => db.presence(contact, tag, member)?,
            }))
        })
    }

    fn take_record(
        &mut self,
        contact: ContactId,
        message: &Message,
        arrival: Arrival,
    ) -> Result<GroupNews, StorageError> {
        let record = match Record::decode(&message.body) {
            Ok(record) => record,
            Err(refused) => return Ok(GroupNews::Refused(refused)),
        };
        let group = record.body.group;
        // Only a member of a group we sync with this contact takes its records from them.
        let known = self.group(&group)?;
        let peer = self
            .group_peers(&group)?
            .into_iter()
            .any(|(c, _)| c == contact);
        if !known.is_some_and(|g| g.standing == Standing::Member) || !peer {
            return Ok(GroupNews::Ignored);
        }
        self.atomically(|db| {
            let outcome = match db.take_group_record(record, arrival)? {
                Ok(outcome) => outcome,
                Err(refused) => return Ok(GroupNews::Refused(refused)),
            };
            let accepted: Vec<Record> = outcome
                .accepted
                .iter()
                .filter_map(|id| db.group_record(id).transpose())
                .collect::<Result<_, _>>()?;
            db.relay(&group, &accepted, Some(contact))?;
            Ok(GroupNews::Records(group, outcome))
        })
    }

    /// The accepted record `id`.
    pub fn group_record(&self, id: &RecordId) -> Result<Option<Record>, StorageError> {
        let bytes: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT bytes FROM group_records WHERE id = ?1 AND held_for IS NULL",
                [id.0],
                |r| r.get(0),
            )
            .optional()?;
        bytes
            .map(|b| Record::decode(&b).map_err(|_| StorageError::Corrupt("a group record")))
            .transpose()
    }

    /// An answer from `contact` to our invitation into `group`: joined with `member`, or declined.
    fn answered(
        &mut self,
        contact: ContactId,
        group: GroupId,
        member: Option<(MemberPublic, String)>,
        now_ms: u64,
    ) -> Result<GroupNews, StorageError> {
        let invited: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM group_invited WHERE group_id = ?1 AND contact_id = ?2)",
            params![group.0, contact],
            |r| r.get(0),
        )?;
        let ours = self.group(&group)?.and_then(|g| {
            g.key
                .filter(|k| k.public() == g.descriptor.creator && g.standing == Standing::Member)
        });
        let (true, Some(key)) = (invited, ours) else {
            return Ok(GroupNews::Ignored);
        };
        self.conn.execute(
            "DELETE FROM group_invited WHERE group_id = ?1 AND contact_id = ?2",
            params![group.0, contact],
        )?;
        let Some((member, name)) = member else {
            return Ok(GroupNews::Declined(group));
        };
        let body =
            self.next_group_body(&group, key.public(), now_ms, Kind::Add { member, name })?;
        let add = Record::sign(&key, body).map_err(|_| StorageError::Corrupt("an add record"))?;
        if let Err(refused) = self.take_group_record(add.clone(), Arrival::at(now_ms))? {
            return Ok(GroupNews::Refused(refused));
        }
        self.add_group_peer(&group, contact, &member)?;
        self.send_history(&group, contact)?;
        self.relay(&group, &[add], Some(contact))?;
        Ok(GroupNews::Joined(group))
    }

    /// `contact` says it is a member of the group `tag` names for our pair, as `member`.
    fn presence(
        &mut self,
        contact: ContactId,
        tag: [u8; 32],
        member: MemberPublic,
    ) -> Result<GroupNews, StorageError> {
        let ours = self
            .identity()?
            .ok_or(StorageError::NoIdentity)?
            .handshake_public();
        let theirs = self
            .contacts()?
            .into_iter()
            .find(|c| c.id == contact)
            .map(|c| c.public)
            .ok_or_else(|| StorageError::UnknownContact("the sender".into()))?;
        for group in self.groups()? {
            let id = group.descriptor.id();
            if group.standing != Standing::Member || presence_tag(&id, &ours, &theirs) != tag {
                continue;
            }
            let current = self
                .group_members(&id)?
                .into_iter()
                .any(|(k, m)| k == member && m.ended.is_none());
            if !current {
                return Ok(GroupNews::Ignored);
            }
            self.add_group_peer(&id, contact, &member)?;
            self.send_history(&id, contact)?;
            return Ok(GroupNews::Paired(id));
        }
        Ok(GroupNews::Ignored)
    }
}

impl Database {
    /// Makes a group called `name` with us its creator, shown to members as `our_name`.
    pub fn create_group(
        &mut self,
        name: &str,
        our_name: &str,
        now_ms: u64,
    ) -> Result<Result<GroupId, GroupError>, StorageError> {
        let key = MemberKey::generate();
        let descriptor = match GroupDescriptor::new(&key, name) {
            Ok(descriptor) => descriptor,
            Err(refused) => return Ok(Err(refused)),
        };
        let id = descriptor.id();
        // Signed before anything is kept: a name the rules refuse leaves no group behind.
        let body = RecordBody {
            group: id,
            author: key.public(),
            timestamp_ms: now_ms,
            previous: None,
            kind: Kind::Add {
                member: key.public(),
                name: our_name.to_owned(),
            },
        };
        let first = match Record::sign(&key, body) {
            Ok(record) => record,
            Err(refused) => return Ok(Err(refused)),
        };
        self.atomically(|db| {
            db.add_group(&descriptor, Standing::Member, None, Some(&key), now_ms)?;
            Ok(db
                .take_group_record(first, Arrival::at(now_ms))?
                .map(|_| id))
        })
    }

    /// Invites `contact` into our group `group` (ours to invite into: we made it).
    pub fn invite_to_group(
        &mut self,
        group: &GroupId,
        contact: ContactId,
        now_ms: u64,
    ) -> Result<bool, StorageError> {
        let Some(g) = self.group(group)? else {
            return Err(StorageError::UnknownGroup);
        };
        let creator = g
            .key
            .as_ref()
            .is_some_and(|k| k.public() == g.descriptor.creator);
        if !creator || g.standing != Standing::Member || g.dissolved {
            return Ok(false);
        }
        self.atomically(|db| {
            db.conn.execute(
                "INSERT OR IGNORE INTO group_invited (group_id, contact_id) VALUES (?1, ?2)",
                params![group.0, contact],
            )?;
            db.queue(
                contact,
                &GroupNote::Invite {
                    descriptor: g.descriptor.clone(),
                }
                .to_message(now_ms),
            )?;
            Ok(true)
        })
    }

    /// Tells every contact but `inviter` the presence tag of `group` for our pair: one who is a
    /// member too recognises it and pairs with us; to anyone else it is 32 random-looking bytes.
    fn tell_presence(
        &mut self,
        group: &GroupId,
        us: &MemberPublic,
        inviter: ContactId,
        now_ms: u64,
    ) -> Result<(), StorageError> {
        let ours = self
            .identity()?
            .ok_or(StorageError::NoIdentity)?
            .handshake_public();
        for contact in self.contacts()? {
            if contact.id == inviter {
                continue;
            }
            let note = GroupNote::Presence {
                tag: presence_tag(group, &ours, &contact.public),
                member: *us,
            };
            self.queue(contact.id, &note.to_message(now_ms))?;
        }
        Ok(())
    }

    /// Answers the invitation into `group`: joins as `join_as` (with a key made for it), or
    /// declines. False if there is no invitation to answer (answered already, or the inviter is
    /// no longer a contact).
    pub fn answer_group(
        &mut self,
        group: &GroupId,
        join_as: Option<&str>,
        now_ms: u64,
    ) -> Result<Result<bool, GroupError>, StorageError> {
        let Some(g) = self.group(group)? else {
            return Err(StorageError::UnknownGroup);
        };
        let (Standing::Invited, Some(inviter)) = (g.standing, g.invited_by) else {
            return Ok(Ok(false));
        };
        self.atomically(|db| {
            let member = match join_as {
                Some(name) => {
                    if let Err(refused) = check_name("answer", name) {
                        return Ok(Err(refused));
                    }
                    let key = MemberKey::generate();
                    db.set_group_standing(group, Standing::Member, Some(&key))?;
                    // The inviter made the group: we sync it with them from now on.
                    db.add_group_peer(group, inviter, &g.descriptor.creator)?;
                    db.tell_presence(group, &key.public(), inviter, now_ms)?;
                    Some((key.public(), name.to_owned()))
                }
                None => {
                    db.set_group_standing(group, Standing::Declined, None)?;
                    None
                }
            };
            db.queue(
                inviter,
                &GroupNote::Answer {
                    group: *group,
                    member,
                }
                .to_message(now_ms),
            )?;
            Ok(Ok(true))
        })
    }
}

#[cfg(test)]
mod tests {
    use courier_proto::handshake::Agreement;
    use courier_proto::identity::Identity;
    use courier_proto::sync::record::MessageId;
    use courier_proto::sync::relation::{self, RelationKind};
    use courier_proto::sync::session::SyncStore;
    use courier_proto::sync::timer::Timer;
    use courier_proto::transport_security::transport_keys::{Role, SecretKey};

    use super::*;
    use crate::{ConversationStore, Passphrase, Payload};
    use courier_proto::group::awaiting_add;
    use courier_proto::group::sealed::{
        Content as SealedContent, SEALED_FALLBACK, SEALED_TYPE, SEALED_VERSION, seal,
    };

    const T: u64 = 1_700_000_000_000;

    /// One person's database and identity.
    struct Person {
        db: Database,
        identity: Identity,
    }

    fn person(dir: &std::path::Path, name: &str) -> Person {
        let passphrase = Passphrase::new(format!("{name}'s passphrase")).unwrap();
        let mut db = Database::open(&dir.join(format!("{name}.db")), &passphrase).unwrap();
        let identity = Identity::generate(name);
        db.create_identity(&identity).unwrap();
        Person { db, identity }
    }

    /// Makes `a` and `b` contacts (as a handshake would); their ids for each other.
    fn befriend(a: &mut Person, b: &mut Person, root: u8) -> (ContactId, ContactId) {
        let side = |p: &mut Person, other: &Identity, role| {
            p.db.add_pending_contact(&other.link(), &other.name, T)
                .unwrap();
            let agreement = Agreement {
                root: SecretKey::from_bytes([root; 32]),
                role,
            };
            p.db.complete_handshake(&other.name, &agreement, T).unwrap()
        };
        let b_at_a = side(a, &b.identity, Role::Alice);
        let a_at_b = side(b, &a.identity, Role::Bob);
        (b_at_a, a_at_b)
    }

    /// What `from` queued for its contact `to_at_from`, now acked there.
    fn drain(from: &mut Person, to_at_from: ContactId) -> Vec<Message> {
        let mut outbox = ConversationStore::new(&mut from.db, to_at_from, 60_000, Timer::OFF);
        let due = outbox.due(T + 1_000_000, 10_000).unwrap();
        let messages = due
            .iter()
            .map(|id| outbox.outgoing(id).unwrap().unwrap())
            .collect();
        for id in &due {
            outbox.mark_acked(id).unwrap();
        }
        messages
    }

    /// Carries what `from` queued for `to` (its contact `to_at_from`; `from` is `from_at_to` at
    /// `to`) and lets `to` take it, acking it at `from`: what the messages did at `to`.
    fn carry(
        from: &mut Person,
        to_at_from: ContactId,
        to: &mut Person,
        from_at_to: ContactId,
    ) -> Vec<GroupNews> {
        carry_at(from, to_at_from, to, from_at_to, T)
    }

    /// [`carry`], arriving at `now_ms`.
    fn carry_at(
        from: &mut Person,
        to_at_from: ContactId,
        to: &mut Person,
        from_at_to: ContactId,
        now_ms: u64,
    ) -> Vec<GroupNews> {
        drain(from, to_at_from)
            .iter()
            .filter_map(|m| {
                to.db
                    .take_group_message(from_at_to, m, Arrival::at(now_ms))
                    .unwrap()
            })
            .collect()
    }

    fn posts(p: &Person, group: &GroupId) -> Vec<(MemberPublic, Vec<u8>)> {
        p.db.group_records(group, 0, 1000)
            .unwrap()
            .into_iter()
            .filter_map(|(_, r)| match r.body.kind {
                Kind::Post { body, .. } => Some((r.body.author, body)),
                _ => None,
            })
            .collect()
    }

    fn text(text: &str) -> Kind {
        Kind::Post {
            parent: None,
            content_type: "courier/text".into(),
            type_version: 1,
            fallback: String::new(),
            body: text.as_bytes().to_vec(),
        }
    }

    fn post(p: &mut Person, group: &GroupId, said: &str) -> Record {
        write(p, group, text(said), T)
    }

    /// `p`'s next record in `group`, saying `kind` at `at`, published.
    fn write(p: &mut Person, group: &GroupId, kind: Kind, at: u64) -> Record {
        let key = p.db.group(group).unwrap().unwrap().key.unwrap();
        let body = p.db.next_group_body(group, key.public(), at, kind).unwrap();
        let record = Record::sign(&key, body).unwrap();
        p.db.publish_group_record(record.clone()).unwrap().unwrap();
        record
    }

    /// Alice, bob and carol, where alice is the contact of both and they are not each other's;
    /// alice made a group and invited both, who joined and got the group so far.
    struct Newsroom {
        alice: Person,
        bob: Person,
        carol: Person,
        bob_at_a: ContactId,
        a_at_bob: ContactId,
        carol_at_a: ContactId,
        a_at_carol: ContactId,
        group: GroupId,
    }

    fn newsroom(dir: &std::path::Path) -> Newsroom {
        let (mut alice, mut bob, mut carol) = (
            person(dir, "alice"),
            person(dir, "bob"),
            person(dir, "carol"),
        );
        let (bob_at_a, a_at_bob) = befriend(&mut alice, &mut bob, 1);
        let (carol_at_a, a_at_carol) = befriend(&mut alice, &mut carol, 2);
        let group = alice
            .db
            .create_group("Newsroom", "alice", T)
            .unwrap()
            .unwrap();
        for (contact, person, alice_there) in [
            (bob_at_a, &mut bob, a_at_bob),
            (carol_at_a, &mut carol, a_at_carol),
        ] {
            assert!(alice.db.invite_to_group(&group, contact, T).unwrap());
            assert_eq!(
                carry(&mut alice, contact, person, alice_there),
                [GroupNews::Invited(group)]
            );
            let name = person.identity.name.clone();
            assert!(
                person
                    .db
                    .answer_group(&group, Some(&name), T)
                    .unwrap()
                    .unwrap()
            );
            assert_eq!(
                carry(person, alice_there, &mut alice, contact),
                [GroupNews::Joined(group)]
            );
            // Alice sends the newcomer the group so far.
            let news = carry(&mut alice, contact, person, alice_there);
            assert!(
                matches!(news.last(), Some(GroupNews::Records(..))),
                "{news:?}"
            );
        }
        Newsroom {
            alice,
            bob,
            carol,
            bob_at_a,
            a_at_bob,
            carol_at_a,
            a_at_carol,
            group,
        }
    }

    /// A [`newsroom`] where bob and carol each learned the other joined.
    fn settled(dir: &std::path::Path) -> Newsroom {
        let mut n = newsroom(dir);
        carry(&mut n.alice, n.carol_at_a, &mut n.carol, n.a_at_carol);
        carry(&mut n.alice, n.bob_at_a, &mut n.bob, n.a_at_bob);
        n
    }

    #[test]
    fn alice_invites_bob_and_carol_who_do_not_know_each_other_and_bob_s_post_reaches_carol_through_her()
     {
        let dir = tempfile::tempdir().unwrap();
        let Newsroom {
            mut alice,
            mut bob,
            mut carol,
            bob_at_a,
            a_at_bob,
            carol_at_a,
            a_at_carol,
            group,
        } = newsroom(dir.path());
        // Carol learns bob joined, and bob carol (relayed by alice); then bob posts and alice
        // relays it to carol.
        carry(&mut alice, carol_at_a, &mut carol, a_at_carol);
        let news = carry(&mut alice, bob_at_a, &mut bob, a_at_bob);
        assert!(
            matches!(&news[..], [GroupNews::Records(_, o)] if o.accepted.len() == 1),
            "{news:?}"
        );
        let said = post(&mut bob, &group, "hello from bob");
        carry(&mut bob, a_at_bob, &mut alice, bob_at_a);
        let news = carry(&mut alice, carol_at_a, &mut carol, a_at_carol);
        assert_eq!(news.len(), 1, "{news:?}");
        assert_eq!(
            posts(&carol, &group),
            [(said.body.author, b"hello from bob".to_vec())]
        );
        let members = carol.db.group_members(&group).unwrap();
        let names: Vec<&str> = members.iter().map(|(_, m)| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["alice", "bob", "carol"],
            "each with the name they chose"
        );
        // Carried again (a retransmission): taken once.
        let again = said.to_message();
        let news = carol
            .db
            .take_group_message(a_at_carol, &again, Arrival::at(T))
            .unwrap();
        assert!(matches!(news, Some(GroupNews::Records(_, o)) if o.duplicate));
        assert_eq!(posts(&carol, &group).len(), 1);
        // Nothing goes back to bob from alice for his own post.
        assert!(carry(&mut alice, bob_at_a, &mut bob, a_at_bob).is_empty());
    }

    #[test]
    fn what_a_sync_session_stores_goes_to_its_group_and_only_an_invitation_shows_in_the_conversation()
     {
        let dir = tempfile::tempdir().unwrap();
        let (mut alice, mut bob) = (person(dir.path(), "alice"), person(dir.path(), "bob"));
        let (bob_at_a, a_at_bob) = befriend(&mut alice, &mut bob, 4);
        let group = alice
            .db
            .create_group("Street medics", "alice", T)
            .unwrap()
            .unwrap();
        alice.db.invite_to_group(&group, bob_at_a, T).unwrap();
        // Carried by sessions: stored the way the node stores what arrives, in a batch.
        let deliver = |from: &mut Person, to_at_from, to: &mut Person, from_at_to| {
            let messages = drain(from, to_at_from);
            to.db
                .batch(Durability::Full, |db| {
                    let mut inbox = ConversationStore::new(db, from_at_to, 60_000, Timer::OFF);
                    for message in messages {
                        inbox.store_incoming(&message.id(), message).unwrap();
                    }
                    Ok::<_, StorageError>(())
                })
                .unwrap();
        };
        deliver(&mut alice, bob_at_a, &mut bob, a_at_bob);
        assert_eq!(
            bob.db.group(&group).unwrap().unwrap().standing,
            Standing::Invited
        );
        let shown = bob.db.received(a_at_bob).unwrap();
        assert_eq!(shown.len(), 1, "the invitation shows");
        assert!(shown[0].fallback.contains("Street medics"));
        bob.db
            .answer_group(&group, Some("bob"), T)
            .unwrap()
            .unwrap();
        deliver(&mut bob, a_at_bob, &mut alice, bob_at_a);
        assert_eq!(
            alice.db.group_members(&group).unwrap().len(),
            2,
            "bob's answer added him"
        );
        deliver(&mut alice, bob_at_a, &mut bob, a_at_bob);
        assert_eq!(bob.db.group_records(&group, 0, 10).unwrap().len(), 2);
        assert!(
            alice.db.received(bob_at_a).unwrap().is_empty(),
            "an answer is no message"
        );
        assert_eq!(
            bob.db.received(a_at_bob).unwrap().len(),
            1,
            "records are no messages"
        );
    }

    #[test]
    fn a_stranger_s_records_and_an_answer_nobody_asked_for_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (mut alice, mut mallory) = (person(dir.path(), "alice"), person(dir.path(), "mallory"));
        let (mallory_at_a, _) = befriend(&mut alice, &mut mallory, 3);
        let group = alice
            .db
            .create_group("Union branch", "alice", T)
            .unwrap()
            .unwrap();
        // Mallory was never invited: her answer is ignored, and her records are not taken.
        let answer = GroupNote::Answer {
            group,
            member: Some((MemberKey::generate().public(), "mallory".into())),
        };
        let news = alice
            .db
            .take_group_message(mallory_at_a, &answer.to_message(T), Arrival::at(T))
            .unwrap();
        assert_eq!(news, Some(GroupNews::Ignored));
        assert_eq!(alice.db.group_members(&group).unwrap().len(), 1);
        let key = MemberKey::generate();
        let body = alice
            .db
            .next_group_body(&group, key.public(), T, text("injected"));
        let forged = Record::sign(&key, body.unwrap()).unwrap();
        let news = alice
            .db
            .take_group_message(mallory_at_a, &forged.to_message(), Arrival::at(T))
            .unwrap();
        assert_eq!(
            news,
            Some(GroupNews::Ignored),
            "not a contact we sync it with"
        );
        alice
            .db
            .add_group_peer(&group, mallory_at_a, &key.public())
            .unwrap();
        let news = alice
            .db
            .take_group_message(mallory_at_a, &forged.to_message(), Arrival::at(T))
            .unwrap();
        // A record by a key nobody added waits for its add (which may come by another path),
        // on disk, unseen and unrelayed; this one's never comes.
        let Some(GroupNews::Records(_, outcome)) = news else {
            panic!("{news:?}")
        };
        assert_eq!(outcome.waiting_for, Some(awaiting_add(&key.public())));
        assert!(posts(&alice, &group).is_empty());
        assert!(alice.db.group_record(&forged.id).unwrap().is_none());
        let text = Message {
            timestamp_ms: T,
            content_type: "courier/text".into(),
            type_version: 1,
            fallback: String::new(),
            body: b"hi".to_vec(),
        };
        assert_eq!(
            alice
                .db
                .take_group_message(mallory_at_a, &text, Arrival::at(T))
                .unwrap(),
            None
        );
    }

    #[test]
    fn a_contact_who_is_no_member_gets_a_presence_tag_that_names_no_group_and_answers_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (mut alice, mut bob, mut mallory) = (
            person(dir.path(), "alice"),
            person(dir.path(), "bob"),
            person(dir.path(), "mallory"),
        );
        let (b_at_a, a_at_b) = befriend(&mut alice, &mut bob, 1);
        let (m_at_b, b_at_m) = befriend(&mut bob, &mut mallory, 2);
        // Mallory is in a group of her own, so she has something a tag could match.
        let hers = mallory
            .db
            .create_group("Mallory's", "mallory", T)
            .unwrap()
            .unwrap();
        let group = alice
            .db
            .create_group("Union branch", "alice", T)
            .unwrap()
            .unwrap();
        alice.db.invite_to_group(&group, b_at_a, T).unwrap();
        carry(&mut alice, b_at_a, &mut bob, a_at_b);
        bob.db
            .answer_group(&group, Some("bob"), T)
            .unwrap()
            .unwrap();
        // Bob tells every other contact his presence; mallory is one, and no member.
        let told = drain(&mut bob, m_at_b);
        let presence: Vec<&Message> = told
            .iter()
            .filter(|m| m.content_type == PRESENCE_TYPE)
            .collect();
        assert_eq!(presence.len(), 1);
        // Nothing in it names the group, alice's group id or its name.
        let bytes = &presence[0].body;
        assert!(!bytes.windows(32).any(|w| w == group.0));
        assert!(!presence[0].fallback.contains("Union"));
        assert!(!bytes.windows(12).any(|w| w == b"Union branch"));
        let news = mallory
            .db
            .take_group_message(b_at_m, presence[0], Arrival::at(T))
            .unwrap();
        assert_eq!(news, Some(GroupNews::Ignored));
        // She learned of no group, syncs none with bob, and owes him no answer.
        assert_eq!(mallory.db.groups().unwrap().len(), 1);
        assert!(mallory.db.group_peers(&hers).unwrap().is_empty());
        assert!(drain(&mut mallory, b_at_m).is_empty());
    }

    #[test]
    fn bob_s_large_post_reaches_carol_through_alice_in_chunks_and_a_late_chunk_is_relayed_as_it_arrives()
     {
        use courier_proto::group::record::GROUP_CHUNK_TYPE;
        use courier_proto::sync::attachment::{MANIFEST_TYPE, split_as};
        let dir = tempfile::tempdir().unwrap();
        let Newsroom {
            mut alice,
            mut bob,
            mut carol,
            bob_at_a,
            a_at_bob,
            carol_at_a,
            a_at_carol,
            group,
        } = settled(dir.path());
        // Bob posts 150 KB: three chunks and a manifest in the record.
        let photo: Vec<u8> = (0..150_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let (manifest, chunks) = split_as(&photo, "courier/image", 1, T, GROUP_CHUNK_TYPE).unwrap();
        assert_eq!(chunks.len(), 3);
        bob.db.keep_group_chunks(&chunks).unwrap();
        let key = bob.db.group(&group).unwrap().unwrap().key.unwrap();
        let kind = Kind::Post {
            parent: None,
            content_type: MANIFEST_TYPE.into(),
            type_version: 1,
            fallback: "a photo".into(),
            body: manifest.body.clone(),
        };
        let body = bob
            .db
            .next_group_body(&group, key.public(), T, kind)
            .unwrap();
        let record = Record::sign(&key, body).unwrap();
        bob.db
            .publish_group_record(record.clone())
            .unwrap()
            .unwrap();
        // The link to alice carries the chunks and the record; the last chunk is lost on the way
        // and comes again later (a retransmission), after the record.
        let mut sent = drain(&mut bob, a_at_bob);
        assert_eq!(sent.len(), 4, "three chunks and the record");
        let late = sent.remove(2);
        assert_eq!(late.content_type, GROUP_CHUNK_TYPE);
        for message in &sent {
            alice
                .db
                .take_group_message(bob_at_a, message, Arrival::at(T))
                .unwrap();
        }
        let content = |p: &Person| {
            p.db.group_content(MANIFEST_TYPE, 1, &manifest.body)
                .unwrap()
                .payload
        };
        assert_eq!(
            content(&alice),
            Payload::Partial {
                received: 2,
                total: 3
            }
        );
        // Alice relayed the record with the two chunks she has; carol shows the post arriving.
        let news = carry(&mut alice, carol_at_a, &mut carol, a_at_carol);
        assert_eq!(news.len(), 3, "{news:?}");
        assert!(matches!(
            content(&carol),
            Payload::Partial { received: 2, .. }
        ));
        // The lost chunk comes; alice keeps it and passes it on to carol as it arrives.
        assert_eq!(
            alice
                .db
                .take_group_message(bob_at_a, &late, Arrival::at(T))
                .unwrap(),
            Some(GroupNews::Chunk)
        );
        assert_eq!(content(&alice), Payload::Complete(photo.clone()));
        assert_eq!(
            carry(&mut alice, carol_at_a, &mut carol, a_at_carol),
            [GroupNews::Chunk]
        );
        assert_eq!(content(&carol), Payload::Complete(photo));
        // A chunk from someone we sync no group with is not kept.
        let (mallory_at_c, _) = befriend(&mut carol, &mut person(dir.path(), "mallory"), 7);
        assert_eq!(
            carol
                .db
                .take_group_message(mallory_at_c, &late, Arrival::at(T))
                .unwrap(),
            Some(GroupNews::Ignored)
        );
    }

    const HOUR: u64 = 3_600_000;
    const DAY: u64 = 24 * HOUR;

    /// `p`'s post of `said` sealed for `lifetime`, at `at`, published with its key; and the key.
    fn sealed_post(
        p: &mut Person,
        group: &GroupId,
        said: &str,
        lifetime: Timer,
        at: u64,
    ) -> (Record, Message) {
        sealed(p, group, "courier/text", said.as_bytes(), lifetime, at)
    }

    /// `p`'s post of `content_type` saying `body`, sealed as [`sealed_post`] seals a text.
    fn sealed(
        p: &mut Person,
        group: &GroupId,
        content_type: &str,
        body: &[u8],
        lifetime: Timer,
        at: u64,
    ) -> (Record, Message) {
        let content = SealedContent {
            content_type: content_type.into(),
            type_version: 1,
            fallback: String::new(),
            body: body.to_vec(),
        };
        let (body, key) = seal(group, &content, lifetime, at);
        p.db.keep_group_chunks(std::slice::from_ref(&key)).unwrap();
        let kind = Kind::Post {
            parent: None,
            content_type: SEALED_TYPE.into(),
            type_version: SEALED_VERSION,
            fallback: SEALED_FALLBACK.into(),
            body,
        };
        (write(p, group, kind, at), key)
    }

    /// What `p` reads of `record`, if all of it is here.
    fn reads(p: &Person, record: &Record) -> Option<Vec<u8>> {
        match p.db.group_post(record).unwrap().unwrap().content.payload {
            Payload::Complete(said) => Some(said),
            _ => None,
        }
    }

    /// The records `p` shows of `group`.
    fn shown(p: &Person, group: &GroupId) -> Vec<RecordId> {
        p.db.group_records_before(group, None, 1000)
            .unwrap()
            .into_iter()
            .map(|(_, r)| r.id)
            .collect()
    }

    #[test]
    fn under_the_group_s_timer_a_post_is_erased_a_day_after_it_reached_each_member_the_chain_goes_on_and_a_newcomer_gets_it()
     {
        let dir = tempfile::tempdir().unwrap();
        let Newsroom {
            mut alice,
            mut bob,
            mut carol,
            bob_at_a,
            a_at_bob,
            carol_at_a,
            a_at_carol,
            group,
        } = settled(dir.path());
        // Alice, the creator, sets a one-day timer; carol may not.
        let day = Timer::of_secs(86_400).unwrap();
        write(&mut alice, &group, Kind::Timer { secs: 86_400 }, T);
        carry(&mut alice, bob_at_a, &mut bob, a_at_bob);
        carry(&mut alice, carol_at_a, &mut carol, a_at_carol);
        for p in [&alice, &bob, &carol] {
            assert_eq!(p.db.group(&group).unwrap().unwrap().timer, day);
        }
        let key = carol.db.group(&group).unwrap().unwrap().key.unwrap();
        let body = carol
            .db
            .next_group_body(&group, key.public(), T, Kind::Timer { secs: 60 })
            .unwrap();
        assert_eq!(
            carol
                .db
                .publish_group_record(Record::sign(&key, body).unwrap())
                .unwrap(),
            Err(GroupError::NotTheCreator("set the group's timer"))
        );
        // Bob's post is sealed: its record says nothing of what he wrote; its key goes beside
        // it. It reaches alice an hour later, and carol through her an hour after that.
        let (sealed, key) = sealed_post(&mut bob, &group, "the meeting moved to six", day, T);
        assert!(!sealed.bytes.windows(7).any(|w| w == b"meeting"));
        carry_at(&mut bob, a_at_bob, &mut alice, bob_at_a, T + HOUR);
        carry_at(&mut alice, carol_at_a, &mut carol, a_at_carol, T + 2 * HOUR);
        for p in [&alice, &bob, &carol] {
            assert_eq!(
                reads(p, &sealed).as_deref(),
                Some(&b"the meeting moved to six"[..])
            );
            assert!(shown(p, &group).contains(&sealed.id));
        }
        // Bob posts again, but nothing carries it yet: its key waits in his outbox.
        let (unsent, unsent_key) =
            sealed_post(&mut bob, &group, "burn after reading", day, T + HOUR);
        let queued = |p: &Person, id: &courier_proto::sync::record::MessageId| -> bool {
            p.db.conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM outgoing WHERE id = ?1)",
                    [id.0],
                    |r| r.get(0),
                )
                .unwrap()
        };
        assert!(queued(&bob, &unsent_key.id()));
        // A day after it reached each of them, each erases it: bob's (his own) a day after he
        // wrote it, alice's an hour later, carol's an hour after hers.
        let sweep = |p: &mut Person, at: u64| p.db.sweep_expired(at).unwrap();
        assert_eq!(sweep(&mut bob, T + DAY - 1), 0);
        assert_eq!(sweep(&mut bob, T + DAY), 1);
        // Its time up, the unsent post's key leaves bob's outbox too: it is never delivered.
        assert_eq!(sweep(&mut bob, T + HOUR + DAY), 1);
        assert!(!queued(&bob, &unsent_key.id()));
        assert_eq!(reads(&bob, &unsent), None);
        assert_eq!(sweep(&mut alice, T + HOUR + DAY - 1), 0);
        assert_eq!(sweep(&mut alice, T + HOUR + DAY), 1);
        assert_eq!(sweep(&mut carol, T + HOUR + DAY), 0);
        assert!(reads(&carol, &sealed).is_some());
        assert_eq!(sweep(&mut carol, T + 2 * HOUR + DAY), 1);
        for p in [&alice, &bob, &carol] {
            // The content is gone (its key and chunks); the signed record stays for the chain,
            // and is shown no more.
            assert_eq!(reads(p, &sealed), None);
            assert!(p.db.post_chunks(&sealed).unwrap().is_empty());
            assert!(p.db.group_record(&sealed.id).unwrap().is_some());
            assert!(!shown(p, &group).contains(&sealed.id));
        }
        // The key, come again late, is not kept.
        assert_eq!(
            carol
                .db
                .take_group_message(a_at_carol, &key, Arrival::at(T + 3 * DAY))
                .unwrap(),
            Some(GroupNews::Ignored)
        );
        assert_eq!(reads(&carol, &sealed), None);
        // The chain goes on: bob's next post names the unsent one, which now reaches alice and
        // carol without its key (gone at once: past its day by bob's clock), and reaches carol.
        let next = write(&mut bob, &group, text("see you there"), T + 3 * DAY);
        carry_at(&mut bob, a_at_bob, &mut alice, bob_at_a, T + 3 * DAY);
        carry_at(&mut alice, carol_at_a, &mut carol, a_at_carol, T + 3 * DAY);
        assert!(shown(&carol, &group).contains(&next.id));
        for p in [&alice, &carol] {
            assert!(p.db.group_record(&unsent.id).unwrap().is_some());
            assert!(!shown(p, &group).contains(&unsent.id));
        }
        // Dave joins later. He gets the group's records, bob's erased post as a record without
        // its key (gone at once: past its day by bob's clock), and then bob's next post.
        let mut dave = person(dir.path(), "dave");
        let (dave_at_a, a_at_dave) = befriend(&mut alice, &mut dave, 3);
        alice.db.invite_to_group(&group, dave_at_a, T).unwrap();
        carry(&mut alice, dave_at_a, &mut dave, a_at_dave);
        dave.db
            .answer_group(&group, Some("dave"), T)
            .unwrap()
            .unwrap();
        carry(&mut dave, a_at_dave, &mut alice, dave_at_a);
        carry_at(&mut alice, dave_at_a, &mut dave, a_at_dave, T + 3 * DAY);
        assert!(dave.db.group_record(&sealed.id).unwrap().is_some());
        assert_eq!(reads(&dave, &sealed), None);
        let at_dave = shown(&dave, &group);
        assert!(!at_dave.contains(&sealed.id));
        assert!(at_dave.contains(&next.id));
        assert_eq!(dave.db.group(&group).unwrap().unwrap().timer, day);
        // Group traffic goes from an outbox once acked (its time starts at the ack, by the wall
        // clock): no key waits there for anyone.
        for p in [&mut alice, &mut bob, &mut carol, &mut dave] {
            p.db.sweep_expired(u64::MAX / 2).unwrap();
            let left: i64 =
                p.db.conn
                    .query_row(
                        "SELECT count(*) FROM outgoing WHERE content_type = ?1",
                        [GROUP_CHUNK_TYPE],
                        |r| r.get(0),
                    )
                    .unwrap();
            assert_eq!(left, 0);
        }
    }

    /// `p`'s sealed relation of `kind` to `target`, its own body `body`, at `at`.
    fn relate(p: &mut Person, group: &GroupId, kind: RelationKind, target: &Record, body: &str) {
        let payload = relation::payload(&MessageId(target.id.0), body.as_bytes());
        sealed(p, group, kind.content_type(), &payload, Timer::OFF, T);
    }

    /// What names `post` at `p`: each relation's kind and author (in the order of kinds and keys:
    /// written at the same millisecond, their order is any).
    fn relations(p: &Person, group: &GroupId, post: &Record) -> Vec<(RelationKind, MemberPublic)> {
        let mut found: Vec<_> =
            p.db.group_relations_to(group, &post.id)
                .unwrap()
                .into_iter()
                .map(|(kind, r)| (kind, r.body.author))
                .collect();
        found.sort_by_key(|(kind, author)| (kind.as_str(), author.0));
        found
    }

    #[test]
    fn bob_and_carol_react_to_alice_s_post_she_edits_it_carol_cannot_and_alice_deletes_it_from_every_device()
     {
        let dir = tempfile::tempdir().unwrap();
        let Newsroom {
            mut alice,
            mut bob,
            mut carol,
            bob_at_a,
            a_at_bob,
            carol_at_a,
            a_at_carol,
            group,
        } = settled(dir.path());
        // Every step goes round: alice relays between bob and carol, who are not contacts.
        let round = |alice: &mut Person, bob: &mut Person, carol: &mut Person| {
            carry(bob, a_at_bob, alice, bob_at_a);
            carry(carol, a_at_carol, alice, carol_at_a);
            carry(alice, bob_at_a, bob, a_at_bob);
            carry(alice, carol_at_a, carol, a_at_carol);
        };
        let (post, _) = sealed_post(&mut alice, &group, "north gate at nine", Timer::OFF, T);
        round(&mut alice, &mut bob, &mut carol);
        relate(&mut bob, &group, RelationKind::Reaction, &post, "👍");
        relate(&mut carol, &group, RelationKind::Reaction, &post, "❤");
        round(&mut alice, &mut bob, &mut carol);
        // Alice edits her post; carol's edit of it, and bob's reaction to carol's reaction,
        // are kept in their chains and name nothing.
        relate(
            &mut alice,
            &group,
            RelationKind::Edit,
            &post,
            "north gate at ten",
        );
        relate(&mut carol, &group, RelationKind::Edit, &post, "south gate");
        round(&mut alice, &mut bob, &mut carol);
        let heart = carol
            .db
            .group_relations_to(&group, &post.id)
            .unwrap()
            .into_iter()
            .find(|(_, r)| {
                r.body.author
                    == carol
                        .db
                        .group(&group)
                        .unwrap()
                        .unwrap()
                        .key
                        .unwrap()
                        .public()
            })
            .map(|(_, r)| r)
            .unwrap();
        relate(&mut bob, &group, RelationKind::Reaction, &heart, "😂");
        round(&mut alice, &mut bob, &mut carol);
        let key = |p: &Person| p.db.group(&group).unwrap().unwrap().key.unwrap().public();
        let (a, b, c) = (key(&alice), key(&bob), key(&carol));
        for p in [&alice, &bob, &carol] {
            assert_eq!(relations(p, &group, &post), {
                let mut all = [
                    (RelationKind::Reaction, b),
                    (RelationKind::Reaction, c),
                    (RelationKind::Edit, a),
                ];
                all.sort_by_key(|(kind, author)| (kind.as_str(), author.0));
                all
            });
            assert!(relations(p, &group, &heart).is_empty());
            // The window shows the post, not what relates to it.
            let at_p = shown(p, &group);
            assert!(at_p.contains(&post.id));
            assert!(!at_p.contains(&heart.id));
        }
        // Carol may not delete it; alice may, and it goes from every device with its reactions
        // and edits: their keys erased, their signed records kept for the chain.
        relate(&mut carol, &group, RelationKind::Delete, &post, "");
        round(&mut alice, &mut bob, &mut carol);
        for p in [&mut alice, &mut bob, &mut carol] {
            assert_eq!(p.db.sweep_expired(T + 1).unwrap(), 0);
            assert!(reads(p, &post).is_some());
        }
        relate(&mut alice, &group, RelationKind::Delete, &post, "");
        round(&mut alice, &mut bob, &mut carol);
        for p in [&mut alice, &mut bob, &mut carol] {
            // The post and its two reactions and alice's edit.
            assert_eq!(p.db.sweep_expired(T + 1).unwrap(), 4);
            assert_eq!(reads(p, &post), None);
            assert!(p.db.post_chunks(&post).unwrap().is_empty());
            assert!(p.db.group_record(&post.id).unwrap().is_some());
            assert!(!shown(p, &group).contains(&post.id));
            // What is left naming it is alice's deletion (carol's named nothing).
            assert_eq!(relations(p, &group, &post), [(RelationKind::Delete, a)]);
        }
    }
}
