//! The periodic pass: what other processes wrote (a `courier send`, a `contacts add`), disappearing
//! messages and the key rotation that erases them, rotating tags and meeting points, plugin ticks,
//! and dials that are due.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use courier_plugin_host::bindings::transport_types::Event;
use courier_storage::ContactId;

use crate::{Node, NodeError, now_ms};
use courier_io::TransportIndex;

/// The shortest time between two rotations of the database key.
const ROTATE_EVERY: Duration = Duration::from_secs(60);

/// A rotation rewrites every page, so its cost follows the database (1.7 s at 10⁶ messages): the
/// next waits this many times as long as the last took, so that with messages disappearing all day
/// rotating costs at most 1% of a core however long the history grows.
const ROTATION_DUTY: u32 = 100;

/// When the database key may rotate again: at once the first time, then after a pause that grows
/// with how long the last rotation took.
#[derive(Debug, Default)]
pub(crate) struct RotationPacing {
    /// The earliest the next rotation may run; none before the first.
    next: Option<Instant>,
}

impl RotationPacing {
    /// Whether a rotation may run at `now`.
    fn allows(&self, now: Instant) -> bool {
        self.next.is_none_or(|at| now >= at)
    }

    /// Notes a rotation that ended at `now` and took `took`; how long until the next may run.
    fn rotated(&mut self, now: Instant, took: Duration) -> Duration {
        let pause = ROTATE_EVERY.max(took.saturating_mul(ROTATION_DUTY));
        self.next = Some(now + pause);
        pause
    }
}

impl Node {
    /// One pass; see the module's doc. Whether the database key rotated, which opened the database
    /// on a new connection.
    pub(crate) fn housekeeping(&mut self) -> Result<bool, NodeError> {
        let now = now_ms();
        // Disappearing messages go on time while the node runs, here and on the contact's side.
        self.db.sweep_expired(now)?;
        let rotated = self.erase_deleted()?;
        let version = self.db.data_version()?;
        // A rotation opens the database on a new connection, whose `data_version` counts from its
        // own start: a command's commit just before it would go unseen, and what it queued would
        // wait for the next session. So a rotation counts as a change from outside.
        let changed_outside = rotated || version != self.data_version;
        self.data_version = version;
        // Keys, tags and meeting points change with the contacts (another connection's commit, or a
        // handshake, which refreshes them itself) or with the clock: not every pass, which with a
        // thousand contacts kept a core busy.
        let meeting = self.transports.iter().any(|(_, t)| t.dialer.has_met());
        if changed_outside || meeting || now >= self.keys_due_at {
            self.refresh_all_keys(now)?;
        }
        if changed_outside {
            self.poll_links()?;
        }
        if std::mem::take(&mut self.told_addresses_stale) {
            self.remember_told_addresses()?;
        }
        self.close_unanswered(now);
        self.dial_found(now);
        self.run_deferred()?;
        Ok(rotated)
    }

    /// Rotates every transport's keys and tags; see [`Node::refresh_keys`].
    pub(crate) fn refresh_all_keys(&mut self, now: u64) -> Result<(), NodeError> {
        for index in self.transports.indices() {
            self.refresh_keys(index, now)?;
        }
        self.keys_due_at = self
            .transports
            .iter()
            .map(|(_, t)| t.keyring.next_change(now))
            .min()
            .unwrap_or(u64::MAX);
        Ok(())
    }

    /// Rotates transport `index`'s keys and tags as time and contacts change, and tells the drivers
    /// the tags to announce and the meeting points to keep.
    fn refresh_keys(&mut self, index: TransportIndex, now: u64) -> Result<(), NodeError> {
        let t = &mut self.transports[index];
        let tags_changed = t.keyring.refresh(&mut self.db, &self.identity, now)?;
        let mut met_changed = false;
        if t.dialer.has_met() {
            let told: HashSet<ContactId> = self
                .db
                .peer_properties(t.keyring.transport())?
                .into_iter()
                .map(|(contact, _)| contact)
                .collect();
            met_changed = t.dialer.forget_meetings(&told, now);
        }
        if tags_changed {
            let tags = t.keyring.announced_tags(now);
            self.routes.retag(index, &tags);
        }
        // Meeting points also end by the clock (48 hours after a contact was added).
        let meetings = self.meetings(index, now);
        let dialer = &mut self.transports[index].dialer;
        if tags_changed || met_changed || meetings.len() != dialer.meetings_told {
            dialer.meetings_told = meetings.len();
            self.routes.meet(index, &meetings);
        }
        Ok(())
    }

