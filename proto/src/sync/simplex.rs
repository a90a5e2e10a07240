//! Whole simplex streams, sans-IO: what one side writes to a removable drive or a mailbox, and what the
//! other reads from it days later.
//!
//! A written stream carries, eagerly, the acks we owe the peer and every message due to it (see
//! [`Session::start`] in simplex mode), then ends. A read stream is taken record by record: each
//! message is stored once and its ack kept for our next stream, each ack is applied to our outbox, and
//! nothing is answered. Replays are refused by the tag window; a message that arrives twice anyway
//! (a retransmission, or a stream read on a restored device) is stored once, its ack owed again.

use super::attachment::CHUNK_TYPE;
use super::record::{MessageId, Record, RecordError, RecordReader};
use super::session::{Mode, Session, SessionError, SyncStore};
use crate::transport_security::TAG_LEN;
use crate::transport_security::stream::{HEADER_LEN, StreamError, StreamReader, StreamWriter};
use crate::transport_security::tag_window::TagWindow;
use crate::transport_security::transport_keys::DirectionKeys;

/// Why a simplex stream could not be written or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimplexError {
    /// A duplex session was given to write a simplex stream.
    #[error(
        "a simplex stream is written by a simplex session; this one is duplex (make it with `Session::new(Mode::Simplex)`)"
    )]
    NotSimplex,
    /// The stream's tag is none the window expects.
    #[error(
        "the stream's tag is not one we expect (a stranger's stream, or one already read); nothing in it was read"
    )]
    UnknownTag,
    /// The bytes end before the stream's tag and header do.
    #[error(
        "{0} bytes are too few for a stream's tag and header (truncated, or not a Courier stream)"
    )]
    TooShort(usize),
    /// The stream ended inside a record.
    #[error("the stream ended inside a record ({0} bytes of it); the writer stopped mid-way")]
    PartialRecord(usize),
    /// The stream layer refused the bytes.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// The records were malformed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The session refused a record, or storage failed.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// The longest simplex stream: one file on a drive (what the `files` capability writes at once).
pub const MAX_STREAM_LEN: usize = 1 << 20;

/// One simplex stream, written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The stream: tag, header, frames.
    pub wire: Vec<u8>,
    /// Whether acks or messages owed to the peer did not fit and wait for another stream.
    pub more: bool,
}

/// Writes one whole simplex stream of at most `max_len` bytes, number `stream_number` under `keys`:
/// tag, header, and frames holding `session`'s opening records, the last frame final. Marks what it
/// carries as sent (messages) and written (acks) in `store`; what does not fit stays due.
pub fn write_stream(
    mut session: Session,
    store: &mut impl SyncStore,
    keys: &DirectionKeys,
    stream_number: u64,
    frame_len: usize,
    max_len: usize,
    now_ms: u64,
) -> Result<Written, SimplexError> {
    if session.mode() != Mode::Simplex {
        return Err(SimplexError::NotSimplex);
    }
    // The writer first: a frame length it refuses must not leave messages marked sent.
    let (mut writer, mut wire) = StreamWriter::new(keys, stream_number, frame_len)?;
    let frames = max_len.saturating_sub(wire.len()) / frame_len;
    if frames == 0 {
        return Err(SimplexError::TooShort(max_len));
    }
    let (records, more) = session.start_within(store, now_ms, frames * writer.max_payload())?;
    let data = Record::encode_all(&records);
    let padded = padded_frames(data.len().div_ceil(writer.max_payload()).max(1), frames);
    writer.seal_padded(&data, padded, &mut wire)?;
    Ok(Written { wire, more })
}

/// How many frames a stream needing `needed` takes: the next power of two, at most `most`. A stream
/// at rest on a drive shows its length; buckets leave an observer a handful of sizes, not a count of
/// messages.
pub fn padded_frames(needed: usize, most: usize) -> usize {
    needed.next_power_of_two().min(most).max(needed)
}

