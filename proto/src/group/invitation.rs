//! What two contacts say to each other about a group, inside their 1:1 conversation: the
//! creator's invitation, the invitee's answer, and the presence tag by which two members who are
//! contacts find that they share a group. Each is a conversation message of its own content type
//! with a fallback line, so a reader without groups sees what happened.

use serde::{Deserialize, Serialize};

use super::descriptor::{GroupDescriptor, GroupId, MemberPublic, check_name};
use super::{GroupError, decode_exact, encode};
use crate::sync::record::Message;

/// Content type of an invitation.
pub const INVITE_TYPE: &str = "courier/group-invite";
/// Content type of an answer to one.
pub const ANSWER_TYPE: &str = "courier/group-answer";
/// Content type of a presence tag.
pub const PRESENCE_TYPE: &str = "courier/group-presence";
/// The version of each of these content types this build writes and reads.
pub const VERSION: u32 = 1;

/// What one contact tells another about a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupNote {
    /// The creator invites the reader into `descriptor`'s group.
    Invite {
        /// The group.
        descriptor: GroupDescriptor,
    },
    /// The invitee joins, with the key it made for the group and the name it chose, or declines
    /// (`member` is `None`).
    Answer {
        /// The group.
        group: GroupId,
        /// The invitee's key in the group, and its name there; `None`: declined.
        member: Option<(MemberPublic, String)>,
    },
    /// "I am a member of the group this tag names, as `member`"
    /// ([`super::descriptor::presence_tag`]): only a member can tell which group.
    Presence {
        /// The pair's presence tag for the group.
        tag: [u8; 32],
        /// The writer's key in that group.
        member: MemberPublic,
    },
}

impl GroupNote {
    /// The note as a conversation message written at `timestamp_ms`.
    pub fn to_message(&self, timestamp_ms: u64) -> Message {
        let (content_type, fallback) = match self {
            GroupNote::Invite { descriptor } => (
                INVITE_TYPE,
                format!(
                    "invited you to the group “{}” (this app cannot show groups)",
                    descriptor.name
                ),
            ),
            GroupNote::Answer {
                member: Some(_), ..
            } => (ANSWER_TYPE, "joined your group".to_owned()),
            GroupNote::Answer { member: None, .. } => {
                (ANSWER_TYPE, "declined your group invitation".to_owned())
            }
            GroupNote::Presence { .. } => (PRESENCE_TYPE, String::new()),
        };
        Message {
            timestamp_ms,
            content_type: content_type.into(),
            type_version: VERSION,
            fallback,
            body: encode(self),
        }
    }

    /// The note `message` carries; `None` if it is no group note.
    pub fn from_message(message: &Message) -> Result<Option<GroupNote>, GroupError> {
        let expected = match message.content_type.as_str() {
            INVITE_TYPE => "invite",
            ANSWER_TYPE => "answer",
            PRESENCE_TYPE => "presence",
            _ => return Ok(None),
        };
        if message.type_version != VERSION {
            return Err(GroupError::Malformed {
                what: "group note",
                reason: format!(
                    "version {} of {}; this build reads version {VERSION}",
                    message.type_version, message.content_type
                ),
            });
        }
        let note: GroupNote = decode_exact("group note", &message.body)?;
        let kind = match &note {
            GroupNote::Invite { descriptor } => {
                check_name("descriptor", &descriptor.name)?;
                "invite"
            }
            GroupNote::Answer { member, .. } => {
                if let Some((_, name)) = member {
                    check_name("answer", name)?;
                }
                "answer"
            }
            GroupNote::Presence { .. } => "presence",
        };
        if kind != expected {
            return Err(GroupError::Malformed {
                what: "group note",
                reason: format!("a {kind} under the content type {}", message.content_type),
            });
        }
        Ok(Some(note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::MemberKey;

    #[test]
    fn each_note_survives_its_message_and_says_what_happened_to_a_reader_without_groups() {
        let creator = MemberKey::generate();
        let descriptor = GroupDescriptor::new(&creator, "Union branch").unwrap();
        let notes = [
            GroupNote::Invite {
                descriptor: descriptor.clone(),
            },
            GroupNote::Answer {
                group: descriptor.id(),
                member: Some((MemberKey::generate().public(), "bob".into())),
            },
            GroupNote::Answer {
                group: descriptor.id(),
                member: None,
            },
            GroupNote::Presence {
                tag: [9; 32],
                member: creator.public(),
            },
        ];
        for note in notes {
            let message = note.to_message(5);
            message.check().unwrap();
            assert_eq!(GroupNote::from_message(&message), Ok(Some(note)));
        }
        let invite = GroupNote::Invite { descriptor }.to_message(5);
        assert!(
            invite.fallback.contains("“Union branch”"),
            "{}",
            invite.fallback
        );
    }

    #[test]
    fn a_note_under_the_wrong_type_or_version_or_with_a_bad_name_is_refused() {
        let text = Message {
            timestamp_ms: 1,
            content_type: "courier/text".into(),
            type_version: 1,
            fallback: String::new(),
            body: b"hello".to_vec(),
        };
        assert_eq!(GroupNote::from_message(&text), Ok(None));
        let presence = GroupNote::Presence {
            tag: [1; 32],
            member: MemberKey::generate().public(),
        };
        let mut wrong_type = presence.to_message(1);
        wrong_type.content_type = INVITE_TYPE.into();
        assert!(GroupNote::from_message(&wrong_type).is_err());
        let mut newer = presence.to_message(1);
        newer.type_version = 2;
        assert!(GroupNote::from_message(&newer).is_err());
        let answer = GroupNote::Answer {
            group: GroupId([1; 32]),
            member: Some((MemberKey::generate().public(), "a\u{1b}[2Jb".into())),
        };
        assert!(GroupNote::from_message(&answer.to_message(1)).is_err());
    }
}
