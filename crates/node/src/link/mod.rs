//! One channel between two nodes, without sockets: bytes from the transport in, bytes for it out.
//!
//! Each side writes one encrypted stream on the channel. The side that dialed writes first, to the peer
//! it meant to reach; the other side recognises the tag, learns who it is, and answers with its own
//! stream. A contact's streams carry a duplex sync session; a pending contact's carry the handshake,
//! after which both sides end their streams and the channel closes.
//!
//! A simplex transport (a drive, a mailbox) carries one stream one way: see [`simplex`]. Its outgoing
//! link writes a whole stream at once; its incoming link reads one and answers nothing.

mod simplex;

pub use simplex::HOLD_MS;

use courier_proto::handshake::HandshakeError;
use courier_proto::identity::Identity;
use courier_proto::introduction::Introduction;
use courier_proto::sync::record::{
    ContentTypeRange, Record, RecordError, RecordReader, TransportProperties,
};
use courier_proto::sync::session::{Mode, Session, SessionError};
use courier_proto::sync::simplex::{SimplexError, SimplexReader};
use courier_proto::sync::timer::Timer;
use courier_proto::transport_security::TAG_LEN;
use courier_proto::transport_security::stream::{
    HEADER_LEN, StreamError, StreamReader, StreamWriter,
};
use courier_proto::transport_security::transport_keys::{DirectionKeys, Role};
use courier_storage::{
    ContactId, ConversationStore, Database, Durability, HeldSends, Peer, StorageError,
};

use super::keyring::{Keyring, Recognised};

/// What a link needs from the node for one step.
pub struct LinkContext<'a> {
    /// The database.
    pub db: &'a mut Database,
    /// The transport's keys.
    pub keyring: &'a mut Keyring,
    /// Our identity (the handshake needs its static key).
    pub identity: &'a Identity,
    /// Wall clock, Unix ms.
    pub now_ms: u64,
    /// Peers this node is already dialing on another channel.
    pub dialing: &'a std::collections::HashSet<Peer>,
    /// The content types this node reads, announced when a sync session starts.
    pub content_types: &'a [ContentTypeRange],
    /// How contacts can reach this node over each transport, told when a sync session starts.
    pub advertised: &'a [TransportProperties],
    /// The longest this device keeps a message, whatever a conversation's timer (the profile's).
    pub longest: Timer,
}

/// What one step produced.
#[derive(Debug, Default)]
pub struct Output {
    /// Bytes to write to the channel.
    pub wire: Vec<u8>,
    /// Both streams have ended: close the channel after writing `wire`.
    pub close: bool,
    /// A handshake completed and made this contact.
    pub introduced: Option<ContactId>,
    /// Messages this step received (a resent duplicate counts too, though it is stored once).
    pub delivered: usize,
    /// A simplex stream was full: more is owed to the peer than it carried.
    pub more: bool,
    /// What a held simplex stream (`wire`) carried, to settle when the medium answers for it.
    pub held: Option<HeldSends>,
}

