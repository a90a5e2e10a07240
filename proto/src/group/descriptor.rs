//! What names a group and its members: the descriptor and its hash, the group id; each member's
//! key for one group; and the tag two contacts compare to learn they share a group.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{GroupError, decode_exact, encode};
use crate::identity::lower_first;

/// Longest group or member name, in bytes.
pub const MAX_NAME_LEN: usize = 100;

/// A group's id: the hash of its descriptor.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupId(pub [u8; 32]);

impl std::fmt::Debug for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A group id links logs to a group; show only a short prefix.
        write!(f, "GroupId({}…)", hex::encode(&self.0[..4]))
    }
}

/// A member's public key in one group.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MemberPublic(pub [u8; 32]);

impl std::fmt::Debug for MemberPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemberPublic({}…)", hex::encode(&self.0[..4]))
    }
}

impl MemberPublic {
    /// Whether `signature` is this key's over `domain ‖ message` (strict verification: no
    /// malleable signatures, no weak keys).
    pub(crate) fn verifies(&self, domain: &[u8], message: &[u8], signature: &[u8]) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        key.verify_strict(&[domain, message].concat(), &signature)
            .is_ok()
    }
}

/// A member's signing key for one group, made when they create or join it: no two groups share
/// one, so a member's key links nothing across groups.
pub struct MemberKey(SigningKey);

impl std::fmt::Debug for MemberKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemberKey([secret])")
    }
}

impl MemberKey {
    /// A new random key.
    pub fn generate() -> Self {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the OS random number generator is available");
        MemberKey(SigningKey::from_bytes(&secret))
    }

    /// The key from its stored secret.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        MemberKey(SigningKey::from_bytes(&secret))
    }

    /// The secret, for the encrypted database only.
    pub fn secret(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key other members know this one by.
    pub fn public(&self) -> MemberPublic {
        MemberPublic(self.0.verifying_key().to_bytes())
    }

    /// The signature over `domain ‖ message`.
    pub(crate) fn sign(&self, domain: &[u8], message: &[u8]) -> [u8; 64] {
        self.0.sign(&[domain, message].concat()).to_bytes()
    }
}

/// What a group is: who made it, its name, and a salt that makes two groups of one name and
/// creator two groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDescriptor {
    /// The creator's key in this group.
    pub creator: MemberPublic,
    /// The name the creator gave it.
    pub name: String,
    /// 32 random bytes.
    pub salt: [u8; 32],
}

impl GroupDescriptor {
    /// A new group called `name`, made by the holder of `creator`.
    pub fn new(creator: &MemberKey, name: &str) -> Result<Self, GroupError> {
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt).expect("the OS random number generator is available");
        let descriptor = GroupDescriptor {
            creator: creator.public(),
            name: name.to_owned(),
            salt,
        };
        descriptor.check()?;
        Ok(descriptor)
    }

    /// The group's id: SHA-256 over a domain label and the descriptor's encoding.
    pub fn id(&self) -> GroupId {
        let mut h = Sha256::new();
        h.update(b"courier/v1/group-id");
        h.update(encode(self));
        GroupId(h.finalize().into())
    }

    /// The descriptor's encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// A descriptor from its encoding, checked.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, GroupError> {
        let descriptor: GroupDescriptor = decode_exact("descriptor", bytes)?;
        descriptor.check()?;
        Ok(descriptor)
    }

    fn check(&self) -> Result<(), GroupError> {
        check_name("descriptor", &self.name)
    }
}

/// Refuses a group or member name that is empty, over [`MAX_NAME_LEN`] bytes, or holds control
/// characters (which could forge lines in a terminal or a log).
pub fn check_name(what: &'static str, name: &str) -> Result<(), GroupError> {
    let reason = if name.trim().is_empty() {
        "the name is empty"
    } else if name.len() > MAX_NAME_LEN {
        "the name is over 100 bytes"
    } else if name.chars().any(char::is_control) {
        "the name holds control characters"
    } else {
        return Ok(());
    };
    Err(GroupError::Malformed {
        what,
        reason: reason.into(),
    })
}

