//! What a live front end is told: one ordered stream of [`Event`]s made of what the node reports
//! (a transport listening, a stream written, a damaged file skipped) and what changed in the
//! database (messages arriving, ours sent and acked, contacts and transports changing). A
//! [`Watcher`] compares what the database and the node hold now with what it saw last, so whoever
//! made the change (the node, `courier send`, the API) it is told the same way, once.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use courier_proto::group::GroupId;
use courier_proto::sync::record::MessageId;
use courier_proto::sync::relation::RelationKind;
use courier_storage::{ActivityMark, CommitMark, ContactId, OutgoingState, Progress};

pub use courier_events::Event;

use crate::Service;
use crate::contacts::{ContactState, ContactSummary};
use crate::error::ServiceError;
use crate::groups::GroupEvent;
use crate::node::{Notice, ReadOutcome, TransportState};
use crate::views;

/// The longest a watcher trusts an unchanged database: a pending contact becomes unmet by the
/// clock alone.
const LOOK_ANYWAY: Duration = Duration::from_secs(60);

/// Finds what changed since it last looked.
#[derive(Debug)]
pub struct Watcher {
    /// Where the commits stood when it last read the database, and when that was.
    looked: Option<(CommitMark, Instant)>,
    mark: ActivityMark,
    /// Our unacked messages by row, and where each stood.
    outgoing: HashMap<i64, OutgoingState>,
    /// How far each of our unacked attachments had gone, by row, with its contact.
    progress: HashMap<i64, (ContactId, Progress)>,
    contacts: Vec<ContactSummary>,
    /// Each met contact's alias, read with `contacts`.
    aliases: Arc<BTreeMap<ContactId, String>>,
    /// Where the contacts' change number stood when `contacts` were read, and when that was.
    contacts_read: (i64, Instant),
    links: BTreeSet<(String, ContactId)>,
    transports: Vec<TransportState>,
    /// The transports whose folder could not be listed at the last look, and why.
    unreadable: HashMap<String, String>,
    /// Each group's position told last.
    groups: HashMap<GroupId, u64>,
    /// Each group's position up to which its reactions, edits and deletions were told.
    group_relations: HashMap<GroupId, u64>,
}

impl Watcher {
    /// A watcher that tells only what changes from now on.
    pub fn new(service: &Service, transports: &[TransportState]) -> Result<Watcher, ServiceError> {
        let contacts_read = (service.db.contacts_change()?, Instant::now());
        let mark = service.db.activity_mark()?;
        let positions = service.group_positions()?;
        let outgoing = service
            .db
            .unacked()?
            .into_iter()
            .map(|o| (o.row, o.state))
            .collect();
        Ok(Watcher {
            looked: None,
            mark,
            outgoing,
            progress: HashMap::new(),
            contacts: service.contacts()?,
            aliases: Arc::new(service.aliases()?),
            contacts_read,
            links: links(transports),
            transports: transports.to_vec(),
            unreadable: HashMap::new(),
            group_relations: positions.iter().copied().collect(),
            groups: positions.into_iter().collect(),
        })
    }

    /// What changed since the last look, given what the node reported since (`notices`), in the
    /// order a person would expect: the node's reports, contacts, sessions begun, arrivals, our
    /// messages' progress, sessions ended, then transports' states.
    pub fn poll(
        &mut self,
        service: &mut Service,
        notices: Vec<Notice>,
        transports: &[TransportState],
    ) -> Result<Vec<Event>, ServiceError> {
        // With nothing reported, no commit anywhere and the transports as they were, the tables are
        // not read at all.
        let commits = service.db.commit_mark()?;
        let unchanged = self
            .looked
            .is_some_and(|(mark, at)| mark == commits && at.elapsed() < LOOK_ANYWAY);
        // `Changed` only woke the caller: what changed is read from the database and the states.
        let told = notices.iter().any(|n| *n != Notice::Changed);
        if unchanged && !told && self.transports == transports {
            return Ok(Vec::new());
        }
        // Taken before the tables are read: a commit while they are shows as a change next time.
        self.looked = Some((commits, Instant::now()));
        // One snapshot for the whole look: under load it reads a row or two per arrival, and
        // each statement on its own would read and decrypt SQLite's pages again after every
        // commit of the node's.
        service.on_one_snapshot(|service| self.look(service, notices, transports))
    }

