//! The tags a receiver expects: a window of 32 stream numbers per incoming key, precomputed, so an
//! arriving stream is recognised by one hash lookup, and a replayed or too-old one is not recognised.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::TAG_LEN;
use super::transport_keys::{DirectionKeys, SecretKey};

/// How many stream numbers ahead of the oldest unseen one are recognised.
pub const WINDOW: u64 = 32;

/// The tag of stream `stream_number` under `tag_key`: pseudo-random to anyone without the key.
pub fn tag(tag_key: &SecretKey, stream_number: u64) -> [u8; TAG_LEN] {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(tag_key.expose()).expect("HMAC takes any key length");
    mac.update(b"courier/v1/tag");
    mac.update(&stream_number.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    digest[..TAG_LEN]
        .try_into()
        .expect("SHA-256 output is longer than a tag")
}

/// The expected tags of one incoming key.
#[derive(Debug, Clone)]
pub struct TagWindow {
    period: u64,
    tag_key: SecretKey,
    base: u64,
    seen: u64,
    expected: HashMap<[u8; TAG_LEN], u64>,
}

impl TagWindow {
    /// A window over streams `base..base + WINDOW` of `keys`, with none seen yet.
    pub fn new(keys: &DirectionKeys, base: u64) -> Self {
        TagWindow::resume(keys, base, 0)
    }

    /// A window restored from its stored [`base`](Self::base) and [`seen`](Self::seen), so streams seen
    /// before a restart stay unrecognised (no replay across restarts).
    pub fn resume(keys: &DirectionKeys, base: u64, seen: u64) -> Self {
        let expected = (base..base + WINDOW)
            .filter(|n| seen & (1 << (n - base)) == 0)
            .map(|n| (tag(&keys.tag_key, n), n))
            .collect();
        TagWindow {
            period: keys.period,
            tag_key: keys.tag_key.clone(),
            base,
            seen,
            expected,
        }
    }

    /// Which streams of the window were seen, bit i for stream `base + i` (persist it with the base).
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The period of the key behind this window.
    pub fn period(&self) -> u64 {
        self.period
    }

    /// The oldest stream number still recognised (persist it to resume after a restart).
    pub fn base(&self) -> u64 {
        self.base
    }

    /// If `tag` is expected, marks its stream seen, slides the window, and returns the stream number.
    ///
    /// A stream number, once seen, is never recognised again (replay), and streams more than half a
    /// window behind the newest seen one are given up on, so one lost stream cannot stall the window.
    pub fn recognise(&mut self, tag: &[u8; TAG_LEN]) -> Option<u64> {
        let n = self.expected.remove(tag)?;
        self.seen |= 1 << (n - self.base);
        let half = WINDOW / 2;
        if n >= self.base + half {
            self.slide_to(n + 1 - half);
        }
        while self.seen & 1 == 1 {
            self.slide_to(self.base + 1);
        }
        Some(n)
    }

    fn slide_to(&mut self, new_base: u64) {
        while self.base < new_base {
            let old = self.base;
            let was_seen = self.seen & 1 == 1;
            if !was_seen {
                self.expected.remove(&tag(&self.tag_key, old));
            }
            self.seen >>= 1;
            self.base += 1;
            let added = self.base + WINDOW - 1;
            self.expected.insert(tag(&self.tag_key, added), added);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> (TagWindow, SecretKey) {
        let key = SecretKey::from_bytes([3; 32]);
        let keys = DirectionKeys {
            period: 5,
            tag_key: key.clone(),
            header_key: SecretKey::from_bytes([4; 32]),
        };
        (TagWindow::new(&keys, 0), key)
    }

    #[test]
    fn streams_are_recognised_out_of_order_once_each() {
        let (mut w, key) = window();
        for n in [2, 0, 1, 5, 3] {
            assert_eq!(w.recognise(&tag(&key, n)), Some(n));
        }
        assert_eq!(w.base(), 4);
        assert_eq!(
            w.recognise(&tag(&key, 2)),
            None,
            "a replayed stream is not recognised"
        );
        assert_eq!(w.recognise(&tag(&key, 5)), None);
        assert_eq!(w.recognise(&tag(&key, 4)), Some(4));
    }

    #[test]
    fn streams_beyond_the_window_are_not_recognised_until_it_moves() {
        let (mut w, key) = window();
        assert_eq!(w.recognise(&tag(&key, WINDOW)), None);
        assert_eq!(w.recognise(&tag(&key, WINDOW - 1)), Some(WINDOW - 1));
        // The window jumped so WINDOW - 1 sits at its middle; far-ahead streams are now in range.
        assert_eq!(w.recognise(&tag(&key, WINDOW + 10)), Some(WINDOW + 10));
        assert_eq!(
            w.recognise(&tag(&key, 0)),
            None,
            "a stream left far behind is given up"
        );
    }

    #[test]
    fn the_window_always_holds_exactly_its_size_in_tags() {
        let (mut w, key) = window();
        for n in [7, 3, 40, 41, 39, 100, 60] {
            w.recognise(&tag(&key, n));
            let unseen_in_window = (0..WINDOW).filter(|i| w.seen & (1 << i) == 0).count();
            assert_eq!(w.expected.len(), unseen_in_window);
        }
    }

    #[test]
    fn a_resumed_window_still_refuses_what_was_seen() {
        let (mut w, key) = window();
        for n in [0, 1, 5, 9] {
            assert_eq!(w.recognise(&tag(&key, n)), Some(n));
        }
        let keys = DirectionKeys {
            period: w.period(),
            tag_key: key.clone(),
            header_key: key.clone(),
        };
        let mut resumed = TagWindow::resume(&keys, w.base(), w.seen());
        for n in [0, 1, 5, 9] {
            assert_eq!(
                resumed.recognise(&tag(&key, n)),
                None,
                "stream {n} replayed"
            );
        }
        assert_eq!(resumed.recognise(&tag(&key, 7)), Some(7));
        assert_eq!(
            resumed.expected.len() as u64,
            WINDOW - resumed.seen().count_ones() as u64
        );
    }

    #[test]
    fn random_bytes_are_not_tags() {
        let (mut w, _) = window();
        assert_eq!(w.recognise(&[0u8; TAG_LEN]), None);
    }
}
