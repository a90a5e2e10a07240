//! Encrypted streams: `tag | header | frame*`, sans-IO.
//!
//! - The **header** (85 bytes) is sealed with XChaCha20-Poly1305 under the period's header key, with a
//!   random nonce and the tag as associated data. It carries the protocol version, the stream number
//!   (checked against the tag's), the frame length and a fresh random **frame key**: even if a crash made
//!   a sender reuse a stream number, no frame nonce is ever reused under one key.
//! - Every **frame** has the same length on the wire, so sizes leak nothing but the stream's length in
//!   frames. A frame is ChaCha20-Poly1305 under the frame key, with the frame number as nonce (so
//!   reordering fails authentication) and holds `flags (1) | payload length (4) | payload | zero padding`.
//!   The last frame has the `FINAL` flag, so truncation is detected.

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, XChaCha20Poly1305, XNonce};

use super::TAG_LEN;
use super::tag_window::tag;
use super::transport_keys::DirectionKeys;

/// Stream format version.
pub const VERSION: u8 = 1;
/// Length of the sealed stream header.
pub const HEADER_LEN: usize = 24 + HEADER_PLAINTEXT_LEN + AEAD_TAG_LEN;
/// Smallest and largest frame on the wire.
pub const MIN_FRAME_LEN: usize = 64;
/// Largest frame on the wire (1 MiB of payload room).
pub const MAX_FRAME_LEN: usize = (1 << 20) + FRAME_OVERHEAD;

const HEADER_PLAINTEXT_LEN: usize = 1 + 8 + 4 + 32;
const AEAD_TAG_LEN: usize = 16;
const FRAME_PREFIX_LEN: usize = 1 + 4;
/// Bytes of each frame that are not payload.
pub const FRAME_OVERHEAD: usize = AEAD_TAG_LEN + FRAME_PREFIX_LEN;
const FINAL: u8 = 1;

/// Why a stream was refused. Nothing read after the error is trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The header failed authentication: wrong key, tampered, or not a Courier stream.
    #[error("stream header failed authentication (tampered, or not meant for us)")]
    HeaderInvalid,
    /// The header is from a newer protocol.
    #[error("stream uses format version {0}; this build reads version {VERSION}; update Courier")]
    UnsupportedVersion(u8),
    /// The header's stream number is not the tag's.
    #[error("stream header names stream {header} but its tag is for stream {tag}")]
    StreamNumberMismatch {
        /// From the tag.
        tag: u64,
        /// From the header.
        header: u64,
    },
    /// The frame length is out of bounds.
    #[error("frame length {0} is outside {MIN_FRAME_LEN}..={MAX_FRAME_LEN}")]
    FrameLength(usize),
    /// A frame failed authentication: tampered, reordered, or from another stream.
    #[error("frame {0} failed authentication (tampered, reordered or spliced)")]
    FrameInvalid(u64),
    /// A frame's payload length does not fit the frame.
    #[error("frame {0} declares a payload longer than the frame")]
    PayloadLength(u64),
    /// Bytes arrived after the final frame.
    #[error("data after the final frame")]
    DataAfterEnd,
    /// The stream ended before its final frame.
    #[error("stream ended before its final frame (truncated)")]
    Truncated,
    /// A payload too large for one frame was given to `seal_frame`.
    #[error("payload of {len} bytes does not fit a frame (at most {max})")]
    PayloadTooLarge {
        /// Given length.
        len: usize,
        /// Room in a frame.
        max: usize,
    },
    /// `seal_*` was called after the final frame.
    #[error("the stream is already finished")]
    AlreadyFinished,
}

fn frame_nonce(frame_number: u64) -> chacha20poly1305::Nonce {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&frame_number.to_be_bytes());
    nonce.into()
}

fn check_frame_len(frame_len: usize) -> Result<(), StreamError> {
    if (MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&frame_len) {
        Ok(())
    } else {
        Err(StreamError::FrameLength(frame_len))
    }
}

