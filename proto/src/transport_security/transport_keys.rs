//! Per-contact, per-transport keys and their rotation.
//!
//! Time is cut into rotation periods of (max latency + 24 h max clock difference). The keys of period
//! p+1 are a one-way function of those of period p, so deleting old keys gives forward secrecy:
//! whoever seizes the device later cannot recover them to read recorded streams.
//!
//! A contact made now gets one forward-only chain per latency class ([`LATENCY_CLASSES_MS`]) at the
//! handshake, before its root secret is dropped; each transport derives its keys of period p from
//! step p of its class's chain ([`TransportKeys::on_chain`]). So a transport configured later (a drive,
//! Tor) reaches contacts made before it, and forward secrecy per period holds as before. Contacts made
//! before chains existed keep one chain per transport they had ([`TransportKeys::new`]).

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Largest clock difference between two contacts that keys tolerate.
pub const MAX_CLOCK_DIFFERENCE_MS: u64 = 24 * 60 * 60 * 1000;

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// The latency classes keys rotate by, shortest first: a day (LAN, Tor, Bluetooth), two weeks (a
/// mailbox), four weeks (a removable drive). Every transport of a class shares its chain.
pub const LATENCY_CLASSES_MS: [u64; 3] = [DAY_MS, 14 * DAY_MS, 28 * DAY_MS];

/// The class whose chain a transport with `max_latency_ms` derives its keys from: the shortest at
/// least that long. `None` for a latency longer than every class: no key period could outlast it.
pub fn latency_class(max_latency_ms: u64) -> Option<u64> {
    LATENCY_CLASSES_MS
        .into_iter()
        .find(|class| *class >= max_latency_ms)
}

/// Step `start` of a contact's chain for `class_ms`, from the root secret their handshake agreed.
pub fn chain_start(root: &SecretKey, class_ms: u64) -> SecretKey {
    root.derive("chain", &class_ms.to_be_bytes())
}

/// The length of a rotation period for a transport with `max_latency_ms`.
pub fn rotation_period_ms(max_latency_ms: u64) -> u64 {
    max_latency_ms.saturating_add(MAX_CLOCK_DIFFERENCE_MS)
}

/// The rotation period `now_ms` falls in.
pub fn period_at(now_ms: u64, max_latency_ms: u64) -> u64 {
    now_ms / rotation_period_ms(max_latency_ms)
}

/// A 32-byte secret, wiped from memory when dropped and never printed.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SecretKey(bytes)
    }

    /// The raw bytes, for the crypto that needs them.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    fn derive(&self, label: &str, context: &[u8]) -> SecretKey {
        let hk =
            Hkdf::<Sha256>::from_prk(&self.0).expect("32 bytes is a valid PRK length for SHA-256");
        let mut out = [0u8; 32];
        let info = [b"courier/v1/".as_slice(), label.as_bytes(), b"/", context].concat();
        hk.expand(&info, &mut out)
            .expect("32 bytes is a valid HKDF output length");
        SecretKey(out)
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// The two keys of one direction in one period: one for tags, one for stream headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectionKeys {
    /// Period these keys belong to.
    pub period: u64,
    /// Key of the pseudo-random tag function.
    pub tag_key: SecretKey,
    /// Key sealing stream headers.
    pub header_key: SecretKey,
}

/// Which side of a contact relationship we are; decides which derived keys are outgoing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The party whose public key sorts first.
    Alice,
    /// The other party.
    Bob,
}

impl Role {
    fn outgoing_label(self) -> &'static str {
        match self {
            Role::Alice => "alice",
            Role::Bob => "bob",
        }
    }

    fn incoming_label(self) -> &'static str {
        match self {
            Role::Alice => "bob",
            Role::Bob => "alice",
        }
    }
}

/// The root secret of one contact on one transport in one period, from which both directions derive.
#[derive(Debug, Clone)]
struct PeriodSecret {
    period: u64,
    secret: SecretKey,
}

impl PeriodSecret {
    /// The next period's secret; one-way, so holding it reveals nothing about this one.
    fn next(&self) -> PeriodSecret {
        PeriodSecret {
            period: self.period + 1,
            secret: self
                .secret
                .derive("rotate", &(self.period + 1).to_be_bytes()),
        }
    }

    fn direction(&self, who: &str) -> DirectionKeys {
        DirectionKeys {
            period: self.period,
            tag_key: self.secret.derive("tag", who.as_bytes()),
            header_key: self.secret.derive("header", who.as_bytes()),
        }
    }
}

