//! Restart policy for a faulting plugin: back off exponentially, and disable after too many faults in a
//! window. Sans-IO: the caller passes the time in, so the policy is tested without sleeping.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use courier_config::limits::PluginLimits;

/// Where a plugin stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Running, or ready to be (re)started now.
    Up,
    /// Faulted; not restarted before `until`.
    BackingOff {
        /// Earliest restart.
        until: Instant,
    },
    /// Faulted too often; stays off until the host restarts.
    Disabled {
        /// The last fault, for the user.
        reason: String,
    },
}

/// Tracks one plugin's faults and decides when it may run again.
#[derive(Debug)]
pub struct Supervisor {
    backoff: Duration,
    max_backoff: Duration,
    max_failures: usize,
    window: Duration,
    recent: VecDeque<Instant>,
    health: Health,
}

/// What the supervisor decided after a fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Restart after this delay.
    RestartIn(Duration),
    /// Too many faults: disabled.
    Disable,
}

impl Supervisor {
    /// A supervisor with the restart policy from `limits`.
    pub fn new(limits: &PluginLimits) -> Self {
        Supervisor {
            backoff: limits.backoff(),
            max_backoff: limits.max_backoff(),
            max_failures: limits.max_failures as usize,
            window: limits.failure_window(),
            recent: VecDeque::new(),
            health: Health::Up,
        }
    }

    /// The current state.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Whether the plugin may be called (or restarted) at `now`.
    pub fn may_run(&self, now: Instant) -> bool {
        match &self.health {
            Health::Up => true,
            Health::BackingOff { until } => now >= *until,
            Health::Disabled { .. } => false,
        }
    }

    /// Records a fault at `now` and decides what happens next.
    pub fn record_fault(&mut self, now: Instant, reason: &str) -> Verdict {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.window)
        {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        if self.recent.len() >= self.max_failures {
            self.health = Health::Disabled {
                reason: reason.to_owned(),
            };
            return Verdict::Disable;
        }
        let doublings = u32::try_from(self.recent.len() - 1)
            .unwrap_or(u32::MAX)
            .min(20);
        let delay = self
            .backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        self.health = Health::BackingOff { until: now + delay };
        Verdict::RestartIn(delay)
    }

    /// Records that the plugin is running again.
    pub fn record_restart(&mut self) {
        if !matches!(self.health, Health::Disabled { .. }) {
            self.health = Health::Up;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> PluginLimits {
        PluginLimits {
            restart_backoff_ms: 100,
            max_backoff_ms: 350,
            max_failures: 4,
            failure_window_s: 60,
            ..PluginLimits::default()
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_then_the_plugin_is_disabled() {
        let mut s = Supervisor::new(&limits());
        let t0 = Instant::now();
        assert_eq!(
            s.record_fault(t0, "boom"),
            Verdict::RestartIn(Duration::from_millis(100))
        );
        assert!(!s.may_run(t0 + Duration::from_millis(99)));
        assert!(s.may_run(t0 + Duration::from_millis(100)));
        s.record_restart();
        assert_eq!(
            s.record_fault(t0, "boom"),
            Verdict::RestartIn(Duration::from_millis(200))
        );
        assert_eq!(
            s.record_fault(t0, "boom"),
            Verdict::RestartIn(Duration::from_millis(350))
        );
        assert_eq!(s.record_fault(t0, "last straw"), Verdict::Disable);
        assert_eq!(
            s.health(),
            &Health::Disabled {
                reason: "last straw".into()
            }
        );
        assert!(!s.may_run(t0 + Duration::from_secs(3600)));
    }

    #[test]
    fn faults_outside_the_window_are_forgiven() {
        let mut s = Supervisor::new(&limits());
        let t0 = Instant::now();
        for i in 0..10 {
            let verdict = s.record_fault(t0 + Duration::from_secs(61 * i), "rare");
            assert_eq!(
                verdict,
                Verdict::RestartIn(Duration::from_millis(100)),
                "fault {i}"
            );
            s.record_restart();
        }
    }
}