/// Why a link was dropped. Nothing it did not finish is lost: unacked messages are sent again.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The first 16 bytes are no tag we expect: a stranger, a replay, or a peer whose keys we dropped.
    #[error("the stream's tag is not one we expect (a stranger, or a replayed stream)")]
    UnknownTag,
    /// We dialed one peer and another answered.
    #[error("a different peer answered than the one dialed")]
    WrongPeer,
    /// Both sides dialed each other at once; the channel the Alice side dialed goes on, and this one
    /// stops before it says anything: exactly one handshake can complete, and one sync session keeps
    /// a sender's messages in order.
    #[error("the simultaneous connection from the other side goes on instead")]
    Superseded,
    /// The peer was removed while the link ran.
    #[error("the peer is no longer a contact")]
    PeerGone,
    /// A pending contact's handshake needs both sides to talk; a simplex transport carries one way.
    #[error(
        "a pending contact cannot be introduced over a one-way (simplex) transport; complete the handshake over a duplex one (LAN, Tor) first"
    )]
    SimplexHandshake,
    /// Bytes arrived on a link that only writes a simplex stream.
    #[error(
        "bytes arrived on a link that only writes a one-way stream; the transport must deliver them to an incoming link"
    )]
    OneWay,
    /// The stream layer refused the bytes.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// The sync records were malformed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The sync session failed.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// A simplex stream could not be written or read.
    #[error(transparent)]
    Simplex(#[from] SimplexError),
    /// The handshake failed.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

enum Inbound {
    /// Collecting the peer's tag and header.
    Header(Vec<u8>),
    /// Reading the peer's frames.
    Open(StreamReader),
    /// Reading a contact's simplex stream; nothing is written back. Its tag is marked seen only
    /// once the stream was read to its authenticated end.
    Simplex {
        contact: ContactId,
        reader: Box<SimplexReader>,
        recognised: Box<Recognised>,
    },
}

/// Which way a link's streams go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// One stream each way on one channel.
    Duplex,
    /// We write one whole stream (`written` once we have), and read none; `held`: what it carries
    /// counts as sent only when the medium says it took it (a mailbox).
    SimplexOut { written: bool, held: bool },
    /// We read one stream, and write none.
    SimplexIn,
}

enum Job {
    /// No stream recognised yet.
    Waiting,
    /// Syncing with a contact.
    Sync {
        contact: ContactId,
        session: Box<Session>,
        records: RecordReader,
    },
    /// The handshake with a pending contact.
    Introduction {
        alias: String,
        introduction: Box<Introduction>,
    },
    /// The handshake completed; only the end of the streams remains.
    Introduced,
}

/// One channel's state.
pub struct Link {
    flow: Flow,
    frame_len: usize,
    max_latency_ms: u64,
    dialed: Option<Peer>,
    peer: Option<Peer>,
    inbound: Inbound,
    writer: Option<StreamWriter>,
    job: Job,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("dialed", &self.dialed.is_some())
            .field("recognised", &self.peer.is_some())
            .finish_non_exhaustive()
    }
}

impl Link {
    /// A link we are dialing to reach `peer`.
    pub fn dial(peer: Peer, frame_len: usize, max_latency_ms: u64) -> Self {
        Link::new(Flow::Duplex, Some(peer), frame_len, max_latency_ms)
    }

    /// A link a peer opened to us; who it is shows in its first bytes.
    pub fn accept(frame_len: usize, max_latency_ms: u64) -> Self {
        Link::new(Flow::Duplex, None, frame_len, max_latency_ms)
    }

    fn new(flow: Flow, dialed: Option<Peer>, frame_len: usize, max_latency_ms: u64) -> Self {
        Link {
            flow,
            frame_len,
            max_latency_ms,
            dialed,
            peer: None,
            inbound: Inbound::Header(Vec::new()),
            writer: None,
            job: Job::Waiting,
        }
    }

    /// The peer this link is with: the one dialed, or the one recognised.
    pub fn peer(&self) -> Option<Peer> {
        self.peer.or(self.dialed)
    }

    /// The peer this link was dialed to, while it runs.
    pub fn dialing(&self) -> Option<Peer> {
        self.dialed.filter(|_| !matches!(self.job, Job::Introduced))
    }

    /// Whether the peer's own stream arrived and was recognised: whoever is on the other end holds
    /// that peer's keys.
    pub fn answered(&self) -> bool {
        matches!(self.inbound, Inbound::Open(_) | Inbound::Simplex { .. })
    }

    /// Whether we started our stream on this channel (a dial that connected).
    pub fn wrote(&self) -> bool {
        self.writer.is_some() || matches!(self.flow, Flow::SimplexOut { written: true, .. })
    }

    /// The peer who dialed this link, once recognised, while it runs.
    pub fn accepted(&self) -> Option<Peer> {
        match (&self.job, self.dialed) {
            (Job::Introduction { .. } | Job::Sync { .. }, None) => self.peer,
            _ => None,
        }
    }