/// Whether the peer is owed anything at `now_ms`: an ack, or a message due. A simplex writer with
/// nothing owed writes no stream at all (no empty file on a drive).
pub fn owes(store: &impl SyncStore, now_ms: u64) -> Result<bool, SessionError> {
    Ok(!store.acks_due(1)?.is_empty() || !store.due(now_ms, 1)?.is_empty())
}

/// Reads one incoming simplex stream whose tag was recognised and header opened.
#[derive(Debug)]
pub struct SimplexReader {
    stream: StreamReader,
    records: RecordReader,
    session: Session,
}

impl SimplexReader {
    /// Reads the frames of `stream`.
    pub fn new(stream: StreamReader) -> Self {
        SimplexReader {
            stream,
            records: RecordReader::new(),
            session: Session::new(Mode::Simplex),
        }
    }

    /// Takes the stream's bytes after its header, in pieces of any size, and handles every record now
    /// complete. Returns how many messages they held as a person counts them: an attachment's parts
    /// are not counted, its message is (a duplicate counts, though it is stored once).
    pub fn push(
        &mut self,
        bytes: &[u8],
        store: &mut impl SyncStore,
        now_ms: u64,
    ) -> Result<usize, SimplexError> {
        let mut messages = 0;
        for payload in self.stream.push(bytes)? {
            for record in self.records.push(&payload)? {
                let shown = matches!(&record, Record::Message(m) if m.content_type != CHUNK_TYPE);
                let answer = self.session.handle(record, store, now_ms)?;
                debug_assert!(answer.is_empty(), "a simplex session answers nothing");
                messages += usize::from(shown);
            }
        }
        Ok(messages)
    }

    /// Whether the stream's final frame has been read.
    pub fn is_finished(&self) -> bool {
        self.stream.is_finished()
    }

    /// Checks the stream ended properly: its final frame read, nothing after it, no record cut short.
    pub fn finish(&self) -> Result<(), SimplexError> {
        self.stream.finish()?;
        match self.records.pending() {
            0 => Ok(()),
            pending => Err(SimplexError::PartialRecord(pending)),
        }
    }

    /// Ids of the messages read so far, in order (duplicates included).
    pub fn received(&self) -> &[MessageId] {
        self.session.received()
    }
}