/// Writes one outgoing stream.
pub struct StreamWriter {
    cipher: ChaCha20Poly1305,
    frame_number: u64,
    frame_len: usize,
    finished: bool,
}

impl std::fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamWriter")
            .field("frame_number", &self.frame_number)
            .field("frame_len", &self.frame_len)
            .finish_non_exhaustive()
    }
}

impl StreamWriter {
    /// Starts stream `stream_number` under `keys`; returns the writer and the stream's first bytes
    /// (tag and header).
    pub fn new(
        keys: &DirectionKeys,
        stream_number: u64,
        frame_len: usize,
    ) -> Result<(StreamWriter, Vec<u8>), StreamError> {
        let mut frame_key = zeroize::Zeroizing::new([0u8; 32]);
        let mut nonce = [0u8; 24];
        getrandom::fill(frame_key.as_mut_slice())
            .expect("the OS random number generator is available");
        getrandom::fill(&mut nonce).expect("the OS random number generator is available");
        StreamWriter::with_randomness(keys, stream_number, frame_len, &frame_key, nonce)
    }

    /// [`new`](Self::new) with the frame key and header nonce given, so known-answer tests cover real
    /// bytes.
    pub(crate) fn with_randomness(
        keys: &DirectionKeys,
        stream_number: u64,
        frame_len: usize,
        frame_key: &[u8; 32],
        nonce: [u8; 24],
    ) -> Result<(StreamWriter, Vec<u8>), StreamError> {
        check_frame_len(frame_len)?;
        let stream_tag = tag(&keys.tag_key, stream_number);
        let mut header = zeroize::Zeroizing::new(Vec::with_capacity(HEADER_PLAINTEXT_LEN));
        header.push(VERSION);
        header.extend_from_slice(&stream_number.to_be_bytes());
        header.extend_from_slice(
            &u32::try_from(frame_len)
                .expect("checked above")
                .to_be_bytes(),
        );
        header.extend_from_slice(frame_key.as_slice());
        let sealer = XChaCha20Poly1305::new(keys.header_key.expose().into());
        let auth = sealer
            .encrypt_in_place_detached(
                XNonce::from_slice(&nonce),
                &stream_tag,
                header.as_mut_slice(),
            )
            .expect("a 45-byte header always seals");

        let mut out = Vec::with_capacity(TAG_LEN + HEADER_LEN);
        out.extend_from_slice(&stream_tag);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&header);
        out.extend_from_slice(&auth);
        let cipher = ChaCha20Poly1305::new(frame_key.as_slice().into());
        Ok((
            StreamWriter {
                cipher,
                frame_number: 0,
                frame_len,
                finished: false,
            },
            out,
        ))
    }

    /// Whether the final frame was sealed.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Payload room in one frame.
    pub fn max_payload(&self) -> usize {
        self.frame_len - FRAME_OVERHEAD
    }

    /// Seals one frame holding `payload` onto `out`; `last` marks the end of the stream.
    pub fn seal_frame(
        &mut self,
        payload: &[u8],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), StreamError> {
        if self.finished {
            return Err(StreamError::AlreadyFinished);
        }
        if payload.len() > self.max_payload() {
            return Err(StreamError::PayloadTooLarge {
                len: payload.len(),
                max: self.max_payload(),
            });
        }
        let start = out.len();
        out.push(if last { FINAL } else { 0 });
        out.extend_from_slice(
            &u32::try_from(payload.len())
                .expect("frames are under 4 GiB")
                .to_be_bytes(),
        );
        out.extend_from_slice(payload);
        out.resize(start + self.frame_len - AEAD_TAG_LEN, 0);
        let auth = self
            .cipher
            .encrypt_in_place_detached(&frame_nonce(self.frame_number), &[], &mut out[start..])
            .expect("a frame under 1 MiB always seals");
        out.extend_from_slice(&auth);
        self.frame_number += 1;
        self.finished = last;
        Ok(())
    }

    /// Seals all of `data` in as many frames as it needs and ends the stream.
    pub fn seal_all(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), StreamError> {
        self.seal_padded(data, 0, out)
    }

    /// Seals all of `data`, then empty frames until the stream has at least `frames`, and ends it.
    /// Empty frames look like any other on the wire and read as nothing.
    pub fn seal_padded(
        &mut self,
        data: &[u8],
        frames: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), StreamError> {
        let room = self.max_payload();
        let frames = data.len().div_ceil(room).max(frames).max(1);
        // mutants: equivalent under `+` or `/`, a reservation only sizes the buffer.
        out.reserve(frames * self.frame_len);
        let mut chunks = data.chunks(room);
        for i in 0..frames {
            self.seal_frame(chunks.next().unwrap_or_default(), i + 1 == frames, out)?;
        }
        Ok(())
    }
}

