//! What strangers may cost: descriptors and connections, counted, capped, and taken back first. The
//! TCP driver keeps one budget for the transports' connections and the local API another, so that
//! neither can starve the other.
//!
//! Every open connection holds a [`Slot`]; there are never more than [`Limits::channels`] of them, so
//! the process keeps descriptors for its database, plugins and listeners. An accepted connection is a
//! [`Stranger`] until the node vouches for it: strangers have a deadline to show a tag, a cap in total
//! and per source address, and when any cap is reached the *oldest* stranger is closed to make room.
//! Nobody can thus lock a contact out by holding connections open: a contact's new connection always
//! gets in, shows its tag at once, and from then on counts against nothing but the descriptor cap.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use crate::ChannelId;

/// How long an accepted connection may take to show a tag the node recognises.
pub const TAG_DEADLINE: Duration = Duration::from_secs(5);

/// Descriptors kept back from connections for everything else the process opens.
const RESERVED_DESCRIPTORS: u64 = 64;

/// Descriptors the local API may hold: its connections ([`Limits::for_api`]) and WebSockets.
pub const API_DESCRIPTORS: u64 = 96;

/// Connections the local API keeps open at once.
const API_CONNECTIONS: usize = 64;
/// Of those, connections that have not shown the token yet.
const API_STRANGERS: usize = 32;
/// How long an API connection may take to show the token.
pub const API_DEADLINE: Duration = Duration::from_secs(10);

/// The caps one driver enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open connections of every kind.
    pub channels: usize,
    /// Accepted connections not vouched for yet.
    pub strangers: usize,
    /// Strangers from one source address.
    pub per_source: usize,
    /// How long a stranger may stay one.
    pub deadline: Duration,
}

impl Limits {
    /// Caps for the transports' connections in a process allowed `descriptors` open files: an eighth
    /// (at least 64) kept back, and the local API's share; a quarter of the rest for strangers (at
    /// most 256), a quarter of those per source address.
    pub fn for_descriptors(descriptors: u64) -> Limits {
        let reserved = RESERVED_DESCRIPTORS.max(descriptors / 8) + API_DESCRIPTORS;
        let channels = usize::try_from(descriptors.saturating_sub(reserved))
            .unwrap_or(usize::MAX)
            .max(8);
        let strangers = (channels / 4).clamp(4, 256);
        Limits {
            channels,
            strangers,
            per_source: (strangers / 4).max(2),
            deadline: TAG_DEADLINE,
        }
    }
}

impl Limits {
    /// Caps for the local API: every client is on this machine, so one source may take every
    /// stranger's place; a client with the token is a stranger only until its first request.
    pub fn for_api() -> Limits {
        Limits {
            channels: API_CONNECTIONS,
            strangers: API_STRANGERS,
            per_source: API_STRANGERS,
            deadline: API_DEADLINE,
        }
    }
}

/// The soft limit on open files of this process (1024, the common default, if it cannot be read).
pub fn descriptor_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| soft_open_files(&limits))
        .unwrap_or(1024)
}

/// The soft "Max open files" of a `/proc/PID/limits` text.
fn soft_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

struct Entry {
    channel: ChannelId,
    source: IpAddr,
    evict: Arc<Notify>,
    vouch: Arc<Notify>,
}

#[derive(Default)]
struct State {
    open: usize,
    next_age: u64,
    /// Strangers, oldest first.
    strangers: BTreeMap<u64, Entry>,
    age_of: HashMap<ChannelId, u64>,
    per_source: HashMap<IpAddr, usize>,
}

impl State {
    fn remove(&mut self, age: u64) -> Option<Entry> {
        let entry = self.strangers.remove(&age)?;
        self.age_of.remove(&entry.channel);
        if let Some(count) = self.per_source.get_mut(&entry.source) {
            *count -= 1;
            if *count == 0 {
                self.per_source.remove(&entry.source);
            }
        }
        Some(entry)
    }