/// Reads a whole simplex stream held in memory (a file from a drive): recognises its tag in `window`,
/// opens it with `keys` (the incoming keys of the window's period), handles every record into `store`
/// and checks the stream ended. Returns the ids of the messages it carried, in order.
pub fn read_stream(
    wire: &[u8],
    window: &mut TagWindow,
    keys: &DirectionKeys,
    store: &mut impl SyncStore,
    now_ms: u64,
) -> Result<Vec<MessageId>, SimplexError> {
    let Some((tag, rest)) = wire.split_first_chunk::<TAG_LEN>() else {
        return Err(SimplexError::TooShort(wire.len()));
    };
    let Some((header, frames)) = rest.split_first_chunk::<HEADER_LEN>() else {
        return Err(SimplexError::TooShort(wire.len()));
    };
    let stream_number = window.recognise(tag).ok_or(SimplexError::UnknownTag)?;
    let mut reader = SimplexReader::new(StreamReader::open(keys, stream_number, tag, header)?);
    reader.push(frames, store, now_ms)?;
    reader.finish()?;
    Ok(reader.received().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::record::{MAX_IDS, PROTOCOL_VERSION};
    use crate::sync::session::retransmit_at;
    use crate::sync::session::tests::{LATENCY, Side, bodies};
    use crate::transport_security::transport_keys::{Role, SecretKey, TransportKeys};

    const FRAME: usize = 1024;
    const PERIOD: u64 = 50;

    /// One side of a contact that meets the other only through a drive: its store, its keys, the
    /// window of the peer's streams it expects, and its next outgoing stream number.
    struct Contact {
        store: Side,
        keys: TransportKeys,
        window: TagWindow,
        next_stream: u64,
    }

    fn alice_and_bob() -> (Contact, Contact) {
        let root = SecretKey::from_bytes([9; 32]);
        let contact = |role| {
            let keys = TransportKeys::new(&root, "drive", role, PERIOD, PERIOD);
            let window = TagWindow::new(incoming(&keys), 0);
            Contact {
                store: Side::default(),
                keys,
                window,
                next_stream: 0,
            }
        };
        (contact(Role::Alice), contact(Role::Bob))
    }

    fn incoming(keys: &TransportKeys) -> &DirectionKeys {
        keys.incoming().iter().find(|k| k.period == PERIOD).unwrap()
    }

    impl Contact {
        /// Writes the next stream to the drive at `now`.
        fn write_drive(&mut self, now: u64) -> Vec<u8> {
            let written = self.write_drive_within(MAX_STREAM_LEN, now);
            assert!(!written.more, "everything fits one stream");
            written.wire
        }

        /// Writes the next stream, of at most `max_len` bytes, to the drive at `now`.
        fn write_drive_within(&mut self, max_len: usize, now: u64) -> Written {
            let number = self.next_stream;
            self.next_stream += 1;
            let session = Session::new(Mode::Simplex);
            write_stream(
                session,
                &mut self.store,
                self.keys.outgoing(),
                number,
                FRAME,
                max_len,
                now,
            )
            .unwrap()
        }

        /// Reads a stream from the drive at `now`.
        fn read_drive(&mut self, wire: &[u8], now: u64) -> Result<Vec<MessageId>, SimplexError> {
            let keys = incoming(&self.keys).clone();
            read_stream(wire, &mut self.window, &keys, &mut self.store, now)
        }

        /// Whatever a stream to this contact carries, decrypted and decoded but not handled.
        fn records_in(&self, wire: &[u8]) -> Vec<Record> {
            let keys = incoming(&self.keys);
            let tag = wire[..TAG_LEN].try_into().unwrap();
            let number = TagWindow::new(keys, 0).recognise(tag).unwrap();
            let header = wire[TAG_LEN..TAG_LEN + HEADER_LEN].try_into().unwrap();
            let mut stream = StreamReader::open(keys, number, tag, header).unwrap();
            let payload = stream.push(&wire[TAG_LEN + HEADER_LEN..]).unwrap().concat();
            stream.finish().unwrap();
            RecordReader::new().push(&payload).unwrap()
        }
    }

    fn message_records(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .filter_map(|r| match r {
                Record::Message(m) => Some(String::from_utf8(m.body.clone()).unwrap()),
                _ => None,
            })
            .collect()
    }

    fn versions() -> Record {
        Record::Versions(vec![PROTOCOL_VERSION])
    }

    #[test]
    fn a_backlog_too_large_for_one_file_spans_several_streams_each_within_the_limit() {
        let (mut alice, mut bob) = alice_and_bob();
        // 3 MB of texts, and 1,100 short ones: more acks than one ack record holds come back.
        let mut texts: Vec<String> = (0..48).map(|i| format!("{i:02}").repeat(32_000)).collect();
        texts.extend((0..1_100).map(|i| format!("short {i}")));
        for (i, text) in texts.iter().enumerate() {
            alice.store.queue(text, i as u64 + 1);
        }
        let mut streams = Vec::new();
        loop {
            let written = alice.write_drive_within(MAX_STREAM_LEN, 10);
            assert!(
                written.wire.len() <= MAX_STREAM_LEN,
                "{}",
                written.wire.len()
            );
            streams.push(written.wire);
            if !written.more {
                break;
            }
        }
        assert_eq!(streams.len(), 4, "3 MB in streams of at most 1 MiB");
        assert!(
            alice.store.due(10, usize::MAX).unwrap().is_empty(),
            "all written"
        );
        for wire in &streams {
            bob.read_drive(wire, 20).unwrap();
        }
        assert_eq!(bodies(&bob.store), texts, "each message once, in order");

        // A stream with room for one ack record carries 1,024 acks and owes the rest to the next.
        let first = bob.write_drive_within(36 * 1024, 30);
        assert!(first.more);
        assert_eq!(
            bob.store.acks_due(usize::MAX).unwrap().len(),
            texts.len() - MAX_IDS
        );
        alice.read_drive(&first.wire, 40).unwrap();
        let rest = bob.write_drive_within(MAX_STREAM_LEN, 50);
        assert!(!rest.more);
        alice.read_drive(&rest.wire, 60).unwrap();
        let much_later = 60 + 1_000 * LATENCY;
        assert!(
            alice.store.due(much_later, usize::MAX).unwrap().is_empty(),
            "every message acked across the two streams"
        );
        assert!(matches!(
            write_stream(
                Session::new(Mode::Simplex),
                &mut bob.store,
                bob.keys.outgoing(),
                9,
                FRAME,
                FRAME,
                70
            ),
            Err(SimplexError::TooShort(_))
        ));
    }

    #[test]
    fn bob_reads_a_drive_stream_a_frame_at_a_time_and_knows_when_it_ended() {
        let (mut alice, mut bob) = alice_and_bob();
        // Texts of 700 bytes in 1 KiB frames: each ends in a later frame than the one before.
        let texts: Vec<String> = ["a", "b", "c"].iter().map(|c| c.repeat(700)).collect();
        for (i, text) in texts.iter().enumerate() {
            alice.store.queue(text, i as u64 + 1);
        }
        let wire = alice.write_drive(10);
        let keys = incoming(&bob.keys).clone();
        let tag = wire[..TAG_LEN].try_into().unwrap();
        let number = bob.window.recognise(tag).unwrap();
        let header = wire[TAG_LEN..TAG_LEN + HEADER_LEN].try_into().unwrap();
        let mut reader =
            SimplexReader::new(StreamReader::open(&keys, number, tag, header).unwrap());
        let frames = &wire[TAG_LEN + HEADER_LEN..];
        let mut counts = Vec::new();
        for frame in frames.chunks(FRAME) {
            assert!(!reader.is_finished(), "the final frame is still to come");
            counts.push(reader.push(frame, &mut bob.store, 20).unwrap());
        }
        assert!(reader.is_finished());
        assert_eq!(reader.finish(), Ok(()));
        assert_eq!(
            counts,
            [1, 1, 1, 0],
            "each push counts the messages it completed; the fourth frame pads the stream"
        );
        assert_eq!(bodies(&bob.store), texts);
    }

    #[test]
    fn alice_writes_bob_a_drive_stream_with_every_unacked_message_and_the_acks_she_owes() {
        let (mut alice, mut bob) = alice_and_bob();
        let hi = bob.store.queue("hi alice", 1);
        let from_bob = bob.write_drive(10);
        assert_eq!(alice.read_drive(&from_bob, 20), Ok(vec![hi]));
        let acked = alice.store.queue("already acked", 2);
        alice.store.outbox.get_mut(&acked).unwrap().3 = true;
        let one = alice.store.queue("one", 3);
        let two = alice.store.queue("two", 4);

        let wire = alice.write_drive(30);

        let carried = bob.records_in(&wire);
        let expected = [
            versions(),
            Record::Ack(vec![hi]),
            Record::Message(alice.store.outgoing(&one).unwrap().unwrap()),
            Record::Message(alice.store.outgoing(&two).unwrap().unwrap()),
        ];
        assert_eq!(
            carried, expected,
            "the ack she owes, then each unacked message"
        );
        assert!(
            alice.store.acks_owed.is_empty(),
            "the ack is written; it is not owed again"
        );
        assert_eq!(
            [&alice.store.outbox[&one], &alice.store.outbox[&two]].map(|e| (e.1, e.2)),
            [(1, 30), (1, 30)],
            "both are marked sent at the time of writing"
        );
        assert_eq!(
            (wire.len() - TAG_LEN - HEADER_LEN) % FRAME,
            0,
            "whole frames only"
        );
    }

    #[test]
    fn bob_reads_alices_drive_stream_stores_each_message_once_and_his_acks_stop_her_sending_them() {
        let (mut alice, mut bob) = alice_and_bob();
        let one = alice.store.queue("one", 1);
        let two = alice.store.queue("two", 2);
        let to_bob = alice.write_drive(10);

        assert_eq!(bob.read_drive(&to_bob, 20), Ok(vec![one, two]));
        assert_eq!(bodies(&bob.store), ["one", "two"]);
        assert_eq!(
            bob.store.acks_owed,
            [one, two],
            "acks wait for bob's stream"
        );

        let to_alice = bob.write_drive(30);
        assert_eq!(
            alice.records_in(&to_alice),
            [versions(), Record::Ack(vec![one, two])]
        );
        assert_eq!(alice.read_drive(&to_alice, 40), Ok(vec![]));
        assert!(alice.store.outbox.values().all(|e| e.3), "both acked");
        let much_later = 1_000 * LATENCY;
        assert!(alice.store.due(much_later, usize::MAX).unwrap().is_empty());
        assert_eq!(
            bob.records_in(&alice.write_drive(much_later)),
            [versions()],
            "acked messages are never written again"
        );
        assert_eq!(
            alice.records_in(&bob.write_drive(much_later)),
            [versions()],
            "and bob's acks went once"
        );
    }

    #[test]
    fn a_replayed_drive_stream_is_refused_and_even_past_the_window_stores_nothing_twice() {
        let (mut alice, mut bob) = alice_and_bob();
        let one = alice.store.queue("one", 1);
        let wire = alice.write_drive(10);
        assert_eq!(bob.read_drive(&wire, 20), Ok(vec![one]));

        assert_eq!(bob.read_drive(&wire, 21), Err(SimplexError::UnknownTag));
        assert_eq!(bob.store.inbox.len(), 1);

        // A device restored from a backup has forgotten which streams it read.
        bob.window = TagWindow::new(incoming(&bob.keys), 0);
        assert_eq!(
            bob.read_drive(&wire, 22),
            Ok(vec![one]),
            "the stream is read again"
        );
        assert_eq!(bodies(&bob.store), ["one"], "its message is stored once");
        assert_eq!(bob.store.acks_owed, [one], "and acked once");
    }

    #[test]
    fn drive_streams_read_out_of_order_and_twice_store_each_message_once() {
        let (mut alice, mut bob) = alice_and_bob();
        let one = alice.store.queue("one", 1);
        let first = alice.write_drive(10);
        let two = alice.store.queue("two", 2);
        let second = alice.write_drive(11);
        assert_eq!(
            message_records(&bob.records_in(&second)),
            ["two"],
            "one is not due again yet"
        );

        assert_eq!(bob.read_drive(&second, 20), Ok(vec![two]));
        assert_eq!(bob.read_drive(&first, 21), Ok(vec![one]));
        for replay in [&first, &second] {
            assert_eq!(bob.read_drive(replay, 22), Err(SimplexError::UnknownTag));
        }
        assert_eq!(bodies(&bob.store), ["two", "one"]);

        let resent = alice.write_drive(11 + 2 * LATENCY);
        assert_eq!(message_records(&bob.records_in(&resent)), ["one", "two"]);
        assert_eq!(bob.read_drive(&resent, 30), Ok(vec![one, two]));
        assert_eq!(bodies(&bob.store), ["two", "one"], "nothing stored twice");
        assert_eq!(bob.store.acks_owed, [two, one], "each ack owed once");
    }

    #[test]
    fn a_message_on_a_drive_is_written_again_only_once_its_retransmission_time_passes() {
        let (mut alice, bob) = alice_and_bob();
        alice.store.queue("important", 1);
        let mut written_at = Vec::new();
        let mut at = |now: u64, alice: &mut Contact| {
            let carried = message_records(&bob.records_in(&alice.write_drive(now)));
            if !carried.is_empty() {
                assert_eq!(carried, ["important"]);
                written_at.push(now);
            }
        };
        let first_retry = retransmit_at(0, 1, LATENCY);
        let second_retry = retransmit_at(first_retry, 2, LATENCY);
        assert_eq!((first_retry, second_retry), (2 * LATENCY, 6 * LATENCY));
        for now in [
            0,
            1,
            first_retry - 1,
            first_retry,
            first_retry + 1,
            second_retry - 1,
            second_retry,
        ] {
            at(now, &mut alice);
        }
        assert_eq!(
            written_at,
            [0, first_retry, second_retry],
            "sent, then again after 2 x latency, then after 4 x latency more"
        );
    }

    #[test]
    fn a_duplicate_on_a_drive_makes_its_ack_due_again_when_bobs_stream_was_lost() {
        let (mut alice, mut bob) = alice_and_bob();
        let one = alice.store.queue("one", 1);
        bob.read_drive(&alice.write_drive(0), 10).unwrap();
        let lost = bob.write_drive(20);
        assert_eq!(
            alice.records_in(&lost),
            [versions(), Record::Ack(vec![one])]
        );
        assert_eq!(
            alice.records_in(&bob.write_drive(30)),
            [versions()],
            "the ack went on the lost drive"
        );

        let resent = alice.write_drive(2 * LATENCY);
        assert_eq!(bob.read_drive(&resent, 2 * LATENCY + 10), Ok(vec![one]));
        assert_eq!(bodies(&bob.store), ["one"], "stored once");
        let found = bob.write_drive(2 * LATENCY + 20);
        assert_eq!(
            alice.records_in(&found),
            [versions(), Record::Ack(vec![one])]
        );
        alice.read_drive(&found, 2 * LATENCY + 30).unwrap();
        assert!(alice.store.due(u64::MAX, usize::MAX).unwrap().is_empty());
    }

    #[test]
    fn more_acks_than_one_record_holds_are_split_and_all_applied() {
        let (mut alice, mut bob) = alice_and_bob();
        for i in 0..MAX_IDS + 1 {
            alice.store.queue(&format!("m{i}"), i as u64);
        }
        bob.read_drive(&alice.write_drive(0), 1).unwrap();
        let to_alice = bob.write_drive(2);
        let sizes: Vec<usize> = alice
            .records_in(&to_alice)
            .iter()
            .filter_map(|r| match r {
                Record::Ack(ids) => Some(ids.len()),
                _ => None,
            })
            .collect();
        assert_eq!(sizes, [MAX_IDS, 1]);
        alice.read_drive(&to_alice, 3).unwrap();
        assert!(alice.store.due(u64::MAX, usize::MAX).unwrap().is_empty());
    }

    #[test]
    fn a_drive_stream_is_written_by_a_simplex_session_and_read_whole() {
        let (mut alice, mut bob) = alice_and_bob();
        alice.store.queue("one", 1);
        let duplex = Session::new(Mode::Duplex);
        assert_eq!(
            write_stream(
                duplex,
                &mut alice.store,
                alice.keys.outgoing(),
                0,
                FRAME,
                MAX_STREAM_LEN,
                0
            ),
            Err(SimplexError::NotSimplex)
        );
        assert_eq!(
            alice.store.outbox.values().next().unwrap().1,
            0,
            "nothing marked sent"
        );
        let wire = alice.write_drive(0);
        assert_eq!(
            bob.read_drive(&wire[..wire.len() - 1], 1),
            Err(SimplexError::Stream(StreamError::Truncated))
        );
        assert_eq!(
            bob.read_drive(&wire[..TAG_LEN + HEADER_LEN - 1], 1),
            Err(SimplexError::TooShort(TAG_LEN + HEADER_LEN - 1))
        );
    }

    #[test]
    fn a_drive_stream_that_ends_inside_a_record_is_refused() {
        let (alice, mut bob) = alice_and_bob();
        let mut records = Record::encode_all(&[versions()]);
        records.truncate(records.len() - 1);
        let (mut writer, mut wire) = StreamWriter::new(alice.keys.outgoing(), 0, FRAME).unwrap();
        writer.seal_all(&records, &mut wire).unwrap();
        assert_eq!(
            bob.read_drive(&wire, 1),
            Err(SimplexError::PartialRecord(records.len()))
        );
    }

    #[test]
    fn a_drive_stream_is_padded_to_a_power_of_two_frames_and_reads_as_if_it_were_not() {
        let (mut alice, mut bob) = alice_and_bob();
        // Three texts of 700 bytes need three 1 KiB frames; the stream takes four.
        let texts: Vec<String> = ["a", "b", "c"].iter().map(|c| c.repeat(700)).collect();
        for (i, text) in texts.iter().enumerate() {
            alice.store.queue(text, i as u64 + 1);
        }
        let wire = alice.write_drive(10);
        assert_eq!(wire.len(), TAG_LEN + HEADER_LEN + 4 * FRAME);
        bob.read_drive(&wire, 20).unwrap();
        assert_eq!(bodies(&bob.store), texts);
        // One short text: one frame, already a power of two.
        bob.store.queue("ok", 30);
        assert_eq!(bob.write_drive(40).len(), TAG_LEN + HEADER_LEN + FRAME);
    }

    #[test]
    fn padding_rounds_up_to_a_power_of_two_but_never_past_the_most_a_stream_holds() {
        let cases = [
            (1, 63),
            (2, 63),
            (3, 63),
            (5, 63),
            (33, 63),
            (63, 63),
            (9, 8),
        ];
        let padded = cases.map(|(needed, most)| padded_frames(needed, most));
        assert_eq!(padded, [1, 2, 4, 8, 63, 63, 9]);
    }

    #[test]
    fn a_writer_owes_a_stream_only_while_it_has_an_ack_or_a_message_due() {
        let (mut alice, mut bob) = alice_and_bob();
        assert_eq!(
            owes(&alice.store, 0),
            Ok(false),
            "nothing queued, nothing to ack"
        );
        alice.store.queue("hello", 1);
        assert_eq!(owes(&alice.store, 1), Ok(true));
        let wire = alice.write_drive(2);
        assert_eq!(
            owes(&alice.store, 3),
            Ok(false),
            "written, not yet due again"
        );
        assert_eq!(
            owes(&alice.store, retransmit_at(2, 1, LATENCY)),
            Ok(true),
            "due again once its retransmission time passes"
        );
        assert_eq!(owes(&bob.store, 3), Ok(false));
        bob.read_drive(&wire, 4).unwrap();
        assert_eq!(owes(&bob.store, 5), Ok(true), "bob owes the ack");
        bob.write_drive(6);
        assert_eq!(owes(&bob.store, 7), Ok(false));
    }

    #[test]
    fn an_attachments_parts_are_not_counted_as_messages_read() {
        let (mut alice, mut bob) = alice_and_bob();
        alice.store.queue("a photo's manifest", 1);
        let part = alice.store.queue("part of it", 2);
        alice.store.outbox.get_mut(&part).unwrap().0.content_type = CHUNK_TYPE.into();
        let wire = alice.write_drive(10);
        let keys = incoming(&bob.keys).clone();
        let number = bob
            .window
            .recognise(wire[..TAG_LEN].try_into().unwrap())
            .unwrap();
        let header = wire[TAG_LEN..TAG_LEN + HEADER_LEN].try_into().unwrap();
        let stream =
            StreamReader::open(&keys, number, wire[..TAG_LEN].try_into().unwrap(), header).unwrap();
        let mut reader = SimplexReader::new(stream);
        let counted = reader
            .push(&wire[TAG_LEN + HEADER_LEN..], &mut bob.store, 20)
            .unwrap();
        assert_eq!(counted, 1, "the part is stored, and shown with its message");
        assert_eq!(reader.received().len(), 2, "both were read");
    }
}
