//! The contact handshake (BHP-like), sans-IO: turns "I have your link" into a shared root secret for
//! transport keys, with forward secrecy from ephemeral keys and key confirmation both ways.
//!
//! Each side sends `version (1) | ephemeral public key (32)`, then `proof (32)`. The master secret mixes
//! ephemeral-ephemeral, ephemeral-static and static-ephemeral DH, so only the holders of both static keys
//! (the ones in the links) can compute it, and recorded traffic stays secret if static keys leak later.
//! The transcript (version, both static and both ephemeral keys) is bound into the master, so a
//! downgraded version or a swapped key makes the proofs fail.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::transport_security::transport_keys::{Role, SecretKey};

/// Handshake protocol version.
pub const HANDSHAKE_VERSION: u8 = 1;
/// Length of the first message.
pub const HELLO_LEN: usize = 33;
/// Length of the second message.
pub const PROOF_LEN: usize = 32;

/// Why a handshake failed. The pending contact stays pending; nothing is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The peer speaks another handshake version.
    #[error(
        "the contact's app speaks handshake version {0}; this build speaks version 1; one of you must update"
    )]
    UnsupportedVersion(u8),
    /// A message had the wrong length.
    #[error("handshake message of {0} bytes is malformed")]
    Malformed(usize),
    /// The peer's ephemeral key is a low-order point.
    #[error("the contact sent an invalid key; try again")]
    InvalidKey,
    /// The proof did not match: the peer does not hold the key in their link, or someone is in between.
    #[error(
        "the contact could not prove they hold the key in their link; someone may be intercepting; compare safety numbers in person"
    )]
    ProofMismatch,
    /// Messages arrived in the wrong order.
    #[error("handshake message out of order")]
    OutOfOrder,
}

/// What a finished handshake yields.
#[derive(Debug)]
pub struct Agreement {
    /// Secret from which every transport's keys derive.
    pub root: SecretKey,
    /// Our role in key derivation.
    pub role: Role,
}

enum State {
    SentHello {
        ephemeral: StaticSecret,
    },
    SentProof {
        master: Zeroizing<[u8; 32]>,
        role: Role,
    },
    Done,
}

/// One side of a handshake with the contact whose link holds `their_static`.
pub struct Handshake {
    our_static: StaticSecret,
    their_static: PublicKey,
    state: State,
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handshake")
    }
}