    /// Closes the oldest stranger (from `source`, if given); false if there is none.
    fn evict_oldest(&mut self, source: Option<IpAddr>) -> bool {
        let age = self
            .strangers
            .iter()
            .find(|(_, e)| source.is_none_or(|s| e.source == s))
            .map(|(age, _)| *age);
        match age.and_then(|age| self.remove(age)) {
            Some(entry) => {
                entry.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// The counts and caps shared by a driver's tasks.
pub struct Budget {
    limits: Limits,
    state: Mutex<State>,
}

impl Budget {
    /// A budget with nothing open.
    pub fn new(limits: Limits) -> Self {
        Budget {
            limits,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent at every unlock, so a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a connection we open; `None` if every slot is held and no stranger can give one up.
    pub fn open_outgoing(self: &Arc<Self>) -> Option<Slot> {
        let mut state = self.state();
        if state.open >= self.limits.channels && !state.evict_oldest(None) {
            return None;
        }
        state.open += 1;
        Some(Slot {
            budget: self.clone(),
        })
    }

    /// Admits an accepted connection from `source` as a stranger, closing the oldest strangers that
    /// stand in its way; `None` if every slot is held by vouched-for connections.
    pub fn admit(self: &Arc<Self>, channel: ChannelId, source: IpAddr) -> Option<Stranger> {
        let mut state = self.state();
        if state.open >= self.limits.channels && !state.evict_oldest(None) {
            return None;
        }
        if state.per_source.get(&source).copied().unwrap_or(0) >= self.limits.per_source {
            state.evict_oldest(Some(source));
        }
        if state.strangers.len() >= self.limits.strangers {
            state.evict_oldest(None);
        }
        let (evict, vouch) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let age = state.next_age;
        state.next_age += 1;
        state.strangers.insert(
            age,
            Entry {
                channel,
                source,
                evict: evict.clone(),
                vouch: vouch.clone(),
            },
        );
        state.age_of.insert(channel, age);
        *state.per_source.entry(source).or_default() += 1;
        state.open += 1;
        Some(Stranger {
            channel,
            evict,
            vouch,
            deadline: self.limits.deadline,
            slot: Some(Slot {
                budget: self.clone(),
            }),
        })
    }

    /// `channel` is no stranger any more; its task hears of it.
    pub fn vouch(&self, channel: ChannelId) {
        let mut state = self.state();
        if let Some(age) = state.age_of.get(&channel).copied()
            && let Some(entry) = state.remove(age)
        {
            entry.vouch.notify_one();
        }
    }

    fn forget(&self, channel: ChannelId) {
        let mut state = self.state();
        if let Some(age) = state.age_of.get(&channel).copied() {
            state.remove(age);
        }
    }

    #[cfg(test)]
    fn strangers(&self) -> usize {
        self.state().strangers.len()
    }

    #[cfg(test)]
    fn open(&self) -> usize {
        self.state().open
    }
}

/// One open connection's share of the budget, given back when dropped.
pub struct Slot {
    budget: Arc<Budget>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.budget.state().open -= 1;
    }
}

/// An accepted connection nobody vouched for yet.
pub struct Stranger {
    channel: ChannelId,
    evict: Arc<Notify>,
    vouch: Arc<Notify>,
    deadline: Duration,
    /// Always `Some` until [`into_slot`](Self::into_slot) takes it.
    slot: Option<Slot>,
}

impl Stranger {
    /// How long it may stay a stranger.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Resolves when the node vouches for it.
    pub async fn vouched(&self) {
        self.vouch.notified().await;
    }

    /// Resolves when the budget closes it to make room.
    pub async fn evicted(&self) {
        self.evict.notified().await;
    }

    /// It is vouched for: keep only its slot.
    pub fn into_slot(mut self) -> Slot {
        let slot = self.slot.take().expect("a stranger holds its slot");
        slot.budget.forget(self.channel);
        slot
    }
}

impl Drop for Stranger {
    fn drop(&mut self) {
        if let Some(slot) = &self.slot {
            slot.budget.forget(self.channel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            channels: 10,
            strangers: 4,
            per_source: 2,
            deadline: TAG_DEADLINE,
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    fn was_evicted(stranger: &Stranger) -> bool {
        // A stored permit makes `notified` resolve at once.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_millis(1), stranger.evicted())
                .await
                .is_ok()
        })
    }

    #[test]
    fn limits_follow_the_descriptor_limit() {
        let l = Limits::for_descriptors(1024);
        assert_eq!((l.channels, l.strangers, l.per_source), (800, 200, 50));
        let small = Limits::for_descriptors(200);
        assert_eq!(
            (small.channels, small.strangers, small.per_source),
            (40, 10, 2)
        );
        let api = Limits::for_api();
        assert!(
            (api.channels as u64) < API_DESCRIPTORS,
            "the API's sockets fit its share"
        );
        assert_eq!(Limits::for_descriptors(0).channels, 8);
        assert_eq!(Limits::for_descriptors(1 << 20).strangers, 256);
    }

    #[test]
    fn the_soft_open_files_limit_is_read_from_proc() {
        let text = "Limit                     Soft Limit           Hard Limit           Units\n\
                    Max cpu time              unlimited            unlimited            seconds\n\
                    Max open files            1024                 524288               files\n";
        assert_eq!(soft_open_files(text), Some(1024));
        assert_eq!(soft_open_files("Max processes 5 5 processes"), None);
        assert!(descriptor_limit() > 0);
    }

    #[test]
    fn one_source_cannot_hold_more_than_its_share_the_oldest_goes() {
        let budget = Arc::new(Budget::new(limits()));
        let first = budget.admit(1, ip(1)).unwrap();
        let second = budget.admit(2, ip(1)).unwrap();
        let third = budget.admit(3, ip(1)).unwrap();
        assert!(was_evicted(&first), "the oldest from that source made room");
        assert!(!was_evicted(&second) && !was_evicted(&third));
        let other = budget.admit(4, ip(2)).unwrap();
        assert!(!was_evicted(&other));
        assert_eq!(budget.strangers(), 3);
        assert_eq!(
            budget.open(),
            4,
            "the evicted one holds its slot until its task ends"
        );
        drop(first);
        assert_eq!(budget.open(), 3);
    }

    #[test]
    fn strangers_in_total_are_capped_and_the_oldest_goes_first() {
        let budget = Arc::new(Budget::new(limits()));
        let held: Vec<Stranger> = (1..=4)
            .map(|i| budget.admit(i, ip(i as u8)).unwrap())
            .collect();
        let newcomer = budget.admit(5, ip(5)).unwrap();
        assert!(was_evicted(&held[0]));
        assert!(held[1..].iter().all(|s| !was_evicted(s)));
        assert!(!was_evicted(&newcomer));
        assert_eq!(budget.strangers(), 4);
    }

    #[test]
    fn a_vouched_connection_is_never_evicted_and_leaves_the_stranger_count() {
        let budget = Arc::new(Budget::new(limits()));
        let contact = budget.admit(1, ip(1)).unwrap();
        budget.vouch(1);
        let contact = contact.into_slot();
        let strangers: Vec<Stranger> = (2..=9).map(|i| budget.admit(i, ip(1)).unwrap()).collect();
        assert_eq!(
            budget.strangers(),
            2,
            "per-source cap, oldest strangers closed"
        );
        assert_eq!(budget.open(), 9);
        drop(strangers);
        assert_eq!(budget.open(), 1, "only the contact's slot is left");
        drop(contact);
        assert_eq!(budget.open(), 0);
    }

    #[test]
    fn when_every_slot_is_held_a_stranger_makes_room_and_contacts_never_do() {
        let budget = Arc::new(Budget::new(Limits {
            channels: 3,
            ..limits()
        }));
        let a = budget.open_outgoing().unwrap();
        let b = budget.open_outgoing().unwrap();
        let stranger = budget.admit(3, ip(1)).unwrap();
        let dial = budget
            .open_outgoing()
            .expect("the stranger gives up its place");
        assert!(was_evicted(&stranger));
        drop(stranger);
        assert!(
            budget.open_outgoing().is_none(),
            "three contacts hold every slot"
        );
        assert!(budget.admit(4, ip(2)).is_none());
        drop((a, b, dial));
        assert_eq!(budget.open(), 0);
    }
}
