//! A sync session with one contact over one connection, sans-IO: records in, records out.
//!
//! Duplex (TCP, Tor, Bluetooth): `versions`, then offer the ids that are due, answer offers with a
//! request for what we lack and an ack for what we have, send what is requested, ack what arrives.
//! Simplex (removable drive, mailbox): no one answers, so send every due message eagerly with the acks
//! due for what the peer sent us; a reader stores what arrives, applies the acks, and keeps the acks it
//! owes for its own next stream.
//! A message is due when never sent, or when its retransmission time has passed without an ack:
//! `sent_at + 2 · max_latency · 2^(times sent - 1)`.

use std::sync::Arc;

use courier_error::{ErrorKind, HasKind};

use super::record::{
    ContentTypeRange, MAX_IDS, MailboxAccess, Message, MessageId, PROTOCOL_VERSION, Record,
    TransportProperties,
};

/// Storage failed; the session stops, and nothing that was not stored is acked. It keeps the
/// storage's own error and its kind, so a front end tells a locked database from a damaged one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("storage failed: {source}")]
pub struct StoreError {
    kind: ErrorKind,
    source: Arc<dyn std::error::Error + Send + Sync>,
}

impl StoreError {
    /// `source`, of `kind`, as the session reports it.
    pub fn new(kind: ErrorKind, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError {
            kind,
            source: Arc::new(source),
        }
    }
}

impl HasKind for StoreError {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

// Sessions compare errors in tests: the same kind and the same words are the same failure.
impl PartialEq for StoreError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.source.to_string() == other.source.to_string()
    }
}

impl Eq for StoreError {}

/// What a session needs from storage: the outbox for this contact, and the conversation's inbox.
pub trait SyncStore {
    /// Ids of messages to this contact that are unacked and due at `now_ms`, oldest first, at most `limit`.
    fn due(&self, now_ms: u64, limit: usize) -> Result<Vec<MessageId>, StoreError>;
    /// The outgoing message `id` to this contact, if it exists and is unacked.
    fn outgoing(&self, id: &MessageId) -> Result<Option<Message>, StoreError>;
    /// Records that `id` was sent at `now_ms` (moves its retransmission time).
    fn mark_sent(&mut self, id: &MessageId, now_ms: u64) -> Result<(), StoreError>;
    /// Records the peer's ack of `id`; it is never sent again.
    fn mark_acked(&mut self, id: &MessageId) -> Result<(), StoreError>;
    /// Whether the incoming message `id` is already stored.
    fn has_incoming(&self, id: &MessageId) -> Result<bool, StoreError>;
    /// The body length of the outgoing message `id`, if it exists and is unacked; a store that can
    /// tell without reading the body says so here.
    fn outgoing_len(&self, id: &MessageId) -> Result<Option<usize>, StoreError> {
        Ok(self.outgoing(id)?.map(|m| m.body.len()))
    }
    /// Stores an incoming message, `id` being its id; it must be durable when this returns, because
    /// an ack follows.
    fn store_incoming(&mut self, id: &MessageId, message: Message) -> Result<(), StoreError>;
    /// Records that the incoming message `id` (stored) needs an ack on our next simplex stream to
    /// this contact; asking again for an ack already due changes nothing.
    fn ack_later(&mut self, id: &MessageId) -> Result<(), StoreError>;
    /// Ids of incoming messages whose ack is due, oldest request first, at most `limit`.
    fn acks_due(&self, limit: usize) -> Result<Vec<MessageId>, StoreError>;
    /// Records that acks for `ids` were written on a stream: they are no longer due.
    fn acks_written(&mut self, ids: &[MessageId]) -> Result<(), StoreError>;
    /// Remembers the content types the peer announced (replacing what it announced before).
    fn store_peer_content_types(&mut self, types: Vec<ContentTypeRange>) -> Result<(), StoreError> {
        // mutants: replacing the body with `Ok(())` is equivalent, the default keeps nothing.
        let _ = types;
        Ok(())
    }
    /// Remembers how the peer can be reached over each transport it listed.
    fn store_peer_properties(
        &mut self,
        transports: Vec<TransportProperties>,
    ) -> Result<(), StoreError> {
        // mutants: replacing the body with `Ok(())` is equivalent, the default keeps nothing.
        let _ = transports;
        Ok(())
    }
    /// What to tell the peer of our mailbox when a session opens: nothing (`None`), its access
    /// (`Some(Some(_))`), or that we have none now (`Some(None)`).
    fn mailbox_to_tell(&self) -> Result<Option<Option<MailboxAccess>>, StoreError> {
        Ok(None)
    }
    /// Remembers how we may use the peer's mailbox (`None`: stop using it).
    fn store_peer_mailbox(&mut self, access: Option<MailboxAccess>) -> Result<(), StoreError> {
        // mutants: replacing the body with `Ok(())` is equivalent, the default keeps nothing.
        let _ = access;
        Ok(())
    }
}

/// Messages up to this size go out at once in a duplex session, without an offer: a text should not
/// wait a round trip. Larger ones (attachment chunks) are offered, so a peer that has them already
/// is not sent them again. A receiver refuses an unrequested message over this size.
pub const EAGER_LIMIT: usize = 4 * 1024;

/// Most of our messages a duplex session has sent or offered that the peer has not acked yet; more
/// wait for acks, each batch of which lets as many more go. Without a bound a backlog of 10⁵ went
/// out faster than acks came back, and each look for what is due read past every one in flight.
pub const IN_FLIGHT: usize = 4 * MAX_IDS;

