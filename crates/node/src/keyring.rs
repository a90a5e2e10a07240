//! The keys one transport uses with every peer: outgoing keys, windows of expected incoming tags, and
//! the rendezvous tags announced and looked for on the local network.
//!
//! Contacts use their rotating transport keys. Pending contacts, which have no shared root yet, use a
//! static secret from their linked keys (see `handshake::static_secret`) only to carry the handshake.

use std::collections::BTreeMap;

use courier_io::Meeting;
use courier_proto::handshake::static_secret;
use courier_proto::identity::Identity;
use courier_proto::transport_security::TAG_LEN;
use courier_proto::transport_security::rendezvous::{meeting_secret, rendezvous_tag};
use courier_proto::transport_security::tag_window::TagWindow;
use courier_proto::transport_security::transport_keys::{
    DirectionKeys, Role, TransportKeys, latency_class, period_at, rotation_period_ms,
};
use courier_storage::{Database, Durability, Peer, StorageError};

/// How long a pending contact's meeting point is kept: two people who exchanged links meet within
/// two days, or meet another way (a LAN) and the node says so.
pub const MEETING_LIFETIME_MS: u64 = 48 * 3_600_000;

/// One peer's keys on this transport.
struct PeerKeys {
    keys: TransportKeys,
    windows: Vec<TagWindow>,
    role: Role,
    /// For a pending contact: their alias and static public key, which the handshake needs.
    pending: Option<(String, [u8; 32])>,
    /// For a pending contact: until when (Unix ms) a meeting point is kept for them.
    meet_until: Option<u64>,
}

/// A stream tag that was recognised.
#[derive(Debug)]
pub struct Recognised {
    /// Whose stream it is.
    pub peer: Peer,
    /// The stream number the tag stands for.
    pub stream_number: u64,
    /// The keys to open its header with.
    pub keys: DirectionKeys,
}

/// Every peer's keys on one transport.
pub struct Keyring {
    transport: String,
    max_latency_ms: u64,
    /// The latency class whose chain and periods this transport's keys follow, for contacts made
    /// with class chains.
    class_ms: u64,
    peers: BTreeMap<Peer, PeerKeys>,
    /// Contacts made before class chains, with no keys for this transport (said once, not per pass).
    unreachable: std::collections::BTreeSet<Peer>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("transport", &self.transport)
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// An empty keyring for `transport`; [`refresh`](Self::refresh) fills it.
    pub fn new(transport: &str, max_latency_ms: u64) -> Self {
        Keyring {
            transport: transport.to_owned(),
            max_latency_ms,
            // The node starts no transport whose latency outlasts every class.
            class_ms: latency_class(max_latency_ms).unwrap_or(max_latency_ms),
            peers: BTreeMap::new(),
            unreachable: Default::default(),
        }
    }

    /// The transport id.
    pub fn transport(&self) -> &str {
        &self.transport
    }

    /// Brings the keyring in line with the database and the clock: adds new contacts and pending
    /// contacts, drops removed ones, rotates keys into the period of `now_ms` (deleting old incoming
    /// keys and their stored windows). Returns whether the set of announced tags may have changed.
    pub fn refresh(
        &mut self,
        db: &mut Database,
        identity: &Identity,
        now_ms: u64,
    ) -> Result<bool, StorageError> {
        let (wanted, meet_until) = wanted_peers(db)?;
        let before = self.peers.len();
        self.peers.retain(|peer, _| wanted.contains_key(peer));
        let changed = self.peers.len() != before;
        // One transaction for every contact's keys: a node with a thousand contacts started in
        // 3 s, most of it a commit and its fsync per contact.
        db.batch(Durability::Full, |db| {
            self.add_and_rotate(db, identity, wanted, &meet_until, now_ms)
        })
        .map(|added| changed | added)
    }

