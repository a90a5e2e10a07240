//! Who to dial, where, and when: peers found by discovery or told by contacts, backoff after a dial
//! that failed, dials that connected but were never answered, and meeting points (Tor) kept for
//! contacts just made at one.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use courier_io::Meeting;
use courier_plugin_host::bindings::transport_types::{ConnectRequest, Discovery, Event, Property};
use courier_storage::{ContactId, Peer};

use crate::link::Link;
use crate::slot::Slot;
use crate::{Deferred, Node, NodeError, keyring, now_ms};
use courier_io::TransportIndex;

/// After this many dials in a row reached something that never answered as the contact, say so.
const UNANSWERED_WARNING: u32 = 3;

/// How patiently the node dials: the defaults suit people; tests that dial hundreds of times shorten
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// How long a dialed peer has, from the dial, to answer with a stream of its own. A dial that
    /// reached something else (a black hole, a middlebox, a port someone else now holds) is closed
    /// then, and counts as a failed attempt.
    pub answer_timeout: Duration,
    /// Longest wait between two attempts to reach a peer that did not answer.
    pub max_redial_backoff: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            answer_timeout: Duration::from_secs(15),
            max_redial_backoff: Duration::from_secs(30),
        }
    }
}

/// Where a peer is, in the transport's own terms: the node compares these, never reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Whereabouts {
    /// Discovery saw them at this address; the plugin decides how to dial it.
    Seen(String),
    /// Connect with these properties (the peer told them, or they worked before).
    Reach(Vec<Property>),
}

impl Whereabouts {
    /// Whether a plugin's dial of `properties` is a dial of this peer.
    fn matches(&self, properties: &[Property]) -> bool {
        match self {
            Whereabouts::Seen(address) => properties.iter().any(|p| p.value == *address),
            Whereabouts::Reach(reach) => reach == properties,
        }
    }
}

/// One transport's dialing state.
#[derive(Default)]
pub(crate) struct Dialer {
    /// Where each peer can be reached, as last seen or told.
    found: HashMap<Peer, Whereabouts>,
    /// When each peer may be dialed again, and how many attempts failed in a row.
    backoff: HashMap<Peer, (u64, u32)>,
    /// Dials in a row that connected but were never answered by the peer.
    unanswered: HashMap<Peer, u32>,
    /// Contacts just made at a meeting point (Tor), with it and until when it is kept: the next
    /// connection goes there too, until they have told us where they are.
    just_met: Vec<(ContactId, Meeting, u64)>,
    /// How many meeting points the drivers were last told of.
    pub meetings_told: usize,
}

impl Dialer {
    /// Discovery saw `peer` at `address`.
    pub fn seen(&mut self, peer: Peer, address: String) {
        self.found.insert(peer, Whereabouts::Seen(address));
    }

    /// `contact` was made on a channel dialed with `properties` (at `meeting`, if it was one).
    pub fn met(
        &mut self,
        contact: ContactId,
        properties: Option<Vec<Property>>,
        meeting: Option<Meeting>,
        now: u64,
    ) {
        if let Some(meeting) = meeting {
            let until = now + keyring::MEETING_LIFETIME_MS;
            self.just_met.push((contact, meeting, until));
        }
        if let Some(properties) = properties {
            self.found
                .insert(Peer::Contact(contact), Whereabouts::Reach(properties));
        }
    }

    /// Forgets meeting points of contacts who have told us where they are, or whose time is up;
    /// true if any was forgotten.
    pub fn forget_meetings(&mut self, told: &HashSet<ContactId>, now: u64) -> bool {
        let before = self.just_met.len();
        self.just_met
            .retain(|(contact, _, until)| !told.contains(contact) && now < *until);
        self.just_met.len() != before
    }

    /// Whether any contact was just made at a meeting point.
    pub fn has_met(&self) -> bool {
        !self.just_met.is_empty()
    }

    /// What `contact` told us to reach them by, unless discovery found them somewhere since.
    pub fn told(&mut self, contact: ContactId, properties: Vec<Property>) {
        // What they told us beats where we dialed them before (a pending contact's meeting point
        // on Tor is gone once they are a contact); discovery's finds stay.
        let found = self
            .found
            .entry(Peer::Contact(contact))
            .or_insert(Whereabouts::Reach(Vec::new()));
        if matches!(found, Whereabouts::Reach(_)) {
            *found = Whereabouts::Reach(properties);
        }
    }

