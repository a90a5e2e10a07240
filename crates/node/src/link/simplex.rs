//! Links over a simplex transport (a removable drive, a mailbox): one stream, one way, read days after
//! it was written. The outgoing link writes the whole stream when the channel is ready: the acks we
//! owe the contact and every message due to it, as much as one stream of [`MAX_STREAM_LEN`] holds
//! (the rest waits for the next stream, which the node opens at once); owed nothing, it writes
//! nothing. The incoming link reads one: it stores each message
//! once, owes its ack on our next stream, applies the contact's acks, and writes nothing back.

use courier_io::MAILBOX_UPLOAD_PATIENCE;
use courier_proto::sync::session::Mode;
use courier_proto::sync::simplex::{MAX_STREAM_LEN, SimplexReader, owes, write_stream};
use courier_proto::transport_security::stream::StreamReader;
use courier_storage::{ConversationStore, Durability, Peer};

use super::{Flow, Inbound, Link, LinkContext, LinkError, Output, next_stream, opening_session};

/// How long a held stream's messages are kept from the next stream without the medium's answer:
/// twice what a driver tries one upload for, so only a stream that was lost (the node stopped, the
/// plugin never uploaded it) is written again while its first copy might still be taken.
pub const HOLD_MS: u64 = 2 * MAILBOX_UPLOAD_PATIENCE.as_millis() as u64;

impl Link {
    /// A link that writes one simplex stream to `peer` when the channel is [`ready`](Self::ready),
    /// then closes; `held`: what it carries counts as sent only when the medium says it took it
    /// (see [`Output::held`]).
    pub fn write_simplex_to(peer: Peer, frame_len: usize, max_latency_ms: u64, held: bool) -> Self {
        Link::new(
            Flow::SimplexOut {
                written: false,
                held,
            },
            Some(peer),
            frame_len,
            max_latency_ms,
        )
    }

    /// A link that reads one simplex stream, whoever's it is, and closes at its end.
    pub fn read_simplex(frame_len: usize, max_latency_ms: u64) -> Self {
        Link::new(Flow::SimplexIn, None, frame_len, max_latency_ms)
    }

    /// Writes the whole stream to `peer`: tag, header, frames, the last one final.
    pub(super) fn write_simplex(
        &mut self,
        cx: &mut LinkContext<'_>,
        peer: Peer,
        held: bool,
    ) -> Result<Output, LinkError> {
        let Peer::Contact(contact) = peer else {
            return Err(LinkError::SimplexHandshake);
        };
        let store = ConversationStore::new(cx.db, contact, self.max_latency_ms, cx.longest);
        if !owes(&store, cx.now_ms).map_err(LinkError::from)? {
            // No empty files on a stick, and no stream number spent on nothing.
            self.flow = Flow::SimplexOut {
                written: true,
                held,
            };
            return Ok(Output {
                close: true,
                ..Output::default()
            });
        }
        let (keys, number) = next_stream(cx, peer)?;
        let session = opening_session(cx, Mode::Simplex);
        let (frame_len, latency, now) = (self.frame_len, self.max_latency_ms, cx.now_ms);
        let longest = cx.longest;
        // Relaxed: a sent mark or written ack lost in a crash costs a message or an ack written
        // again, which the reader takes once anyway.
        let (written, held) = cx.db.batch(Durability::Relaxed, |db| {
            let mut store = ConversationStore::new(db, contact, latency, longest);
            if held {
                store = store.holding(now.saturating_add(HOLD_MS), now);
            }
            let written = write_stream(
                session,
                &mut store,
                &keys,
                number,
                frame_len,
                MAX_STREAM_LEN,
                now,
            )
            .map_err(LinkError::from)?;
            Ok::<_, LinkError>((written, store.take_held()))
        })?;
        self.flow = Flow::SimplexOut {
            written: true,
            held: held.is_some(),
        };
        self.peer = Some(peer);
        Ok(Output {
            wire: written.wire,
            close: true,
            more: written.more,
            held,
            ..Output::default()
        })
    }

