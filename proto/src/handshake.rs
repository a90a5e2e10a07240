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
        Handshake::start_with_ephemeral(our_static, their_static, *seed)
    }

    /// [`start`](Self::start) with the ephemeral secret given, so known-answer tests cover real bytes.
    pub(crate) fn start_with_ephemeral(
        our_static: [u8; 32],
        their_static: [u8; 32],
        ephemeral: [u8; 32],
    ) -> (Handshake, [u8; HELLO_LEN]) {
        let ephemeral = StaticSecret::from(ephemeral);
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
        // mutants: `<=` is equivalent, equal keys (a handshake with oneself) take one role on both
        // sides and fail the proofs either way.
        let role = if our_static_public.as_bytes() < self.their_static.as_bytes() {
            Role::Alice
        } else {
            Role::Bob
        };

        let ee = ephemeral.diffie_hellman(&their_ephemeral);
        let ours_e_theirs_s = ephemeral.diffie_hellman(&self.their_static);
        let ours_s_theirs_e = self.our_static.diffie_hellman(&their_ephemeral);
        // A low-order ephemeral key zeroes ee (and se with it: clamped scalars are multiples of the
        // cofactor); a low-order static key zeroes es, and the peer would know every input.
        if !ee.was_contributory() || !ours_e_theirs_s.was_contributory() {
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
    // mutants: `<=` is equivalent, equal keys (one's own link) give the same secret in either role.
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

    // RFC 7748, section 6.1: Alice's and Bob's secret keys.
    const RFC_ALICE: &str = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
    const RFC_BOB: &str = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";

    fn key(hex: &str) -> [u8; 32] {
        hex::decode(hex).unwrap().try_into().unwrap()
    }

    fn public(secret: &str) -> [u8; 32] {
        PublicKey::from(&StaticSecret::from(key(secret))).to_bytes()
    }

    #[test]
    fn a_handshake_is_pinned_to_known_bytes() {
        // Computed independently by proto/vectors/known_answers.py (Python `cryptography`: X25519,
        // HKDF-SHA256, HMAC-SHA256) from the RFC 7748 keys and ephemeral secrets 11..11 and 22..22.
        let (mut alice, hello_a) =
            Handshake::start_with_ephemeral(key(RFC_ALICE), public(RFC_BOB), [0x11; 32]);
        let (mut bob, hello_b) =
            Handshake::start_with_ephemeral(key(RFC_BOB), public(RFC_ALICE), [0x22; 32]);
        assert_eq!(
            hex::encode(hello_a),
            "017b4e909bbe7ffe44c465a220037d608ee35897d31ef972f07f74892cb0f73f13"
        );
        assert_eq!(
            hex::encode(hello_b),
            "010faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20"
        );
        let proof_a = alice.receive_hello(&hello_b).unwrap();
        let proof_b = bob.receive_hello(&hello_a).unwrap();
        // HMAC(master, "courier/v1/proof/alice") and ".../bob": swapping the labels changes both.
        assert_eq!(
            hex::encode(proof_a),
            "63b680bac11b9c8c6f500c95bf77a34137d8eef0f8385f9a9ea2624263928dd5"
        );
        assert_eq!(
            hex::encode(proof_b),
            "ce34a023f21c2ed07c2b632bbe1e01e39be375a9f911bddd903d7e4c78a3d2ff"
        );
        let (a, b) = (
            alice.receive_proof(&proof_b).unwrap(),
            bob.receive_proof(&proof_a).unwrap(),
        );
        let root = "8af173480c81a8a872c6884e84c3cbfca3315ff0fff437442ca7e6494ade3c76";
        assert_eq!(hex::encode(a.root.expose()), root);
        assert_eq!(hex::encode(b.root.expose()), root);
        assert_eq!(
            (a.role, b.role),
            (Role::Alice, Role::Bob),
            "alice's key sorts first"
        );
    }

    #[test]
    fn the_static_secret_is_pinned_to_known_bytes_and_the_same_on_both_sides() {
        // HKDF-SHA256(salt "courier/v1/static", X25519(alice, bob), info alice's key ‖ bob's key),
        // computed by proto/vectors/known_answers.py.
        let expected = "f9ff3e0bbc984416751d89fb280f2c057c34460c43c1ffc3fd2ced8e31e72f97";
        let (ours, role) = static_secret(key(RFC_ALICE), public(RFC_BOB)).unwrap();
        assert_eq!(
            (hex::encode(ours.expose()), role),
            (expected.into(), Role::Alice)
        );
        let (theirs, role) = static_secret(key(RFC_BOB), public(RFC_ALICE)).unwrap();
        assert_eq!(
            (hex::encode(theirs.expose()), role),
            (expected.into(), Role::Bob)
        );
    }

    #[test]
    fn a_low_order_key_gives_no_static_secret() {
        let mut one = [0u8; 32];
        one[0] = 1;
        for low_order in [[0u8; 32], one] {
            assert_eq!(
                static_secret(key(RFC_ALICE), low_order).unwrap_err(),
                HandshakeError::InvalidKey
            );
        }
    }

    #[test]
    fn a_low_order_ephemeral_key_is_refused_even_with_a_good_static_key() {
        let (mut alice, _) = Handshake::start(key(RFC_ALICE), public(RFC_BOB));
        let mut hello = [0u8; HELLO_LEN];
        hello[0] = HANDSHAKE_VERSION;
        hello[1] = 1; // u = 1, a point of order 4
        assert_eq!(alice.receive_hello(&hello), Err(HandshakeError::InvalidKey));
    }

    #[test]
    fn a_low_order_static_key_is_refused_even_with_a_good_ephemeral_key() {
        let (mut alice, _) = Handshake::start(key(RFC_ALICE), [0; 32]);
        let (_, hello_b) = Handshake::start(key(RFC_BOB), public(RFC_ALICE));
        assert_eq!(
            alice.receive_hello(&hello_b),
            Err(HandshakeError::InvalidKey)
        );
    }

    #[test]
    fn a_finished_handshake_takes_nothing_more_and_never_prints_its_secrets() {
        let (alice, bob) = (Identity::generate("alice"), Identity::generate("bob"));
        let (mut ha, hello_a) = Handshake::start(secrets(&alice), bob.handshake_public());
        let (mut hb, hello_b) = Handshake::start(secrets(&bob), alice.handshake_public());
        let proof_a = ha.receive_hello(&hello_b).unwrap();
        assert_eq!(ha.receive_hello(&hello_b), Err(HandshakeError::OutOfOrder));
        let proof_b = hb.receive_hello(&hello_a).unwrap();
        assert_eq!(
            ha.receive_proof(&proof_b[..31]).unwrap_err(),
            HandshakeError::Malformed(31)
        );
        let agreement = ha.receive_proof(&proof_b).unwrap();
        assert_eq!(
            ha.receive_proof(&proof_b).unwrap_err(),
            HandshakeError::OutOfOrder
        );
        assert!(hb.receive_proof(&proof_a).is_ok());
        assert_eq!(format!("{ha:?}"), "Handshake");
        let printed = format!("{agreement:?}");
        assert!(
            !printed.contains(&hex::encode(agreement.root.expose())),
            "{printed}"
        );
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