    /// When, after `now`, the first peer found here stops backing off (Unix ms).
    fn next_redial(&self, now: u64) -> Option<u64> {
        self.backoff
            .iter()
            .filter(|(peer, (at, _))| *at > now && self.found.contains_key(peer))
            .map(|(_, (at, _))| *at)
            .min()
    }

    /// Whether `peer` is backing off at `now`.
    fn backing_off(&self, peer: Peer, now: u64) -> bool {
        self.backoff.get(&peer).is_some_and(|(at, _)| *at > now)
    }

    /// `peer` answered: forget its failures. Returns how many dials in a row it had missed.
    pub fn answered(&mut self, peer: Peer) -> Option<u32> {
        self.backoff.remove(&peer);
        self.unanswered.remove(&peer)
    }

    /// A dial of `peer` ended unanswered at `now`: wait longer before the next. `connected` when it
    /// reached something and took our stream (a black hole, another device at their address).
    /// Returns how many such dials in a row there were.
    pub fn missed(&mut self, peer: Peer, connected: bool, now: u64, max_backoff: Duration) -> u32 {
        let failures = self.backoff.get(&peer).map_or(0, |(_, n)| *n) + 1;
        let delay = (500u64 << failures.min(6)).min(max_backoff.as_millis() as u64);
        self.backoff.insert(peer, (now + delay, failures));
        if !connected {
            return 0;
        }
        let missed = self.unanswered.entry(peer).or_default();
        *missed += 1;
        *missed
    }
}

impl Node {
    /// Peers found or told that have no live link and whose backoff is over: a peer discovery saw is
    /// the plugin's to dial; one whose properties we hold is connected with them.
    pub(crate) fn dial_found(&mut self, now: u64) {
        for index in self.transports.indices() {
            let dialer = &self.transports[index].dialer;
            let due: Vec<(Peer, Whereabouts)> = dialer
                .found
                .iter()
                .filter(|(peer, _)| self.wants_link(index, **peer))
                .filter(|(peer, _)| !dialer.backing_off(**peer, now))
                .map(|(peer, whereabouts)| (*peer, whereabouts.clone()))
                .collect();
            for (peer, whereabouts) in due {
                match whereabouts {
                    Whereabouts::Seen(address) => {
                        self.plugin_event(index, Event::Discovered(Discovery { address }));
                    }
                    Whereabouts::Reach(properties) => self.open_dial(index, peer, properties, now),
                }
            }
        }
    }

    /// Whether we should dial `peer`: they are known to the transport and have no live link with us.
    /// (Both sides may dial at once; see `LinkError::Superseded` for which channel goes on.)
    fn wants_link(&self, transport: TransportIndex, peer: Peer) -> bool {
        if self.slots.links_to(peer) {
            return false;
        }
        let t = &self.transports[transport];
        // A handshake needs both directions: a pending contact is met on a duplex medium first.
        let reachable = !(t.simplex && matches!(peer, Peer::Pending(_)));
        reachable && t.keyring.role(peer).is_some()
    }

    /// Opens channels for a plugin's dial: to the peers last found there, or, for properties nobody
    /// announced (a static peer), one to each peer that may be there and has no link yet.
    pub(crate) fn dial(&mut self, index: TransportIndex, properties: Vec<Property>) {
        if self.dial_mailboxes(index) {
            return;
        }
        let now = now_ms();
        let t = &self.transports[index];
        let known: Vec<Peer> = t
            .dialer
            .found
            .iter()
            .filter(|(_, w)| w.matches(&properties))
            .map(|(p, _)| *p)
            .collect();
        let candidates: Vec<Peer> = if known.is_empty() {
            t.keyring.peers().collect()
        } else {
            known
        };
        for peer in candidates {
            self.open_dial(index, peer, properties.clone(), now);
        }
    }