    /// Reads the next bytes of a simplex stream; nothing is ever answered.
    pub(super) fn receive_simplex(
        &mut self,
        cx: &mut LinkContext<'_>,
        data: &[u8],
    ) -> Result<Output, LinkError> {
        let rest: Vec<u8>;
        let mut bytes = data;
        if let Inbound::Header(buffer) = &mut self.inbound {
            // Not marked seen yet: a copy damaged or cut short must not spend a good one.
            let Some(start) = super::take_start(buffer, data, cx, false)? else {
                return Ok(Output::default());
            };
            let Peer::Contact(contact) = start.recognised.peer else {
                return Err(LinkError::SimplexHandshake);
            };
            let stream = StreamReader::open(
                &start.recognised.keys,
                start.recognised.stream_number,
                &start.tag,
                &start.header,
            )?;
            self.peer = Some(start.recognised.peer);
            self.inbound = Inbound::Simplex {
                contact,
                reader: Box::new(SimplexReader::new(stream)),
                recognised: Box::new(start.recognised),
            };
            rest = start.rest;
            bytes = &rest;
        }
        let Inbound::Simplex {
            contact,
            reader,
            recognised,
        } = &mut self.inbound
        else {
            unreachable!("a simplex link reads a simplex stream once its start is recognised")
        };
        let (contact, latency, now) = (*contact, self.max_latency_ms, cx.now_ms);
        let longest = cx.longest;
        // Full: what it carried must be on disk before the next stream's acks can say so, and
        // before its tag is marked seen.
        let delivered = cx.db.batch(Durability::Full, |db| {
            let mut store = ConversationStore::new(db, contact, latency, longest);
            reader.push(bytes, &mut store, now).map_err(LinkError::from)
        })?;
        let close = reader.is_finished();
        if close {
            reader.finish()?;
            // Read whole and authenticated to its end: now no copy of it is read again.
            cx.keyring.mark(cx.db, recognised)?;
        }
        Ok(Output {
            delivered,
            close,
            ..Output::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use courier_proto::handshake::Handshake;
    use courier_proto::identity::Identity;
    use courier_proto::sync::record::{Message, MessageId};
    use courier_proto::sync::session::SyncStore;
    use courier_proto::sync::timer::Timer;
    use courier_storage::{ContactId, Database, OutgoingState, Passphrase};

    use super::*;
    use crate::keyring::Keyring;

    const DRIVE: &str = "drive";
    /// A week: a drive carried by hand.
    const LATENCY: u64 = 7 * 86_400_000;
    const FRAME: usize = 1024;
    const NOW: u64 = 1_700_000_000_000;

    struct Node {
        db: Database,
        identity: Identity,
        keyring: Keyring,
    }

    impl Node {
        fn step(
            &mut self,
            now_ms: u64,
            f: impl FnOnce(&mut LinkContext<'_>) -> Result<Output, LinkError>,
        ) -> Result<Output, LinkError> {
            let dialing = HashSet::new();
            f(&mut LinkContext {
                db: &mut self.db,
                keyring: &mut self.keyring,
                identity: &self.identity,
                now_ms,
                dialing: &dialing,
                content_types: &[],
                advertised: &[],
                longest: Timer::OFF,
            })
        }

        /// Writes a whole drive stream to `to` at `now_ms`.
        fn write_drive(&mut self, to: ContactId, now_ms: u64) -> Vec<u8> {
            let mut link = Link::write_simplex_to(Peer::Contact(to), FRAME, LATENCY, false);
            let out = self.step(now_ms, |cx| link.ready(cx)).unwrap();
            assert!(
                out.close,
                "the stream is written whole, then the link closes"
            );
            assert!(link.wrote());
            let again = self.step(now_ms, |cx| link.ready(cx)).unwrap();
            assert!(again.wire.is_empty(), "one stream per link");
            out.wire
        }

        /// Reads a drive stream in pieces of `piece` bytes; returns how many messages it carried.
        fn read_drive(&mut self, wire: &[u8], piece: usize) -> Result<usize, LinkError> {
            let mut link = Link::read_simplex(FRAME, LATENCY);
            let mut delivered = 0;
            let mut closed = false;
            for chunk in wire.chunks(piece) {
                assert!(!closed, "closed only at the end of the stream");
                let out = self.step(NOW, |cx| link.receive(cx, chunk))?;
                assert!(out.wire.is_empty(), "nothing is ever answered");
                delivered += out.delivered;
                closed = out.close;
            }
            assert!(closed && link.answered());
            Ok(delivered)
        }
    }

    fn node(dir: &std::path::Path, name: &str) -> Node {
        let pass = Passphrase::new(format!("{name}'s passphrase")).unwrap();
        let mut db = Database::open(&dir.join(format!("{name}.db")), &pass).unwrap();
        let identity = Identity::generate(name);
        db.create_identity(&identity).unwrap();
        Node {
            db,
            identity,
            keyring: Keyring::new(DRIVE, LATENCY),
        }
    }

    /// Alice and Bob, contacts of each other since a handshake over another transport.
    fn alice_and_bob(dir: &std::path::Path) -> (Node, ContactId, Node, ContactId) {
        let (mut alice, mut bob) = (node(dir, "alice"), node(dir, "bob"));
        alice
            .db
            .add_pending_contact(&bob.identity.link(), "bob", NOW)
            .unwrap();
        bob.db
            .add_pending_contact(&alice.identity.link(), "alice", NOW)
            .unwrap();
        let (mut ha, hello_a) =
            Handshake::start(alice.identity.secrets().0, bob.identity.handshake_public());
        let (mut hb, hello_b) =
            Handshake::start(bob.identity.secrets().0, alice.identity.handshake_public());
        let (proof_a, proof_b) = (
            ha.receive_hello(&hello_b).unwrap(),
            hb.receive_hello(&hello_a).unwrap(),
        );
        let to_bob = alice
            .db
            .complete_handshake("bob", &ha.receive_proof(&proof_b).unwrap(), NOW)
            .unwrap();
        let to_alice = bob
            .db
            .complete_handshake("alice", &hb.receive_proof(&proof_a).unwrap(), NOW)
            .unwrap();
        for n in [&mut alice, &mut bob] {
            n.keyring.refresh(&mut n.db, &n.identity, NOW).unwrap();
        }
        (alice, to_bob, bob, to_alice)
    }

    fn text(body: &str, t: u64) -> Message {
        Message {
            timestamp_ms: t,
            content_type: "courier/text".into(),
            type_version: 1,
            fallback: String::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn bodies(db: &Database, from: ContactId) -> Vec<String> {
        db.received(from)
            .unwrap()
            .into_iter()
            .map(|m| String::from_utf8(m.body).unwrap())
            .collect()
    }

    fn acks_owed(node: &mut Node, to: ContactId) -> Vec<MessageId> {
        ConversationStore::new(&mut node.db, to, LATENCY, Timer::OFF)
            .acks_due(usize::MAX)
            .unwrap()
    }

    #[test]
    fn alice_writes_bob_a_drive_stream_he_reads_once_and_his_stream_back_acks_it() {
        let dir = tempfile::tempdir().unwrap();
        let (mut alice, to_bob, mut bob, to_alice) = alice_and_bob(dir.path());
        let one = alice.db.queue(to_bob, &text("one", 1)).unwrap();
        let two = alice.db.queue(to_bob, &text("two", 2)).unwrap();

        let drive = alice.write_drive(to_bob, NOW);
        assert_eq!(
            alice.db.outgoing_state(to_bob, &one).unwrap(),
            Some(OutgoingState::Sent)
        );
        assert_eq!(bob.read_drive(&drive, 100).unwrap(), 2);
        assert_eq!(bodies(&bob.db, to_alice), ["one", "two"]);
        assert!(
            matches!(bob.read_drive(&drive, 100), Err(LinkError::UnknownTag)),
            "a replayed drive is refused"
        );
        assert_eq!(bodies(&bob.db, to_alice), ["one", "two"], "stored once");
        assert_eq!(acks_owed(&mut bob, to_alice), [one, two]);

        let back = bob.write_drive(to_alice, NOW + 1);
        assert_eq!(acks_owed(&mut bob, to_alice), [], "written");
        assert_eq!(alice.read_drive(&back, back.len()).unwrap(), 0);
        for id in [one, two] {
            assert_eq!(
                alice.db.outgoing_state(to_bob, &id).unwrap(),
                Some(OutgoingState::Acked)
            );
        }
        let later = alice.write_drive(to_bob, NOW + 10 * LATENCY);
        assert!(
            later.is_empty(),
            "acked, never again: owed nothing, she writes no stream"
        );
        let nothing_back = bob.write_drive(to_alice, NOW + 10 * LATENCY);
        assert!(nothing_back.is_empty(), "bob owes no ack either");
        let stream_numbers_kept = alice.db.queue(to_bob, &text("three", 3)).unwrap();
        let third = alice.write_drive(to_bob, NOW + 10 * LATENCY);
        assert_eq!(
            bob.read_drive(&third, 7).unwrap(),
            1,
            "the next stream reads in the window"
        );
        assert_eq!(acks_owed(&mut bob, to_alice), [stream_numbers_kept]);
    }

    #[test]
    fn a_stream_for_a_mailbox_holds_its_messages_until_the_mailbox_answers_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let (mut alice, to_bob, mut bob, _) = alice_and_bob(dir.path());
        let one = alice.db.queue(to_bob, &text("one", 1)).unwrap();
        let mut link = Link::write_simplex_to(Peer::Contact(to_bob), FRAME, LATENCY, true);
        let out = alice.step(NOW, |cx| link.ready(cx)).unwrap();
        let held = out.held.expect("what the stream carried, to settle");
        assert_eq!(
            (held.contact, held.sent.as_slice()),
            (to_bob, [one].as_slice())
        );
        assert_eq!((held.written_ms, held.until_ms), (NOW, NOW + HOLD_MS));
        assert_eq!(
            alice.db.outgoing_state(to_bob, &one).unwrap(),
            Some(OutgoingState::Queued),
            "not sent until the mailbox took it"
        );
        assert!(
            alice.write_drive(to_bob, NOW + 1).is_empty(),
            "nor written again while held"
        );
        assert!(
            !alice.write_drive(to_bob, NOW + HOLD_MS).is_empty(),
            "unanswered, it goes again"
        );
        assert_eq!(
            bob.read_drive(&out.wire, 100).unwrap(),
            1,
            "an ordinary stream"
        );
        let mut nothing = Link::write_simplex_to(Peer::Contact(to_bob), FRAME, LATENCY, true);
        let out = alice
            .step(NOW + HOLD_MS + 1, |cx| nothing.ready(cx))
            .unwrap();
        assert!(
            out.wire.is_empty() && out.held.is_none(),
            "owed nothing, nothing held"
        );
    }

    #[test]
    fn a_drive_link_refuses_a_pending_contact_and_bytes_going_the_wrong_way() {
        let dir = tempfile::tempdir().unwrap();
        let (mut alice, to_bob, _bob, _) = alice_and_bob(dir.path());
        let carol = Identity::generate("carol");
        alice
            .db
            .add_pending_contact(&carol.link(), "carol", NOW)
            .unwrap();
        alice
            .keyring
            .refresh(&mut alice.db, &alice.identity, NOW)
            .unwrap();
        let pending = alice.db.pending_contacts().unwrap()[0].id;
        let mut link = Link::write_simplex_to(Peer::Pending(pending), FRAME, LATENCY, false);
        assert!(matches!(
            alice.step(NOW, |cx| link.ready(cx)),
            Err(LinkError::SimplexHandshake)
        ));
        let mut link = Link::write_simplex_to(Peer::Contact(to_bob), FRAME, LATENCY, false);
        assert!(matches!(
            alice.step(NOW, |cx| link.receive(cx, b"hello")),
            Err(LinkError::OneWay)
        ));
    }
}