impl Handshake {
    /// Starts a handshake; returns it and the first message to send.
    pub fn start(our_static: [u8; 32], their_static: [u8; 32]) -> (Handshake, [u8; HELLO_LEN]) {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut_slice()).expect("the OS random number generator is available");
        let ephemeral = StaticSecret::from(*seed);
        let mut hello = [0u8; HELLO_LEN];
        hello[0] = HANDSHAKE_VERSION;
        hello[1..].copy_from_slice(PublicKey::from(&ephemeral).as_bytes());
        let handshake = Handshake {
            our_static: StaticSecret::from(our_static),
            their_static: PublicKey::from(their_static),
            state: State::SentHello { ephemeral },
        };
        (handshake, hello)
    }

    /// Takes the peer's first message; returns our proof to send.
    pub fn receive_hello(&mut self, hello: &[u8]) -> Result<[u8; PROOF_LEN], HandshakeError> {
        let State::SentHello { ephemeral } = &self.state else {
            return Err(HandshakeError::OutOfOrder);
        };
        if hello.len() != HELLO_LEN {
            return Err(HandshakeError::Malformed(hello.len()));
        }
        if hello[0] != HANDSHAKE_VERSION {
            return Err(HandshakeError::UnsupportedVersion(hello[0]));
        }
        let their_ephemeral = PublicKey::from(<[u8; 32]>::try_from(&hello[1..]).expect("32 bytes"));
        let our_static_public = PublicKey::from(&self.our_static);
        let our_ephemeral_public = PublicKey::from(ephemeral);
        // Alice is the side whose static key sorts first; both sides agree without talking.
        let role = if our_static_public.as_bytes() < self.their_static.as_bytes() {
            Role::Alice
        } else {
            Role::Bob
        };

        let ee = ephemeral.diffie_hellman(&their_ephemeral);
        let ours_e_theirs_s = ephemeral.diffie_hellman(&self.their_static);
        let ours_s_theirs_e = self.our_static.diffie_hellman(&their_ephemeral);
        if !ee.was_contributory() || !ours_s_theirs_e.was_contributory() {
            return Err(HandshakeError::InvalidKey);
        }
        // Order every input as (alice's, bob's) so both sides hash the same bytes.
        let (alice_e_bob_s, alice_s_bob_e) = match role {
            Role::Alice => (ours_e_theirs_s, ours_s_theirs_e),
            Role::Bob => (ours_s_theirs_e, ours_e_theirs_s),
        };
        let (statics, ephemerals) = match role {
            Role::Alice => (
                [our_static_public, self.their_static],
                [our_ephemeral_public, their_ephemeral],
            ),
            Role::Bob => (
                [self.their_static, our_static_public],
                [their_ephemeral, our_ephemeral_public],
            ),
        };
        let ikm = Zeroizing::new(
            [
                ee.as_bytes().as_slice(),
                alice_e_bob_s.as_bytes(),
                alice_s_bob_e.as_bytes(),
            ]
            .concat(),
        );
        let mut transcript = vec![HANDSHAKE_VERSION];
        for key in statics.iter().chain(ephemerals.iter()) {
            transcript.extend_from_slice(key.as_bytes());
        }
        let mut master = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(b"courier/v1/handshake"), ikm.as_slice())
            .expand(&transcript, master.as_mut_slice())
            .expect("32 bytes is a valid HKDF output length");
        let proof = prove(&master, role);
        self.state = State::SentProof { master, role };
        Ok(proof)
    }

    /// Takes the peer's proof; on success the contact is established.
    pub fn receive_proof(&mut self, proof: &[u8]) -> Result<Agreement, HandshakeError> {
        let State::SentProof { master, role } = &self.state else {
            return Err(HandshakeError::OutOfOrder);
        };
        if proof.len() != PROOF_LEN {
            return Err(HandshakeError::Malformed(proof.len()));
        }
        let their_role = match role {
            Role::Alice => Role::Bob,
            Role::Bob => Role::Alice,
        };
        let mut mac =
            Hmac::<Sha256>::new_from_slice(master.as_slice()).expect("HMAC takes any key length");
        mac.update(proof_label(their_role));
        mac.verify_slice(proof)
            .map_err(|_| HandshakeError::ProofMismatch)?;
        let mut root = [0u8; 32];
        Hkdf::<Sha256>::from_prk(master.as_slice())
            .expect("32 bytes is a valid PRK length")
            .expand(b"courier/v1/root", &mut root)
            .expect("32 bytes is a valid HKDF output length");
        let agreement = Agreement {
            root: SecretKey::from_bytes(root),
            role: *role,
        };
        self.state = State::Done;
        Ok(agreement)
    }
}

/// The secret two pending contacts share from their linked keys alone (static-static DH), and our role.
///
/// It only protects the handshake's own streams until the handshake gives the contact a fresh root: it
/// has no forward secrecy, and the handshake's ephemeral keys are what add it.
pub fn static_secret(
    our_static: [u8; 32],
    their_static: [u8; 32],
) -> Result<(SecretKey, Role), HandshakeError> {
    let ours = StaticSecret::from(our_static);
    let our_public = PublicKey::from(&ours);
    let theirs = PublicKey::from(their_static);
    let shared = ours.diffie_hellman(&theirs);
    if !shared.was_contributory() {
        return Err(HandshakeError::InvalidKey);
    }
    let (role, first, second) = if our_public.as_bytes() < theirs.as_bytes() {
        (Role::Alice, our_public, theirs)
    } else {
        (Role::Bob, theirs, our_public)
    };
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(Some(b"courier/v1/static"), shared.as_bytes())
        .expand(
            &[first.as_bytes().as_slice(), second.as_bytes()].concat(),
            &mut out,
        )
        .expect("32 bytes is a valid HKDF output length");
    Ok((SecretKey::from_bytes(out), role))
}

fn proof_label(role: Role) -> &'static [u8] {
    match role {
        Role::Alice => b"courier/v1/proof/alice",
        Role::Bob => b"courier/v1/proof/bob",
    }
}

