//! The service's types as the API's JSON, in one place.

use std::time::Instant;

use courier_api_client::json::{
    Contact, ContactStateJson, Conversation, DirectionJson, DisappearingTimer, LiveEvent, Message,
    Messages, Plugin, Queued, StateJson, Transport,
};
use courier_service::events::Event;
use courier_service::node::{MediumState, TransportState};
use courier_service::{
    ContactState, ContactSummary, ConversationSummary, Delivery, Direction, MessageSummary,
    MessageWindow, OutgoingState, PeerSupport, PluginHealth, PluginInfo, Sent, Timer,
};

/// A conversation's timer as JSON.
pub fn timer(timer: Timer) -> DisappearingTimer {
    DisappearingTimer {
        timer: timer.to_string(),
        seconds: timer.secs(),
    }
}

/// A contact's state as JSON.
pub fn contact_state(state: ContactState) -> ContactStateJson {
    match state {
        ContactState::Contact => ContactStateJson::Contact,
        ContactState::Pending => ContactStateJson::Pending,
        ContactState::Unmet => ContactStateJson::Unmet,
    }
}

/// A contact as JSON.
pub fn contact(c: ContactSummary) -> Contact {
    Contact {
        alias: c.alias,
        state: contact_state(c.state),
        verified: c.verified,
        online: Vec::new(),
    }
}

/// A message as JSON.
pub fn message(m: MessageSummary) -> Message {
    Message {
        id: hex::encode(m.id.0),
        direction: match m.direction {
            Direction::Outgoing => DirectionJson::Outgoing,
            Direction::Incoming => DirectionJson::Incoming,
        },
        state: match m.delivery {
            Delivery::Outgoing(OutgoingState::Queued) => StateJson::Queued,
            Delivery::Outgoing(OutgoingState::Sent) => StateJson::Sent,
            Delivery::Outgoing(OutgoingState::Acked) => StateJson::Acked,
            Delivery::Received => StateJson::Received,
        },
        content_type: m.content_type,
        summary: m.summary,
        time_ms: m.time_ms,
        bytes: m.bytes.map(|b| b as u64),
        damaged: m.damaged,
    }
}

/// A window of messages as JSON.
pub fn messages(w: MessageWindow) -> Messages {
    Messages {
        messages: w.messages.into_iter().map(message).collect(),
        older: w.older.map(|id| hex::encode(id.0)),
        newer: w.newer.map(|id| hex::encode(id.0)),
    }
}

/// A conversation as JSON.
pub fn conversation(c: ConversationSummary) -> Conversation {
    Conversation {
        alias: c.alias,
        unread: c.unseen as u64,
        newest: c.newest.map(message),
    }
}

/// A queued message as JSON.
pub fn queued(s: Sent) -> Queued {
    Queued {
        id: hex::encode(s.id.0),
        support: match s.support {
            PeerSupport::Unknown => "unknown",
            PeerSupport::Version(_) => "reads",
            PeerSupport::Lacking => "lacking",
        }
        .to_owned(),
        fallback: s.fallback,
    }
}

/// A plugin's health as a word and, when disabled, why.
fn health(health: &PluginHealth) -> (String, Option<String>) {
    match health {
        PluginHealth::Up => ("up".into(), None),
        PluginHealth::BackingOff { .. } => ("backing-off".into(), None),
        PluginHealth::Disabled { reason } => ("disabled".into(), Some(reason.clone())),
    }
}

/// A transport's state as JSON, with contacts named by `alias`.
pub fn transport(state: TransportState, alias: impl Fn(i64) -> Option<String>) -> Transport {
    let (health, fault) = health(&PluginHealth::of(&state.health, Instant::now()));
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

/// A transport plugin as the node runs it, as JSON.
pub fn transport_plugin(t: Transport) -> Plugin {
    Plugin {
        name: t.plugin,
        world: "transport".to_owned(),
        content_type: None,
        versions: None,
        max_input_bytes: None,
        health: t.health,
        fault: t.fault,
        load_ms: 0,
    }
}

/// A loaded plugin as JSON.
pub fn plugin(p: PluginInfo) -> Plugin {
    let (health, fault) = health(&p.health);
    let (world, content_type, versions, max_input_bytes) = match p.description {
        courier_service::Description::Transport { .. } => ("transport", None, None, None),
        courier_service::Description::MessageType {
            content_type,
            min_version,
            max_version,
            max_input_bytes,
            ..
        } => (
            "message-type",
            Some(content_type),
            Some(format!("{min_version}..={max_version}")),
            Some(max_input_bytes),
        ),
    };
    Plugin {
        name: p.name,
        world: world.to_owned(),
        content_type,
        versions,
        max_input_bytes,
        health,
        fault,
        load_ms: p.load_time.as_millis() as u64,
    }
}

/// An event as it goes on the socket, contacts named by `alias` for a transport's state.
pub fn live_event(event: Event, alias: impl Fn(i64) -> Option<String>) -> LiveEvent {
    match event {
        Event::MessageReceived { contact, message } => LiveEvent::MessageReceived {
            contact,
            message: self::message(message),
        },
        Event::MessageSent { contact, id } => LiveEvent::MessageSent {
            contact,
            id: hex::encode(id.0),
        },
        Event::MessageAcked { contact, id } => LiveEvent::MessageAcked {
            contact,
            id: hex::encode(id.0),
        },
        Event::ContactAdded { alias } => LiveEvent::ContactAdded { alias },
        Event::ContactPending { alias, state } => LiveEvent::ContactPending {
            alias,
            state: contact_state(state),
        },
        Event::ContactRemoved { alias } => LiveEvent::ContactRemoved { alias },
        Event::ContactConnected { alias, transport } => {
            LiveEvent::ContactConnected { alias, transport }
        }
        Event::ContactDisconnected { alias, transport } => {
            LiveEvent::ContactDisconnected { alias, transport }
        }
        Event::AttachmentProgress {
            contact,
            id,
            sent,
            acked,
            total,
        } => LiveEvent::AttachmentProgress {
            contact,
            id: hex::encode(id.0),
            sent: sent as u64,
            acked: acked as u64,
            total: total as u64,
        },
        Event::Transport(state) => LiveEvent::TransportState {
            transport: transport(state, alias),
        },
    }
}
