//! Segmentation, reassembly and flow control over a packet radio (BLE): sans-IO.
//!
//! The host's stream is cut into data packets of at most the channel's packet size, each led by one
//! byte: its sequence number (mod 128). The reader delivers their payloads in order; a packet
//! missing or repeated (a stack that dropped a notification under load) ends the channel, and the
//! host's sync resumes on the next connection what was not acked. Flow control is by credits, as on
//! L2CAP's credit-based channels: each side may send [`WINDOW`] data packets the other has not yet
//! granted back; the reader grants [`GRANT`] more each time it has delivered that many, in a
//! two-byte credit packet (`0x80`, count). So a reader's stack holds at most a window of packets,
//! however fast the writer.

use std::collections::VecDeque;

/// Data packets a writer may have unanswered by credits.
pub const WINDOW: u32 = 32;
/// Data packets a reader delivers before it grants as many again.
pub const GRANT: u8 = 16;
/// The smallest packet BLE carries: the default ATT MTU (23) less its 3-byte header.
pub const MIN_PACKET: usize = 20;
/// The largest: the largest ATT MTU (517) less 3.
pub const MAX_PACKET: usize = 514;

const CREDIT: u8 = 0x80;
const SEQ_MASK: u8 = 0x7f;

/// Why a channel's packets cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketError {
    /// A data packet came out of order: one was lost or repeated.
    OutOfSequence {
        /// The number expected.
        expected: u8,
        /// The number that came.
        got: u8,
    },
    /// An empty packet, or a credit packet of the wrong length.
    Malformed,
}

impl std::fmt::Display for PacketError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PacketError::OutOfSequence { expected, got } => write!(
                f,
                "packet {got} came where {expected} was due (one was lost); the channel ends and what it did not carry goes on the next one"
            ),
            PacketError::Malformed => f.write_str("a malformed packet; closing the channel"),
        }
    }
}

/// What one packet read gave.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Read {
    /// The stream bytes it carried, if it was a data packet.
    pub bytes: Option<Vec<u8>>,
    /// Packets to write now: a grant of credit, data packets the peer's credit released.
    pub write: Vec<Vec<u8>>,
}

/// One channel's packets, both ways.
#[derive(Debug)]
pub struct Packets {
    size: usize,
    next_out: u8,
    next_in: u8,
    /// Data packets we may still send.
    credits: u32,
    /// Delivered since our last grant.
    delivered: u8,
    waiting: VecDeque<Vec<u8>>,
}

impl Default for Packets {
    fn default() -> Self {
        Packets {
            size: MIN_PACKET,
            next_out: 0,
            next_in: 0,
            credits: WINDOW,
            delivered: 0,
            waiting: VecDeque::new(),
        }
    }
}

impl Packets {
    /// The host told the channel's packet size (`bytes`, clamped to what BLE carries).
    pub fn set_size(&mut self, bytes: usize) {
        self.size = bytes.clamp(MIN_PACKET, MAX_PACKET);
    }

    /// The packet size in force.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Cuts `stream` bytes into data packets; those the credits allow now, in order (the rest wait
    /// for credit).
    pub fn send(&mut self, stream: &[u8]) -> Vec<Vec<u8>> {
        for piece in stream.chunks(self.size - 1) {
            let mut packet = Vec::with_capacity(piece.len() + 1);
            packet.push(self.next_out);
            packet.extend_from_slice(piece);
            self.next_out = (self.next_out + 1) & SEQ_MASK;
            self.waiting.push_back(packet);
        }
        self.release()
    }

    fn release(&mut self) -> Vec<Vec<u8>> {
        let n = (self.credits as usize).min(self.waiting.len());
        self.credits -= n as u32;
        self.waiting.drain(..n).collect()
    }