    /// Keys for each of `wanted` not held yet, and those held moved to the period of `now_ms`;
    /// true if any changed.
    fn add_and_rotate(
        &mut self,
        db: &mut Database,
        identity: &Identity,
        wanted: Wanted,
        meet_until: &BTreeMap<Peer, u64>,
        now_ms: u64,
    ) -> Result<bool, StorageError> {
        let mut changed = false;
        for (peer, pending) in wanted {
            if self.peers.contains_key(&peer) {
                changed |= self.rotate(db, peer, now_ms)?;
                continue;
            }
            let Some((keys, role)) = self.new_keys(db, identity, peer, &pending, now_ms)? else {
                continue;
            };
            let windows = windows(db, peer, &self.transport, &keys)?;
            self.peers.insert(
                peer,
                PeerKeys {
                    keys,
                    windows,
                    role,
                    pending,
                    meet_until: meet_until.get(&peer).copied(),
                },
            );
            changed = true;
        }
        Ok(changed)
    }

    /// Rotates a known contact's keys into the period of `now_ms`; true if they rotated.
    fn rotate(&mut self, db: &mut Database, peer: Peer, now_ms: u64) -> Result<bool, StorageError> {
        let Some(existing) = self.peers.get_mut(&peer) else {
            return Ok(false);
        };
        // Keys on a class chain rotate with the class; a contact from before class chains has a
        // chain of this transport's own, rotating with its latency.
        let period = match existing.keys.on_chain_of() {
            Some(_) => period_at(now_ms, self.class_ms),
            None => period_at(now_ms, self.max_latency_ms),
        };
        let Peer::Contact(id) = peer else {
            return Ok(false);
        };
        if existing.keys.period() >= period {
            return Ok(false);
        }
        existing.keys.rotate_to(period);
        // Overwrites the stored secret: the dropped periods' keys are gone for good.
        db.save_transport_keys(id, &self.transport, self.max_latency_ms, &existing.keys)?;
        let oldest = existing.keys.incoming()[0].period;
        db.forget_stream_state_before(peer, &self.transport, oldest)?;
        existing.windows = windows(db, peer, &self.transport, &existing.keys)?;
        Ok(true)
    }