    /// The transport says the channel can carry streams: a dialing link writes its stream's start.
    pub fn ready(&mut self, cx: &mut LinkContext<'_>) -> Result<Output, LinkError> {
        match (self.flow, self.dialed) {
            (
                Flow::SimplexOut {
                    written: false,
                    held,
                },
                Some(peer),
            ) => {
                return self.write_simplex(cx, peer, held);
            }
            (Flow::SimplexOut { .. } | Flow::SimplexIn, _) => return Ok(Output::default()),
            (Flow::Duplex, _) => {}
        }
        match self.dialed {
            Some(peer) if self.writer.is_none() => {
                let mut out = Output::default();
                self.open_outgoing(cx, peer, &mut out)?;
                Ok(out)
            }
            _ => Ok(Output::default()),
        }
    }

    /// Takes bytes the transport delivered.
    pub fn receive(&mut self, cx: &mut LinkContext<'_>, data: &[u8]) -> Result<Output, LinkError> {
        match self.flow {
            Flow::SimplexOut { .. } => return Err(LinkError::OneWay),
            Flow::SimplexIn => return self.receive_simplex(cx, data),
            Flow::Duplex => {}
        }
        let mut out = Output::default();
        let payloads = match &mut self.inbound {
            Inbound::Open(reader) => reader.push(data)?,
            Inbound::Simplex { .. } => unreachable!("only a simplex link reads a simplex stream"),
            Inbound::Header(buffer) => {
                let Some(Start {
                    recognised,
                    tag,
                    header,
                    rest,
                }) = take_start(buffer, data, cx, true)?
                else {
                    return Ok(out);
                };
                if self.dialed.is_some_and(|d| d != recognised.peer) {
                    return Err(LinkError::WrongPeer);
                }
                if self.dialed.is_none()
                    && cx.dialing.contains(&recognised.peer)
                    && cx.keyring.role(recognised.peer) == Some(Role::Alice)
                {
                    return Err(LinkError::Superseded);
                }
                let mut reader =
                    StreamReader::open(&recognised.keys, recognised.stream_number, &tag, &header)?;
                let payloads = reader.push(&rest)?;
                self.inbound = Inbound::Open(reader);
                if self.writer.is_none() {
                    self.open_outgoing(cx, recognised.peer, &mut out)?;
                }
                payloads
            }
        };
        let payload = payloads.concat();
        let answer = self.on_payload(cx, &payload, &mut out)?;
        let peer_finished = matches!(&self.inbound, Inbound::Open(r) if r.is_finished());
        // A peer that ends its stream is leaving; a finished handshake ends ours.
        let last = peer_finished || matches!(self.job, Job::Introduced);
        self.seal(&answer, last, &mut out.wire)?;
        out.close = peer_finished && self.writer.as_ref().is_none_or(StreamWriter::is_finished);
        Ok(out)
    }

    /// Offers messages queued since the last step (a `send` while connected).
    pub fn poll(&mut self, cx: &mut LinkContext<'_>) -> Result<Output, LinkError> {
        let mut out = Output::default();
        let Job::Sync {
            contact, session, ..
        } = &mut self.job
        else {
            return Ok(out);
        };
        let (contact, latency, now) = (*contact, self.max_latency_ms, cx.now_ms);
        let longest = cx.longest;
        let records = cx.db.batch(Durability::Relaxed, |db| {
            session
                .send_due(
                    &mut ConversationStore::new(db, contact, latency, longest),
                    now,
                )
                .map_err(LinkError::from)
        })?;
        self.seal(&Record::encode_all(&records), false, &mut out.wire)?;
        Ok(out)
    }

    /// Tells the contact of a running sync session how to reach us now (a transport published
    /// anew mid-session, as Tor does once its onion service is up); nothing on any other link.
    pub fn advertise(&mut self, cx: &mut LinkContext<'_>) -> Result<Output, LinkError> {
        let mut out = Output::default();
        if !matches!(self.job, Job::Sync { .. }) || cx.advertised.is_empty() {
            return Ok(out);
        }
        let record = Record::Properties(cx.advertised.to_vec());
        self.seal(&Record::encode_all(&[record]), false, &mut out.wire)?;
        Ok(out)
    }