/// Reads one incoming stream whose tag was recognised.
pub struct StreamReader {
    cipher: ChaCha20Poly1305,
    frame_number: u64,
    frame_len: usize,
    buffer: Vec<u8>,
    finished: bool,
    failed: Option<StreamError>,
}

impl std::fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamReader")
            .field("frame_number", &self.frame_number)
            .field("frame_len", &self.frame_len)
            .finish_non_exhaustive()
    }
}

impl StreamReader {
    /// Opens stream `stream_number` (known from its recognised `stream_tag`) from its sealed `header`.
    pub fn open(
        keys: &DirectionKeys,
        stream_number: u64,
        stream_tag: &[u8; TAG_LEN],
        header: &[u8; HEADER_LEN],
    ) -> Result<StreamReader, StreamError> {
        let (nonce, rest) = header.split_at(24);
        let (sealed, auth) = rest.split_at(HEADER_PLAINTEXT_LEN);
        let mut plain = zeroize::Zeroizing::new(sealed.to_vec());
        XChaCha20Poly1305::new(keys.header_key.expose().into())
            .decrypt_in_place_detached(
                XNonce::from_slice(nonce),
                stream_tag,
                plain.as_mut_slice(),
                auth.into(),
            )
            .map_err(|_| StreamError::HeaderInvalid)?;
        if plain[0] != VERSION {
            return Err(StreamError::UnsupportedVersion(plain[0]));
        }
        let header_number = u64::from_be_bytes(plain[1..9].try_into().expect("8 bytes"));
        if header_number != stream_number {
            return Err(StreamError::StreamNumberMismatch {
                tag: stream_number,
                header: header_number,
            });
        }
        let frame_len = u32::from_be_bytes(plain[9..13].try_into().expect("4 bytes")) as usize;
        check_frame_len(frame_len)?;
        let cipher = ChaCha20Poly1305::new(plain[13..45].into());
        Ok(StreamReader {
            cipher,
            frame_number: 0,
            frame_len,
            buffer: Vec::new(),
            finished: false,
            failed: None,
        })
    }

