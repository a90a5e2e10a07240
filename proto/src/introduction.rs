//! The handshake as it travels inside a stream between two pending contacts, sans-IO: bytes in, bytes out.
//!
//! Each side writes `hello (33) | start time (8)` at once, then `proof (32)` when the peer's hello has
//! arrived. The start time (Unix ms, big-endian) lets both sides agree, without a clock in common, on
//! when the new contact's keys begin: the earlier of the two. The streams themselves are sealed with the
//! pair's static secret, so only the two linked keys can read or write them.

use crate::handshake::{Agreement, HELLO_LEN, Handshake, HandshakeError, PROOF_LEN};

/// Length of the first message: the hello and the proposed start time.
pub const OPENING_LEN: usize = HELLO_LEN + 8;

/// What a finished introduction yields.
#[derive(Debug)]
pub struct Introduced {
    /// The handshake's result.
    pub agreement: Agreement,
    /// When the contact's keys begin (Unix ms), the same on both sides.
    pub start_ms: u64,
}

/// What one `push` produced.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes to send to the peer.
    pub send: Vec<u8>,
    /// Set once the handshake is complete.
    pub done: Option<Introduced>,
}

/// One side of an introduction.
#[derive(Debug)]
pub struct Introduction {
    handshake: Handshake,
    our_start_ms: u64,
    their_start_ms: Option<u64>,
    buffer: Vec<u8>,
    finished: bool,
}

impl Introduction {
    /// Starts an introduction with the contact whose link holds `their_static`; returns it and the bytes
    /// to send first.
    pub fn start(our_static: [u8; 32], their_static: [u8; 32], now_ms: u64) -> (Self, Vec<u8>) {
        let (handshake, hello) = Handshake::start(our_static, their_static);
        let mut opening = hello.to_vec();
        opening.extend_from_slice(&now_ms.to_be_bytes());
        let intro = Introduction {
            handshake,
            our_start_ms: now_ms,
            their_start_ms: None,
            buffer: Vec::new(),
            finished: false,
        };
        (intro, opening)
    }

