//! A conversation: sending any installed content type to a contact, and reading a page of what was
//! sent and received.

use courier_proto::sync::record::MessageId;
use courier_proto::sync::relation::{self, RelationKind};
use courier_proto::sync::timer::Timer;
use courier_storage::{Around, ContactId, Database, Delivery, Direction, Draft, Entry, Payload};

use crate::Service;
use crate::content::{PeerSupport, compose, relation_shown, summary};
use crate::error::ServiceError;
use crate::service::now_ms;

/// A message about to be sent: the contact and its content type are known, the input not yet read.
pub struct Outgoing<'a> {
    service: &'a mut Service,
    contact: ContactId,
    content_type: String,
    limit: u64,
    /// The message a reply, reaction, edit or retraction names.
    relates_to: Option<MessageId>,
}

/// A queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Its id.
    pub id: MessageId,
    /// Whether the contact reads its content type, as far as we know.
    pub support: PeerSupport,
    /// What a contact without the plugin sees instead (empty for a text, its own fallback).
    pub fallback: String,
}

/// Which messages of a conversation to list, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// How many of the oldest to pass over.
    pub skip: usize,
    /// How many to list at most; `None` for all the rest.
    pub take: Option<usize>,
}

impl Page {
    /// The whole conversation.
    pub const ALL: Page = Page {
        skip: 0,
        take: None,
    };
}

/// Some of a conversation's messages, and how many it has in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationPage {
    /// The messages asked for, in the senders' time order.
    pub messages: Vec<MessageSummary>,
    /// Messages in the whole conversation.
    pub total: usize,
}

/// One message as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSummary {
    /// Its id.
    pub id: MessageId,
    /// Sent or received.
    pub direction: Direction,
    /// Queued, sent, acked or received.
    pub delivery: Delivery,
    /// Its content type.
    pub content_type: String,
    /// One line: the plugin's summary, else the sender's fallback, else the type in brackets.
    pub summary: String,
    /// The sender's clock, Unix ms.
    pub time_ms: u64,
    /// Its size once all of it is there (an attachment may still be arriving, or be damaged).
    pub bytes: Option<usize>,
    /// Whether its chunks were lost or damaged on disk.
    pub damaged: bool,
    /// For a reply, reaction, edit or retraction: what it does and to which message.
    pub relation: Option<(RelationKind, MessageId)>,
    /// The reactions to it, each side's latest (an emoji or a short word).
    pub reactions: Vec<(Direction, String)>,
    /// Its edits' texts, oldest first: the last is what it says now.
    pub edits: Vec<String>,
}