/// Most offered messages a receiver has requested and not yet received. Requesting a whole offer
/// at once (up to 1,024 chunks, 64 MiB) made the sender read and seal all of it before the first
/// byte left; a window keeps both ends busy at once, as each arrival requests the next. A window of
/// 64 carried 100 MB on loopback no faster than 32. A full window's answer must fit in what a
/// channel may hold unwritten (the drivers' backlog cap, 8 MiB): at 128 every answer cut it. A
/// sender serves no more than this many requested messages unacked, whatever the peer asks.
pub const REQUEST_WINDOW: usize = 32;

/// When a message sent `times_sent` times, last at `sent_at_ms`, is due again.
pub fn retransmit_at(sent_at_ms: u64, times_sent: u32, max_latency_ms: u64) -> u64 {
    let doublings = times_sent.saturating_sub(1).min(20);
    sent_at_ms.saturating_add(
        max_latency_ms
            .saturating_mul(2)
            .saturating_mul(1 << doublings),
    )
}

/// Duplex or simplex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Both sides talk.
    Duplex,
    /// One side writes, the other reads later.
    Simplex,
}

/// Why a session ended early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The peer speaks no protocol version we do.
    #[error(
        "peer speaks protocol versions {0:?}; this build speaks {PROTOCOL_VERSION}; one of you must update"
    )]
    NoCommonVersion(Vec<u8>),
    /// The peer sent a large message we did not request in a duplex session.
    #[error("peer sent a large message we did not request in a duplex session")]
    Unrequested,
    /// The peer wrote a record that asks for an answer (`offer`, `request`) on a simplex stream,
    /// where nobody answers: its build is broken, or the stream came from a duplex channel.
    #[error(
        "peer wrote a {0} record on a simplex stream, which nobody answers; the stream is dropped (the peer's build must send messages and acks only)"
    )]
    AnswerWanted(&'static str),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One session's state.
#[derive(Debug)]
pub struct Session {
    mode: Mode,
    offered: std::collections::HashSet<MessageId>,
    requested: std::collections::HashSet<MessageId>,
    /// Offered, lacking, and waiting for room in the request window.
    wanted: std::collections::VecDeque<MessageId>,
    /// Ours, sent in answer to the peer's requests and not acked yet: at most [`REQUEST_WINDOW`].
    serving: std::collections::HashSet<MessageId>,
    /// Ours, requested by the peer and waiting for room among those served.
    to_serve: std::collections::VecDeque<MessageId>,
    received: Vec<MessageId>,
    content_types: Vec<ContentTypeRange>,
    properties: Vec<TransportProperties>,
}

impl Session {
    /// A session in `mode`.
    pub fn new(mode: Mode) -> Self {
        Session {
            mode,
            offered: Default::default(),
            requested: Default::default(),
            wanted: Default::default(),
            serving: Default::default(),
            to_serve: Default::default(),
            received: Vec::new(),
            content_types: Vec::new(),
            properties: Vec::new(),
        }
    }

    /// Tells the peer, when the session starts, how to reach us over each of our transports.
    pub fn advertising(mut self, properties: Vec<TransportProperties>) -> Self {
        self.properties = properties;
        self
    }

    /// Announces `types` (the content types we have plugins for) when the session starts.
    pub fn announcing(mut self, types: Vec<ContentTypeRange>) -> Self {
        self.content_types = types;
        self
    }

    /// The records to send when the session opens.
    pub fn start(
        &mut self,
        store: &mut impl SyncStore,
        now_ms: u64,
    ) -> Result<Vec<Record>, SessionError> {
        let mut out = self.start_announcements(store)?;
        match self.mode {
            Mode::Duplex => out.extend(self.send_due(store, now_ms)?),
            Mode::Simplex => {
                self.fill(&mut out, store, now_ms, usize::MAX)?;
            }
        }
        Ok(out)
    }

    /// A simplex session's opening records in at most `budget` encoded bytes: the announcements,
    /// then the acks owed and the due messages, oldest first, while they fit. Returns the records and
    /// whether anything owed or due was left for a later stream (it stays owed and due).
    pub fn start_within(
        &mut self,
        store: &mut impl SyncStore,
        now_ms: u64,
        budget: usize,
    ) -> Result<(Vec<Record>, bool), SessionError> {
        let mut out = self.start_announcements(store)?;
        let more = self.fill(&mut out, store, now_ms, budget)?;
        Ok((out, more))
    }

    fn start_announcements(&self, store: &impl SyncStore) -> Result<Vec<Record>, SessionError> {
        let mut out = vec![Record::Versions(vec![PROTOCOL_VERSION])];
        if !self.content_types.is_empty() {
            out.push(Record::ContentTypes(self.content_types.clone()));
        }
        if !self.properties.is_empty() {
            out.push(Record::Properties(self.properties.clone()));
        }
        out.extend(store.mailbox_to_tell()?.map(Record::Mailbox));
        Ok(out)
    }

    /// Adds to `out` the acks owed, then the due messages, while `out` encodes in `budget` bytes;
    /// marks what it added written and sent. Returns whether something was left out.
    fn fill(
        &mut self,
        out: &mut Vec<Record>,
        store: &mut impl SyncStore,
        now_ms: u64,
        budget: usize,
    ) -> Result<bool, SessionError> {
        let mut used = Record::encode_all(out).len();
        let mut fits = |record: &Record| {
            if budget == usize::MAX {
                // No limit: not worth encoding every message twice to measure it.
                return true;
            }
            let len = Record::encode_all(std::slice::from_ref(record)).len();
            let fit = used.saturating_add(len) <= budget;
            if fit {
                used += len;
            }
            fit
        };
        let acks = store.acks_due(usize::MAX)?;
        let mut written = Vec::new();
        for ids in acks.chunks(MAX_IDS) {
            let record = Record::Ack(ids.to_vec());
            if !fits(&record) {
                store.acks_written(&written)?;
                return Ok(true);
            }
            written.extend_from_slice(ids);
            out.push(record);
        }
        store.acks_written(&written)?;
        for id in store.due(now_ms, usize::MAX)? {
            if let Some(message) = store.outgoing(&id)? {
                let record = Record::Message(message);
                if !fits(&record) {
                    return Ok(true);
                }
                store.mark_sent(&id, now_ms)?;
                out.push(record);
            }
        }
        Ok(false)
    }

    /// The messages that became due since the session last looked (queued meanwhile, or waiting
    /// behind a full offer): small ones sent at once, the rest offered. Duplex only: simplex sends
    /// everything at start.
    pub fn send_due(
        &mut self,
        store: &mut impl SyncStore,
        now_ms: u64,
    ) -> Result<Vec<Record>, SessionError> {
        if self.mode == Mode::Simplex {
            return Ok(Vec::new());
        }
        let room = IN_FLIGHT.saturating_sub(self.offered.len()).min(MAX_IDS);
        if room == 0 {
            return Ok(Vec::new());
        }
        // Those in flight may be due again (a retransmit time passed): read past them.
        let fresh: Vec<MessageId> = store
            .due(now_ms, room + self.offered.len())?
            .into_iter()
            .filter(|id| !self.offered.contains(id))
            .take(room)
            .collect();
        let mut out = Vec::new();
        let mut offer = Vec::new();
        for id in fresh {
            self.offered.insert(id);
            match store.outgoing_len(&id)? {
                Some(len) if len <= EAGER_LIMIT => {
                    if let Some(message) = store.outgoing(&id)? {
                        store.mark_sent(&id, now_ms)?;
                        out.push(Record::Message(message));
                    }
                }
                Some(_) => offer.push(id),
                None => {}
            }
        }
        if !offer.is_empty() {
            out.push(Record::Offer(offer));
        }
        Ok(out)
    }

    /// Handles one record from the peer and returns the records to send back.
    pub fn handle(
        &mut self,
        record: Record,
        store: &mut impl SyncStore,
        now_ms: u64,
    ) -> Result<Vec<Record>, SessionError> {
        let mut out = Vec::new();
        match record {
            Record::Versions(versions) if !versions.contains(&PROTOCOL_VERSION) => {
                return Err(SessionError::NoCommonVersion(versions));
            }
            Record::Versions(_) => {}
            Record::Offer(_) if self.mode == Mode::Simplex => {
                return Err(SessionError::AnswerWanted("offer"));
            }
            Record::Request(_) if self.mode == Mode::Simplex => {
                return Err(SessionError::AnswerWanted("request"));
            }
            Record::Offer(ids) => {
                let (mut have, mut lack) = (Vec::new(), Vec::new());
                for id in ids {
                    if store.has_incoming(&id)? {
                        have.push(id);
                    } else {
                        lack.push(id);
                    }
                }
                if !have.is_empty() {
                    out.push(Record::Ack(have));
                }
                for id in lack {
                    if !self.requested.contains(&id) && !self.wanted.contains(&id) {
                        self.wanted.push_back(id);
                    }
                }
                out.extend(self.request_more());
            }
            Record::Request(ids) => {
                // Only what this session offered, once: a peer cannot make us hold more than that.
                for id in ids {
                    if self.offered.contains(&id)
                        && !self.serving.contains(&id)
                        && !self.to_serve.contains(&id)
                    {
                        self.to_serve.push_back(id);
                    }
                }
                self.serve_more(store, now_ms, &mut out)?;
            }
            Record::Message(message) => {
                let id = message.id();
                let stored = store.has_incoming(&id)?;
                let requested = self.requested.remove(&id);
                if self.mode == Mode::Duplex
                    && !requested
                    && !stored
                    && message.body.len() > EAGER_LIMIT
                {
                    return Err(SessionError::Unrequested);
                }
                if !stored {
                    store.store_incoming(&id, message)?;
                }
                // Ack duplicates too: the first ack may have been lost.
                self.received.push(id);
                match self.mode {
                    Mode::Duplex => {
                        out.push(Record::Ack(vec![id]));
                        out.extend(self.request_more());
                    }
                    // Nobody reads an answer: the ack rides on our next stream to the peer.
                    Mode::Simplex => store.ack_later(&id)?,
                }
            }
            Record::Ack(ids) => {
                for id in &ids {
                    store.mark_acked(id)?;
                    self.offered.remove(id);
                    self.serving.remove(id);
                }
                self.serve_more(store, now_ms, &mut out)?;
            }
            Record::ContentTypes(types) => store.store_peer_content_types(types)?,
            Record::Properties(transports) => store.store_peer_properties(transports)?,
            Record::Mailbox(access) => store.store_peer_mailbox(access)?,
        }
        Ok(out)
    }

    /// Sends the requested messages there is room for among those served and not acked. A peer
    /// that asks for more than a window at once (a bent one, or a later build with a larger window)
    /// gets them as its acks come back: answering all at once could outgrow what a channel may
    /// hold unwritten, and a channel cut on every answer never delivers them.
    fn serve_more(
        &mut self,
        store: &mut impl SyncStore,
        now_ms: u64,
        out: &mut Vec<Record>,
    ) -> Result<(), SessionError> {
        while self.serving.len() < REQUEST_WINDOW {
            let Some(id) = self.to_serve.pop_front() else {
                break;
            };
            if let Some(message) = store.outgoing(&id)? {
                store.mark_sent(&id, now_ms)?;
                self.serving.insert(id);
                out.push(Record::Message(message));
            }
        }
        Ok(())
    }

    /// A request for the wanted messages the window has room for, if any.
    fn request_more(&mut self) -> Option<Record> {
        let room = REQUEST_WINDOW.saturating_sub(self.requested.len());
        let ids: Vec<MessageId> = (0..room).map_while(|_| self.wanted.pop_front()).collect();
        self.requested.extend(ids.iter().copied());
        (!ids.is_empty()).then_some(Record::Request(ids))
    }

    /// Ids of the messages received in this session, in order of arrival (duplicates included).
    pub fn received(&self) -> &[MessageId] {
        &self.received
    }

    /// Duplex or simplex.
    pub fn mode(&self) -> Mode {
        self.mode
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Storage for one side of a conversation, in memory, with the retransmission rule applied.
    #[derive(Default)]
    pub(crate) struct Side {
        /// Message, times sent, last sent at, acked.
        pub(crate) outbox: BTreeMap<MessageId, (Message, u32, u64, bool)>,
        pub(crate) inbox: Vec<Message>,
        /// The ids of `inbox`, so a lookup does not hash every stored message again.
        inbox_ids: std::collections::HashSet<MessageId>,
        /// Incoming ids whose ack is owed on the next simplex stream, in order of asking.
        pub(crate) acks_owed: Vec<MessageId>,
        peer_types: Vec<ContentTypeRange>,
        peer_properties: Vec<TransportProperties>,
        /// What we tell the peer of our mailbox, and what it told us of its own.
        mailbox_to_tell: Option<Option<MailboxAccess>>,
        peer_mailbox: Option<Option<MailboxAccess>>,
    }

    pub(crate) const LATENCY: u64 = 1_000;

    impl Side {
        /// A fresh side that tells the same of its mailbox.
        fn clone_told(&self) -> Side {
            Side {
                mailbox_to_tell: self.mailbox_to_tell.clone(),
                ..Side::default()
            }
        }
    }

    impl Side {
        pub(crate) fn queue(&mut self, body: &str, t: u64) -> MessageId {
            let m = Message {
                timestamp_ms: t,
                content_type: "courier/text".into(),
                type_version: 1,
                fallback: String::new(),
                body: body.into(),
            };
            let id = m.id();
            self.outbox.insert(id, (m, 0, 0, false));
            id
        }
    }

    impl SyncStore for Side {
        fn due(&self, now_ms: u64, limit: usize) -> Result<Vec<MessageId>, StoreError> {
            let mut due: Vec<_> = self
                .outbox
                .iter()
                .filter(|(_, (_, sent, at, acked))| {
                    !acked && (*sent == 0 || retransmit_at(*at, *sent, LATENCY) <= now_ms)
                })
                .map(|(id, (m, ..))| (m.timestamp_ms, *id))
                .collect();
            due.sort();
            Ok(due.into_iter().take(limit).map(|(_, id)| id).collect())
        }
        fn outgoing(&self, id: &MessageId) -> Result<Option<Message>, StoreError> {
            Ok(self.outbox.get(id).filter(|e| !e.3).map(|e| e.0.clone()))
        }
        fn mark_sent(&mut self, id: &MessageId, now_ms: u64) -> Result<(), StoreError> {
            if let Some(e) = self.outbox.get_mut(id) {
                e.1 += 1;
                e.2 = now_ms;
            }
            Ok(())
        }
        fn mark_acked(&mut self, id: &MessageId) -> Result<(), StoreError> {
            if let Some(e) = self.outbox.get_mut(id) {
                e.3 = true;
            }
            Ok(())
        }
        fn has_incoming(&self, id: &MessageId) -> Result<bool, StoreError> {
            Ok(self.inbox_ids.contains(id))
        }
        fn store_peer_content_types(
            &mut self,
            types: Vec<ContentTypeRange>,
        ) -> Result<(), StoreError> {
            self.peer_types = types;
            Ok(())
        }
        fn store_peer_properties(
            &mut self,
            transports: Vec<TransportProperties>,
        ) -> Result<(), StoreError> {
            self.peer_properties = transports;
            Ok(())
        }
        fn mailbox_to_tell(&self) -> Result<Option<Option<MailboxAccess>>, StoreError> {
            Ok(self.mailbox_to_tell.clone())
        }
        fn store_peer_mailbox(&mut self, access: Option<MailboxAccess>) -> Result<(), StoreError> {
            self.peer_mailbox = Some(access);
            Ok(())
        }
        fn store_incoming(&mut self, id: &MessageId, message: Message) -> Result<(), StoreError> {
            assert_eq!(
                &message.id(),
                id,
                "the session passes the id of what it stores"
            );
            self.inbox_ids.insert(*id);
            self.inbox.push(message);
            Ok(())
        }
        fn ack_later(&mut self, id: &MessageId) -> Result<(), StoreError> {
            assert!(
                self.inbox_ids.contains(id),
                "only stored messages are acked"
            );
            if !self.acks_owed.contains(id) {
                self.acks_owed.push(*id);
            }
            Ok(())
        }
        fn acks_due(&self, limit: usize) -> Result<Vec<MessageId>, StoreError> {
            Ok(self.acks_owed.iter().take(limit).copied().collect())
        }
        fn acks_written(&mut self, ids: &[MessageId]) -> Result<(), StoreError> {
            self.acks_owed.retain(|id| !ids.contains(id));
            Ok(())
        }
    }

    /// Runs a duplex session between two sides until neither has anything to say; `drop` loses
    /// records from a to b when it returns true.
    fn converse(a: &mut Side, b: &mut Side, now: u64, mut drop: impl FnMut(&Record) -> bool) {
        let (mut sa, mut sb) = (Session::new(Mode::Duplex), Session::new(Mode::Duplex));
        let mut to_b: Vec<Record> = sa.start(a, now).unwrap();
        let mut to_a: Vec<Record> = sb.start(b, now).unwrap();
        while !to_a.is_empty() || !to_b.is_empty() {
            let mut next_b = Vec::new();
            for r in to_b.drain(..).filter(|r| !drop(r)) {
                next_b.extend(sb.handle(r, b, now).unwrap());
            }
            let mut next_a = Vec::new();
            for r in to_a.drain(..) {
                next_a.extend(sa.handle(r, a, now).unwrap());
            }
            to_a = next_b;
            to_b = next_a;
        }
    }

    pub(crate) fn bodies(side: &Side) -> Vec<String> {
        side.inbox
            .iter()
            .map(|m| String::from_utf8(m.body.clone()).unwrap())
            .collect()
    }

    #[test]
    fn messages_queued_during_a_session_go_out_once_and_in_order_small_at_once_large_by_offer() {
        let (mut alice, mut bob) = (Side::default(), Side::default());
        let (mut sa, mut sb) = (Session::new(Mode::Duplex), Session::new(Mode::Duplex));
        let mut to_b = sa.start(&mut alice, 1).unwrap();
        sb.start(&mut bob, 1).unwrap();
        for i in 0..(MAX_IDS + 10) {
            alice.queue(&format!("m{i}"), 2 + i as u64);
        }
        let large = "L".repeat(EAGER_LIMIT + 1);
        alice.queue(&large, 5_000);
        let first = sa.send_due(&mut alice, 5).unwrap();
        assert_eq!(first.len(), MAX_IDS);
        assert!(
            first.iter().all(|r| matches!(r, Record::Message(_))),
            "small ones go at once"
        );
        to_b.extend(first);
        let rest = sa.send_due(&mut alice, 5).unwrap();
        assert_eq!(rest.len(), 11);
        assert!(
            matches!(rest.last(), Some(Record::Offer(ids)) if ids.len() == 1),
            "the large one is offered"
        );
        to_b.extend(rest);
        assert!(
            sa.send_due(&mut alice, 5).unwrap().is_empty(),
            "nothing goes twice"
        );
        while !to_b.is_empty() {
            let mut to_a = Vec::new();
            for r in to_b.drain(..) {
                to_a.extend(sb.handle(r, &mut bob, 5).unwrap());
            }
            for r in to_a {
                to_b.extend(sa.handle(r, &mut alice, 5).unwrap());
            }
            to_b.extend(sa.send_due(&mut alice, 5).unwrap());
        }
        let mut expected: Vec<String> = (0..(MAX_IDS + 10)).map(|i| format!("m{i}")).collect();
        expected.push(large);
        assert_eq!(bodies(&bob), expected);
    }

    #[test]
    fn a_backlog_goes_out_as_acks_come_back_never_more_than_in_flight_unacked() {
        let (mut alice, mut bob) = (Side::default(), Side::default());
        let (mut sa, mut sb) = (Session::new(Mode::Duplex), Session::new(Mode::Duplex));
        let total = 3 * IN_FLIGHT;
        for i in 0..total {
            alice.queue(&format!("m{i}"), 2 + i as u64);
        }
        let mut to_b = sa.start(&mut alice, 1).unwrap();
        sb.start(&mut bob, 1).unwrap();
        let messages = |records: &[Record]| {
            records
                .iter()
                .filter(|r| matches!(r, Record::Message(_)))
                .count()
        };
        let mut unacked = messages(&to_b);
        loop {
            while let Some(more) =
                Some(sa.send_due(&mut alice, 5).unwrap()).filter(|m| !m.is_empty())
            {
                unacked += messages(&more);
                to_b.extend(more);
            }
            assert!(unacked <= IN_FLIGHT, "{unacked} in flight");
            if to_b.is_empty() {
                break;
            }
            // Bob stores and acks what came; the acks let as many more go.
            let to_a: Vec<Record> = to_b
                .drain(..)
                .flat_map(|r| sb.handle(r, &mut bob, 5).unwrap())
                .collect();
            for r in to_a {
                if let Record::Ack(ids) = &r {
                    unacked -= ids.len();
                }
                to_b.extend(sa.handle(r, &mut alice, 5).unwrap());
            }
        }
        let expected: Vec<String> = (0..total).map(|i| format!("m{i}")).collect();
        assert_eq!(bodies(&bob), expected, "every one, once, in order");
        assert_eq!(unacked, 0);
    }

    #[test]
    fn a_large_offer_is_requested_a_window_at_a_time_and_each_arrival_asks_for_the_next() {
        let (mut alice, mut bob) = (Side::default(), Side::default());
        let total = REQUEST_WINDOW * 3 + 5;
        for i in 0..total {
            alice.queue(&format!("{i:05}{}", "c".repeat(EAGER_LIMIT)), i as u64);
        }
        let (mut sa, mut sb) = (Session::new(Mode::Duplex), Session::new(Mode::Duplex));
        sb.start(&mut bob, 1).unwrap();
        let mut to_b = sa.start(&mut alice, 1).unwrap();
        let mut most_in_flight = 0;
        while !to_b.is_empty() {
            let mut to_a = Vec::new();
            for r in to_b.drain(..) {
                to_a.extend(sb.handle(r, &mut bob, 5).unwrap());
            }
            let requested: usize = to_a
                .iter()
                .map(|r| match r {
                    Record::Request(ids) => ids.len(),
                    _ => 0,
                })
                .sum();
            most_in_flight = most_in_flight.max(sb.requested.len());
            assert!(requested <= REQUEST_WINDOW);
            for r in to_a {
                to_b.extend(sa.handle(r, &mut alice, 5).unwrap());
            }
        }
        assert_eq!(
            most_in_flight, REQUEST_WINDOW,
            "the window fills, and no further"
        );
        assert_eq!(bob.inbox.len(), total, "every offered message arrived");
        let mut got = bodies(&bob);
        got.dedup();
        assert_eq!(got.len(), total, "each once");
        assert!(
            alice.due(10 * LATENCY, usize::MAX).unwrap().is_empty(),
            "all acked"
        );
    }

    #[test]
    fn offered_messages_are_requested_delivered_once_and_acked() {
        let (mut alice, mut bob) = (Side::default(), Side::default());
        alice.queue("one", 1);
        alice.queue("two", 2);
        bob.queue("hi alice", 3);
        converse(&mut alice, &mut bob, 10, |_| false);
        assert_eq!(bodies(&bob), ["one", "two"]);
        assert_eq!(bodies(&alice), ["hi alice"]);
        assert!(
            alice.outbox.values().all(|e| e.3) && bob.outbox.values().all(|e| e.3),
            "everything acked"
        );
        converse(&mut alice, &mut bob, 10_000, |_| false);
        assert_eq!(bodies(&bob).len(), 2, "nothing is delivered twice");
    }

    #[test]
    fn a_lost_message_is_retransmitted_after_backoff_and_still_arrives_once() {
        let (mut alice, mut bob) = (Side::default(), Side::default());
        let id = alice.queue("important", 1);
        converse(&mut alice, &mut bob, 0, |r| matches!(r, Record::Message(_)));
        assert!(bob.inbox.is_empty());
        assert!(
            alice.due(2 * LATENCY - 1, 10).unwrap().is_empty(),
            "not due before 2 x latency"
        );
        assert_eq!(alice.due(2 * LATENCY, 10).unwrap(), vec![id]);
        converse(&mut alice, &mut bob, 2 * LATENCY, |_| false);
        assert_eq!(bodies(&bob), ["important"]);
    }

    #[test]
    fn a_lost_ack_leads_to_a_duplicate_that_is_acked_but_not_stored_twice() {
        let (mut alice, mut bob) = (Side::default(), Side::default());
        alice.queue("once", 1);
        // Bob's acks to alice are lost: run the session with bob as `a` so acks are dropped.
        converse(&mut bob, &mut alice, 0, |r| matches!(r, Record::Ack(_)));
        assert_eq!(bodies(&bob), ["once"]);
        assert!(
            !alice.outbox.values().next().unwrap().3,
            "alice never saw the ack"
        );
        converse(&mut alice, &mut bob, 2 * LATENCY, |_| false);
        assert_eq!(
            bodies(&bob),
            ["once"],
            "the offer is answered with an ack, not a request"
        );
        assert!(alice.outbox.values().next().unwrap().3);
    }

    #[test]
    fn retransmission_backs_off_exponentially() {
        assert_eq!(retransmit_at(100, 1, LATENCY), 100 + 2 * LATENCY);
        assert_eq!(retransmit_at(100, 2, LATENCY), 100 + 4 * LATENCY);
        assert_eq!(retransmit_at(100, 4, LATENCY), 100 + 16 * LATENCY);
        assert_eq!(
            retransmit_at(u64::MAX - 1, 30, u64::MAX),
            u64::MAX,
            "never overflows"
        );
    }

    #[test]
    fn simplex_sends_everything_eagerly_and_the_reader_stores_it() {
        let (mut alice, mut bob) = (Side::default(), Side::default());
        alice.queue("a", 1);
        alice.queue("b", 2);
        let records = Session::new(Mode::Simplex).start(&mut alice, 0).unwrap();
        let mut reader = Session::new(Mode::Simplex);
        for r in records {
            reader.handle(r, &mut bob, 0).unwrap();
        }
        assert_eq!(bodies(&bob), ["a", "b"]);
        assert_eq!(reader.received().len(), 2);
    }

    #[test]
    fn a_peer_asking_for_a_whole_offer_at_once_is_answered_a_window_at_a_time_as_its_acks_come() {
        let mut alice = Side::default();
        let total = REQUEST_WINDOW * 2 + 3;
        for i in 0..total {
            alice.queue(&format!("{i:05}{}", "c".repeat(EAGER_LIMIT)), i as u64);
        }
        let mut sa = Session::new(Mode::Duplex);
        let opening = sa.start(&mut alice, 1).unwrap();
        let Some(Record::Offer(offered)) = opening.last() else {
            panic!("the large ones are offered: {opening:?}");
        };
        assert_eq!(offered.len(), total);
        let ids = |records: &[Record]| -> Vec<MessageId> {
            records
                .iter()
                .map(|r| match r {
                    Record::Message(m) => m.id(),
                    other => panic!("only messages answer a request or an ack: {other:?}"),
                })
                .collect()
        };
        // Bob's build asks for everything at once, one twice, and one queued since but not offered.
        let stranger = alice.queue(&"s".repeat(EAGER_LIMIT + 1), 2);
        let mut asked = vec![offered[0]];
        asked.extend(offered.iter().copied());
        asked.push(stranger);
        let first = ids(&sa.handle(Record::Request(asked), &mut alice, 5).unwrap());
        assert_eq!(
            first,
            offered[..REQUEST_WINDOW],
            "one window, in the order asked"
        );
        assert_eq!(
            sa.handle(Record::Request(offered[..3].to_vec()), &mut alice, 5),
            Ok(vec![]),
            "no room yet"
        );
        // Each ack lets exactly as many more go.
        let next = ids(&sa
            .handle(Record::Ack(offered[..2].to_vec()), &mut alice, 6)
            .unwrap());
        assert_eq!(next, offered[REQUEST_WINDOW..REQUEST_WINDOW + 2]);
        let mut sent: Vec<MessageId> = first.into_iter().chain(next).collect();
        while sent.len() < total {
            let acked = sent[sent.len() - REQUEST_WINDOW..].to_vec();
            let more = ids(&sa.handle(Record::Ack(acked), &mut alice, 7).unwrap());
            assert!(!more.is_empty() && more.len() <= REQUEST_WINDOW);
            sent.extend(more);
        }
        assert_eq!(
            sent, *offered,
            "every offered one, once, in order; the stranger never"
        );
        assert_eq!(alice.outbox[&offered[0]].1, 1, "sent once");
        assert_eq!(
            sa.handle(Record::Ack(sent.clone()), &mut alice, 8),
            Ok(vec![]),
            "nothing left to serve"
        );
    }

    #[test]
    fn a_message_asked_for_again_while_it_is_in_flight_is_not_sent_twice() {
        let mut alice = Side::default();
        for i in 0..REQUEST_WINDOW + 2 {
            alice.queue(&format!("{i:05}{}", "c".repeat(EAGER_LIMIT)), i as u64);
        }
        let mut sa = Session::new(Mode::Duplex);
        let opening = sa.start(&mut alice, 1).unwrap();
        let Some(Record::Offer(offered)) = opening.last() else {
            panic!("the large ones are offered: {opening:?}");
        };
        let first = sa
            .handle(Record::Request(offered.clone()), &mut alice, 5)
            .unwrap();
        assert_eq!(first.len(), REQUEST_WINDOW);
        // Bob asks again for three in flight, then acks five others: the two left go, once each.
        sa.handle(Record::Request(offered[..3].to_vec()), &mut alice, 5)
            .unwrap();
        let answer = sa
            .handle(Record::Ack(offered[3..8].to_vec()), &mut alice, 6)
            .unwrap();
        let sent: Vec<MessageId> = answer
            .iter()
            .map(|r| match r {
                Record::Message(m) => m.id(),
                other => panic!("only messages answer an ack: {other:?}"),
            })
            .collect();
        assert_eq!(sent, offered[REQUEST_WINDOW..]);
        assert_eq!(alice.outbox[&offered[0]].1, 1, "sent once");
    }

    #[test]
    fn a_simplex_reader_answers_nothing_owes_an_ack_for_each_arrival_and_refuses_offers_and_requests()
     {
        let (mut alice, mut bob) = (Side::default(), Side::default());
        let id = alice.queue("once", 1);
        let records = Session::new(Mode::Simplex).start(&mut alice, 0).unwrap();
        let mut reader = Session::new(Mode::Simplex);
        for _ in 0..2 {
            for r in records.clone() {
                assert_eq!(reader.handle(r, &mut bob, 0), Ok(vec![]));
            }
        }
        assert_eq!(bodies(&bob), ["once"], "the duplicate is not stored");
        assert_eq!(reader.received(), [id, id]);
        assert_eq!(bob.acks_owed, [id], "one ack owed, for both");
        assert_eq!(
            Session::new(Mode::Simplex).start(&mut bob, 0).unwrap(),
            [
                Record::Versions(vec![PROTOCOL_VERSION]),
                Record::Ack(vec![id])
            ]
        );
        assert!(bob.acks_owed.is_empty(), "written once");
        assert_eq!(
            reader.handle(Record::Offer(vec![id]), &mut bob, 0),
            Err(SessionError::AnswerWanted("offer"))
        );
        assert_eq!(
            reader.handle(Record::Request(vec![id]), &mut alice, 0),
            Err(SessionError::AnswerWanted("request"))
        );
        assert_eq!(alice.outbox[&id].1, 1, "a simplex request sends nothing");
    }

    fn message(body_len: usize) -> Message {
        Message {
            timestamp_ms: 0,
            content_type: "courier/text".into(),
            type_version: 1,
            fallback: String::new(),
            body: vec![b'x'; body_len],
        }
    }

    #[test]
    fn a_session_opens_with_versions_then_what_it_reads_then_how_to_reach_it() {
        let types = vec![ContentTypeRange {
            content_type: "courier/image".into(),
            min: 1,
            max: 2,
        }];
        let properties = vec![TransportProperties {
            transport: "lan".into(),
            properties: vec![("address".into(), "10.0.0.2:7001".into())],
        }];
        let mut alice = Side::default();
        let opening = Session::new(Mode::Duplex)
            .announcing(types.clone())
            .advertising(properties.clone())
            .start(&mut alice, 0)
            .unwrap();
        assert_eq!(
            opening,
            [
                Record::Versions(vec![PROTOCOL_VERSION]),
                Record::ContentTypes(types.clone()),
                Record::Properties(properties.clone()),
            ]
        );
        let (mut bob, mut session) = (Side::default(), Session::new(Mode::Duplex));
        for record in opening {
            assert_eq!(session.handle(record, &mut bob, 0), Ok(vec![]));
        }
        assert_eq!((bob.peer_types, bob.peer_properties), (types, properties));
        assert_eq!(
            Session::new(Mode::Simplex).start(&mut alice, 0).unwrap(),
            [Record::Versions(vec![PROTOCOL_VERSION])],
            "nothing to announce, nothing announced"
        );
    }

    #[test]
    fn a_contact_learns_how_to_use_our_mailbox_and_later_that_it_is_gone() {
        let access = MailboxAccess {
            address: "127.0.0.1:9".into(),
            token: [1; 32],
            inbox: [2; 16],
            outbox: [3; 16],
        };
        for told in [Some(access), None] {
            let alice = Side {
                mailbox_to_tell: Some(told.clone()),
                ..Side::default()
            };
            for mode in [Mode::Duplex, Mode::Simplex] {
                let mut alice = alice.clone_told();
                let opening = Session::new(mode).start(&mut alice, 0).unwrap();
                assert_eq!(
                    opening,
                    [
                        Record::Versions(vec![PROTOCOL_VERSION]),
                        Record::Mailbox(told.clone()),
                    ]
                );
                let (mut bob, mut session) = (Side::default(), Session::new(mode));
                for record in opening {
                    session.handle(record, &mut bob, 0).unwrap();
                }
                assert_eq!(bob.peer_mailbox, Some(told.clone()));
            }
        }
    }

    #[test]
    fn a_4_kib_message_goes_at_once_and_one_byte_more_is_offered() {
        let mut alice = Side::default();
        let small = message(4 * 1024);
        let large = Message {
            timestamp_ms: 1,
            ..message(4 * 1024 + 1)
        };
        for m in [&small, &large] {
            alice.outbox.insert(m.id(), (m.clone(), 0, 0, false));
        }
        assert_eq!(
            Session::new(Mode::Duplex).start(&mut alice, 0).unwrap()[1..],
            [
                Record::Message(small.clone()),
                Record::Offer(vec![large.id()])
            ]
        );
        let mut bob = Side::default();
        let mut session = Session::new(Mode::Duplex);
        assert_eq!(
            session.handle(Record::Message(small.clone()), &mut bob, 0),
            Ok(vec![Record::Ack(vec![small.id()])]),
            "4 KiB unrequested is fine"
        );
        assert_eq!(
            session.handle(Record::Message(large.clone()), &mut bob, 0),
            Err(SessionError::Unrequested)
        );
        let mut reader = Session::new(Mode::Simplex);
        assert_eq!(
            reader.handle(Record::Message(large.clone()), &mut bob, 0),
            Ok(vec![]),
            "in simplex nothing is ever requested, and nothing answered"
        );
        assert_eq!(
            bob.acks_owed,
            [large.id()],
            "its ack waits for bob's stream"
        );
    }

    #[test]
    fn an_id_offered_twice_is_requested_once() {
        let mut bob = Side::default();
        let mut session = Session::new(Mode::Duplex);
        let id = message(5000).id();
        assert_eq!(
            session.handle(Record::Offer(vec![id]), &mut bob, 0),
            Ok(vec![Record::Request(vec![id])])
        );
        assert_eq!(
            session.handle(Record::Offer(vec![id, id]), &mut bob, 0),
            Ok(vec![]),
            "already requested"
        );
        let others: Vec<MessageId> = (0..REQUEST_WINDOW as u64 + 1)
            .map(|t| {
                Message {
                    timestamp_ms: t + 1,
                    ..message(5000)
                }
                .id()
            })
            .collect();
        let answer = session
            .handle(Record::Offer(others.clone()), &mut bob, 0)
            .unwrap();
        assert_eq!(
            answer,
            [Record::Request(others[..REQUEST_WINDOW - 1].to_vec())]
        );
        assert_eq!(
            session.handle(Record::Offer(others.clone()), &mut bob, 0),
            Ok(vec![]),
            "the one waiting for room is not queued twice"
        );
        assert_eq!(session.wanted.len(), 2);
    }

    #[test]
    fn a_peer_without_our_version_or_sending_unrequested_messages_is_refused() {
        let mut bob = Side::default();
        let mut session = Session::new(Mode::Duplex);
        assert_eq!(
            session.handle(Record::Versions(vec![9]), &mut bob, 0),
            Err(SessionError::NoCommonVersion(vec![9]))
        );
        let pushed = Message {
            timestamp_ms: 0,
            content_type: "courier/text".into(),
            type_version: 1,
            fallback: String::new(),
            body: vec![b's'; EAGER_LIMIT + 1],
        };
        assert_eq!(
            session.handle(Record::Message(pushed), &mut bob, 0),
            Err(SessionError::Unrequested)
        );
        assert!(bob.inbox.is_empty());
    }
}