fn prove(master: &[u8; 32], role: Role) -> [u8; PROOF_LEN] {
    let mut mac = Hmac::<Sha256>::new_from_slice(master).expect("HMAC takes any key length");
    mac.update(proof_label(role));
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn secrets(identity: &Identity) -> [u8; 32] {
        identity.secrets().0
    }

    /// Runs a full handshake between `a` (who believes the peer's key is `a_thinks`) and `b`.
    fn run(
        a: &Identity,
        a_thinks: [u8; 32],
        b: &Identity,
        b_thinks: [u8; 32],
    ) -> (
        Result<Agreement, HandshakeError>,
        Result<Agreement, HandshakeError>,
    ) {
        let (mut ha, hello_a) = Handshake::start(secrets(a), a_thinks);
        let (mut hb, hello_b) = Handshake::start(secrets(b), b_thinks);
        let proof_a = ha.receive_hello(&hello_b).unwrap();
        let proof_b = hb.receive_hello(&hello_a).unwrap();
        (ha.receive_proof(&proof_b), hb.receive_proof(&proof_a))
    }

    #[test]
    fn two_contacts_agree_on_a_root_and_take_opposite_roles() {
        let (alice, bob) = (Identity::generate("alice"), Identity::generate("bob"));
        let (a, b) = run(
            &alice,
            bob.handshake_public(),
            &bob,
            alice.handshake_public(),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.root, b.root);
        assert_ne!(a.role, b.role);
        let (again, _) = run(
            &alice,
            bob.handshake_public(),
            &bob,
            alice.handshake_public(),
        );
        assert_ne!(
            again.unwrap().root,
            a.root,
            "fresh ephemeral keys give a fresh root every time"
        );
    }

    #[test]
    fn someone_without_the_linked_key_cannot_complete_it() {
        let (alice, bob, mallory) = (
            Identity::generate("alice"),
            Identity::generate("bob"),
            Identity::generate("mallory"),
        );
        // Alice has bob's link; mallory answers in his place with her own key.
        let (a, m) = run(
            &alice,
            bob.handshake_public(),
            &mallory,
            alice.handshake_public(),
        );
        assert_eq!(a.unwrap_err(), HandshakeError::ProofMismatch);
        assert_eq!(m.unwrap_err(), HandshakeError::ProofMismatch);
    }

    #[test]
    fn tampering_downgrades_and_disorder_are_refused() {
        let (alice, bob) = (Identity::generate("alice"), Identity::generate("bob"));
        let (mut ha, _) = Handshake::start(secrets(&alice), bob.handshake_public());
        let (_, mut hello_b) = Handshake::start(secrets(&bob), alice.handshake_public());
        assert_eq!(
            ha.receive_proof(&[0; 32]).unwrap_err(),
            HandshakeError::OutOfOrder
        );
        hello_b[0] = 0;
        assert_eq!(
            ha.receive_hello(&hello_b).unwrap_err(),
            HandshakeError::UnsupportedVersion(0)
        );
        assert_eq!(
            ha.receive_hello(&hello_b[..10]).unwrap_err(),
            HandshakeError::Malformed(10)
        );
        let mut zero = [0u8; HELLO_LEN];
        zero[0] = HANDSHAKE_VERSION;
        assert_eq!(
            ha.receive_hello(&zero).unwrap_err(),
            HandshakeError::InvalidKey
        );

        let (mut ha, hello_a) = Handshake::start(secrets(&alice), bob.handshake_public());
        let (mut hb, mut hello_b) = Handshake::start(secrets(&bob), alice.handshake_public());
        hello_b[5] ^= 1; // an attacker changes bob's ephemeral key on the way
        let proof_a = ha.receive_hello(&hello_b).unwrap();
        let proof_b = hb.receive_hello(&hello_a).unwrap();
        assert_eq!(
            ha.receive_proof(&proof_b).unwrap_err(),
            HandshakeError::ProofMismatch
        );
        assert_eq!(
            hb.receive_proof(&proof_a).unwrap_err(),
            HandshakeError::ProofMismatch
        );
    }
}