impl Service {
    /// Starts a message to `alias` of `content_type`, which an installed plugin must handle; the
    /// returned [`Outgoing`] says how much input that plugin takes, so a caller reads no more.
    pub fn outgoing(
        &mut self,
        alias: &str,
        content_type: &str,
    ) -> Result<Outgoing<'_>, ServiceError> {
        let contact = self.conversation_contact(alias)?;
        let limit = self
            .plugins()?
            .message_type(content_type)?
            .description()
            .max_input_bytes;
        Ok(Outgoing {
            service: self,
            contact,
            content_type: content_type.to_owned(),
            limit,
            relates_to: None,
        })
    }

    /// Starts a message of `content_type` to `alias` that relates to the message `target` (8+
    /// hex digits of its id): a reply, a reaction, an edit or a retraction (its content type says
    /// which). The conversation's rules are checked as it is queued.
    pub fn relating(
        &mut self,
        alias: &str,
        content_type: &str,
        target: &str,
    ) -> Result<Outgoing<'_>, ServiceError> {
        if RelationKind::of(content_type).is_none() {
            return Err(ServiceError::NotARelation(content_type.to_owned()));
        }
        // In this conversation only: not a look through every contact's for each reaction.
        let contact = self.conversation_contact(alias)?;
        let (_, entry) = self.find_message_among(&[contact], target)?;
        let mut outgoing = self.outgoing(alias, content_type)?;
        outgoing.relates_to = Some(entry.id);
        Ok(outgoing)
    }

    /// Queues `input` as `content_type` to `alias`, with `options` for the plugin over the config's
    /// settings; the message is on disk when this returns, and a running node sends it.
    pub fn send(
        &mut self,
        alias: &str,
        content_type: &str,
        input: &[u8],
        options: &[(String, String)],
    ) -> Result<Sent, ServiceError> {
        self.outgoing(alias, content_type)?.send(input, options)
    }

    /// The messages of `page` in the conversation with `alias`.
    pub fn conversation(
        &mut self,
        alias: &str,
        page: Page,
    ) -> Result<ConversationPage, ServiceError> {
        let contact = self.conversation_contact(alias)?;
        let entries = self.db.conversation(contact)?;
        let total = entries.len();
        let shown = entries
            .into_iter()
            .skip(page.skip)
            .take(page.take.unwrap_or(usize::MAX));
        let messages = shown
            .map(|entry| self.summarise(contact, entry))
            .collect::<Result<_, _>>()?;
        Ok(ConversationPage { messages, total })
    }
    /// A window of the conversation with `alias`, oldest first, keyed by message ids so that
    /// messages arriving meanwhile neither repeat nor shift a page.
    pub fn messages(&mut self, alias: &str, window: Window) -> Result<MessageWindow, ServiceError> {
        let contact = self.conversation_contact(alias)?;
        let around = match (window.before, window.after) {
            (Some(before), _) => Around::Before(before),
            (None, Some(after)) => Around::After(after),
            (None, None) => Around::Newest,
        };
        let cursor = window.before.or(window.after);
        let found = self
            .db
            .window(contact, around, window.limit.max(1))?
            .ok_or_else(|| {
                ServiceError::NoSuchMessage(cursor.map(|id| hex::encode(id.0)).unwrap_or_default())
            })?;
        let older = found.older.then(|| found.entries.first().map(|e| e.id));
        let newer = found.newer.then(|| found.entries.last().map(|e| e.id));
        let messages = found
            .entries
            .into_iter()
            .map(|entry| self.summarise(contact, entry))
            .collect::<Result<_, _>>()?;
        Ok(MessageWindow {
            messages,
            older: older.flatten(),
            newer: newer.flatten(),
        })
    }

    /// Every conversation: each contact with how many of its messages are unseen and its newest.
    pub fn conversations(&mut self) -> Result<Vec<ConversationSummary>, ServiceError> {
        let mut listed = Vec::new();
        for contact in self.db.contacts()? {
            let newest = self.db.newest(contact.id)?;
            listed.push(ConversationSummary {
                unseen: self.db.unseen(contact.id)?,
                newest: newest
                    .map(|entry| self.summarise(contact.id, entry))
                    .transpose()?,
                alias: contact.alias,
            });
        }
        Ok(listed)
    }

    /// Deletes a message (its id in full, or its first 8+ hex digits) from this device: an
    /// outgoing one not acked yet is not sent again; the contact's copy stays.
    pub fn delete_message(&mut self, prefix: &str) -> Result<(), ServiceError> {
        let (contact, entry) = self.find_message(prefix)?;
        self.db.delete_message(contact, &entry.id)?;
        Ok(())
    }

    /// The message `prefix` names (its id, or its first 8+ hex digits) as a list shows it, with its
    /// contact's alias.
    pub fn message(&mut self, prefix: &str) -> Result<(String, MessageSummary), ServiceError> {
        let (contact, entry) = self.find_message(prefix)?;
        let alias = self.alias_of(contact)?;
        Ok((alias, self.summarise(contact, entry)?))
    }

    /// `entry` of the conversation with `contact`, as a list shows it.
    pub(crate) fn summarise(
        &mut self,
        contact: ContactId,
        entry: Entry,
    ) -> Result<MessageSummary, ServiceError> {
        let content = self.db.content(contact, &entry)?;
        let summary = summary(
            self.plugins()?,
            &content,
            &entry.message.fallback,
            entry.direction,
        );
        let relation = relation::relation_of(&entry.message)
            .and_then(Result::ok)
            .map(|r| (r.kind, r.target));
        let (mut reactions, mut edits) = (Vec::new(), Vec::new());
        for related in self.db.relations_to(contact, &entry.id)? {
            // A bent peer's reaction or edit that breaks its kind's rule is not shown.
            let Some(said) = relation_shown(self.plugins()?, &related.message) else {
                continue;
            };
            match RelationKind::of(&related.message.content_type) {
                // Oldest first: a later reaction of the same side replaces its earlier one.
                Some(RelationKind::Reaction) => {
                    reactions.retain(|(side, _)| *side != related.direction);
                    reactions.push((related.direction, said));
                }
                Some(RelationKind::Edit) if related.direction == entry.direction => {
                    edits.push(said)
                }
                _ => {}
            }
        }
        Ok(MessageSummary {
            relation,
            reactions,
            edits,
            id: entry.id,
            direction: entry.direction,
            delivery: entry.delivery,
            bytes: match &content.payload {
                Payload::Complete(p) => Some(p.len()),
                _ => None,
            },
            damaged: matches!(content.payload, Payload::Damaged(_)),
            content_type: content.content_type,
            summary,
            time_ms: entry.message.timestamp_ms,
        })
    }
}

