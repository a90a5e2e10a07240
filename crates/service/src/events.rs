//! What a live front end is told: messages arriving, ours sent and acked, contacts and transports
//! changing. A [`Watcher`] compares what the database and the node hold now with what it saw last,
//! so whoever made the change (the node, `courier send`, the API) it is told the same way, once.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use courier_proto::sync::record::MessageId;
use courier_storage::{ActivityMark, ContactId, OutgoingState};

use crate::Service;
use crate::contacts::{ContactState, ContactSummary};
use crate::conversation::MessageSummary;
use crate::error::ServiceError;
use crate::node::TransportState;

/// One change, as a front end shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A message arrived (an attachment once all of it is there).
    MessageReceived {
        /// From whom (their alias).
        contact: String,
        /// The message as a list shows it.
        message: MessageSummary,
    },
    /// One of ours left on some transport for the first time.
    MessageSent {
        /// To whom.
        contact: String,
        /// Which.
        id: MessageId,
    },
    /// The contact stored one of ours.
    MessageAcked {
        /// Whose.
        contact: String,
        /// Which.
        id: MessageId,
    },
    /// A pending contact became a contact (or a contact was added some other way).
    ContactAdded {
        /// Their alias.
        alias: String,
    },
    /// A pending contact was added or changed state (pending, unmet).
    ContactPending {
        /// Their alias.
        alias: String,
        /// Where they stand.
        state: ContactState,
    },
    /// A contact or pending contact is gone.
    ContactRemoved {
        /// Their alias.
        alias: String,
    },
    /// A sync session with a contact began on a transport.
    ContactConnected {
        /// Their alias.
        alias: String,
        /// The transport's id.
        transport: String,
    },
    /// The last sync session with a contact on a transport ended.
    ContactDisconnected {
        /// Their alias.
        alias: String,
        /// The transport's id.
        transport: String,
    },
    /// A transport's state changed (links, health, its medium).
    Transport(TransportState),
}

/// Finds what changed since it last looked.
#[derive(Debug)]
pub struct Watcher {
    mark: ActivityMark,
    /// Our unacked messages by row, and where each stood.
    outgoing: HashMap<i64, (ContactId, MessageId, OutgoingState)>,
    contacts: Vec<ContactSummary>,
    links: BTreeSet<(String, ContactId)>,
    transports: Vec<TransportState>,
}

impl Watcher {
    /// A watcher that tells only what changes from now on.
    pub fn new(service: &Service, transports: &[TransportState]) -> Result<Watcher, ServiceError> {
        let mark = service.db.activity_mark()?;
        let outgoing = service
            .db
            .activity(mark)?
            .outgoing
            .into_iter()
            .map(|o| (o.row, (o.contact, o.id, o.state)))
            .collect();
        Ok(Watcher {
            mark,
            outgoing,
            contacts: service.contacts()?,
            links: links(transports),
            transports: transports.to_vec(),
        })
    }

    /// What changed since the last look, in the order a person would expect: contacts first, then
    /// arrivals, then our messages' progress, then transports.
    pub fn poll(
        &mut self,
        service: &mut Service,
        transports: &[TransportState],
    ) -> Result<Vec<Event>, ServiceError> {
        let mut events = Vec::new();
        let aliases = service.aliases()?;
        self.contacts(service, &mut events)?;

        let activity = service.db.activity(self.mark)?;
        self.mark = activity.mark;
        for (contact, id) in activity.arrived {
            let (Some(alias), Some(entry)) =
                (aliases.get(&contact), service.db.entry(contact, &id)?)
            else {
                continue;
            };
            events.push(Event::MessageReceived {
                contact: alias.clone(),
                message: service.summarise(contact, entry)?,
            });
        }
        let mut seen = HashMap::new();
        for row in activity.outgoing {
            let before = self.outgoing.get(&row.row).map(|o| o.2);
            progress(
                &aliases,
                row.contact,
                row.id,
                before,
                row.state,
                &mut events,
            );
            seen.insert(row.row, (row.contact, row.id, row.state));
        }
        // Those no longer unacked were acked, or deleted.
        for (row, (contact, id, before)) in std::mem::take(&mut self.outgoing) {
            if seen.contains_key(&row) {
                continue;
            }
            if let Some(now) = service.db.outgoing_state(contact, &id)? {
                progress(&aliases, contact, id, Some(before), now, &mut events);
            }
        }
        seen.retain(|_, o| o.2 != OutgoingState::Acked);
        self.outgoing = seen;

        let links_now = links(transports);
        for (transport, contact) in links_now.difference(&self.links) {
            if let Some(alias) = aliases.get(contact) {
                events.push(Event::ContactConnected {
                    alias: alias.clone(),
                    transport: transport.clone(),
                });
            }
        }
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
                events.push(Event::Transport(state.clone()));
            }
        }
        self.transports = transports.to_vec();
        Ok(events)
    }

    fn contacts(&mut self, service: &Service, events: &mut Vec<Event>) -> Result<(), ServiceError> {
        let now = service.contacts()?;
        for contact in &now {
            let before = self.contacts.iter().find(|c| c.alias == contact.alias);
            if before.map(|b| b.state) == Some(contact.state) {
                continue;
            }
            events.push(match contact.state {
                ContactState::Contact => Event::ContactAdded {
                    alias: contact.alias.clone(),
                },
                state => Event::ContactPending {
                    alias: contact.alias.clone(),
                    state,
                },
            });
        }
        for gone in self
            .contacts
            .iter()
            .filter(|b| !now.iter().any(|c| c.alias == b.alias))
        {
            events.push(Event::ContactRemoved {
                alias: gone.alias.clone(),
            });
        }
        self.contacts = now;
        Ok(())
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
    };
    let from = before.map_or(0, rank);
    let to = rank(now);
    if from < 1 && to >= 1 {
        events.push(Event::MessageSent {
            contact: alias.clone(),
            id,
        });
    }
    if from < 2 && to >= 2 {
        events.push(Event::MessageAcked {
            contact: alias.clone(),
            id,
        });
    }
}

/// Each (transport, contact) a sync session runs for.
fn links(transports: &[TransportState]) -> BTreeSet<(String, ContactId)> {
    transports
        .iter()
        .flat_map(|t| t.contacts_linked.iter().map(|c| (t.transport.clone(), *c)))
        .collect()
}