/// One contact's keys on one transport: outgoing for the current period, incoming for the previous,
/// current and next period (clocks differ), and nothing older.
#[derive(Debug, Clone)]
pub struct TransportKeys {
    role: Role,
    /// For keys on a class chain, the transport whose keys each step gives; `None` for a chain of
    /// this transport's own (contacts made before class chains).
    on_chain_of: Option<String>,
    /// The secret of the current period; every later key derives from it, no earlier one can.
    current: PeriodSecret,
    /// The secret of the oldest period whose incoming keys are held (the current one's predecessor).
    oldest: PeriodSecret,
    /// Incoming keys, oldest first.
    incoming: Vec<DirectionKeys>,
    outgoing: DirectionKeys,
}

impl TransportKeys {
    /// Keys for a new contact: `root` is the secret the handshake agreed, valid from period `start`;
    /// they are moved forward to `period` at once.
    pub fn new(root: &SecretKey, transport_id: &str, role: Role, start: u64, period: u64) -> Self {
        TransportKeys::from_period_secret(
            root.derive("transport", transport_id.as_bytes()),
            start,
            role,
            period,
        )
    }

    /// Keys restored from the secret of period `secret_period` (as [`oldest_secret`](Self::oldest_secret)
    /// gave it), moved forward to `period`.
    pub fn from_period_secret(
        secret: SecretKey,
        secret_period: u64,
        role: Role,
        period: u64,
    ) -> Self {
        TransportKeys::restore(None, secret, secret_period, role, period)
    }

    /// Keys of `transport_id` derived from a class chain whose step `step_period` is `step` (from
    /// [`chain_start`], or as [`oldest_secret`](Self::oldest_secret) gave it), moved forward to
    /// `period` (of the class's rotation periods).
    pub fn on_chain(
        step: SecretKey,
        step_period: u64,
        transport_id: &str,
        role: Role,
        period: u64,
    ) -> Self {
        TransportKeys::restore(
            Some(transport_id.to_owned()),
            step,
            step_period,
            role,
            period,
        )
    }

    fn restore(
        on_chain_of: Option<String>,
        secret: SecretKey,
        secret_period: u64,
        role: Role,
        period: u64,
    ) -> Self {
        let mut current = PeriodSecret {
            period: secret_period,
            secret,
        };
        while current.period + 1 < period {
            current = current.next();
        }
        let oldest = current.clone();
        let keys = |step: &PeriodSecret, who| direction(on_chain_of.as_deref(), step, who);
        let mut incoming = vec![keys(&current, role.incoming_label())];
        if current.period < period {
            current = current.next();
            incoming.push(keys(&current, role.incoming_label()));
        }
        incoming.push(keys(&current.next(), role.incoming_label()));
        TransportKeys {
            role,
            outgoing: keys(&current, role.outgoing_label()),
            on_chain_of,
            current,
            oldest,
            incoming,
        }
    }

    /// The transport these keys are for when they derive from a class chain (and
    /// [`oldest_secret`](Self::oldest_secret) is then the chain's step, shared by its class).
    pub fn on_chain_of(&self) -> Option<&str> {
        self.on_chain_of.as_deref()
    }

    /// The secret of the oldest period still held, and that period. Storing it in place of what was
    /// stored before is enough to restore these keys, and nothing older can be derived from it: this
    /// is what makes deleting old keys give forward secrecy.
    pub fn oldest_secret(&self) -> (u64, &SecretKey) {
        (self.oldest.period, &self.oldest.secret)
    }

    /// The outgoing keys for the current period.
    pub fn outgoing(&self) -> &DirectionKeys {
        &self.outgoing
    }

    /// The incoming keys held, oldest first.
    pub fn incoming(&self) -> &[DirectionKeys] {
        &self.incoming
    }

    /// Our role in the derivation.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The current period.
    pub fn period(&self) -> u64 {
        self.current.period
    }