    /// Erases what was replaced or deleted, so that the copies of it left in freed disk blocks
    /// become noise: an old transport secret by re-sealing the secrets under a fresh key; anything
    /// else (a message that disappeared, a contact) by rotating the database key, as
    /// [`RotationPacing`] allows, since a rotation rewrites every page. Whether the key rotated.
    fn erase_deleted(&mut self) -> Result<bool, NodeError> {
        // Only a node whose connection follows rotations (`serve`'s) rotates: a command that runs a
        // node (a drive import) holds the key file like any command.
        if !self.db.follows_rotations() {
            return Ok(false);
        }
        // A transport secret stepped forward: the contacts' secrets re-sealed under a fresh key,
        // at once (it costs the contacts, not the history). A command or a request holding the
        // database makes it wait for the next round.
        if self.db.secrets_owed()?
            && let Some(resealed) = self.db.reseal_secrets()?
        {
            tracing::info!(
                secrets = resealed.secrets,
                ms = resealed.elapsed.as_millis() as u64,
                "re-sealed the transport secrets under a new key and destroyed the old one"
            );
        }
        if !self.rotation.allows(Instant::now()) || !self.db.erasure_owed()? {
            return Ok(false);
        }
        // A command or an API request has the database open: the next round tries again.
        let Some(rotated) = self.db.rotate_key()? else {
            return Ok(false);
        };
        let pause = self.rotation.rotated(Instant::now(), rotated.elapsed);
        tracing::info!(
            pages = rotated.pages,
            ms = rotated.elapsed.as_millis() as u64,
            next_in_s = pause.as_secs(),
            "re-encrypted the database under a new key and destroyed the old one"
        );
        Ok(true)
    }

    /// Offers newly queued messages on every live sync link whose peer keeps up.
    pub(crate) fn poll_links(&mut self) -> Result<(), NodeError> {
        for channel in self.slots.channels() {
            // A backlogged peer is offered more once it has drained (`DriverEvent::Drained`).
            if !self.routes.backlogged(channel) {
                self.step_link(channel, |link, cx| link.poll(cx));
            }
        }
        self.run_deferred()
    }

    /// Ticks every plugin whose wake-up time has come.
    pub(crate) fn tick_plugins(&mut self) {
        let now = now_ms();
        for index in self.transports.indices() {
            let t = &mut self.transports[index];
            if t.wake_at.is_some_and(|at| at <= now) {
                t.wake_at = None;
                self.plugin_event(index, Event::Tick(now));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn the_first_rotation_may_run_at_once() {
        assert!(RotationPacing::default().allows(Instant::now()));
    }

    #[test]
    fn after_a_quick_rotation_the_next_may_run_a_minute_later_and_not_before() {
        for took in [
            Duration::ZERO,
            Duration::from_millis(22),
            Duration::from_millis(600),
        ] {
            let (mut pacing, at) = (RotationPacing::default(), Instant::now());
            assert_eq!(pacing.rotated(at, took), ROTATE_EVERY, "{took:?}");
            assert!(!pacing.allows(at + ROTATE_EVERY - SECOND), "{took:?}");
            assert!(pacing.allows(at + ROTATE_EVERY), "{took:?}");
        }
    }

    #[test]
    fn after_a_slow_rotation_the_next_waits_a_hundred_times_as_long_so_rotating_stays_under_one_percent()
     {
        let (mut pacing, at) = (RotationPacing::default(), Instant::now());
        let pause = pacing.rotated(at, Duration::from_millis(1_700));
        assert_eq!(pause, 170 * SECOND);
        assert!(!pacing.allows(at + 169 * SECOND));
        assert!(pacing.allows(at + 170 * SECOND));
        for took in [1_000u64, 1_700, 2_600, 10_000, 60_000] {
            let took = Duration::from_millis(took);
            let pause = RotationPacing::default().rotated(at, took);
            let share = took.as_secs_f64() / (took + pause).as_secs_f64();
            assert!(share < 0.01, "{took:?} rotating {share:.4} of the time");
        }
    }
}