    /// Tells the contact of a running sync session, if they are among `contacts`, what we tell of
    /// our mailbox now (their route there was just registered); nothing on any other link.
    pub fn tell_mailbox(
        &mut self,
        cx: &mut LinkContext<'_>,
        contacts: &[ContactId],
    ) -> Result<Output, LinkError> {
        let mut out = Output::default();
        let Job::Sync { contact, .. } = &self.job else {
            return Ok(out);
        };
        if !contacts.contains(contact) {
            return Ok(out);
        }
        let Some(told) = cx.db.mailbox_to_tell(*contact)? else {
            return Ok(out);
        };
        self.seal(
            &Record::encode_all(&[Record::Mailbox(told)]),
            false,
            &mut out.wire,
        )?;
        Ok(out)
    }

    /// Ends our stream (the node is stopping): the peer sees a clean end, not a truncation.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut wire = Vec::new();
        // A writer that cannot seal is already finished; nothing more to say.
        let _ = self.seal(&[], true, &mut wire);
        wire
    }

    /// The contact this link syncs with, if it is a sync link.
    pub fn syncing_with(&self) -> Option<ContactId> {
        match self.job {
            Job::Sync { contact, .. } => Some(contact),
            _ => None,
        }
    }

    fn open_outgoing(
        &mut self,
        cx: &mut LinkContext<'_>,
        peer: Peer,
        out: &mut Output,
    ) -> Result<(), LinkError> {
        let (keys, number) = next_stream(cx, peer)?;
        let (writer, start) = StreamWriter::new(&keys, number, self.frame_len)?;
        out.wire.extend_from_slice(&start);
        self.writer = Some(writer);
        self.peer = Some(peer);
        let first = self.start_job(cx, peer)?;
        self.seal(&first, false, &mut out.wire)?;
        Ok(())
    }

    fn start_job(&mut self, cx: &mut LinkContext<'_>, peer: Peer) -> Result<Vec<u8>, LinkError> {
        match peer {
            Peer::Contact(contact) => {
                let mut session = opening_session(cx, Mode::Duplex);
                let latency = self.max_latency_ms;
                let longest = cx.longest;
                let now = cx.now_ms;
                let records = cx.db.batch(Durability::Relaxed, |db| {
                    // Whatever a slower medium carries (a stick in a pocket) is offered here too:
                    // the first to reach the contact delivers it, the other finds it stored.
                    db.retry_unacked_now(contact)?;
                    session
                        .start(
                            &mut ConversationStore::new(db, contact, latency, longest),
                            now,
                        )
                        .map_err(LinkError::from)
                })?;
                self.job = Job::Sync {
                    contact,
                    session: Box::new(session),
                    records: RecordReader::new(),
                };
                Ok(Record::encode_all(&records))
            }
            Peer::Pending(_) => {
                let (alias, theirs) = cx.keyring.pending(peer).ok_or(LinkError::PeerGone)?;
                let alias = alias.to_owned();
                let (introduction, opening) =
                    Introduction::start(cx.identity.secrets().0, theirs, cx.now_ms);
                self.job = Job::Introduction {
                    alias,
                    introduction: Box::new(introduction),
                };
                Ok(opening)
            }
        }
    }

    fn on_payload(
        &mut self,
        cx: &mut LinkContext<'_>,
        payload: &[u8],
        out: &mut Output,
    ) -> Result<Vec<u8>, LinkError> {
        if payload.is_empty() {
            return Ok(Vec::new());
        }
        match &mut self.job {
            Job::Waiting => Ok(Vec::new()),
            Job::Introduced => Err(HandshakeError::OutOfOrder.into()),
            Job::Sync {
                contact,
                session,
                records,
            } => {
                let incoming = records.push(payload)?;
                let (latency, now, contact) = (self.max_latency_ms, cx.now_ms, *contact);
                let longest = cx.longest;
                // An incoming message is acked in this answer, so it must be on disk first; the rest
                // (sent marks, acks of ours) only saves a resend if it survives a crash.
                let durability = if incoming.iter().any(|r| matches!(r, Record::Message(_))) {
                    Durability::Full
                } else {
                    Durability::Relaxed
                };
                let (answer, delivered) = cx.db.batch(durability, |db| {
                    let mut store = ConversationStore::new(db, contact, latency, longest);
                    let before = session.received().len();
                    let mut answer = Vec::new();
                    for record in incoming {
                        answer.extend(session.handle(record, &mut store, now)?);
                    }
                    answer.extend(session.send_due(&mut store, now)?);
                    Ok::<_, LinkError>((answer, session.received().len() - before))
                })?;
                out.delivered += delivered;
                Ok(Record::encode_all(&answer))
            }
            Job::Introduction {
                alias,
                introduction,
            } => {
                let progress = introduction.push(payload)?;
                if let Some(done) = progress.done {
                    let contact =
                        cx.db
                            .complete_handshake(alias, &done.agreement, done.start_ms)?;
                    out.introduced = Some(contact);
                    self.job = Job::Introduced;
                }
                Ok(progress.send)
            }
        }
    }

    fn seal(&mut self, payload: &[u8], last: bool, wire: &mut Vec<u8>) -> Result<(), LinkError> {
        let Some(writer) = &mut self.writer else {
            return Ok(());
        };
        if writer.is_finished() || (payload.is_empty() && !last) {
            return Ok(());
        }
        let room = writer.max_payload();
        let frames = payload.len().div_ceil(room).max(1);
        for i in 0..frames {
            let chunk =
                &payload[(i * room).min(payload.len())..((i + 1) * room).min(payload.len())];
            writer.seal_frame(chunk, last && i + 1 == frames, wire)?;
        }
        Ok(())
    }
}