    /// Moves to `period`: derives the keys that are new, and drops every incoming key older than
    /// `period - 1`. Returns the periods whose incoming keys were dropped. Never moves backwards.
    pub fn rotate_to(&mut self, period: u64) -> Vec<u64> {
        if period <= self.current.period {
            return Vec::new();
        }
        while self.current.period < period {
            let next = self.current.next();
            self.oldest = std::mem::replace(&mut self.current, next);
            self.incoming.push(direction(
                self.on_chain_of.as_deref(),
                &self.current.next(),
                self.role.incoming_label(),
            ));
        }
        self.outgoing = direction(
            self.on_chain_of.as_deref(),
            &self.current,
            self.role.outgoing_label(),
        );
        let oldest_kept = period - 1;
        let dropped: Vec<u64> = self
            .incoming
            .iter()
            .map(|k| k.period)
            .filter(|p| *p < oldest_kept)
            .collect();
        self.incoming.retain(|k| k.period >= oldest_kept);
        dropped
    }
}

/// The keys of one direction in `step`'s period: from the step itself (a transport's own chain) or
/// from what it gives `transport` (a class chain).
fn direction(transport: Option<&str>, step: &PeriodSecret, who: &str) -> DirectionKeys {
    match transport {
        None => step.direction(who),
        Some(transport) => PeriodSecret {
            period: step.period,
            secret: step.secret.derive("transport", transport.as_bytes()),
        }
        .direction(who),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> SecretKey {
        SecretKey::from_bytes([7; 32])
    }

    #[test]
    fn each_side_receives_with_the_keys_the_other_sends_with() {
        let alice = TransportKeys::new(&root(), "lan", Role::Alice, 100, 100);
        let bob = TransportKeys::new(&root(), "lan", Role::Bob, 100, 100);
        let bob_current = bob.incoming().iter().find(|k| k.period == 100).unwrap();
        assert_eq!(alice.outgoing(), bob_current);
        assert_ne!(
            alice.outgoing().tag_key,
            bob.outgoing().tag_key,
            "directions never share keys"
        );
        let other_transport = TransportKeys::new(&root(), "tor", Role::Alice, 100, 100);
        assert_ne!(
            alice.outgoing().tag_key,
            other_transport.outgoing().tag_key,
            "transports never share keys"
        );
    }

    #[test]
    fn incoming_keys_cover_previous_current_and_next_period_only() {
        let mut keys = TransportKeys::new(&root(), "lan", Role::Alice, 10, 12);
        let periods = |k: &TransportKeys| k.incoming().iter().map(|k| k.period).collect::<Vec<_>>();
        assert_eq!(periods(&keys), vec![11, 12, 13]);
        let dropped = keys.rotate_to(15);
        assert_eq!(dropped, vec![11, 12, 13]);
        assert_eq!(periods(&keys), vec![14, 15, 16]);
        assert_eq!(keys.period(), 15);
        assert_eq!(
            keys.rotate_to(15),
            Vec::<u64>::new(),
            "rotating to the same period changes nothing"
        );
    }

    #[test]
    fn rotating_step_by_step_or_at_once_gives_the_same_keys() {
        let mut stepwise = TransportKeys::new(&root(), "lan", Role::Bob, 0, 0);
        for p in 1..=30 {
            stepwise.rotate_to(p);
        }
        let at_once = TransportKeys::new(&root(), "lan", Role::Bob, 0, 30);
        assert_eq!(stepwise.outgoing(), at_once.outgoing());
        assert_eq!(stepwise.incoming(), at_once.incoming());
    }

    #[test]
    fn keys_restored_from_the_oldest_secret_are_the_same_keys() {
        let mut keys = TransportKeys::new(&root(), "lan", Role::Alice, 10, 12);
        for period in [12, 13, 17] {
            keys.rotate_to(period);
            let (at, secret) = keys.oldest_secret();
            assert_eq!(at, period - 1);
            let restored =
                TransportKeys::from_period_secret(secret.clone(), at, Role::Alice, period);
            assert_eq!(restored.outgoing(), keys.outgoing());
            assert_eq!(restored.incoming(), keys.incoming());
        }
        let fresh = TransportKeys::new(&root(), "lan", Role::Bob, 5, 5);
        assert_eq!(fresh.oldest_secret().0, 5);
    }

    #[test]
    fn periods_follow_the_transport_latency() {
        let day = MAX_CLOCK_DIFFERENCE_MS;
        assert_eq!(rotation_period_ms(30_000), day + 30_000);
        assert_eq!(period_at(0, 30_000), 0);
        assert_eq!(period_at(day + 30_000, 30_000), 1);
        assert_eq!(
            rotation_period_ms(30_000),
            86_430_000,
            "a LAN transport rotates every 24 h 30 s"
        );
        // A removable drive (28-day latency) rotates about monthly.
        assert_eq!(rotation_period_ms(28 * day), 29 * day);
    }

    #[test]
    fn keys_per_period_are_pinned_to_known_bytes() {
        // Computed independently by proto/vectors/known_answers.py (HKDF-SHA256 expand with info
        // "courier/v1/<label>/<context>"): transport secret = derive(root, "transport", "lan"), period
        // p + 1 = derive(p, "rotate", p + 1 as 8 big-endian bytes), direction keys = derive(p, "tag" or
        // "header", "alice" or "bob").
        let hex_of = |k: &SecretKey| hex::encode(k.expose());
        let mut alice = TransportKeys::new(&root(), "lan", Role::Alice, 10, 10);
        assert_eq!(
            hex_of(&alice.outgoing().tag_key),
            "f6545194d6945cef6a2c6091846cba6cb9ca0fd348fc8d298fad68a3e9139edc"
        );
        assert_eq!(
            hex_of(&alice.outgoing().header_key),
            "8945316adf8cc426cc4a2e478e035a712349f0291a53c79ba6212f959ab64335"
        );
        alice.rotate_to(12);
        assert_eq!(
            hex_of(&alice.outgoing().tag_key),
            "b78376b60a211ec84526e133ca88f8c6c4f0a16439b4cb3fb1c0e41fed6c5377"
        );
        assert_eq!(
            hex_of(&alice.outgoing().header_key),
            "101e852b7a9f2b4026f855126a859bded3b1e022a20d9d617e60d7a0d96f5ec4"
        );
        let (period, secret) = alice.oldest_secret();
        assert_eq!(
            (period, hex_of(secret).as_str()),
            (
                11,
                "210bc0585a2444f0cfe47e533f3118d8ca74c2b2821d4353f4b6824f97e89aaa"
            )
        );
        let bob = TransportKeys::new(&root(), "lan", Role::Bob, 10, 12);
        let [previous, current, next] = bob.incoming() else {
            panic!("three incoming periods")
        };
        assert_eq!((previous.period, current.period, next.period), (11, 12, 13));
        assert_eq!(current, alice.outgoing());
        assert_eq!(
            hex_of(&next.tag_key),
            "5611ef592301847087761c02fd60871f531a9a7053103ed9200abecb7111b7d0"
        );
        assert_eq!(
            hex_of(&next.header_key),
            "7140951f1c1d432ec864cd2255f32c1d97b28fe7e1bb775d53a9ce857f54098a"
        );
        assert_eq!(
            hex_of(&bob.outgoing().tag_key),
            "bc69e979ede041568752faf9ebe28a33c60671cd18e3b4056a26e74115dfc4f5"
        );
    }

    /// The four-week class, for a drive.
    const FOUR_WEEKS: u64 = 28 * DAY_MS;

    fn drive_keys(role: Role, start: u64, period: u64) -> TransportKeys {
        TransportKeys::on_chain(
            chain_start(&root(), FOUR_WEEKS),
            start,
            "drive",
            role,
            period,
        )
    }

    #[test]
    fn each_latency_takes_the_shortest_class_that_outlasts_it() {
        assert_eq!(latency_class(30_000), Some(DAY_MS), "a LAN");
        assert_eq!(latency_class(DAY_MS), Some(DAY_MS));
        assert_eq!(
            latency_class(DAY_MS + 1),
            Some(14 * DAY_MS),
            "unknown: the next longer"
        );
        assert_eq!(latency_class(14 * DAY_MS), Some(14 * DAY_MS), "a mailbox");
        assert_eq!(latency_class(FOUR_WEEKS), Some(FOUR_WEEKS), "a drive");
        assert_eq!(
            latency_class(FOUR_WEEKS + 1),
            None,
            "no key period outlasts it"
        );
    }

    #[test]
    fn a_transport_configured_later_meets_its_contact_on_the_chain_both_kept() {
        // Alice and bob met at period 10 and each kept only the chain's step; alice's node ran on
        // (her stored step is 13), bob's did not (his is still 10). At period 15 both add a drive.
        let mut alice_chain = drive_keys(Role::Alice, 10, 10);
        alice_chain.rotate_to(14);
        let (step_period, step) = alice_chain.oldest_secret();
        assert_eq!(step_period, 13);
        let alice = TransportKeys::on_chain(step.clone(), step_period, "drive", Role::Alice, 15);
        let bob =
            TransportKeys::on_chain(chain_start(&root(), FOUR_WEEKS), 10, "drive", Role::Bob, 15);
        assert_eq!(alice.period(), 15);
        assert!(bob.incoming().contains(alice.outgoing()));
        assert!(alice.incoming().contains(bob.outgoing()));
        // Another transport of the class shares the chain, never the keys.
        let mailbox =
            TransportKeys::on_chain(step.clone(), step_period, "mailbox", Role::Alice, 15);
        assert_ne!(mailbox.outgoing(), alice.outgoing());
        assert_eq!(
            mailbox.oldest_secret(),
            alice.oldest_secret(),
            "one step per class"
        );
        // A transport's own chain (a contact made before class chains) gives other keys.
        let own = TransportKeys::new(&root(), "drive", Role::Alice, 10, 15);
        assert_ne!(own.outgoing(), alice.outgoing());
        assert_eq!(own.on_chain_of(), None);
        assert_eq!(alice.on_chain_of(), Some("drive"));
    }

    #[test]
    fn keys_on_a_chain_rotate_and_restore_like_a_transports_own() {
        let mut stepwise = drive_keys(Role::Bob, 3, 3);
        for period in 4..=9 {
            stepwise.rotate_to(period);
            let (at, step) = stepwise.oldest_secret();
            assert_eq!(at, period - 1);
            let restored = TransportKeys::on_chain(step.clone(), at, "drive", Role::Bob, period);
            assert_eq!(restored.outgoing(), stepwise.outgoing());
            assert_eq!(restored.incoming(), stepwise.incoming());
        }
        let at_once = drive_keys(Role::Bob, 3, 9);
        assert_eq!(at_once.outgoing(), stepwise.outgoing());
        assert_eq!(at_once.incoming(), stepwise.incoming());
    }

    #[test]
    fn keys_on_a_chain_are_pinned_to_known_bytes() {
        // proto/vectors/known_answers.py: step 10 = derive(root, "chain", class ms as 8 big-endian
        // bytes), step p + 1 = derive(p, "rotate", p + 1), a transport's period secret =
        // derive(step, "transport", id), direction keys as for a transport's own chain.
        let hex_of = |k: &SecretKey| hex::encode(k.expose());
        let alice = drive_keys(Role::Alice, 10, 12);
        assert_eq!(
            hex_of(&alice.outgoing().tag_key),
            "774114673e9f6b3cd395a3169c1c389c21a683d9dd785442a1b7eadddf4759ad"
        );
        assert_eq!(
            hex_of(&alice.outgoing().header_key),
            "d01839c767ac257c0bfca9f8f0a80b4698cc7c8072237c84745c46c083bc2a2d"
        );
        let next = alice.incoming().iter().find(|k| k.period == 13).unwrap();
        assert_eq!(
            hex_of(&next.tag_key),
            "dbb781bd14e8a0903a1078d3bc1935afa0cd3b332eebec0007da243c8af4bb5a"
        );
        let (period, step) = alice.oldest_secret();
        assert_eq!(
            (period, hex_of(step).as_str()),
            (
                11,
                "816f022aef54e78f51fceedc00f01c88e1886ed440cfb53a25ff0a9ff54f27a0"
            )
        );
        let mailbox = TransportKeys::on_chain(
            chain_start(&root(), FOUR_WEEKS),
            10,
            "mailbox",
            Role::Alice,
            12,
        );
        assert_eq!(
            hex_of(&mailbox.outgoing().tag_key),
            "1deb673fb6b4b56b0b4153e71432565cc9da4eab4bf3e6a5742ce331f3f5d8e9"
        );
    }

    #[test]
    fn keys_never_print() {
        assert_eq!(format!("{:?}", root()), "SecretKey(<redacted>)");
        let keys = TransportKeys::new(&root(), "lan", Role::Alice, 1, 1);
        let printed = format!("{keys:?}");
        let secrets = [
            &keys.outgoing().tag_key,
            &keys.outgoing().header_key,
            keys.oldest_secret().1,
        ];
        for secret in secrets {
            assert!(
                !printed.contains(&hex::encode(secret.expose())),
                "{printed}"
            );
            assert!(
                !printed.contains(&format!("{:?}", secret.expose())),
                "{printed}"
            );
        }
        assert!(printed.contains("SecretKey(<redacted>)"));
    }
}
