//! The user's identity: an X25519 key for handshakes and an Ed25519 key for signatures, made at `init`,
//! kept in the encrypted database, never handed to a plugin. And the safety number two people compare.

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha512};
use x25519_dalek::{PublicKey, StaticSecret};

use crate::contact_link::ContactLink;

/// The user's long-term keys.
pub struct Identity {
    /// The name the user chose (shown to nobody unless they share it).
    pub name: String,
    handshake: StaticSecret,
    signing: SigningKey,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn random_32() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    bytes
}

impl Identity {
    /// Makes new keys for `name`.
    pub fn generate(name: &str) -> Identity {
        Identity {
            name: name.to_owned(),
            handshake: StaticSecret::from(random_32()),
            signing: SigningKey::from_bytes(&random_32()),
        }
    }

    /// Rebuilds an identity from stored secret bytes.
    pub fn from_secrets(name: String, handshake: [u8; 32], signing: [u8; 32]) -> Identity {
        Identity {
            name,
            handshake: StaticSecret::from(handshake),
            signing: SigningKey::from_bytes(&signing),
        }
    }

    /// The secret bytes, for the encrypted database only.
    pub fn secrets(&self) -> ([u8; 32], [u8; 32]) {
        (self.handshake.to_bytes(), self.signing.to_bytes())
    }

    /// The public handshake key, which the contact link carries.
    pub fn handshake_public(&self) -> [u8; 32] {
        PublicKey::from(&self.handshake).to_bytes()
    }

    /// The public signing key.
    pub fn signing_public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The name the user goes by (shown to nobody else).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The link to give a contact.
    pub fn link(&self) -> ContactLink {
        ContactLink::new(self.handshake_public())
    }
}

/// The safety number of two people's handshake keys: the same 60 digits on both sides, whatever the
/// order, shown in twelve groups of five. Matching numbers mean no one sits in between.
pub fn safety_number(ours: &[u8; 32], theirs: &[u8; 32]) -> String {
    let (first, second) = lower_first(ours, theirs);
    let mut hash = Sha512::new();
    hash.update(b"courier/v1/safety-number");
    hash.update(first);
    hash.update(second);
    let digest = hash.finalize();
    // Five bytes per group of five digits (as Signal does): 2^40 mod 10^5 bias is negligible.
    digest
        .chunks_exact(5)
        .take(12)
        .map(|c| {
            let mut be = [0u8; 8];
            be[3..].copy_from_slice(c);
            format!("{:05}", u64::from_be_bytes(be) % 100_000)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Two people's keys in the order both of them put them: the lower first.
pub(crate) fn lower_first<'a>(
    ours: &'a [u8; 32],
    theirs: &'a [u8; 32],
) -> (&'a [u8; 32], &'a [u8; 32]) {
    // Equal keys are one key whichever goes first (`<` would do: an equivalent mutant).
    if ours <= theirs {
        (ours, theirs)
    } else {
        (theirs, ours)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_see_the_same_safety_number_and_others_differ() {
        let (alice, bob, mallory) = (
            Identity::generate("alice"),
            Identity::generate("bob"),
            Identity::generate("m"),
        );
        let a = safety_number(&alice.handshake_public(), &bob.handshake_public());
        assert_eq!(
            a,
            safety_number(&bob.handshake_public(), &alice.handshake_public())
        );
        assert_ne!(
            a,
            safety_number(&alice.handshake_public(), &mallory.handshake_public())
        );
        assert_eq!(a.len(), 12 * 5 + 11);
        assert!(
            a.split(' ')
                .all(|g| g.len() == 5 && g.bytes().all(|b| b.is_ascii_digit()))
        );
    }

    #[test]
    fn public_keys_and_the_safety_number_are_pinned_to_known_values() {
        // RFC 7748, section 6.1 for the X25519 keys; the signing key and the safety number were
        // computed independently by proto/vectors/known_answers.py (Python `cryptography`, hashlib):
        // SHA-512("courier/v1/safety-number" ‖ lower key ‖ higher key), twelve 40-bit big-endian
        // groups, each mod 100 000.
        let key = |h: &str| -> [u8; 32] { hex::decode(h).unwrap().try_into().unwrap() };
        let alice = Identity::from_secrets(
            "alice".into(),
            key("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
            [9; 32],
        );
        let alice_public = key("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        let bob_public = key("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        assert_eq!(alice.handshake_public(), alice_public);
        assert_eq!(alice.link().public_key(), &alice_public);
        assert_eq!(
            hex::encode(alice.signing_public()),
            "fd1724385aa0c75b64fb78cd602fa1d991fdebf76b13c58ed702eac835e9f618"
        );
        let expected = "13360 17004 20678 73555 81168 34293 09436 57871 64059 62972 74918 61266";
        assert_eq!(safety_number(&alice_public, &bob_public), expected);
        assert_eq!(safety_number(&bob_public, &alice_public), expected);
    }

    #[test]
    fn an_identity_survives_its_stored_form() {
        let alice = Identity::generate("alice");
        let (h, s) = alice.secrets();
        let again = Identity::from_secrets("alice".into(), h, s);
        assert_eq!(again.handshake_public(), alice.handshake_public());
        assert_eq!(again.signing_public(), alice.signing_public());
        assert_eq!(again.name(), "alice");
        assert_eq!(
            format!("{alice:?}"),
            r#"Identity { name: "alice", .. }"#,
            "secrets never print"
        );
    }
}