/// Which messages of a conversation to list: at most `limit` of them, the newest, or those just
/// before or just after a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// List the messages just older than this one.
    pub before: Option<MessageId>,
    /// List the messages just newer than this one (when `before` is not given).
    pub after: Option<MessageId>,
    /// How many at most (at least one).
    pub limit: usize,
}

/// A window of a conversation, and where the next ones start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageWindow {
    /// The messages, oldest first.
    pub messages: Vec<MessageSummary>,
    /// The oldest message listed, if older ones exist: pass it as `before` for those.
    pub older: Option<MessageId>,
    /// The newest message listed, if newer ones exist: pass it as `after` for those.
    pub newer: Option<MessageId>,
}

/// One conversation as a list of them shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    /// The contact's alias.
    pub alias: String,
    /// Messages from them the user has not seen.
    pub unseen: usize,
    /// The newest message either way, if any.
    pub newest: Option<MessageSummary>,
}

impl Outgoing<'_> {
    /// The most input the content type's plugin takes, in bytes.
    pub fn input_limit(&self) -> u64 {
        self.limit
    }

    /// Prepares `input` with the plugin and queues it.
    pub fn send(self, input: &[u8], options: &[(String, String)]) -> Result<Sent, ServiceError> {
        self.send_once(input, options, None)
    }

    /// [`send`](Self::send), once per `key` (a client's idempotency key, per contact, kept a
    /// week): a retry with the same key queues nothing and answers with the first send's id.
    pub fn send_once(
        mut self,
        input: &[u8],
        options: &[(String, String)],
        key: Option<&str>,
    ) -> Result<Sent, ServiceError> {
        let prepared = self.prepare(input, options, key)?;
        let now = now_ms();
        let sent = prepared.queue(&mut self.service.db, now)?;
        if RelationKind::of(&self.content_type) == Some(RelationKind::Delete) {
            // What it takes back goes now, not at the node's next sweep.
            self.service.db.sweep_expired(now)?;
        }
        Ok(sent)
    }

    /// Checks `input` and has the plugin make it a message, not yet queued.
    pub(crate) fn prepare(
        &mut self,
        input: &[u8],
        options: &[(String, String)],
        key: Option<&str>,
    ) -> Result<Prepared, ServiceError> {
        if input.len() as u64 > self.limit {
            return Err(ServiceError::InputTooLarge {
                content_type: self.content_type.clone(),
                size: input.len() as u64,
                limit: self.limit,
            });
        }
        let longest = self.service.hold_to_policy(self.contact)?;
        let announced = self.service.db.peer_content_types(self.contact)?;
        let plugins = self.service.plugins()?;
        let all = plugins.options_for(&self.content_type, options)?;
        let plugin = plugins.message_type(&self.content_type)?;
        let (mut draft, support) = compose(plugin, input, &all, &announced)?;
        match (RelationKind::of(&draft.content_type), self.relates_to) {
            (Some(_), Some(target)) => draft.payload = relation::payload(&target, &draft.payload),
            (Some(kind), None) => return Err(ServiceError::RelatesToNothing(kind.as_str())),
            (None, _) => {}
        }
        Ok(Prepared {
            contact: self.contact,
            draft,
            key: key.map(str::to_owned),
            longest,
            support,
        })
    }
}

/// A message its plugin made, to be queued (alone, or with others in one commit).
pub(crate) struct Prepared {
    contact: ContactId,
    draft: Draft,
    key: Option<String>,
    longest: Timer,
    support: PeerSupport,
}

impl Prepared {
    /// Queues the message at `now_ms`: on disk when this returns, unless `db` is inside a batch,
    /// whose commit then makes it so.
    pub(crate) fn queue(self, db: &mut Database, now_ms: u64) -> Result<Sent, ServiceError> {
        let fallback = self.draft.fallback.clone();
        let (id, _, _) = db.send_keyed(
            self.contact,
            self.draft,
            now_ms,
            self.key.as_deref(),
            self.longest,
        )?;
        Ok(Sent {
            id,
            support: self.support,
            fallback,
        })
    }
}
