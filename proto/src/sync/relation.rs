//! Relations between the messages of a conversation: a reply, a reaction, an edit or a retraction
//! ("delete for everyone") is a message of its own content type whose payload names the message it
//! relates to. The payload is `target id (32 bytes) ‖ body`: the target is read by the host, which
//! checks it (it exists in the conversation; an edit or a retraction is of the sender's own
//! message); the body is the kind's own (a reply's text, the reaction, the edited text, nothing for
//! a retraction), checked by the kind's plugin. A reader without that plugin shows the sender's
//! fallback line ("↩ replying to …", "reacted 👍 to …", "edited: …", "deleted a message").

use super::record::{Message, MessageId};

/// A reply: its body is its text.
pub const REPLY_TYPE: &str = "courier/reply";
/// A reaction: its body is one emoji or a short text; a later one from the same sender replaces it.
pub const REACTION_TYPE: &str = "courier/reaction";
/// An edit of the sender's own message: its body is the new text.
pub const EDIT_TYPE: &str = "courier/edit";
/// A retraction of the sender's own message, for both sides: its body is empty.
pub const DELETE_TYPE: &str = "courier/delete";
/// Bytes before a relation's body.
pub const TARGET_LEN: usize = 32;
/// Largest reaction body: one emoji sequence or a short word (the plugin's finer rule is inside it).
pub const MAX_REACTION_LEN: usize = 64;

/// What a relation does to the message it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelationKind {
    /// Answers it, quoting it.
    Reply,
    /// Reacts to it.
    Reaction,
    /// Replaces its text (the sender's own message only).
    Edit,
    /// Takes it back on both sides (the sender's own message only).
    Delete,
}

impl RelationKind {
    /// Every kind.
    pub const ALL: [RelationKind; 4] = [
        RelationKind::Reply,
        RelationKind::Reaction,
        RelationKind::Edit,
        RelationKind::Delete,
    ];

    /// The kind a message of `content_type` is, if it is a relation.
    pub fn of(content_type: &str) -> Option<RelationKind> {
        RelationKind::ALL
            .into_iter()
            .find(|k| k.content_type() == content_type)
    }

    /// Its content type.
    pub fn content_type(self) -> &'static str {
        match self {
            RelationKind::Reply => REPLY_TYPE,
            RelationKind::Reaction => REACTION_TYPE,
            RelationKind::Edit => EDIT_TYPE,
            RelationKind::Delete => DELETE_TYPE,
        }
    }

    /// Its name in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            RelationKind::Reply => "reply",
            RelationKind::Reaction => "reaction",
            RelationKind::Edit => "edit",
            RelationKind::Delete => "delete",
        }
    }

    /// Whether only the sender of the message it names may send it.
    pub fn own_only(self) -> bool {
        matches!(self, RelationKind::Edit | RelationKind::Delete)
    }
}

/// A relation, read from its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relation<'a> {
    /// What it does.
    pub kind: RelationKind,
    /// The message it names.
    pub target: MessageId,
    /// The kind's own body.
    pub body: &'a [u8],
}

/// Why a relation's payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelationError {
    /// Shorter than the id it must start with.
    #[error("a {0} message too short to name the message it relates to")]
    Short(&'static str),
    /// A retraction that says more than which message it takes back.
    #[error("a retraction carries nothing but the message it takes back")]
    DeleteWithBody,
    /// A reaction longer than any emoji or short word.
    #[error("a reaction of more than {MAX_REACTION_LEN} bytes; send a reply instead")]
    LongReaction,
}

/// The relation `message` carries: `None` if its content type is no relation's.
pub fn relation_of(message: &Message) -> Option<Result<Relation<'_>, RelationError>> {
    let kind = RelationKind::of(&message.content_type)?;
    Some(read(kind, &message.body))
}

/// Reads a payload of `kind`.
pub fn read(kind: RelationKind, payload: &[u8]) -> Result<Relation<'_>, RelationError> {
    let (target, body) = payload
        .split_first_chunk::<TARGET_LEN>()
        .ok_or(RelationError::Short(kind.as_str()))?;
    if kind == RelationKind::Delete && !body.is_empty() {
        return Err(RelationError::DeleteWithBody);
    }
    // Checked here too, where the host reads it, so no peer's "reaction" is listed at length.
    if kind == RelationKind::Reaction && body.len() > MAX_REACTION_LEN {
        return Err(RelationError::LongReaction);
    }
    Ok(Relation {
        kind,
        target: MessageId(*target),
        body,
    })
}

/// The payload of a relation to `target` whose own body is `body`.
pub fn payload(target: &MessageId, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(TARGET_LEN + body.len());
    out.extend_from_slice(&target.0);
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(content_type: &str, body: Vec<u8>) -> Message {
        Message {
            timestamp_ms: 1_700_000_000_000,
            content_type: content_type.into(),
            type_version: 1,
            fallback: "reacted 👍".into(),
            body,
        }
    }

    #[test]
    fn a_reaction_s_payload_and_id_are_pinned_to_known_values() {
        // proto/vectors/known_answers.py, "# relation": a 👍 to message 07..07.
        let body = payload(&MessageId([7; 32]), "👍".as_bytes());
        assert_eq!(
            hex::encode(&body),
            "0707070707070707070707070707070707070707070707070707070707070707f09f918d"
        );
        let reaction = message(REACTION_TYPE, body);
        let relation = relation_of(&reaction).unwrap().unwrap();
        assert_eq!(
            (relation.kind, relation.target, relation.body),
            (RelationKind::Reaction, MessageId([7; 32]), "👍".as_bytes())
        );
        assert_eq!(
            hex::encode(reaction.id().0),
            "15c95bb382c618bcf502cd47db647a6a0ea8c0a41f3d1eea269af55a57574556"
        );
    }

    #[test]
    fn each_kind_has_its_type_and_only_edits_and_retractions_are_the_sender_s_own() {
        for kind in RelationKind::ALL {
            assert_eq!(RelationKind::of(kind.content_type()), Some(kind));
            assert_eq!(
                kind.own_only(),
                matches!(kind, RelationKind::Edit | RelationKind::Delete)
            );
        }
        assert_eq!(RelationKind::of("courier/text"), None);
        assert_eq!(relation_of(&message("courier/text", vec![1; 40])), None);
        let names: Vec<&str> = RelationKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, ["reply", "reaction", "edit", "delete"]);
    }

    #[test]
    fn a_payload_too_short_or_a_retraction_with_a_body_is_refused() {
        assert_eq!(
            read(RelationKind::Reply, &[1; 31]),
            Err(RelationError::Short("reply"))
        );
        assert_eq!(
            read(RelationKind::Delete, &[1; 33]),
            Err(RelationError::DeleteWithBody)
        );
        let taken_back = read(RelationKind::Delete, &[1; 32]).unwrap();
        assert_eq!(
            (taken_back.target, taken_back.body),
            (MessageId([1; 32]), &[][..])
        );
        assert!(read(RelationKind::Reaction, &[1; 32 + MAX_REACTION_LEN]).is_ok());
        assert_eq!(
            read(RelationKind::Reaction, &[1; 32 + MAX_REACTION_LEN + 1]),
            Err(RelationError::LongReaction)
        );
        // A reply's body may be empty at this layer: its plugin says what text it needs.
        assert!(read(RelationKind::Reply, &[1; 32]).is_ok());
    }
}