/// The start of a peer's stream: its tag, recognised, and its sealed header; `rest` is what followed.
struct Start {
    recognised: Recognised,
    tag: [u8; TAG_LEN],
    header: [u8; HEADER_LEN],
    rest: Vec<u8>,
}

/// Adds `data` to the tag and header collected in `buffer`; once they are whole, recognises the tag,
/// marking it seen when `mark` (a duplex stream) and leaving that to the caller otherwise.
fn take_start(
    buffer: &mut Vec<u8>,
    data: &[u8],
    cx: &mut LinkContext<'_>,
    mark: bool,
) -> Result<Option<Start>, LinkError> {
    buffer.extend_from_slice(data);
    if buffer.len() < TAG_LEN + HEADER_LEN {
        return Ok(None);
    }
    let rest = buffer.split_off(TAG_LEN + HEADER_LEN);
    let tag: [u8; TAG_LEN] = buffer[..TAG_LEN].try_into().expect("length checked");
    let header: [u8; HEADER_LEN] = buffer[TAG_LEN..].try_into().expect("length checked");
    let recognised = if mark {
        cx.keyring.recognise(cx.db, &tag)?
    } else {
        cx.keyring.find(&tag)
    }
    .ok_or(LinkError::UnknownTag)?;
    Ok(Some(Start {
        recognised,
        tag,
        header,
        rest,
    }))
}

/// The keys and a fresh stream number to write our next stream to `peer` with.
fn next_stream(cx: &mut LinkContext<'_>, peer: Peer) -> Result<(DirectionKeys, u64), LinkError> {
    let keys = cx
        .keyring
        .outgoing(peer)
        .ok_or(LinkError::PeerGone)?
        .clone();
    let number = cx
        .db
        .take_stream_number(peer, cx.keyring.transport(), keys.period)?;
    Ok((keys, number))
}

/// A sync session in `mode` that opens with what this node reads and how to reach it.
fn opening_session(cx: &LinkContext<'_>, mode: Mode) -> Session {
    Session::new(mode)
        .announcing(cx.content_types.to_vec())
        .advertising(cx.advertised.to_vec())
}