    /// Takes bytes from the peer's stream, in any pieces.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Progress, HandshakeError> {
        if self.finished {
            return if bytes.is_empty() {
                Ok(Progress::default())
            } else {
                Err(HandshakeError::OutOfOrder)
            };
        }
        self.buffer.extend_from_slice(bytes);
        let mut progress = Progress::default();
        if self.their_start_ms.is_none() {
            if self.buffer.len() < OPENING_LEN {
                return Ok(progress);
            }
            let opening: Vec<u8> = self.buffer.drain(..OPENING_LEN).collect();
            let proof = self.handshake.receive_hello(&opening[..HELLO_LEN])?;
            let start = u64::from_be_bytes(opening[HELLO_LEN..].try_into().expect("8 bytes"));
            self.their_start_ms = Some(start);
            progress.send.extend_from_slice(&proof);
        }
        if self.buffer.len() > PROOF_LEN {
            return Err(HandshakeError::Malformed(self.buffer.len()));
        }
        if self.buffer.len() == PROOF_LEN {
            let agreement = self.handshake.receive_proof(&self.buffer)?;
            self.buffer.clear();
            self.finished = true;
            let theirs = self.their_start_ms.expect("the opening came first");
            progress.done = Some(Introduced {
                agreement,
                start_ms: theirs.min(self.our_start_ms),
            });
        }
        Ok(progress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn secret(identity: &Identity) -> [u8; 32] {
        identity.secrets().0
    }

    #[test]
    fn both_sides_agree_on_root_and_start_whatever_the_piece_size() {
        for piece in [1, 7, 41, 100] {
            let (alice, bob) = (Identity::generate("alice"), Identity::generate("bob"));
            let (mut a, a_open) =
                Introduction::start(secret(&alice), bob.handshake_public(), 5_000);
            let (mut b, b_open) =
                Introduction::start(secret(&bob), alice.handshake_public(), 3_000);
            let mut a_done = None;
            let mut b_done = None;
            let mut to_b = a_open;
            let mut to_a = b_open;
            while a_done.is_none() || b_done.is_none() {
                let (mut next_b, mut next_a) = (Vec::new(), Vec::new());
                for chunk in to_b.chunks(piece) {
                    let p = b.push(chunk).unwrap();
                    next_a.extend(p.send);
                    b_done = b_done.or(p.done);
                }
                for chunk in to_a.chunks(piece) {
                    let p = a.push(chunk).unwrap();
                    next_b.extend(p.send);
                    a_done = a_done.or(p.done);
                }
                assert!(
                    !(next_a.is_empty() && next_b.is_empty())
                        || (a_done.is_some() && b_done.is_some())
                );
                (to_a, to_b) = (next_a, next_b);
            }
            let (a, b) = (a_done.unwrap(), b_done.unwrap());
            assert_eq!(a.agreement.root, b.agreement.root);
            assert_ne!(a.agreement.role, b.agreement.role);
            assert_eq!((a.start_ms, b.start_ms), (3_000, 3_000));
        }
    }

    #[test]
    fn the_opening_is_a_hello_then_the_start_time_big_endian() {
        let (alice, bob) = (Identity::generate("alice"), Identity::generate("bob"));
        let (_, opening) = Introduction::start(
            secret(&alice),
            bob.handshake_public(),
            0x0102_0304_0506_0708,
        );
        assert_eq!(opening.len(), OPENING_LEN);
        assert_eq!(opening[0], crate::handshake::HANDSHAKE_VERSION);
        assert_eq!(opening[HELLO_LEN..], [1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn a_finished_introduction_takes_silence_but_no_more_bytes() {
        let (alice, bob) = (Identity::generate("alice"), Identity::generate("bob"));
        let (mut a, a_open) = Introduction::start(secret(&alice), bob.handshake_public(), 2);
        let (mut b, b_open) = Introduction::start(secret(&bob), alice.handshake_public(), 1);
        let a_proof = a.push(&b_open).unwrap().send;
        let b_proof = b.push(&a_open).unwrap().send;
        assert!(b.push(&a_proof).unwrap().done.is_some());
        let done = a.push(&b_proof).unwrap().done.unwrap();
        assert_eq!(done.start_ms, 1, "the earlier of the two start times");
        let nothing = a.push(&[]).unwrap();
        assert!(nothing.send.is_empty() && nothing.done.is_none());
        assert_eq!(a.push(&[0]).unwrap_err(), HandshakeError::OutOfOrder);
    }

    #[test]
    fn extra_or_wrong_bytes_are_refused() {
        let (alice, bob, eve) = (
            Identity::generate("alice"),
            Identity::generate("bob"),
            Identity::generate("eve"),
        );
        let (mut a, _) = Introduction::start(secret(&alice), bob.handshake_public(), 1);
        // Eve holds her own key, not Bob's: her proof cannot match.
        let (mut e, e_open) = Introduction::start(secret(&eve), alice.handshake_public(), 1);
        let (_, a_open) = Introduction::start(secret(&alice), bob.handshake_public(), 1);
        let e_proof = e.push(&a_open).unwrap().send;
        let mut forged = e_open.clone();
        forged.extend_from_slice(&e_proof);
        assert_eq!(a.push(&forged).unwrap_err(), HandshakeError::ProofMismatch);

        let (mut a, _) = Introduction::start(secret(&alice), bob.handshake_public(), 1);
        let (_, b_open) = Introduction::start(secret(&bob), alice.handshake_public(), 1);
        let mut too_long = b_open;
        too_long.extend_from_slice(&[0; PROOF_LEN + 1]);
        assert!(matches!(
            a.push(&too_long).unwrap_err(),
            HandshakeError::Malformed(_)
        ));
    }
}