    /// What changed since the last look, read from the database and the node's reports.
    fn look(
        &mut self,
        service: &mut Service,
        notices: Vec<Notice>,
        transports: &[TransportState],
    ) -> Result<Vec<Event>, ServiceError> {
        let mut events = Vec::new();
        // The contacts are read again only when one of them changed, or a while has passed (a
        // pending contact turns unmet by the clock alone): not on every message that moves.
        let change = service.db.contacts_change()?;
        let (seen, at) = self.contacts_read;
        let contacts_changed = change != seen || at.elapsed() >= LOOK_ANYWAY;
        if contacts_changed {
            self.aliases = Arc::new(service.aliases()?);
        }
        let aliases = Arc::clone(&self.aliases);
        for notice in notices {
            self.notice(notice, &aliases, &mut events);
        }
        if contacts_changed {
            self.contacts(service, &mut events)?;
            self.contacts_read = (change, Instant::now());
        }
        let links_now = links(transports);
        self.connected(&links_now, &aliases, &mut events);

        let activity = service.db.activity(self.mark)?;
        self.mark = activity.mark;
        for arrival in activity.arrived {
            let (contact, id, relation) = (arrival.contact, arrival.id, arrival.relation);
            let Some(alias) = aliases.get(&contact) else {
                continue;
            };
            match relation {
                Some(kind @ (RelationKind::Reaction | RelationKind::Edit)) => {
                    related(service, alias, contact, &id, kind, &mut events)?;
                }
                _ => {
                    if let Some(entry) = service.db.arrived_entry(&arrival)? {
                        events.push(Event::MessageReceived {
                            contact: alias.clone(),
                            message: service.summarise(contact, entry)?.into(),
                        });
                    }
                    if relation == Some(RelationKind::Delete) {
                        related(
                            service,
                            alias,
                            contact,
                            &id,
                            RelationKind::Delete,
                            &mut events,
                        )?;
                    }
                }
            }
        }
        let mut moved = activity.chunks_moved;
        // By row, so that our messages' news comes in the order they were queued.
        let mut ours = Vec::new();
        for row in activity.outgoing {
            let before = match row.state {
                OutgoingState::Acked | OutgoingState::Read => self.outgoing.remove(&row.row),
                _ => self.outgoing.insert(row.row, row.state),
            };
            ours.push((row, before));
            if row.attachment {
                moved.insert(row.contact);
            }
        }
        for contact in moved {
            self.attachments(service, contact, &aliases, &mut events)?;
        }
        ours.sort_by_key(|(row, _)| row.row);
        for (row, before) in ours {
            match row.relation {
                // Ours, new to this watcher: told as what it does to the message it names, and
                // not as a message (it is shown with that one).
                Some(
                    kind @ (RelationKind::Reaction | RelationKind::Edit | RelationKind::Delete),
                ) => {
                    if let (None, Some(alias)) = (before, aliases.get(&row.contact)) {
                        related(service, alias, row.contact, &row.id, kind, &mut events)?;
                    }
                }
                _ => progress(
                    &aliases,
                    row.contact,
                    row.id,
                    before,
                    row.state,
                    &mut events,
                ),
            }
        }

        self.groups(service, &mut events)?;
        self.transports(links_now, transports, &aliases, &mut events);
        Ok(events)
    }

    /// Each group's records accepted since the last look: others' posts, and every change of
    /// who is in it.
    fn groups(
        &mut self,
        service: &mut Service,
        events: &mut Vec<Event>,
    ) -> Result<(), ServiceError> {
        for (id, position) in service.group_positions()? {
            // A group new since the last look (an invitation accepted) is told from its start.
            let mut told = self.groups.get(&id).copied().unwrap_or(0);
            while told < position {
                let (name, items, last) = service.group_news(&id, told, 256)?;
                if last == told {
                    break;
                }
                told = last;
                for item in items {
                    let group = hex::encode(id.0);
                    let name = name.clone();
                    events.push(match item.event {
                        GroupEvent::Post { .. } if item.ours => continue,
                        GroupEvent::Post { .. } => Event::GroupPostReceived {
                            group,
                            name,
                            post: item.into(),
                        },
                        _ => Event::GroupMembership {
                            group,
                            name,
                            change: item.into(),
                        },
                    });
                }
            }
            self.groups.insert(id, told);
            self.group_relations(service, &id, position, events)?;
        }
        Ok(())
    }

    /// Group `id`'s reactions, edits and deletions accepted since the last look (up to
    /// `position`), each as what it did to the post it names.
    fn group_relations(
        &mut self,
        service: &mut Service,
        id: &GroupId,
        position: u64,
        events: &mut Vec<Event>,
    ) -> Result<(), ServiceError> {
        let mut told = self.group_relations.get(id).copied().unwrap_or(0);
        while told < position {
            let found = service.db.group_relations_after(id, told, 256)?;
            let Some(&(last, _, _)) = found.last() else {
                break;
            };
            told = last;
            let name = match service.db.group(id)? {
                Some(group) => group.descriptor.name,
                None => break,
            };
            for (_, kind, target) in found {
                let group = hex::encode(id.0);
                let name = name.clone();
                match kind {
                    RelationKind::Delete => events.push(Event::GroupPostDeleted {
                        group,
                        name,
                        id: hex::encode(target.0),
                    }),
                    RelationKind::Reaction | RelationKind::Edit => {
                        if let Some(item) = service.group_post_now(id, &target)? {
                            events.push(Event::GroupPostChanged {
                                group,
                                name,
                                post: item.into(),
                            });
                        }
                    }
                    RelationKind::Reply => {}
                }
            }
        }
        self.group_relations.insert(*id, position.max(told));
        Ok(())
    }

