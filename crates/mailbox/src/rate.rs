//! The upload rate limit: each token may upload `per_minute` files in any minute, as a bucket that
//! holds that many and refills evenly.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// One bucket per key (a role).
#[derive(Debug)]
pub struct RateLimit<K> {
    per_minute: u32,
    buckets: HashMap<K, (f64, Instant)>,
}

impl<K: Hash + Eq> RateLimit<K> {
    /// Up to `per_minute` uploads a minute per key.
    pub fn new(per_minute: u32) -> Self {
        RateLimit {
            per_minute,
            buckets: HashMap::new(),
        }
    }

    /// Takes one upload for `key` at `now`; if none is left, how long until one is.
    pub fn take(&mut self, key: K, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let (tokens, at) = self.buckets.entry(key).or_insert((capacity, now));
        let refilled = *tokens + now.saturating_duration_since(*at).as_secs_f64() * per_second;
        *tokens = refilled.min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_minute_s_worth_at_once_then_one_per_share_of_the_minute() {
        let mut limit = RateLimit::new(6);
        let start = Instant::now();
        for _ in 0..6 {
            assert_eq!(limit.take("bob", start), Ok(()));
        }
        let wait = limit.take("bob", start).unwrap_err();
        assert!((9.9..=10.1).contains(&wait.as_secs_f64()), "{wait:?}");
        // Another key has its own bucket.
        assert_eq!(limit.take("carol", start), Ok(()));
        assert!(limit.take("bob", start + Duration::from_secs(9)).is_err());
        assert_eq!(limit.take("bob", start + Duration::from_secs(11)), Ok(()));
        // A bucket never holds more than a minute's worth.
        let later = start + Duration::from_secs(3600);
        for _ in 0..6 {
            assert_eq!(limit.take("bob", later), Ok(()));
        }
        assert!(limit.take("bob", later).is_err());
    }
}
