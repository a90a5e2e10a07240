//! Length-prefixed framing for stream media (TCP, Tor): sans-IO, so a transport plugin only feeds it bytes.
//!
//! Each frame is a 4-byte big-endian length followed by that many bytes. The reader refuses a length over
//! its limit instead of buffering it, so a hostile peer cannot make a plugin allocate without bound.

/// Why a byte stream could not be split into frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramingError {
    /// A frame header announced more bytes than the limit allows.
    TooLong {
        /// The announced length.
        announced: u32,
        /// The limit in force.
        limit: u32,
    },
}

impl std::fmt::Display for FramingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FramingError::TooLong { announced, limit } => write!(
                f,
                "peer announced a {announced}-byte frame, over the {limit}-byte limit; closing the channel"
            ),
        }
    }
}

impl std::error::Error for FramingError {}

/// Length of the header in front of every frame.
pub const HEADER_LEN: usize = 4;

/// Prefixes `payload` with its length.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("frames are far below 4 GiB");
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Reassembles frames from bytes that arrive in arbitrary pieces.
#[derive(Debug, Clone)]
pub struct Deframer {
    buffer: Vec<u8>,
    limit: u32,
}

impl Deframer {
    /// A reader that accepts frames of at most `limit` bytes.
    pub fn new(limit: u32) -> Self {
        Deframer {
            buffer: Vec::new(),
            limit,
        }
    }

    /// Adds `bytes` and returns every frame now complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, FramingError> {
        self.buffer.extend_from_slice(bytes);
        let mut frames = Vec::new();
        let mut start = 0;
        while self.buffer.len() - start >= HEADER_LEN {
            let header: [u8; HEADER_LEN] = self.buffer[start..start + HEADER_LEN]
                .try_into()
                .expect("4 bytes");
            let announced = u32::from_be_bytes(header);
            if announced > self.limit {
                return Err(FramingError::TooLong {
                    announced,
                    limit: self.limit,
                });
            }
            let end = start + HEADER_LEN + announced as usize;
            if self.buffer.len() < end {
                break;
            }
            frames.push(self.buffer[start + HEADER_LEN..end].to_vec());
            start = end;
        }
        self.buffer.drain(..start);
        Ok(frames)
    }

    /// Bytes held for a frame that is not complete yet.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_across_pushes_come_out_whole_and_in_order() {
        let mut wire = encode(b"first");
        wire.extend(encode(b""));
        wire.extend(encode(b"third frame"));
        let mut deframer = Deframer::new(64);
        let mut frames = Vec::new();
        for piece in wire.chunks(3) {
            frames.extend(deframer.push(piece).unwrap());
        }
        assert_eq!(
            frames,
            vec![b"first".to_vec(), Vec::new(), b"third frame".to_vec()]
        );
        assert_eq!(deframer.pending(), 0);
    }

    #[test]
    fn an_oversized_header_is_refused_before_buffering() {
        let mut deframer = Deframer::new(16);
        let err = deframer.push(&1000u32.to_be_bytes()).unwrap_err();
        assert_eq!(
            err,
            FramingError::TooLong {
                announced: 1000,
                limit: 16
            }
        );
    }

    #[test]
    fn a_partial_frame_waits_for_the_rest() {
        let mut deframer = Deframer::new(64);
        let wire = encode(b"hello");
        assert!(deframer.push(&wire[..6]).unwrap().is_empty());
        assert_eq!(deframer.pending(), 6);
        assert_eq!(deframer.push(&wire[6..]).unwrap(), vec![b"hello".to_vec()]);
    }
}