    /// Data packets waiting for credit.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Reads one packet.
    pub fn receive(&mut self, packet: &[u8]) -> Result<Read, PacketError> {
        let (&head, body) = packet.split_first().ok_or(PacketError::Malformed)?;
        if head == CREDIT {
            let &[count] = body else {
                return Err(PacketError::Malformed);
            };
            self.credits += u32::from(count);
            return Ok(Read {
                bytes: None,
                write: self.release(),
            });
        }
        if head & CREDIT != 0 {
            return Err(PacketError::Malformed);
        }
        if head != self.next_in {
            return Err(PacketError::OutOfSequence {
                expected: self.next_in,
                got: head,
            });
        }
        self.next_in = (self.next_in + 1) & SEQ_MASK;
        self.delivered += 1;
        let mut out = Vec::new();
        if self.delivered == GRANT {
            self.delivered = 0;
            out.push(vec![CREDIT, GRANT]);
        }
        Ok(Read {
            bytes: Some(body.to_vec()),
            write: out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Carries everything `from` writes to `to` and back until both are quiet; the bytes `to` read.
    fn exchange(from: &mut Packets, to: &mut Packets, first: Vec<Vec<u8>>) -> Vec<u8> {
        let mut read = Vec::new();
        let mut forward = first;
        loop {
            let mut back = Vec::new();
            for packet in forward.drain(..) {
                assert!(packet.len() <= to.size.max(from.size));
                let got = to.receive(&packet).unwrap();
                read.extend(got.bytes.unwrap_or_default());
                back.extend(got.write);
            }
            if back.is_empty() {
                return read;
            }
            for packet in back {
                let got = from.receive(&packet).unwrap();
                assert_eq!(got.bytes, None, "only credit comes back");
                forward.extend(got.write);
            }
        }
    }

    #[test]
    fn a_stream_is_cut_to_the_packet_size_and_read_back_whole_in_order() {
        let (mut alice, mut bob) = (Packets::default(), Packets::default());
        alice.set_size(182);
        let stream: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let first = alice.send(&stream);
        assert_eq!(
            first.len(),
            WINDOW as usize,
            "a window at once, the rest waits for credit"
        );
        assert!(first.iter().all(|p| p.len() <= 182));
        assert_eq!(first[0][0], 0);
        assert_eq!(first[1][0], 1);
        assert_eq!(exchange(&mut alice, &mut bob, first), stream);
        assert_eq!(alice.waiting(), 0);
    }

    #[test]
    fn a_lost_or_repeated_packet_ends_the_channel() {
        let (mut alice, mut bob) = (Packets::default(), Packets::default());
        let packets = alice.send(&[1u8; 100]);
        bob.receive(&packets[0]).unwrap();
        assert_eq!(
            bob.receive(&packets[2]),
            Err(PacketError::OutOfSequence {
                expected: 1,
                got: 2
            })
        );
        let mut carol = Packets::default();
        carol.receive(&packets[0]).unwrap();
        assert!(matches!(
            carol.receive(&packets[0]),
            Err(PacketError::OutOfSequence { .. })
        ));
    }

    #[test]
    fn malformed_packets_are_refused() {
        for bad in [&[][..], &[CREDIT][..], &[CREDIT, 1, 2][..], &[0x81, 0][..]] {
            assert_eq!(
                Packets::default().receive(bad),
                Err(PacketError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_writer_sends_no_more_than_its_credit_and_a_grant_releases_as_many() {
        let mut alice = Packets::default();
        assert_eq!(alice.send(&vec![0; 19 * 40]).len(), WINDOW as usize);
        assert_eq!(alice.waiting(), 8);
        let released = alice.receive(&[CREDIT, 3]).unwrap();
        assert_eq!((released.bytes, released.write.len()), (None, 3));
        assert_eq!(released.write[0][0], WINDOW as u8, "in sequence");
        assert_eq!(alice.waiting(), 5);
        let mut bob = Packets::default();
        let grants: Vec<Vec<Vec<u8>>> = (0..GRANT)
            .map(|seq| bob.receive(&[seq, 1]).unwrap().write)
            .collect();
        assert!(grants[..GRANT as usize - 1].iter().all(Vec::is_empty));
        assert_eq!(
            grants[GRANT as usize - 1],
            [vec![CREDIT, GRANT]],
            "a grant per {GRANT} delivered"
        );
    }

    #[test]
    fn the_packet_size_stays_within_what_ble_carries() {
        let mut p = Packets::default();
        assert_eq!(p.size(), 20);
        p.set_size(5);
        assert_eq!(p.size(), MIN_PACKET);
        p.set_size(100_000);
        assert_eq!(p.size(), MAX_PACKET);
        p.set_size(244);
        assert_eq!(p.send(&[0; 243 * 3]).len(), 3);
    }
}
