//! The service's types as the API's JSON, in one place. What events carry too (a message, a
//! transport) is made by the service in the events' vocabulary (`courier_service::views`).

use courier_api_client::json::{
    Contact, Conversation, DisappearingTimer, Message, Messages, Plugin, Queued, ReadReceipts,
    ReceiptsChoice, SetTimer, Transport,
};
use courier_service::views::health_words;
use courier_service::{
    ContactSummary, ConversationSummary, MessageSummary, MessageWindow, PeerSupport, PluginInfo,
    Sent, Timer,
};

pub use courier_service::views::transport;

/// A conversation's timer as JSON.
pub fn timer(timer: Timer) -> DisappearingTimer {
    DisappearingTimer {
        timer: timer.to_string(),
        seconds: timer.secs(),
    }
}

/// A conversation's read receipts as JSON.
pub fn receipts(receipts: courier_service::Receipts) -> ReadReceipts {
    ReadReceipts {
        chosen: match receipts.chosen {
            Some(true) => ReceiptsChoice::On,
            Some(false) => ReceiptsChoice::Off,
            None => ReceiptsChoice::Default,
        },
        on: receipts.on,
    }
}

/// The service's choice for what a request asks (`None`: as the profile says).
pub fn receipts_asked(choice: ReceiptsChoice) -> Option<bool> {
    match choice {
        ReceiptsChoice::On => Some(true),
        ReceiptsChoice::Off => Some(false),
        ReceiptsChoice::Default => None,
    }
}

/// The timer a request asks for (`off`, `30m`, `12h`, `7d`).
pub fn timer_asked(body: &SetTimer) -> Result<Timer, courier_service::ServiceError> {
    Ok(body.timer.parse()?)
}

/// A contact as JSON.
pub fn contact(c: ContactSummary) -> Contact {
    Contact {
        alias: c.alias,
        state: c.state.into(),
        verified: c.verified,
        online: Vec::new(),
    }
}

/// A message as JSON.
pub fn message(m: MessageSummary) -> Message {
    m.into()
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
    let (health, fault) = health_words(&p.health);
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

/// A group as JSON.
pub fn group(g: courier_service::GroupSummary) -> courier_api_client::json::Group {
    courier_api_client::json::Group {
        id: hex::encode(g.id.0),
        name: g.name,
        standing: g.standing.as_str().to_owned(),
        ours: g.ours,
        invited_by: g.invited_by,
        members: g.members as u64,
        timer: timer(g.timer),
    }
}

/// A group's member as JSON.
pub fn group_member(m: courier_service::MemberSummary) -> courier_api_client::json::GroupMember {
    courier_api_client::json::GroupMember {
        name: m.name,
        key: m.key,
        creator: m.creator,
        us: m.us,
        state: m.state.to_owned(),
        contact: m.contact,
    }
}

/// A window of a group as JSON.
pub fn group_entries(page: courier_service::GroupPage) -> courier_api_client::json::GroupEntries {
    courier_api_client::json::GroupEntries {
        entries: page.items.into_iter().map(Into::into).collect(),
        older: page.older.map(|id| hex::encode(id.0)),
    }
}