    /// The keys and role for a peer new to this keyring: a contact's from the database, a pending
    /// contact's from the handshake's static secret; `None` if it cannot be reached here.
    fn new_keys(
        &mut self,
        db: &mut Database,
        identity: &Identity,
        peer: Peer,
        pending: &PendingKey,
        now_ms: u64,
    ) -> Result<Option<(TransportKeys, Role)>, StorageError> {
        match (pending, peer) {
            (None, Peer::Contact(id)) => {
                match db.transport_keys(id, &self.transport, self.max_latency_ms, now_ms) {
                    Ok(keys) => {
                        let role = keys.role();
                        Ok(Some((keys, role)))
                    }
                    // Made before class chains and this transport: reachable on others only.
                    Err(e @ StorageError::NoKeysFor(_)) => {
                        if self.unreachable.insert(peer) {
                            tracing::warn!("{e}");
                        }
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            }
            (Some((_, their_public)), _) => {
                let Ok((secret, role)) = static_secret(identity.secrets().0, *their_public) else {
                    // A link with a degenerate key can never complete a handshake; skip it.
                    return Ok(None);
                };
                // Handshake keys never rotate: they are static anyway. Rendezvous tags do.
                let keys = TransportKeys::new(&secret, &self.transport, role, 0, 0);
                Ok(Some((keys, role)))
            }
            (None, Peer::Pending(_)) => unreachable!("pending peers carry their key"),
        }
    }

    /// Every peer known to this transport.
    pub fn peers(&self) -> impl Iterator<Item = Peer> + '_ {
        self.peers.keys().copied()
    }

    /// Our role with `peer` (Alice dials pending contacts; Bob waits, so one handshake runs, not two).
    pub fn role(&self, peer: Peer) -> Option<Role> {
        self.peers.get(&peer).map(|p| p.role)
    }

    /// For a pending contact: their alias and static public key.
    pub fn pending(&self, peer: Peer) -> Option<(&str, [u8; 32])> {
        self.peers
            .get(&peer)
            .and_then(|p| p.pending.as_ref())
            .map(|(alias, key)| (alias.as_str(), *key))
    }

    /// The keys to write a stream to `peer` with, and the period they belong to.
    pub fn outgoing(&self, peer: Peer) -> Option<&DirectionKeys> {
        self.peers.get(&peer).map(|p| p.keys.outgoing())
    }

    /// Looks `tag` up among every peer's expected tags; if found, marks it seen (stored, so a restart
    /// does not accept it again) and says whose it is.
    pub fn recognise(
        &mut self,
        db: &mut Database,
        tag: &[u8; TAG_LEN],
    ) -> Result<Option<Recognised>, StorageError> {
        let Some(found) = self.find(tag) else {
            return Ok(None);
        };
        self.mark(db, &found)?;
        Ok(Some(found))
    }

    /// Looks `tag` up as [`recognise`](Self::recognise) does, without marking it seen: for a simplex
    /// stream, [`mark`](Self::mark)ed once read to its end.
    pub fn find(&self, tag: &[u8; TAG_LEN]) -> Option<Recognised> {
        self.peers.iter().find_map(|(peer, keys)| {
            keys.windows
                .iter()
                .zip(keys.keys.incoming())
                .find_map(|(window, incoming)| {
                    window.peek(tag).map(|stream_number| Recognised {
                        peer: *peer,
                        stream_number,
                        keys: incoming.clone(),
                    })
                })
        })
    }

    /// Marks the stream `found` seen, stored so a restart does not accept it again.
    pub fn mark(&mut self, db: &mut Database, found: &Recognised) -> Result<(), StorageError> {
        let Some(keys) = self.peers.get_mut(&found.peer) else {
            return Ok(());
        };
        let Some(window) = keys
            .windows
            .iter_mut()
            .find(|w| w.period() == found.keys.period)
        else {
            return Ok(());
        };
        window.mark(found.stream_number);
        db.save_tag_window(
            found.peer,
            &self.transport,
            window.period(),
            (window.base(), window.seen()),
        )
    }

    /// The tags to announce at `now_ms`: one per peer, from our outgoing keys.
    pub fn announced_tags(&self, now_ms: u64) -> Vec<String> {
        let period = period_at(now_ms, self.max_latency_ms);
        self.peers
            .values()
            .map(|p| {
                let out = p.keys.outgoing();
                let at = if p.pending.is_some() {
                    period
                } else {
                    out.period
                };
                rendezvous_tag(&out.tag_key, at)
            })
            .collect()
    }

    /// The meeting points of our pending contacts at `now_ms` (for 48 hours after each was added),
    /// for a medium that meets by address:
    /// Bob (who waits) hosts it, Alice (who dials) looks for it; both make it from the tag key Bob
    /// writes under, and Alice reports it found under the tag Bob announces.
    pub fn meetings(&self, now_ms: u64) -> Vec<Meeting> {
        self.peers
            .keys()
            .filter_map(|peer| self.meeting(*peer, now_ms))
            .collect()
    }

    /// The meeting point of the pending contact `peer` at `now_ms`, with the time it is kept until.
    pub fn meeting(&self, peer: Peer, now_ms: u64) -> Option<Meeting> {
        let p = self.peers.get(&peer)?;
        p.meet_until.filter(|until| now_ms < *until)?;
        let host = p.role == Role::Bob;
        let theirs = &p.keys.incoming()[0].tag_key;
        let key = if host {
            &p.keys.outgoing().tag_key
        } else {
            theirs
        };
        Some(Meeting {
            secret: meeting_secret(key),
            host,
            their_tag: rendezvous_tag(theirs, period_at(now_ms, self.max_latency_ms)),
        })
    }

    /// When this keyring next changes by the clock alone, after `now_ms`: the next period of either
    /// chain its keys follow, or a pending contact's meeting point ending. Until then only a
    /// change of contacts changes it, so nothing need be recomputed while a node idles.
    pub fn next_change(&self, now_ms: u64) -> u64 {
        let next_period = |max_latency_ms: u64| {
            let length = rotation_period_ms(max_latency_ms);
            (now_ms / length + 1) * length
        };
        self.peers
            .values()
            .filter_map(|p| p.meet_until)
            .filter(|until| *until > now_ms)
            .chain([next_period(self.class_ms), next_period(self.max_latency_ms)])
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Whose announcement `tag` is, if it is one we look for at `now_ms`.
    pub fn peer_for_tag(&self, tag: &str, now_ms: u64) -> Option<Peer> {
        let period = period_at(now_ms, self.max_latency_ms);
        self.peers.iter().find_map(|(peer, p)| {
            let matches = if p.pending.is_some() {
                let key = &p.keys.incoming()[0].tag_key;
                (period.saturating_sub(1)..=period + 1).any(|at| rendezvous_tag(key, at) == tag)
            } else {
                p.keys
                    .incoming()
                    .iter()
                    .any(|k| rendezvous_tag(&k.tag_key, k.period) == tag)
            };
            matches.then_some(*peer)
        })
    }
}

/// A pending contact's alias and public key; `None` for a contact.
type PendingKey = Option<(String, [u8; 32])>;

/// Every peer the keyring should hold.
type Wanted = BTreeMap<Peer, PendingKey>;

/// Every peer the database knows, with a pending contact's alias and public key, and until when
/// each pending contact's meeting point is kept.
fn wanted_peers(db: &mut Database) -> Result<(Wanted, BTreeMap<Peer, u64>), StorageError> {
    let mut wanted = BTreeMap::new();
    for contact in db.contacts()? {
        wanted.insert(Peer::Contact(contact.id), None);
    }
    let mut meet_until = BTreeMap::new();
    for pending in db.pending_contacts()? {
        let peer = Peer::Pending(pending.id);
        meet_until.insert(peer, pending.added_ms.saturating_add(MEETING_LIFETIME_MS));
        wanted.insert(peer, Some((pending.alias, *pending.link.public_key())));
    }
    Ok((wanted, meet_until))
}

fn windows(
    db: &Database,
    peer: Peer,
    transport: &str,
    keys: &TransportKeys,
) -> Result<Vec<TagWindow>, StorageError> {
    keys.incoming()
        .iter()
        .map(|k| {
            let (base, seen) = db.tag_window(peer, transport, k.period)?;
            Ok(TagWindow::resume(k, base, seen))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use courier_storage::Passphrase;

    use super::*;

    const NOW: u64 = 1_700_000_000_000;
    const TOR_LATENCY: u64 = 60_000;

    /// A node's database with an identity, and its keyring for the `tor` transport.
    fn node(dir: &std::path::Path, name: &str) -> (Database, Identity) {
        let pass = Passphrase::new(format!("{name}'s passphrase")).unwrap();
        let mut db = Database::open(&dir.join(format!("{name}.db")), &pass).unwrap();
        let identity = Identity::generate(name);
        db.create_identity(&identity).unwrap();
        (db, identity)
    }

    #[test]
    fn a_pending_pair_makes_one_meeting_point_that_bob_hosts_and_alice_finds_for_two_days() {
        let dir = tempfile::tempdir().unwrap();
        let (mut a_db, a_id) = node(dir.path(), "a");
        let (mut b_db, b_id) = node(dir.path(), "b");
        a_db.add_pending_contact(&b_id.link(), "b", NOW).unwrap();
        b_db.add_pending_contact(&a_id.link(), "a", NOW).unwrap();
        let (mut a, mut b) = (
            Keyring::new("tor", TOR_LATENCY),
            Keyring::new("tor", TOR_LATENCY),
        );
        a.refresh(&mut a_db, &a_id, NOW).unwrap();
        b.refresh(&mut b_db, &b_id, NOW).unwrap();
        let (mine, theirs) = (a.meetings(NOW), b.meetings(NOW));
        assert_eq!((mine.len(), theirs.len()), (1, 1));
        let (m, t) = (&mine[0], &theirs[0]);
        assert_ne!(m.host, t.host, "one hosts, the other looks");
        assert_eq!(*m.secret, *t.secret, "the same meeting point on both sides");
        // Whoever looks reports the find under a tag its own keyring knows the other by.
        let (seeker, seeker_ring) = if m.host { (t, &b) } else { (m, &a) };
        let peer = seeker_ring.peer_for_tag(&seeker.their_tag, NOW).unwrap();
        assert!(matches!(peer, Peer::Pending(_)));
        // Another transport's meeting point is another one.
        let mut lan = Keyring::new("lan", TOR_LATENCY);
        lan.refresh(&mut a_db, &a_id, NOW).unwrap();
        assert_ne!(*lan.meetings(NOW)[0].secret, *m.secret);
        let two_days = NOW + MEETING_LIFETIME_MS;
        assert_eq!(a.meetings(two_days - 1).len(), 1);
        assert!(a.meetings(two_days).is_empty(), "given up after 48 hours");
    }

    #[test]
    fn what_a_node_announces_for_its_contacts_shares_nothing_from_one_rotation_period_to_the_next()
    {
        let dir = tempfile::tempdir().unwrap();
        // Alice has two contacts; bob, one of them, has her.
        let contact = |db: &mut Database, name: &str, root: u8, role: Role| {
            db.add_pending_contact(&Identity::generate(name).link(), name, NOW)
                .unwrap();
            let agreement = courier_proto::handshake::Agreement {
                root: courier_proto::transport_security::transport_keys::SecretKey::from_bytes(
                    [root; 32],
                ),
                role,
            };
            db.complete_handshake(name, &agreement, NOW).unwrap()
        };
        let (mut a_db, a_id) = node(dir.path(), "alice");
        let (mut b_db, b_id) = node(dir.path(), "bob");
        contact(&mut a_db, "bob", 1, Role::Alice);
        contact(&mut a_db, "carol", 2, Role::Alice);
        let alice = contact(&mut b_db, "alice", 1, Role::Bob);
        // Bluetooth's latency: its tags rotate every day and a minute.
        const BLUETOOTH_LATENCY: u64 = 60_000;
        let (mut a, mut b) = (
            Keyring::new("bluetooth", BLUETOOTH_LATENCY),
            Keyring::new("bluetooth", BLUETOOTH_LATENCY),
        );
        a.refresh(&mut a_db, &a_id, NOW).unwrap();
        b.refresh(&mut b_db, &b_id, NOW).unwrap();
        let heard_by_bob = |tags: &[String], b: &Keyring, now: u64| {
            tags.iter()
                .filter(|t| b.peer_for_tag(t, now) == Some(Peer::Contact(alice)))
                .count()
        };
        let this_period = a.announced_tags(NOW);
        assert_eq!(this_period.len(), 2, "one tag per contact");
        assert_eq!(
            a.announced_tags(NOW + 1),
            this_period,
            "steady within a period"
        );
        assert_eq!(heard_by_bob(&this_period, &b, NOW), 1);

        let next = a.next_change(NOW);
        assert!(next - NOW <= rotation_period_ms(BLUETOOTH_LATENCY));
        assert!(
            a.refresh(&mut a_db, &a_id, next).unwrap(),
            "the keys rotated"
        );
        b.refresh(&mut b_db, &b_id, next).unwrap();
        let next_period = a.announced_tags(next);
        assert_eq!(next_period.len(), 2);
        assert!(
            next_period.iter().all(|t| !this_period.contains(t)),
            "no tag stays"
        );
        assert_eq!(
            heard_by_bob(&next_period, &b, next),
            1,
            "bob still knows alice by hers"
        );
        // Nor any part a scanner could key on: each is a fresh HMAC output of the same length.
        for (old, new) in this_period.iter().zip(&next_period) {
            assert_eq!(old.len(), new.len());
            let same = old.chars().zip(new.chars()).filter(|(a, b)| a == b).count();
            assert!(same <= 3, "{same} of {} characters in place", old.len());
        }
    }

    #[test]
    fn the_keyring_next_changes_at_the_next_period_or_when_a_meeting_point_ends() {
        let dir = tempfile::tempdir().unwrap();
        let (mut a_db, a_id) = node(dir.path(), "a");
        let mut ring = Keyring::new("tor", TOR_LATENCY);
        ring.refresh(&mut a_db, &a_id, NOW).unwrap();
        let own = rotation_period_ms(TOR_LATENCY);
        let next_own = (NOW / own + 1) * own;
        let class = rotation_period_ms(latency_class(TOR_LATENCY).unwrap());
        let next_class = (NOW / class + 1) * class;
        assert_eq!(ring.next_change(NOW), next_own.min(next_class));
        assert!(ring.next_change(NOW) > NOW);

        // A pending contact added two days less a minute ago: its meeting point ends first.
        let (_, b_id) = node(dir.path(), "b");
        let added = NOW - MEETING_LIFETIME_MS + 60_000;
        a_db.add_pending_contact(&b_id.link(), "b", added).unwrap();
        ring.refresh(&mut a_db, &a_id, NOW).unwrap();
        assert_eq!(ring.next_change(NOW), NOW + 60_000);
        assert_eq!(ring.next_change(NOW + 60_000), next_own.min(next_class));
    }
}