    /// How far each of our attachments to `contact` still in flight has gone, where that changed.
    fn attachments(
        &mut self,
        service: &Service,
        contact: ContactId,
        aliases: &BTreeMap<ContactId, String>,
        events: &mut Vec<Event>,
    ) -> Result<(), ServiceError> {
        let in_flight = service.db.attachments_in_flight(contact)?;
        self.progress
            .retain(|row, (to, _)| *to != contact || in_flight.iter().any(|(r, _)| r == row));
        for (row, id) in in_flight {
            let Some(now) = service.db.attachment_progress(contact, &id)? else {
                continue;
            };
            let before = self.progress.insert(row, (contact, now));
            if before.map(|b| b.1) != Some(now)
                && let Some(alias) = aliases.get(&contact)
            {
                events.push(Event::AttachmentProgress {
                    contact: alias.clone(),
                    id: hex::encode(id.0),
                    sent: now.sent as u64,
                    acked: now.acked as u64,
                    total: now.total as u64,
                });
            }
        }
        Ok(())
    }

    /// What the node reported that the database does not hold. An arrival, a handshake and a
    /// medium's progress are told from what the database and the transports' states say, with who
    /// and what; a stream that was not ours, or was read whole, is nothing to tell.
    fn notice(
        &mut self,
        notice: Notice,
        aliases: &BTreeMap<ContactId, String>,
        events: &mut Vec<Event>,
    ) {
        match notice {
            Notice::Listening { transport, address } => events.push(Event::Listening {
                transport,
                // The address is the driver's; a TCP one ends in its port, which is all we tell.
                port: address.rsplit_once(':').and_then(|(_, p)| p.parse().ok()),
            }),
            Notice::Wrote { transport, contact } => {
                if let Some(alias) = aliases.get(&contact) {
                    events.push(Event::StreamWritten {
                        transport,
                        contact: alias.clone(),
                    });
                }
            }
            Notice::Read {
                transport,
                name,
                outcome: ReadOutcome::Damaged { reason },
            } => events.push(Event::FileSkipped {
                transport,
                name: name.unwrap_or_default(),
                reason,
            }),
            // Told once when the folder goes (a stick pulled out), again once it is back.
            Notice::Scanned {
                transport, error, ..
            } => match error {
                Some(error) if self.unreadable.get(&transport) != Some(&error) => {
                    self.unreadable.insert(transport.clone(), error.clone());
                    events.push(Event::FolderUnreadable { transport, error });
                }
                None if self.unreadable.remove(&transport).is_some() => {
                    events.push(Event::FolderReadable { transport });
                }
                _ => {}
            },
            Notice::Received { .. }
            | Notice::Introduced { .. }
            | Notice::Medium { .. }
            | Notice::Read { .. }
            | Notice::Changed => {}
        }
    }

    fn contacts(&mut self, service: &Service, events: &mut Vec<Event>) -> Result<(), ServiceError> {
        let now = service.contacts()?;
        let before: HashMap<&str, ContactState> = self
            .contacts
            .iter()
            .map(|c| (c.alias.as_str(), c.state))
            .collect();
        for contact in &now {
            if before.get(contact.alias.as_str()) == Some(&contact.state) {
                continue;
            }
            events.push(match contact.state {
                ContactState::Contact => Event::ContactAdded {
                    alias: contact.alias.clone(),
                },
                state => Event::ContactPending {
                    alias: contact.alias.clone(),
                    state: state.into(),
                },
            });
        }
        let still: HashSet<&str> = now.iter().map(|c| c.alias.as_str()).collect();
        for gone in self
            .contacts
            .iter()
            .filter(|b| !still.contains(b.alias.as_str()))
        {
            events.push(Event::ContactRemoved {
                alias: gone.alias.clone(),
            });
        }
        self.contacts = now;
        Ok(())
    }

    /// Sessions that began since the last look: told before the messages they carried.
    fn connected(
        &self,
        links_now: &BTreeSet<(String, ContactId)>,
        aliases: &BTreeMap<ContactId, String>,
        events: &mut Vec<Event>,
    ) {
        for (transport, contact) in links_now.difference(&self.links) {
            if let Some(alias) = aliases.get(contact) {
                events.push(Event::ContactConnected {
                    alias: alias.clone(),
                    transport: transport.clone(),
                });
            }
        }
    }

