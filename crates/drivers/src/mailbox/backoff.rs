//! Polling a mailbox that does not answer less and less often: after each failed poll its next
//! try waits twice as long (1 s, 2 s, 4 s … up to 5 minutes), and the first answer resets it. Until
//! then the mailbox counts as unreachable without a request, so the node writes nothing for it and
//! a laptop whose mailbox is off for days does not knock on it every few seconds.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The wait after the first failure.
const FIRST: Duration = Duration::from_secs(1);
/// The longest wait between two tries.
pub const LONGEST: Duration = Duration::from_secs(300);

/// When each mailbox that failed may be tried again, by address.
#[derive(Debug, Default)]
pub struct Backoff {
    failing: HashMap<String, (Instant, Duration)>,
}

impl Backoff {
    /// Whether the mailbox at `address` may be asked at `now`.
    pub fn due(&self, address: &str, now: Instant) -> bool {
        self.failing
            .get(address)
            .is_none_or(|(next, _)| now >= *next)
    }

    /// The mailbox at `address` did not answer at `now`: its next try waits twice as long as the
    /// last.
    pub fn failed(&mut self, address: &str, now: Instant) {
        let wait = self
            .failing
            .get(address)
            .map_or(FIRST, |(_, wait)| (*wait * 2).min(LONGEST));
        self.failing.insert(address.to_owned(), (now + wait, wait));
    }

    /// The mailbox at `address` answered: it is asked at every poll again.
    pub fn answered(&mut self, address: &str) {
        self.failing.remove(address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_doubles_the_wait_up_to_five_minutes_and_an_answer_resets_it() {
        let start = Instant::now();
        let mut backoff = Backoff::default();
        assert!(backoff.due("a:1", start), "a mailbox never failed is due");
        let mut now = start;
        let mut waits = Vec::new();
        for _ in 0..12 {
            backoff.failed("a:1", now);
            let mut wait = Duration::ZERO;
            while !backoff.due("a:1", now + wait) {
                wait += Duration::from_millis(500);
            }
            waits.push(wait.as_secs());
            now += wait;
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert!(
            backoff.due("b:2", start),
            "another mailbox is not held back"
        );
        backoff.answered("a:1");
        assert!(backoff.due("a:1", now), "answered: due again at once");
        backoff.failed("a:1", now);
        assert!(!backoff.due("a:1", now));
        assert!(
            backoff.due("a:1", now + FIRST),
            "and back to the first wait"
        );
    }
}
