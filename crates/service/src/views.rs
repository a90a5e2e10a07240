//! The service's types in the event vocabulary's forms: what the API answers and what a live front
//! end is told are the same [`courier_events`] types, made here once.

use std::time::Instant;

use courier_events::{
    ContactStateJson, DirectionJson, GroupEntry, GroupEntryKind, GroupReactionJson, Message,
    ReactionJson, StateJson, Transport,
};
use courier_storage::ContactId;

use crate::conversation::MessageSummary;
use crate::groups::{GroupEvent, GroupItem};
use crate::node::{MediumState, TransportState};
use crate::{ContactState, Delivery, Direction, OutgoingState, PluginHealth};

impl From<ContactState> for ContactStateJson {
    fn from(state: ContactState) -> ContactStateJson {
        match state {
            ContactState::Contact => ContactStateJson::Contact,
            ContactState::Pending => ContactStateJson::Pending,
            ContactState::Unmet => ContactStateJson::Unmet,
        }
    }
}

impl From<MessageSummary> for Message {
    fn from(m: MessageSummary) -> Message {
        Message {
            id: hex::encode(m.id.0),
            direction: direction(m.direction),
            state: match m.delivery {
                Delivery::Outgoing(OutgoingState::Queued) => StateJson::Queued,
                Delivery::Outgoing(OutgoingState::Sent) => StateJson::Sent,
                Delivery::Outgoing(OutgoingState::Acked) => StateJson::Acked,
                Delivery::Outgoing(OutgoingState::Read) => StateJson::Read,
                Delivery::Received => StateJson::Received,
            },
            content_type: m.content_type,
            summary: m.summary,
            time_ms: m.time_ms,
            bytes: m.bytes.map(|b| b as u64),
            damaged: m.damaged,
            relation: m.relation.map(|(kind, _)| kind.as_str().to_owned()),
            relates_to: m.relation.map(|(_, target)| hex::encode(target.0)),
            reactions: m
                .reactions
                .into_iter()
                .map(|(from, reaction)| ReactionJson {
                    from: direction(from),
                    reaction,
                })
                .collect(),
            edits: m.edits,
        }
    }
}

fn direction(d: Direction) -> DirectionJson {
    match d {
        Direction::Outgoing => DirectionJson::Outgoing,
        Direction::Incoming => DirectionJson::Incoming,
    }
}

/// A plugin's health as a word (`up`, `backing-off`, `disabled`) and, when disabled, why.
pub fn health_words(health: &PluginHealth) -> (String, Option<String>) {
    match health {
        PluginHealth::Up => ("up".into(), None),
        PluginHealth::BackingOff { .. } => ("backing-off".into(), None),
        PluginHealth::Disabled { reason } => ("disabled".into(), Some(reason.clone())),
    }
}

/// A transport's state, with contacts named by `alias` (one it cannot name is left out).
pub fn transport(state: TransportState, alias: impl Fn(ContactId) -> Option<String>) -> Transport {
    let (health, fault) = health_words(&PluginHealth::of(&state.health, Instant::now()));
    Transport {
        id: state.transport,
        plugin: state.plugin,
        simplex: state.simplex,
        links: state.links as u64,
        contacts: state
            .contacts_linked
            .into_iter()
            .filter_map(alias)
            .collect(),
        published: state.published,
        health,
        fault,
        medium: state.medium.as_ref().map(MediumState::to_string),
        reveals: state.reveals.iter().map(|r| (*r).to_owned()).collect(),
    }
}

impl From<GroupItem> for GroupEntry {
    fn from(item: GroupItem) -> GroupEntry {
        let mut entry = GroupEntry {
            id: hex::encode(item.id.0),
            author: item.author,
            ours: item.ours,
            time_ms: item.time_ms,
            kind: GroupEntryKind::Post,
            parent: None,
            content_type: None,
            summary: None,
            bytes: None,
            member: None,
            timer: None,
            reactions: Vec::new(),
            edits: Vec::new(),
        };
        match item.event {
            GroupEvent::Post {
                parent,
                content_type,
                summary,
                bytes,
                reactions,
                edits,
            } => {
                entry.parent = parent.map(|p| hex::encode(p.0));
                entry.content_type = Some(content_type);
                entry.summary = Some(summary);
                entry.bytes = bytes.map(|b| b as u64);
                entry.reactions = reactions
                    .into_iter()
                    .map(|r| GroupReactionJson {
                        author: r.author,
                        ours: r.ours,
                        reaction: r.reaction,
                    })
                    .collect();
                entry.edits = edits;
            }
            GroupEvent::Added { member } => {
                entry.kind = GroupEntryKind::Added;
                entry.member = Some(member);
            }
            GroupEvent::Left => entry.kind = GroupEntryKind::Left,
            GroupEvent::Removed { member } => {
                entry.kind = GroupEntryKind::Removed;
                entry.member = Some(member);
            }
            GroupEvent::Dissolved => entry.kind = GroupEntryKind::Dissolved,
            GroupEvent::Timer(timer) => {
                entry.kind = GroupEntryKind::Timer;
                entry.timer = Some(timer.to_string());
            }
        }
        entry
    }
}