    /// Sessions that ended since the last look, then each transport whose state changed.
    fn transports(
        &mut self,
        links_now: BTreeSet<(String, ContactId)>,
        transports: &[TransportState],
        aliases: &BTreeMap<ContactId, String>,
        events: &mut Vec<Event>,
    ) {
        for (transport, contact) in self.links.difference(&links_now) {
            if let Some(alias) = aliases.get(contact) {
                events.push(Event::ContactDisconnected {
                    alias: alias.clone(),
                    transport: transport.clone(),
                });
            }
        }
        self.links = links_now;
        for state in transports {
            if !self.transports.contains(state) {
                events.push(Event::TransportState {
                    transport: views::transport(state.clone(), |c| aliases.get(&c).cloned()),
                });
            }
        }
        self.transports = transports.to_vec();
    }
}

/// The events for one of our messages that went from `before` (unseen: new) to `now`: sent always
/// comes before acked, even when both happened between two looks.
fn progress(
    aliases: &BTreeMap<ContactId, String>,
    contact: ContactId,
    id: MessageId,
    before: Option<OutgoingState>,
    now: OutgoingState,
    events: &mut Vec<Event>,
) {
    let Some(alias) = aliases.get(&contact) else {
        return;
    };
    let rank = |s: OutgoingState| match s {
        OutgoingState::Queued => 0,
        OutgoingState::Sent => 1,
        OutgoingState::Acked => 2,
        OutgoingState::Read => 3,
    };
    let from = match (before, now) {
        // Read and not followed (acked before this watcher began, or told acked already): only
        // the read is news.
        (None, OutgoingState::Read) => 2,
        (before, _) => before.map_or(0, rank),
    };
    let to = rank(now);
    if from < 1 && to >= 1 {
        events.push(Event::MessageSent {
            contact: alias.clone(),
            id: hex::encode(id.0),
        });
    }
    if from < 2 && to >= 2 {
        events.push(Event::MessageAcked {
            contact: alias.clone(),
            id: hex::encode(id.0),
        });
    }
    if from < 3 && to >= 3 {
        events.push(Event::MessageRead {
            contact: alias.clone(),
            id: hex::encode(id.0),
        });
    }
}

/// The event for relation `id` of `kind`, either side's, in the conversation with `contact`: the
/// message it names as it now shows (reacted to, edited), or that it is gone (deleted). Nothing
/// when the message it names is not shown (deleted already).
fn related(
    service: &mut Service,
    alias: &str,
    contact: ContactId,
    id: &MessageId,
    kind: RelationKind,
    events: &mut Vec<Event>,
) -> Result<(), ServiceError> {
    let Some(target) = service.db.relates_to(contact, id)? else {
        return Ok(());
    };
    let contact_alias = alias.to_owned();
    if kind == RelationKind::Delete {
        events.push(Event::MessageDeleted {
            contact: contact_alias,
            id: hex::encode(target.0),
        });
        return Ok(());
    }
    let Some(entry) = service.db.entry(contact, &target)? else {
        return Ok(());
    };
    let message = service.summarise(contact, entry)?.into();
    events.push(match kind {
        RelationKind::Edit => Event::MessageEdited {
            contact: contact_alias,
            message,
        },
        _ => Event::MessageReacted {
            contact: contact_alias,
            message,
        },
    });
    Ok(())
}

/// Each (transport, contact) a sync session runs for.
fn links(transports: &[TransportState]) -> BTreeSet<(String, ContactId)> {
    transports
        .iter()
        .flat_map(|t| t.contacts_linked.iter().map(|c| (t.transport.clone(), *c)))
        .collect()
}

#[cfg(test)]
mod tests {
    use courier_proto::handshake::Agreement;
    use courier_proto::identity::Identity;
    use courier_proto::sync::record::Message;
    use courier_proto::sync::session::SyncStore;
    use courier_proto::sync::timer::Timer;
    use courier_proto::transport_security::transport_keys::{Role, SecretKey};
    use courier_storage::{ConversationStore, Draft};

    use super::*;
    use crate::Window;
    use crate::service::testing::initialised;

    /// Bob, a contact whose handshake ran.
    fn bob(service: &mut Service) -> ContactId {
        let link = Identity::generate("bob").link();
        service.db.add_pending_contact(&link, "bob", 0).unwrap();
        let agreement = Agreement {
            root: SecretKey::from_bytes([9; 32]),
            role: Role::Alice,
        };
        service
            .db
            .complete_handshake("bob", &agreement, 1_700_000_000_000)
            .unwrap()
    }

