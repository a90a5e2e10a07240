//! Private groups, sans-IO: a group lives on its members' devices, with no server and no group key.
//!
//! The design is Briar's private groups with removal added. A group is a [`GroupDescriptor`]
//! (the creator's key for this group, a name, a random salt) whose hash is the [`GroupId`]. Each
//! member signs with a key made for that group alone ([`MemberKey`]), so no two groups can be
//! linked by a member's key. Only the creator adds members: the invitation travels in the 1:1
//! conversation ([`invitation`]), the invitee answers with the key it made, and the creator's
//! signed `Add` record makes it a member. Everything else in a group is a signed, immutable,
//! content-addressed [`Record`]: a post (with an optional parent, for threads), a member leaving,
//! the creator removing a member or dissolving the group. Each record names its author's previous
//! one, so a missing record is noticed and waited for. Records travel unchanged over the pairwise
//! encrypted links members already have, and a member relays what it accepted, so a post reaches
//! a member who is not its author's contact through any member who is a contact of both.
//! [`rules`] decide what is accepted, held (waiting for what it names) or refused, over any
//! [`GroupStore`]; [`GroupState`] is one in memory.
//!
//! Removal is by a cut: the creator's `Remove` names the removed member's last record it
//! accepts, so every member refuses the same records (those after the cut) whatever order they
//! arrive in.

pub mod descriptor;
pub mod invitation;
pub mod record;
pub mod rules;
pub mod sealed;
pub mod state;

pub use descriptor::{GroupDescriptor, GroupId, MemberKey, MemberPublic, presence_tag};
pub use record::{Kind, Record, RecordBody, RecordId};
pub use rules::{Ended, GroupStore, Member, Outcome, apply, awaiting_add};
pub use state::GroupState;

/// Why a group record, descriptor or invitation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// The bytes do not parse, or a field is out of its limits.
    #[error("malformed group {what}: {reason}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The signature does not verify against the key the record names.
    #[error("a group {0} whose signature does not verify; it is refused and not relayed")]
    BadSignature(&'static str),
    /// The record belongs to another group.
    #[error("a record of another group")]
    WrongGroup,
    /// The author is not a member (never added, or added by someone who is not the creator).
    #[error("a record by someone who is not a member of the group; it is refused and not relayed")]
    NotAMember,
    /// Only the group's creator may add, remove and dissolve.
    #[error("only the group's creator may {0}")]
    NotTheCreator(&'static str),
    /// The author was removed, or left, before this record.
    #[error("a record its author wrote after {0}; it is refused and not relayed")]
    AfterTheEnd(&'static str),
    /// The author signed two records that name the same previous one.
    #[error("its author already wrote another record after the same previous one (a fork)")]
    Fork,
    /// The group was dissolved.
    #[error("the group was dissolved; it takes nothing new")]
    Dissolved,
}

impl courier_error::HasKind for GroupError {
    fn kind(&self) -> courier_error::ErrorKind {
        match self {
            GroupError::Malformed { .. } | GroupError::BadSignature(_) | GroupError::WrongGroup => {
                courier_error::ErrorKind::InvalidInput
            }
            _ => courier_error::ErrorKind::RefusedByPolicy,
        }
    }
}

/// Reads `bytes` as exactly one `T` in postcard's encoding (trailing bytes are refused).
pub(crate) fn decode_exact<'a, T: serde::Deserialize<'a>>(
    what: &'static str,
    bytes: &'a [u8],
) -> Result<T, GroupError> {
    let malformed = |reason: String| GroupError::Malformed { what, reason };
    let (value, rest) = postcard::take_from_bytes(bytes).map_err(|e| malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(malformed(format!("{} bytes after the end", rest.len())));
    }
    Ok(value)
}

/// `value` in postcard's encoding.
pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("postcard writes every value these types hold")
}

#[cfg(test)]
mod tests {
    use courier_error::{ErrorKind, HasKind};

    use super::*;

    #[test]
    fn bad_bytes_are_invalid_input_and_broken_rules_are_refused_by_policy() {
        for e in [
            GroupError::BadSignature("record"),
            GroupError::WrongGroup,
            GroupError::Malformed {
                what: "record",
                reason: "short".into(),
            },
        ] {
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        }
        for e in [
            GroupError::NotAMember,
            GroupError::Fork,
            GroupError::Dissolved,
        ] {
            assert_eq!(e.kind(), ErrorKind::RefusedByPolicy, "{e}");
        }
    }
}
