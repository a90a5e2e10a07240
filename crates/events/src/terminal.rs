//! An event as one line for a terminal (what `courier serve` prints). A terminal's output may end
//! up in a service manager's journal, so a line names contacts only as the log does (scrubbed unless
//! `COURIER_LOG_SENSITIVE` is set), never shows what a message says, and shows what a stranger chose
//! (a file's name on a drive) escaped.

use std::fmt;

use courier_text_safety::for_terminal;
use safelog::sensitive;

use crate::{Event, Transport};

/// The first 8 hex digits of a message id: enough to tell messages apart on a screen.
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::MessageReceived { contact, message } => write!(
                f,
                "{}: received {} message {}{}",
                sensitive(contact),
                message.content_type,
                short(&message.id),
                if message.damaged { " (damaged)" } else { "" }
            ),
            Event::MessageSent { contact, id } => {
                write!(f, "{}: sent message {}", sensitive(contact), short(id))
            }
            Event::MessageAcked { contact, id } => {
                write!(f, "{}: stored message {}", sensitive(contact), short(id))
            }
            Event::MessageRead { contact, id } => {
                write!(f, "{}: read message {}", sensitive(contact), short(id))
            }
            Event::MessageReacted { contact, message } => write!(
                f,
                "{}: reactions to message {} changed",
                sensitive(contact),
                short(&message.id)
            ),
            Event::MessageEdited { contact, message } => {
                write!(
                    f,
                    "{}: message {} edited",
                    sensitive(contact),
                    short(&message.id)
                )
            }
            Event::MessageDeleted { contact, id } => {
                write!(
                    f,
                    "{}: message {} deleted for everyone",
                    sensitive(contact),
                    short(id)
                )
            }
            Event::ContactAdded { alias } => write!(f, "{}: now a contact", sensitive(alias)),
            Event::ContactPending { alias, state } => {
                write!(f, "{}: {} contact", sensitive(alias), state.as_str())
            }
            Event::ContactRemoved { alias } => write!(f, "{}: removed", sensitive(alias)),
            Event::ContactConnected { alias, transport } => {
                write!(f, "{}: connected on {transport}", sensitive(alias))
            }
            Event::ContactDisconnected { alias, transport } => {
                write!(f, "{}: disconnected from {transport}", sensitive(alias))
            }
            Event::AttachmentProgress {
                contact,
                id,
                sent,
                acked,
                total,
            } => write!(
                f,
                "{}: message {}: {sent} of {total} chunks sent, {acked} stored",
                sensitive(contact),
                short(id)
            ),
            // A group's and a member's names are chosen by people: scrubbed as aliases are.
            Event::GroupPostReceived { group, post, .. } => write!(
                f,
                "group {}: received {} post {} from {}",
                short(group),
                post.content_type.as_deref().unwrap_or("a"),
                short(&post.id),
                sensitive(for_terminal(&post.author))
            ),
            Event::GroupPostChanged { group, post, .. } => write!(
                f,
                "group {}: post {} changed (a reaction or an edit)",
                short(group),
                short(&post.id)
            ),
            Event::GroupPostDeleted { group, id, .. } => write!(
                f,
                "group {}: post {} deleted for everyone",
                short(group),
                short(id)
            ),
            Event::GroupMembership { group, change, .. } => write!(
                f,
                "group {}: {} {}{}",
                short(group),
                sensitive(for_terminal(&change.author)),
                change.kind.as_str(),
                change
                    .member
                    .as_deref()
                    .map(|m| format!(" {}", sensitive(for_terminal(m))))
                    .unwrap_or_default()
            ),
            Event::TransportState { transport } => transport.fmt(f),
            Event::Listening {
                transport,
                port: Some(port),
            } => write!(f, "{transport}: listening on port {port}"),
            Event::Listening {
                transport,
                port: None,
            } => write!(f, "{transport}: listening"),
            Event::StreamWritten { transport, contact } => {
                write!(f, "{transport}: wrote a stream for {}", sensitive(contact))
            }
            Event::FileSkipped {
                transport,
                name,
                reason,
            } => write!(
                f,
                "{transport}: skipped a damaged file {}: {}",
                sensitive(for_terminal(name)),
                for_terminal(reason)
            ),
            // The folder is the user's own (their config names it): shown, as it always was.
            Event::FolderUnreadable { transport, error } => {
                write!(f, "{transport}: {}", for_terminal(error))
            }
            Event::FolderReadable { transport } => {
                write!(f, "{transport}: reading the folder again")
            }
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}, {} link(s)", self.id, self.health, self.links)?;
        if let Some(medium) = &self.medium {
            write!(f, ", {medium}")?;
        }
        if let Some(fault) = &self.fault {
            write!(f, " ({})", for_terminal(fault))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DirectionJson, Message, StateJson};

    fn received(summary: &str, damaged: bool) -> Event {
        Event::MessageReceived {
            contact: "bob".into(),
            message: Message {
                id: "0123456789abcdef".repeat(4),
                direction: DirectionJson::Incoming,
                state: StateJson::Received,
                content_type: "courier/text".into(),
                summary: summary.into(),
                time_ms: 1,
                bytes: Some(5),
                damaged,
                relation: None,
                relates_to: None,
                reactions: Vec::new(),
                edits: Vec::new(),
            },
        }
    }

    #[test]
    fn a_line_names_no_contact_and_says_nothing_of_what_a_message_says() {
        let line = received("meet at the bakery", false).to_string();
        assert_eq!(line, "[scrubbed]: received courier/text message 01234567");
        assert_eq!(
            received("x", true).to_string(),
            "[scrubbed]: received courier/text message 01234567 (damaged)"
        );
        let acked = Event::MessageAcked {
            contact: "bob".into(),
            id: "ab".repeat(32),
        };
        assert_eq!(acked.to_string(), "[scrubbed]: stored message abababab");
    }

    #[test]
    fn a_reaction_or_an_edit_is_told_without_what_it_says() {
        let Event::MessageReceived { message, .. } = received("meet at the bakery", false) else {
            unreachable!()
        };
        let reacted = Event::MessageReacted {
            contact: "bob".into(),
            message: Message {
                reactions: vec![crate::ReactionJson {
                    from: DirectionJson::Incoming,
                    reaction: "bakery".into(),
                }],
                ..message.clone()
            },
        };
        let edited = Event::MessageEdited {
            contact: "bob".into(),
            message: Message {
                edits: vec!["the bakery at nine".into()],
                ..message
            },
        };
        let lines = [reacted.to_string(), edited.to_string()];
        assert_eq!(
            lines,
            [
                "[scrubbed]: reactions to message 01234567 changed",
                "[scrubbed]: message 01234567 edited"
            ]
        );
        let read = Event::MessageRead {
            contact: "bob".into(),
            id: "ab".repeat(32),
        };
        let deleted = Event::MessageDeleted {
            contact: "bob".into(),
            id: "cd".repeat(32),
        };
        assert_eq!(read.to_string(), "[scrubbed]: read message abababab");
        assert_eq!(
            deleted.to_string(),
            "[scrubbed]: message cdcdcdcd deleted for everyone"
        );
    }

    #[test]
    fn a_stranger_s_file_name_reaches_the_terminal_escaped_and_scrubbed() {
        let skipped = Event::FileSkipped {
            transport: "drive".into(),
            name: "evil\n\u{1b}[2J".into(),
            reason: "cut short\u{1b}[2J".into(),
        };
        let line = skipped.to_string();
        assert_eq!(
            line,
            r"drive: skipped a damaged file [scrubbed]: cut short\u{1b}[2J"
        );
    }

    #[test]
    fn a_transport_s_line_has_its_health_links_and_medium() {
        let tor = Transport {
            id: "tor".into(),
            plugin: "transport-tor".into(),
            simplex: false,
            links: 2,
            contacts: vec!["bob".into()],
            published: true,
            health: "up".into(),
            fault: None,
            medium: Some("bootstrapping (40%)".into()),
            reveals: vec![],
        };
        assert_eq!(
            Event::TransportState { transport: tor }.to_string(),
            "tor: up, 2 link(s), bootstrapping (40%)"
        );
        let lan = Event::Listening {
            transport: "lan".into(),
            port: Some(7001),
        };
        assert_eq!(lan.to_string(), "lan: listening on port 7001");
    }

    #[test]
    fn the_json_is_tagged_by_type_in_snake_case_and_reads_back() {
        let event = Event::ContactPending {
            alias: "carol".into(),
            state: crate::ContactStateJson::Unmet,
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(
            json,
            r#"{"type":"contact_pending","alias":"carol","state":"unmet"}"#
        );
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
        let listening: Event =
            serde_json::from_str(r#"{"type":"listening","transport":"lan","port":null}"#).unwrap();
        assert_eq!(listening.to_string(), "lan: listening");
    }
}