    fn text(service: &mut Service, contact: ContactId, body: &str, at: u64) -> MessageId {
        let draft = Draft::new("courier/text", 1, body.as_bytes().to_vec());
        service.db.send(contact, draft, at, Timer::OFF).unwrap().0
    }

    fn incoming(service: &mut Service, contact: ContactId, body: &str, at: u64) -> MessageId {
        let message = Message {
            timestamp_ms: at,
            content_type: "courier/text".into(),
            type_version: 1,
            fallback: String::new(),
            body: body.as_bytes().to_vec(),
        };
        let id = message.id();
        ConversationStore::new(&mut service.db, contact, 60_000, Timer::OFF)
            .store_incoming(&id, message)
            .unwrap();
        id
    }

    #[test]
    fn the_watcher_tells_each_change_once_sent_before_acked_and_nothing_that_was_there_before() {
        let (_root, mut service) = initialised();
        let bob = bob(&mut service);
        let old = text(&mut service, bob, "from before", 1_000);
        let mut watcher = Watcher::new(&service, &[]).unwrap();
        assert_eq!(
            watcher.poll(&mut service, vec![], &[]).unwrap(),
            [],
            "nothing new yet"
        );

        let first = text(&mut service, bob, "first", 2_000);
        let second = text(&mut service, bob, "second", 3_000);
        assert_eq!(
            watcher.poll(&mut service, vec![], &[]).unwrap(),
            [],
            "queued is not news"
        );
        {
            let mut store = ConversationStore::new(&mut service.db, bob, 60_000, Timer::OFF);
            store.mark_sent(&first, 4_000).unwrap();
            // The second is sent and acked between two looks, and the old one acked.
            store.mark_sent(&second, 4_000).unwrap();
            store.mark_acked(&second).unwrap();
            store.mark_acked(&old).unwrap();
        }
        let bob_said = incoming(&mut service, bob, "hi alice", 1_500);
        let events = watcher.poll(&mut service, vec![], &[]).unwrap();
        let sent = |id: MessageId| Event::MessageSent {
            contact: "bob".into(),
            id: hex::encode(id.0),
        };
        let acked = |id: MessageId| Event::MessageAcked {
            contact: "bob".into(),
            id: hex::encode(id.0),
        };
        assert!(
            matches!(&events[0], Event::MessageReceived { contact, message } if contact == "bob" && message.id == hex::encode(bob_said.0))
        );
        assert_eq!(
            events[1..],
            [
                sent(old),
                acked(old),
                sent(first),
                sent(second),
                acked(second)
            ],
            "the old one was queued when the watcher began, so it is sent then acked too"
        );
        assert_eq!(
            watcher.poll(&mut service, vec![], &[]).unwrap(),
            [],
            "each once"
        );
        ConversationStore::new(&mut service.db, bob, 60_000, Timer::OFF)
            .mark_acked(&first)
            .unwrap();
        assert_eq!(
            watcher.poll(&mut service, vec![], &[]).unwrap(),
            [acked(first)]
        );

        let carol = Identity::generate("carol").link().to_string();
        service.add_contact(&carol, "carol").unwrap();
        service.remove_contact("bob").unwrap();
        assert_eq!(
            watcher.poll(&mut service, vec![], &[]).unwrap(),
            [
                Event::ContactPending {
                    alias: "carol".into(),
                    state: courier_events::ContactStateJson::Pending
                },
                Event::ContactRemoved {
                    alias: "bob".into()
                },
            ]
        );
    }

    #[test]
    fn bob_renamed_between_two_looks_is_told_and_his_next_message_comes_under_his_new_name() {
        let (_root, mut service) = initialised();
        let bob = bob(&mut service);
        let mut watcher = Watcher::new(&service, &[]).unwrap();
        incoming(&mut service, bob, "hi", 1_000);
        let first = watcher.poll(&mut service, vec![], &[]).unwrap();
        assert!(
            matches!(&first[..], [Event::MessageReceived { contact, .. }] if contact == "bob"),
            "{first:?}"
        );

        service.rename_contact("bob", "robert").unwrap();
        incoming(&mut service, bob, "it's robert now", 2_000);
        let events = watcher.poll(&mut service, vec![], &[]).unwrap();
        assert_eq!(
            events[..2],
            [
                Event::ContactAdded {
                    alias: "robert".into()
                },
                Event::ContactRemoved {
                    alias: "bob".into()
                },
            ]
        );
        assert!(
            matches!(&events[2..], [Event::MessageReceived { contact, .. }] if contact == "robert"),
            "{events:?}"
        );
        assert_eq!(watcher.poll(&mut service, vec![], &[]).unwrap(), []);
    }