    /// Opens a channel to `peer` with `properties`, unless it has a link or is backing off.
    pub(crate) fn open_dial(
        &mut self,
        index: TransportIndex,
        peer: Peer,
        properties: Vec<Property>,
        now: u64,
    ) {
        if !self.wants_link(index, peer) || self.transports[index].dialer.backing_off(peer, now) {
            return;
        }
        let t = &self.transports[index];
        let channel = self.ids.next();
        // A simplex stream is never answered; a duplex dial must be, in time.
        let (link, answer_by) = if t.simplex {
            (
                // Through a mailbox, a stream counts as sent once the mailbox took it.
                Link::write_simplex_to(
                    peer,
                    t.frame_len,
                    t.max_latency_ms,
                    t.mailbox_uploads.is_some(),
                ),
                None,
            )
        } else {
            (
                Link::dial(peer, t.frame_len, t.max_latency_ms),
                Some(now + self.pacing.answer_timeout.as_millis() as u64),
            )
        };
        self.slots.insert(
            channel,
            Slot {
                properties: Some(properties.clone()),
                answer_by,
                ..Slot::new(index, link)
            },
        );
        let connect = ConnectRequest {
            channel,
            properties,
        };
        self.plugin_event(index, Event::Connect(connect));
    }

    /// Closes dials whose peer did not answer in time: whatever took the connection is not them.
    pub(crate) fn close_unanswered(&mut self, now: u64) {
        for (channel, slot) in self.slots.iter() {
            if slot.answer_by.is_some_and(|by| by <= now) && !slot.link.answered() {
                self.deferred.push_back(Deferred::Close {
                    channel,
                    tell: true,
                });
            }
        }
    }

    /// The first time after `now` (Unix ms) that a dial comes due or an unanswered one is to be
    /// closed: the node's housekeeping comes then when that is sooner than its round.
    pub(crate) fn next_dial_work(&self, now: u64) -> Option<u64> {
        let closes = self
            .slots
            .iter()
            .filter(|(_, slot)| !slot.link.answered())
            .filter_map(|(_, slot)| slot.answer_by);
        let redials = self
            .transports
            .iter()
            .filter_map(|(_, t)| t.dialer.next_redial(now));
        closes.chain(redials).min()
    }

    /// A dial that `slot` made ended: if it never reached the peer, back off before the next.
    pub(crate) fn dial_ended(&mut self, slot: &Slot, now: u64) {
        let t = &mut self.transports[slot.transport];
        let Some(peer) = slot.link.dialing() else {
            return;
        };
        if slot.link.answered() || t.simplex {
            return;
        }
        let missed = t
            .dialer
            .missed(peer, slot.link.wrote(), now, self.pacing.max_redial_backoff);
        if missed == UNANSWERED_WARNING {
            tracing::warn!(
                "{missed} connections in a row to one contact on {} reached something that never \
                 answered as them (a black hole, or another device holding their address); their \
                 messages wait, and dialing them backs off",
                t.id()
            );
        }
    }

    /// The peer of a dial answered on transport `index`: this is them, not a black hole.
    pub(crate) fn dial_answered(&mut self, index: TransportIndex, peer: Peer) {
        let t = &mut self.transports[index];
        if let Some(missed) = t.dialer.answered(peer)
            && missed >= UNANSWERED_WARNING
        {
            tracing::info!(
                "a contact answered again on {} after {missed} unanswered connections",
                t.id()
            );
        }
    }

    /// Adds how contacts told us to reach them to the peers to dial, where discovery found nothing newer.
    pub(crate) fn remember_told_addresses(&mut self) -> Result<(), NodeError> {
        for t in self.transports.iter_mut() {
            for (contact, told) in self.db.peer_properties(t.keyring.transport())? {
                let properties = told
                    .into_iter()
                    .map(|(key, value)| Property { key, value })
                    .collect();
                t.dialer.told(contact, properties);
            }
        }
        Ok(())
    }

    /// The meeting points of transport `index`: its pending contacts', and those of contacts just
    /// made at one that have not told us yet where else to reach them.
    pub(crate) fn meetings(&self, index: TransportIndex, now: u64) -> Vec<Meeting> {
        let t = &self.transports[index];
        let mut meetings = t.keyring.meetings(now);
        meetings.extend(t.dialer.just_met.iter().map(|(_, m, _)| m.clone()));
        meetings
    }

    /// Opens a channel to every contact on the simplex transport `id`, each to write what it is
    /// owed; false if there is no such transport.
    pub(crate) fn flush(&mut self, id: &str) -> bool {
        let Some(index) = self.transports.simplex_named(id) else {
            return false;
        };
        let now = now_ms();
        let contacts: Vec<Peer> = self.transports[index]
            .keyring
            .peers()
            .filter(|p| matches!(p, Peer::Contact(_)))
            .collect();
        for peer in contacts {
            self.open_dial(index, peer, Vec::new(), now);
        }
        true
    }
}