    /// Adds bytes as they arrive and returns the payloads of the frames now complete, in order. After an
    /// error the stream is dead: every later call returns the same error.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, StreamError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let result = self.push_inner(bytes);
        if let Err(error) = &result {
            self.failed = Some(error.clone());
            self.buffer.clear();
        }
        result
    }

    fn push_inner(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, StreamError> {
        if self.finished && !bytes.is_empty() {
            return Err(StreamError::DataAfterEnd);
        }
        let mut payloads = Vec::new();
        let mut rest = bytes;
        // Complete a frame begun by an earlier push.
        if !self.buffer.is_empty() {
            let wanted = (self.frame_len - self.buffer.len()).min(rest.len());
            self.buffer.extend_from_slice(&rest[..wanted]);
            rest = &rest[wanted..];
            if self.buffer.len() < self.frame_len {
                return Ok(payloads);
            }
            let frame = std::mem::take(&mut self.buffer);
            payloads.push(self.open_frame(frame)?);
        }
        // Whole frames are copied once, straight into the vector that becomes the payload.
        while rest.len() >= self.frame_len {
            if self.finished {
                return Err(StreamError::DataAfterEnd);
            }
            let (frame, tail) = rest.split_at(self.frame_len);
            payloads.push(self.open_frame(frame.to_vec())?);
            rest = tail;
        }
        if !rest.is_empty() {
            if self.finished {
                return Err(StreamError::DataAfterEnd);
            }
            self.buffer.extend_from_slice(rest);
        }
        Ok(payloads)
    }

    /// Decrypts one whole frame in place and turns it into its payload.
    fn open_frame(&mut self, mut frame: Vec<u8>) -> Result<Vec<u8>, StreamError> {
        let body_len = self.frame_len - AEAD_TAG_LEN;
        let (body, auth) = frame.split_at_mut(body_len);
        self.cipher
            .decrypt_in_place_detached(&frame_nonce(self.frame_number), &[], body, (&*auth).into())
            .map_err(|_| StreamError::FrameInvalid(self.frame_number))?;
        let len = u32::from_be_bytes(body[1..5].try_into().expect("4 bytes")) as usize;
        if len > body_len - FRAME_PREFIX_LEN {
            return Err(StreamError::PayloadLength(self.frame_number));
        }
        self.finished = body[0] & FINAL != 0;
        self.frame_number += 1;
        frame.copy_within(FRAME_PREFIX_LEN..FRAME_PREFIX_LEN + len, 0);
        frame.truncate(len);
        Ok(frame)
    }

    /// Whether the final frame has been read.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Checks the stream ended properly: its final frame read and nothing left over.
    pub fn finish(&self) -> Result<(), StreamError> {
        match &self.failed {
            Some(error) => Err(error.clone()),
            None if self.finished && self.buffer.is_empty() => Ok(()),
            None => Err(StreamError::Truncated),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport_security::tag_window::TagWindow;
    use crate::transport_security::transport_keys::{Role, SecretKey, TransportKeys};

    const FRAME: usize = 1024;

    fn pair() -> (TransportKeys, TransportKeys) {
        let root = SecretKey::from_bytes([9; 32]);
        (
            TransportKeys::new(&root, "lan", Role::Alice, 50, 50),
            TransportKeys::new(&root, "lan", Role::Bob, 50, 50),
        )
    }

    /// Alice writes `data` as stream `n`; returns the wire bytes.
    fn write(alice: &TransportKeys, n: u64, data: &[u8]) -> Vec<u8> {
        let (mut writer, mut wire) = StreamWriter::new(alice.outgoing(), n, FRAME).unwrap();
        writer.seal_all(data, &mut wire).unwrap();
        wire
    }

    /// Bob recognises and opens the stream, then reads it in pieces of `piece` bytes.
    fn read(bob: &TransportKeys, wire: &[u8], piece: usize) -> Result<Vec<u8>, StreamError> {
        let keys = bob.incoming().iter().find(|k| k.period == 50).unwrap();
        let mut window = TagWindow::new(keys, 0);
        let stream_tag: [u8; TAG_LEN] = wire[..TAG_LEN].try_into().unwrap();
        let n = window.recognise(&stream_tag).expect("tag recognised");
        let header: &[u8; HEADER_LEN] = wire[TAG_LEN..TAG_LEN + HEADER_LEN].try_into().unwrap();
        let mut reader = StreamReader::open(keys, n, &stream_tag, header)?;
        let mut data = Vec::new();
        for chunk in wire[TAG_LEN + HEADER_LEN..].chunks(piece) {
            for payload in reader.push(chunk)? {
                data.extend(payload);
            }
        }
        reader.finish()?;
        Ok(data)
    }

    #[test]
    fn a_stream_round_trips_whatever_the_piece_size() {
        let (alice, bob) = pair();
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let wire = write(&alice, 3, &data);
        assert_eq!(
            (wire.len() - TAG_LEN - HEADER_LEN) % FRAME,
            0,
            "every frame has the same size"
        );
        for piece in [1, 7, FRAME, 5000, wire.len()] {
            assert_eq!(read(&bob, &wire, piece).unwrap(), data);
        }
        assert_eq!(read(&bob, &write(&alice, 4, b""), 100).unwrap(), b"");
    }

    #[test]
    fn frames_hide_the_message_size() {
        let (alice, _) = pair();
        assert_eq!(
            write(&alice, 0, b"hi").len(),
            write(&alice, 1, &[0; FRAME - FRAME_OVERHEAD]).len()
        );
    }

    #[test]
    fn every_tampered_byte_is_caught() {
        let (alice, bob) = pair();
        let wire = write(&alice, 1, &[42; 2000]);
        for i in (TAG_LEN..wire.len()).step_by(97) {
            let mut bad = wire.clone();
            bad[i] ^= 0x01;
            let err = read(&bob, &bad, 512).unwrap_err();
            assert!(
                matches!(
                    err,
                    StreamError::HeaderInvalid | StreamError::FrameInvalid(_)
                ),
                "byte {i}: {err:?}"
            );
        }
    }

    #[test]
    fn reordered_truncated_and_extended_streams_are_refused() {
        let (alice, bob) = pair();
        let wire = write(&alice, 1, &[1; 3000]);
        let body = TAG_LEN + HEADER_LEN;
        let mut swapped = wire.clone();
        swapped[body..body + 2 * FRAME].rotate_left(FRAME);
        assert_eq!(read(&bob, &swapped, 999), Err(StreamError::FrameInvalid(0)));
        assert_eq!(
            read(&bob, &wire[..wire.len() - FRAME], 999),
            Err(StreamError::Truncated)
        );
        assert_eq!(
            read(&bob, &wire[..wire.len() - 1], 999),
            Err(StreamError::Truncated)
        );
        let mut extended = wire.clone();
        extended.extend_from_slice(&wire[body..body + FRAME]);
        assert_eq!(read(&bob, &extended, 999), Err(StreamError::DataAfterEnd));
    }

    #[test]
    fn a_header_moved_to_another_streams_tag_is_refused() {
        let (alice, bob) = pair();
        let first = write(&alice, 1, b"one");
        let mut spliced = write(&alice, 2, b"two");
        spliced[TAG_LEN..TAG_LEN + HEADER_LEN]
            .copy_from_slice(&first[TAG_LEN..TAG_LEN + HEADER_LEN]);
        assert_eq!(read(&bob, &spliced, 64), Err(StreamError::HeaderInvalid));
    }

    /// A header Alice's keys would accept whatever its `plain` fields say: sealed under her header key,
    /// with stream 0's tag as associated data.
    fn forged_header(alice: &TransportKeys, plain: &[u8]) -> ([u8; TAG_LEN], [u8; HEADER_LEN]) {
        let keys = alice.outgoing();
        let stream_tag = tag(&keys.tag_key, 0);
        let mut sealed = plain.to_vec();
        let auth = XChaCha20Poly1305::new(keys.header_key.expose().into())
            .encrypt_in_place_detached(XNonce::from_slice(&[0; 24]), &stream_tag, &mut sealed)
            .unwrap();
        let header = [[0; 24].as_slice(), &sealed, &auth].concat();
        (stream_tag, header.try_into().unwrap())
    }

    fn header_fields(version: u8, stream_number: u64, frame_len: u32) -> Vec<u8> {
        let mut plain = vec![version];
        plain.extend_from_slice(&stream_number.to_be_bytes());
        plain.extend_from_slice(&frame_len.to_be_bytes());
        plain.extend_from_slice(&[0x33; 32]);
        plain
    }

    #[test]
    fn an_authentic_header_with_wrong_fields_says_which() {
        let (alice, bob) = pair();
        let keys = bob.incoming().iter().find(|k| k.period == 50).unwrap();
        let open = |plain: Vec<u8>| {
            let (stream_tag, header) = forged_header(&alice, &plain);
            StreamReader::open(keys, 0, &stream_tag, &header).map(|_| ())
        };
        assert_eq!(open(header_fields(VERSION, 0, 64)), Ok(()));
        assert_eq!(
            open(header_fields(2, 0, 64)),
            Err(StreamError::UnsupportedVersion(2))
        );
        assert_eq!(
            open(header_fields(VERSION, 1, 64)),
            Err(StreamError::StreamNumberMismatch { tag: 0, header: 1 })
        );
        assert_eq!(
            open(header_fields(VERSION, 0, 63)),
            Err(StreamError::FrameLength(63))
        );
    }

    #[test]
    fn frame_lengths_from_64_bytes_to_1_mib_of_payload_are_accepted() {
        let (alice, _) = pair();
        let largest = (1 << 20) + 21;
        for fine in [64, largest] {
            let (writer, _) = StreamWriter::new(alice.outgoing(), 0, fine).unwrap();
            assert_eq!(
                writer.max_payload(),
                fine - 21,
                "flags, length and the AEAD tag"
            );
        }
        for bad in [63, largest + 1] {
            assert_eq!(
                StreamWriter::new(alice.outgoing(), 0, bad).unwrap_err(),
                StreamError::FrameLength(bad)
            );
        }
    }

    #[test]
    fn a_frame_declaring_more_payload_than_it_holds_is_refused() {
        let (alice, bob) = pair();
        let keys = bob.incoming().iter().find(|k| k.period == 50).unwrap();
        let (stream_tag, header) = forged_header(&alice, &header_fields(VERSION, 0, 64));
        let frame = |declared: u32| {
            let mut body = vec![FINAL];
            body.extend_from_slice(&declared.to_be_bytes());
            body.resize(64 - AEAD_TAG_LEN, 0);
            let auth = ChaCha20Poly1305::new((&[0x33; 32]).into())
                .encrypt_in_place_detached(&frame_nonce(0), &[], &mut body)
                .unwrap();
            [body.as_slice(), &auth].concat()
        };
        let room = 64 - FRAME_OVERHEAD;
        let mut reader = StreamReader::open(keys, 0, &stream_tag, &header).unwrap();
        assert_eq!(reader.push(&frame(room as u32)), Ok(vec![vec![0; room]]));
        let mut reader = StreamReader::open(keys, 0, &stream_tag, &header).unwrap();
        assert_eq!(
            reader.push(&frame(room as u32 + 1)),
            Err(StreamError::PayloadLength(0))
        );
    }

    #[test]
    fn a_finished_stream_takes_silence_but_not_one_byte_more() {
        let (alice, bob) = pair();
        let wire = write(&alice, 0, b"done");
        let keys = bob.incoming().iter().find(|k| k.period == 50).unwrap();
        let stream_tag: [u8; TAG_LEN] = wire[..TAG_LEN].try_into().unwrap();
        let header: &[u8; HEADER_LEN] = wire[TAG_LEN..TAG_LEN + HEADER_LEN].try_into().unwrap();
        let body = &wire[TAG_LEN + HEADER_LEN..];
        let mut reader = StreamReader::open(keys, 0, &stream_tag, header).unwrap();
        assert!(!reader.is_finished());
        assert_eq!(reader.finish(), Err(StreamError::Truncated));
        assert_eq!(reader.push(&body[..10]), Ok(vec![]));
        assert_eq!(reader.push(&body[10..]), Ok(vec![b"done".to_vec()]));
        assert!(reader.is_finished());
        assert_eq!(reader.push(&[]), Ok(vec![]));
        assert_eq!(reader.finish(), Ok(()));
        assert_eq!(reader.push(&[0]), Err(StreamError::DataAfterEnd));
        // Bytes after the final frame in the same push are refused too, whole or partial.
        for extra in [1, FRAME] {
            let mut reader = StreamReader::open(keys, 0, &stream_tag, header).unwrap();
            let mut longer = body.to_vec();
            longer.extend(std::iter::repeat_n(0, extra));
            assert_eq!(reader.push(&longer), Err(StreamError::DataAfterEnd));
        }
    }

    #[test]
    fn a_writer_refuses_oversized_payloads_and_frames_after_the_last() {
        let (alice, _) = pair();
        let (mut writer, mut wire) = StreamWriter::new(alice.outgoing(), 0, 64).unwrap();
        let room = writer.max_payload();
        assert_eq!(
            writer.seal_frame(&vec![0; room + 1], false, &mut wire),
            Err(StreamError::PayloadTooLarge {
                len: room + 1,
                max: room
            })
        );
        writer.seal_frame(&vec![0; room], false, &mut wire).unwrap();
        assert!(!writer.is_finished());
        writer.seal_all(&[1; 100], &mut wire).unwrap();
        assert!(writer.is_finished());
        assert_eq!(
            wire.len(),
            TAG_LEN + HEADER_LEN + 4 * 64,
            "one full frame, then 100 bytes in 3"
        );
        assert_eq!(
            writer.seal_frame(&[], true, &mut wire),
            Err(StreamError::AlreadyFinished)
        );
    }

    #[test]
    fn a_dead_stream_stays_dead() {
        let (alice, bob) = pair();
        let wire = write(&alice, 0, &[5; 100]);
        let keys = bob.incoming().iter().find(|k| k.period == 50).unwrap();
        let stream_tag: [u8; TAG_LEN] = wire[..TAG_LEN].try_into().unwrap();
        let header: &[u8; HEADER_LEN] = wire[TAG_LEN..TAG_LEN + HEADER_LEN].try_into().unwrap();
        let mut reader = StreamReader::open(keys, 0, &stream_tag, header).unwrap();
        let mut frame = wire[TAG_LEN + HEADER_LEN..].to_vec();
        frame[10] ^= 1;
        assert_eq!(reader.push(&frame), Err(StreamError::FrameInvalid(0)));
        assert_eq!(
            reader.push(&wire[TAG_LEN + HEADER_LEN..]),
            Err(StreamError::FrameInvalid(0))
        );
        assert_eq!(reader.finish(), Err(StreamError::FrameInvalid(0)));
    }

    #[test]
    fn frame_lengths_out_of_bounds_are_refused() {
        let (alice, _) = pair();
        assert_eq!(
            StreamWriter::new(alice.outgoing(), 0, 10).unwrap_err(),
            StreamError::FrameLength(10)
        );
        assert!(StreamWriter::new(alice.outgoing(), 0, MAX_FRAME_LEN + 1).is_err());
    }

    #[test]
    fn keys_from_an_expired_period_cannot_open_new_streams() {
        let (mut alice, bob) = pair();
        alice.rotate_to(53);
        let wire = write(&alice, 0, b"later");
        let keys = bob.incoming().iter().find(|k| k.period == 50).unwrap();
        let stream_tag: [u8; TAG_LEN] = wire[..TAG_LEN].try_into().unwrap();
        assert_eq!(TagWindow::new(keys, 0).recognise(&stream_tag), None);
    }

    #[test]
    fn a_stream_is_pinned_to_known_bytes() {
        // Computed independently by proto/vectors/known_answers.py: AES-256 tag, XChaCha20-Poly1305
        // header (HChaCha20 written out, then Python `cryptography`), ChaCha20-Poly1305 frames.
        // Alice's period-12 keys of root 07..07 on "lan", stream 5, 64-byte frames, frame key
        // 33..33, nonce 44..44.
        let alice = TransportKeys::new(&SecretKey::from_bytes([7; 32]), "lan", Role::Alice, 10, 12);
        let (mut writer, mut wire) =
            StreamWriter::with_randomness(alice.outgoing(), 5, 64, &[0x33; 32], [0x44; 24])
                .unwrap();
        assert_eq!(
            hex::encode(&wire),
            concat!(
                "55defdd71198c23816442253fa0c45d5",
                "444444444444444444444444444444444444444444444444",
                "2db1eecf19f40b074bac70d6d61366d09ed58e9031da4fcc363b76403ad6698dd388f51c89b4eab002307fd47e",
                "6278ce9e46f671273d9c20e83bc6f0c3",
            ),
            "tag | nonce | sealed (version, stream number, frame length, frame key) | auth"
        );
        let frames_start = wire.len();
        writer.seal_frame(b"hello, ", false, &mut wire).unwrap();
        writer.seal_frame(b"world", true, &mut wire).unwrap();
        assert_eq!(
            hex::encode(&wire[frames_start..]),
            concat!(
                "d7cc894a5ed19020796e3962923b2d49a985bc180548c27bbfc1c719819ae0c95e72d94c40d4c119154f9c1096be19b1",
                "7a52a9789e78990eee77241b90c2f11e",
                "0e807b51ce280c0d84e41c2a1bbe95163719d70b8431babcc45adcd35347155d3a1cf9daffe2f01e08691d113c39c219",
                "99fb390c8bc0a037a862306498664493",
            ),
            "two frames: flags | payload length | payload | zeros, each sealed with its number as nonce"
        );
        let bob = TransportKeys::new(&SecretKey::from_bytes([7; 32]), "lan", Role::Bob, 10, 12);
        let keys = bob.incoming().iter().find(|k| k.period == 12).unwrap();
        let tag: [u8; TAG_LEN] = wire[..TAG_LEN].try_into().unwrap();
        let header: &[u8; HEADER_LEN] = wire[TAG_LEN..frames_start].try_into().unwrap();
        let mut reader = StreamReader::open(keys, 5, &tag, header).unwrap();
        assert_eq!(
            reader.push(&wire[frames_start..]).unwrap(),
            vec![b"hello, ".to_vec(), b"world".to_vec()]
        );
        assert_eq!(reader.finish(), Ok(()));
    }

    #[test]
    fn writers_and_readers_never_print_their_keys() {
        let (alice, bob) = pair();
        let frame_key = [0x5a; 32];
        let (writer, wire) =
            StreamWriter::with_randomness(alice.outgoing(), 0, 64, &frame_key, [0; 24]).unwrap();
        assert_eq!(
            format!("{writer:?}"),
            "StreamWriter { frame_number: 0, frame_len: 64, .. }"
        );
        let keys = bob.incoming().iter().find(|k| k.period == 50).unwrap();
        let tag: [u8; TAG_LEN] = wire[..TAG_LEN].try_into().unwrap();
        let header: &[u8; HEADER_LEN] = wire[TAG_LEN..].try_into().unwrap();
        let reader = StreamReader::open(keys, 0, &tag, header).unwrap();
        assert_eq!(
            format!("{reader:?}"),
            "StreamReader { frame_number: 0, frame_len: 64, .. }"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_data_round_trips(data in proptest::collection::vec(proptest::num::u8::ANY, 0..5000), piece in 1usize..3000) {
            let (alice, bob) = pair();
            proptest::prop_assert_eq!(read(&bob, &write(&alice, 7, &data), piece).unwrap(), data);
        }

        #[test]
        fn random_bytes_never_panic_the_reader(noise in proptest::collection::vec(proptest::num::u8::ANY, 0..4000)) {
            let (_, bob) = pair();
            let keys = bob.incoming().iter().find(|k| k.period == 50).unwrap();
            if noise.len() >= TAG_LEN + HEADER_LEN {
                let stream_tag: [u8; TAG_LEN] = noise[..TAG_LEN].try_into().unwrap();
                let header: &[u8; HEADER_LEN] = noise[TAG_LEN..TAG_LEN + HEADER_LEN].try_into().unwrap();
                proptest::prop_assert!(StreamReader::open(keys, 0, &stream_tag, header).is_err());
            }
        }
    }
}