    #[test]
    fn windows_by_cursor_neither_repeat_nor_skip_while_messages_arrive() {
        let (_root, mut service) = initialised();
        let bob = bob(&mut service);
        let ids: Vec<MessageId> = (0..7)
            .map(|i| text(&mut service, bob, &format!("m{i}"), 10_000 + i * 1_000))
            .collect();
        let window = |service: &mut Service, before| {
            service
                .messages(
                    "bob",
                    Window {
                        before,
                        after: None,
                        limit: 3,
                    },
                )
                .unwrap()
        };
        let newest = window(&mut service, None);
        assert_eq!(
            newest.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
            ids[4..]
        );
        assert_eq!((newest.older, newest.newer), (Some(ids[4]), None));
        // Meanwhile a new message and a late one, stamped in the middle, arrive.
        let late = incoming(&mut service, bob, "late", 12_500);
        text(&mut service, bob, "new", 99_000);
        let mut seen: Vec<MessageId> = newest.messages.iter().map(|m| m.id).collect();
        let mut before = newest.older;
        while let Some(cursor) = before {
            let page = window(&mut service, Some(cursor));
            seen.splice(0..0, page.messages.iter().map(|m| m.id));
            before = page.older;
        }
        let mut expected = ids.clone();
        expected.insert(3, late);
        assert_eq!(
            seen, expected,
            "every message from before once, the late one in its place"
        );
        let after = service
            .messages(
                "bob",
                Window {
                    before: None,
                    after: Some(ids[6]),
                    limit: 3,
                },
            )
            .unwrap();
        assert_eq!(
            after.messages.len(),
            1,
            "the new one, after the newest seen"
        );
        assert_eq!(after.newer, None);
        let unknown = service.messages(
            "bob",
            Window {
                before: Some(MessageId([7; 32])),
                after: None,
                limit: 3,
            },
        );
        assert_eq!(unknown.unwrap_err().kind(), crate::ErrorKind::NotFound);
    }

    fn lan(linked: Vec<ContactId>) -> TransportState {
        TransportState {
            transport: "lan".into(),
            plugin: "transport-lan".into(),
            simplex: false,
            links: linked.len(),
            contacts_linked: linked,
            published: true,
            health: courier_plugin_host::supervisor::Health::Up,
            medium: None,
            reveals: vec!["ip-address"],
        }
    }

    /// The LAN's state as an event, bob named.
    fn lan_event(linked: Vec<ContactId>) -> Event {
        Event::TransportState {
            transport: courier_events::Transport {
                id: "lan".into(),
                plugin: "transport-lan".into(),
                simplex: false,
                links: linked.len() as u64,
                contacts: linked.iter().map(|_| "bob".to_owned()).collect(),
                published: true,
                health: "up".into(),
                fault: None,
                medium: None,
                reveals: vec!["ip-address".into()],
            },
        }
    }

    #[test]
    fn a_session_beginning_and_ending_is_told_once_each_with_the_transport_s_state() {
        let (_root, mut service) = initialised();
        let bob = bob(&mut service);
        let mut watcher = Watcher::new(&service, &[lan(vec![])]).unwrap();
        let connected = [lan(vec![bob])];
        assert_eq!(
            watcher.poll(&mut service, vec![], &connected).unwrap(),
            [
                Event::ContactConnected {
                    alias: "bob".into(),
                    transport: "lan".into()
                },
                lan_event(vec![bob]),
            ]
        );
        assert_eq!(
            watcher.poll(&mut service, vec![], &connected).unwrap(),
            [],
            "nothing changed"
        );
        assert_eq!(
            watcher.poll(&mut service, vec![], &[lan(vec![])]).unwrap(),
            [
                Event::ContactDisconnected {
                    alias: "bob".into(),
                    transport: "lan".into()
                },
                lan_event(vec![]),
            ]
        );
    }