/// The tag two contacts compare to learn that both are members of `group`: a hash of the group id
/// and the pair's two handshake keys, lower first, so that both compute the same one. Only a
/// member knows the group id, so a contact who is not one learns nothing from it, and the tag for
/// one pair says nothing about any other pair.
pub fn presence_tag(group: &GroupId, ours: &[u8; 32], theirs: &[u8; 32]) -> [u8; 32] {
    let (first, second) = lower_first(ours, theirs);
    let mut h = Sha256::new();
    h.update(b"courier/v1/group-presence");
    h.update(group.0);
    h.update(first);
    h.update(second);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_descriptor_s_encoding_and_the_group_id_are_pinned_to_known_values() {
        // proto/vectors/known_answers.py, "# group": postcard's encoding written out by hand
        // (the public key and salt as 32 raw bytes each, the name as a varint length and UTF-8).
        let creator = MemberKey::from_secret([1; 32]);
        let descriptor = GroupDescriptor {
            creator: creator.public(),
            name: "Newsroom".into(),
            salt: [2; 32],
        };
        assert_eq!(
            hex::encode(creator.public().0),
            "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
        );
        assert_eq!(
            hex::encode(descriptor.to_bytes()),
            "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c\
             084e657773726f6f6d\
             0202020202020202020202020202020202020202020202020202020202020202"
        );
        assert_eq!(
            hex::encode(descriptor.id().0),
            "2aa58a286fb58125ec233cd02319c2c2850fc6f29498f1d6f7a3c39f86315b83"
        );
        assert_eq!(
            GroupDescriptor::from_bytes(&descriptor.to_bytes()),
            Ok(descriptor)
        );
    }

    #[test]
    fn keys_and_ids_print_short_and_a_secret_never() {
        let key = MemberKey::from_secret([1; 32]);
        assert_eq!(format!("{key:?}"), "MemberKey([secret])");
        assert_eq!(format!("{:?}", key.public()), "MemberPublic(8a88e3dd…)");
        assert_eq!(format!("{:?}", GroupId([0xab; 32])), "GroupId(abababab…)");
        let fresh = MemberKey::generate();
        let again = MemberKey::from_secret(fresh.secret());
        assert_eq!(
            again.public(),
            fresh.public(),
            "the stored secret is the key"
        );
    }

    #[test]
    fn a_descriptor_with_a_bad_name_or_trailing_bytes_is_refused() {
        let key = MemberKey::generate();
        assert!(GroupDescriptor::new(&key, &"x".repeat(MAX_NAME_LEN)).is_ok());
        assert!(GroupDescriptor::new(&key, "").is_err());
        assert!(GroupDescriptor::new(&key, &"x".repeat(101)).is_err());
        assert!(GroupDescriptor::new(&key, "line\nforged").is_err());
        let good = GroupDescriptor::new(&key, "Street medics").unwrap();
        let mut bytes = good.to_bytes();
        bytes.push(0);
        assert!(matches!(
            GroupDescriptor::from_bytes(&bytes),
            Err(GroupError::Malformed { .. })
        ));
        assert!(GroupDescriptor::from_bytes(&bytes[..10]).is_err());
        let other = GroupDescriptor::new(&key, "Street medics").unwrap();
        assert_ne!(good.id(), other.id(), "the salt makes another group");
    }

    #[test]
    fn both_contacts_compute_one_presence_tag_and_it_differs_per_pair_and_per_group() {
        let (g, h) = (GroupId([1; 32]), GroupId([2; 32]));
        let (a, b, c) = ([3; 32], [4; 32], [5; 32]);
        assert_eq!(presence_tag(&g, &a, &b), presence_tag(&g, &b, &a));
        // proto/vectors/known_answers.py: SHA-256(label ‖ group ‖ lower key ‖ higher key).
        assert_eq!(
            hex::encode(presence_tag(&g, &b, &a)),
            "af064636515edb4c24380749f9a9beed0c5c87d85088155237c84f0d48265e62"
        );
        assert_ne!(presence_tag(&g, &a, &b), presence_tag(&g, &a, &c));
        assert_ne!(presence_tag(&g, &a, &b), presence_tag(&h, &a, &b));
    }

    #[test]
    fn a_signature_verifies_only_for_its_key_domain_and_message() {
        let key = MemberKey::generate();
        let signature = key.sign(b"domain", b"message");
        let public = key.public();
        assert!(public.verifies(b"domain", b"message", &signature));
        assert!(!public.verifies(b"other", b"message", &signature));
        assert!(!public.verifies(b"domain", b"massage", &signature));
        assert!(
            !MemberKey::generate()
                .public()
                .verifies(b"domain", b"message", &signature)
        );
        assert!(!public.verifies(b"domain", b"message", &signature[..63]));
    }
}