    #[test]
    fn an_attachment_s_chunks_are_told_as_they_go_and_not_once_it_is_acked() {
        let (_root, mut service) = initialised();
        let bob = bob(&mut service);
        let mut watcher = Watcher::new(&service, &[]).unwrap();
        // Three chunks' worth: an attachment, shown as its manifest.
        // Bytes that never repeat a chunk's worth: identical chunks would be one message.
        let bytes = (0..150_000u32).map(|i| (i % 251) as u8).collect();
        let big = Draft::new("courier/image", 1, bytes);
        let (manifest, _) = service.db.send(bob, big, 5_000, Timer::OFF).unwrap();
        let progress = |sent, acked| Event::AttachmentProgress {
            contact: "bob".into(),
            id: hex::encode(manifest.0),
            sent,
            acked,
            total: 3,
        };
        assert_eq!(
            watcher.poll(&mut service, vec![], &[]).unwrap(),
            [progress(0, 0)]
        );
        assert_eq!(
            watcher.poll(&mut service, vec![], &[]).unwrap(),
            [],
            "unchanged, not told again"
        );
        let chunks: Vec<MessageId> = {
            let store = ConversationStore::new(&mut service.db, bob, 60_000, Timer::OFF);
            store.due(4_000_000_000_000, 10).unwrap()
        };
        let chunks: Vec<MessageId> = chunks.into_iter().filter(|id| *id != manifest).collect();
        assert_eq!(chunks.len(), 3, "the three chunks go first");
        {
            let mut store = ConversationStore::new(&mut service.db, bob, 60_000, Timer::OFF);
            store.mark_sent(&chunks[0], 6_000).unwrap();
            store.mark_sent(&chunks[1], 6_000).unwrap();
            store.mark_acked(&chunks[0]).unwrap();
        }
        assert_eq!(
            watcher.poll(&mut service, vec![], &[]).unwrap(),
            [progress(2, 1)]
        );
        {
            let mut store = ConversationStore::new(&mut service.db, bob, 60_000, Timer::OFF);
            for id in chunks.iter().chain([&manifest]) {
                store.mark_sent(id, 7_000).unwrap();
                store.mark_acked(id).unwrap();
            }
        }
        let events = watcher.poll(&mut service, vec![], &[]).unwrap();
        assert_eq!(
            events,
            [
                Event::MessageSent {
                    contact: "bob".into(),
                    id: hex::encode(manifest.0)
                },
                Event::MessageAcked {
                    contact: "bob".into(),
                    id: hex::encode(manifest.0)
                },
            ],
            "once the manifest is acked its progress is done"
        );
    }

    #[test]
    fn the_node_s_reports_come_first_a_folder_gone_is_told_once_and_arrivals_come_from_the_database()
     {
        let (_root, mut service) = initialised();
        let bob = bob(&mut service);
        let mut watcher = Watcher::new(&service, &[]).unwrap();
        let gone = || Notice::Scanned {
            transport: "drive".into(),
            files: 0,
            error: Some("the folder /media/stick is gone".into()),
        };
        let back = Notice::Scanned {
            transport: "drive".into(),
            files: 1,
            error: None,
        };
        let said = incoming(&mut service, bob, "hi", 1_000);
        let notices = vec![
            Notice::Listening {
                transport: "lan".into(),
                address: "127.0.0.1:7001".into(),
            },
            // Told by the database, with who and what.
            Notice::Received {
                contact: bob,
                count: 1,
            },
            gone(),
            gone(),
            Notice::Wrote {
                transport: "drive".into(),
                contact: bob,
            },
            Notice::Read {
                transport: "drive".into(),
                name: Some("old.courier".into()),
                outcome: ReadOutcome::Damaged {
                    reason: "cut short".into(),
                },
            },
            Notice::Read {
                transport: "drive".into(),
                name: Some("stranger.courier".into()),
                outcome: ReadOutcome::NotOurs,
            },
        ];
        let events = watcher.poll(&mut service, notices, &[]).unwrap();
        assert_eq!(events.len(), 5, "{events:?}");
        assert_eq!(
            events[..4],
            [
                Event::Listening {
                    transport: "lan".into(),
                    port: Some(7001)
                },
                Event::FolderUnreadable {
                    transport: "drive".into(),
                    error: "the folder /media/stick is gone".into()
                },
                Event::StreamWritten {
                    transport: "drive".into(),
                    contact: "bob".into()
                },
                Event::FileSkipped {
                    transport: "drive".into(),
                    name: "old.courier".into(),
                    reason: "cut short".into()
                },
            ]
        );
        assert!(
            matches!(&events[4], Event::MessageReceived { contact, message } if contact == "bob" && message.id == hex::encode(said.0))
        );
        assert_eq!(
            watcher.poll(&mut service, vec![gone()], &[]).unwrap(),
            [],
            "still gone: told once"
        );
        assert_eq!(
            watcher
                .poll(&mut service, vec![back.clone(), back], &[])
                .unwrap(),
            [Event::FolderReadable {
                transport: "drive".into()
            }]
        );
    }

    #[test]
    fn the_watcher_tells_a_group_s_membership_changes_and_others_posts_once_and_never_our_own() {
        use courier_proto::group::{Kind, MemberKey, Record};
        let (_root, mut service) = initialised();
        let bob = bob(&mut service);
        let mut watcher = Watcher::new(&service, &[]).unwrap();
        // A group made after the watcher began is told from its start: we made it.
        let made = service.create_group("Medics", "alice").unwrap();
        let events = watcher.poll(&mut service, vec![], &[]).unwrap();
        let [
            Event::GroupMembership {
                group,
                name,
                change,
            },
        ] = &events[..]
        else {
            panic!("{events:?}")
        };
        assert_eq!(
            (group.as_str(), name.as_str()),
            (hex::encode(made.id.0).as_str(), "Medics")
        );
        assert_eq!(
            (
                change.author.as_str(),
                change.member.as_deref(),
                change.ours
            ),
            ("alice", Some("alice"), true)
        );
        // Bob joins (his answer makes our node write his add); his post is told, ours is not.
        let group = made.id;
        service.db.invite_to_group(&group, bob, 1).unwrap();
        let bobs_key = MemberKey::generate();
        let answer = courier_proto::group::invitation::GroupNote::Answer {
            group,
            member: Some((bobs_key.public(), "bob".into())),
        };
        service
            .db
            .take_group_message(bob, &answer.to_message(2), courier_storage::Arrival::at(2))
            .unwrap();
        let body = service
            .db
            .next_group_body(
                &group,
                bobs_key.public(),
                3,
                Kind::Post {
                    parent: None,
                    content_type: "courier/text".into(),
                    type_version: 1,
                    fallback: "hello all".into(),
                    body: b"hello all".to_vec(),
                },
            )
            .unwrap();
        let post = Record::sign(&bobs_key, body).unwrap();
        service
            .db
            .take_group_message(bob, &post.to_message(), courier_storage::Arrival::at(4))
            .unwrap();
        let events = watcher.poll(&mut service, vec![], &[]).unwrap();
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| match e {
                Event::GroupMembership { change, .. } => change.kind.as_str(),
                Event::GroupPostReceived { post, .. } => {
                    assert_eq!((post.author.as_str(), post.ours), ("bob", false));
                    "post"
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds, ["added", "post"]);
        assert_eq!(
            watcher.poll(&mut service, vec![], &[]).unwrap(),
            [],
            "told once"
        );
        // Our own post is no news to us.
        let ours = service.db.group(&group).unwrap().unwrap().key.unwrap();
        let body = service
            .db
            .next_group_body(
                &group,
                ours.public(),
                5,
                Kind::Post {
                    parent: None,
                    content_type: "courier/text".into(),
                    type_version: 1,
                    fallback: String::new(),
                    body: b"welcome, bob".to_vec(),
                },
            )
            .unwrap();
        let record = Record::sign(&ours, body).unwrap();
        service
            .db
            .publish_group_record(record.clone())
            .unwrap()
            .unwrap();
        assert_eq!(watcher.poll(&mut service, vec![], &[]).unwrap(), []);
        // Bob reacts to our post, then takes his own back: each is told as what it did. This
        // service has no plugins, so a reaction shows as the line bob's plugin wrote for it.
        let relation =
            |service: &mut Service, kind: RelationKind, target: &Record, body: &str, at: u64| {
                let payload = courier_proto::sync::relation::payload(
                    &MessageId(target.id.0),
                    body.as_bytes(),
                );
                let kind = Kind::Post {
                    parent: None,
                    content_type: kind.content_type().into(),
                    type_version: 1,
                    fallback: format!("{} {body}", kind.content_type()),
                    body: payload,
                };
                let body = service
                    .db
                    .next_group_body(&group, bobs_key.public(), at, kind)
                    .unwrap();
                let record = Record::sign(&bobs_key, body).unwrap();
                service
                    .db
                    .take_group_message(bob, &record.to_message(), courier_storage::Arrival::at(at))
                    .unwrap();
            };
        relation(&mut service, RelationKind::Reaction, &record, "👍", 6);
        let events = watcher.poll(&mut service, vec![], &[]).unwrap();
        let [Event::GroupPostChanged { post: changed, .. }] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!(changed.id, hex::encode(record.id.0));
        let reactions: Vec<(&str, bool, &str)> = changed
            .reactions
            .iter()
            .map(|r| (r.author.as_str(), r.ours, r.reaction.as_str()))
            .collect();
        assert_eq!(reactions, [("bob", false, "courier/reaction 👍")]);
        relation(&mut service, RelationKind::Delete, &post, "", 7);
        let events = watcher.poll(&mut service, vec![], &[]).unwrap();
        // The retraction shows in the group as its own line ("deleted a message"), as in a
        // conversation, and tells what it took back.
        assert!(
            matches!(&events[..], [
                Event::GroupPostReceived { post: line, .. },
                Event::GroupPostDeleted { id, .. },
            ] if *id == hex::encode(post.id.0)
                && line.content_type.as_deref() == Some("courier/delete")),
            "{events:?}"
        );
        assert_eq!(watcher.poll(&mut service, vec![], &[]).unwrap(), []);
    }
}
