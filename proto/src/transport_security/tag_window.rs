//! Stream tags and the streams a receiver still accepts from one incoming key.
//!
//! A tag is the stream number encrypted with a block cipher (AES-256 under the tag key) next to a fixed
//! marker. It is a keyed permutation, so:
//! - distinct stream numbers give distinct tags: a sender never reuses a number, so an observer never
//!   sees one tag twice;
//! - the receiver reads the number back out of the tag with one block decryption per key, so a stream
//!   any distance *ahead* of everything seen so far is still recognised. Dials that reached something
//!   other than the contact (a black hole, a middlebox) use up numbers the receiver never sees; they
//!   cannot push the sender out of its reach.
//!
//! Replay protection is a window over stream numbers: each number is accepted at most once, numbers
//! behind the window are refused, and the window slides so the newest stream seen sits in its middle.

use aes::Aes256;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};

use super::TAG_LEN;
use super::transport_keys::{DirectionKeys, SecretKey};

/// How many stream numbers the replay window spans: reordering of up to half of it is tolerated.
pub const WINDOW: u64 = 32;

/// The first half of every tag's plaintext block; a decrypted tag without it is not one of ours.
///
/// 64 bits: a stranger's 16 random bytes pass one key's check with probability 2^-64.
const MARKER: [u8; 8] = *b"crtag/v2";

/// The tag of stream `stream_number` under `tag_key`: pseudo-random to anyone without the key.
pub fn tag(tag_key: &SecretKey, stream_number: u64) -> [u8; TAG_LEN] {
    TagCipher::new(tag_key).tag(stream_number)
}

/// AES-256 keyed by one tag key, with its key schedule computed once.
#[derive(Clone)]
struct TagCipher(Aes256);

impl TagCipher {
    fn new(tag_key: &SecretKey) -> Self {
        TagCipher(Aes256::new(tag_key.expose().into()))
    }

    fn tag(&self, stream_number: u64) -> [u8; TAG_LEN] {
        let mut block = [0u8; TAG_LEN];
        block[..8].copy_from_slice(&MARKER);
        block[8..].copy_from_slice(&stream_number.to_be_bytes());
        let mut block = block.into();
        self.0.encrypt_block(&mut block);
        block.into()
    }

    /// The stream number `tag` stands for under this key, if it is a tag of this key at all.
    fn stream_number(&self, tag: &[u8; TAG_LEN]) -> Option<u64> {
        let mut block = (*tag).into();
        self.0.decrypt_block(&mut block);
        let block: [u8; TAG_LEN] = block.into();
        let (marker, number) = block.split_at(8);
        (marker == MARKER).then(|| u64::from_be_bytes(number.try_into().expect("8 bytes")))
    }
}

/// The replay window of one incoming key.
#[derive(Clone)]
pub struct TagWindow {
    period: u64,
    cipher: TagCipher,
    base: u64,
    seen: u64,
}

impl std::fmt::Debug for TagWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TagWindow")
            .field("period", &self.period)
            .field("base", &self.base)
            .field("seen", &format_args!("{:#x}", self.seen))
            .finish_non_exhaustive()
    }
}

impl TagWindow {
    /// A window starting at stream `base` of `keys`, with none seen yet.
    pub fn new(keys: &DirectionKeys, base: u64) -> Self {
        TagWindow::resume(keys, base, 0)
    }

    /// A window restored from its stored [`base`](Self::base) and [`seen`](Self::seen), so streams seen
    /// before a restart stay unrecognised (no replay across restarts).
    pub fn resume(keys: &DirectionKeys, base: u64, seen: u64) -> Self {
        TagWindow {
            period: keys.period,
            cipher: TagCipher::new(&keys.tag_key),
            base,
            seen,
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

    /// The oldest stream number still accepted (persist it to resume after a restart).
    pub fn base(&self) -> u64 {
        self.base
    }

    /// If `tag` is a tag of this key for a stream not seen yet and not behind the window, marks its
    /// stream seen, slides the window, and returns the stream number.
    ///
    /// A stream number, once seen, is never recognised again (replay); a stream any distance ahead is
    /// recognised, and the window moves so it sits in the middle: streams more than half a window
    /// behind the newest seen one are given up on, so one lost stream cannot stall the window.
    pub fn recognise(&mut self, tag: &[u8; TAG_LEN]) -> Option<u64> {
        let n = self.peek(tag)?;
        self.mark(n);
        Some(n)
    }

    /// The stream number `tag` stands for if [`recognise`](Self::recognise) would accept it, without
    /// marking it seen: a simplex stream (a file on a drive) is marked only once it was read to its
    /// authenticated end, so that a damaged copy read first does not spend a good copy of it.
    pub fn peek(&self, tag: &[u8; TAG_LEN]) -> Option<u64> {
        let n = self.cipher.stream_number(tag)?;
        let offset = n.checked_sub(self.base)?;
        // mutants: `<=` is equivalent, no bit at or above WINDOW is ever set.
        if offset < WINDOW && self.seen & (1 << offset) != 0 {
            return None;
        }
        Some(n)
    }

    /// Marks stream `n` seen and slides the window, as [`recognise`](Self::recognise) does; nothing
    /// for a stream already seen or behind the window (another copy of it was marked first).
    pub fn mark(&mut self, n: u64) {
        let Some(offset) = n.checked_sub(self.base) else {
            return;
        };
        if offset < WINDOW && self.seen & (1 << offset) != 0 {
            return;
        }
        let half = WINDOW / 2;
        if offset >= half {
            self.slide_to(n - (half - 1));
        }
        self.seen |= 1 << (n - self.base);
        while self.seen & 1 == 1 {
            self.slide_to(self.base + 1);
        }
    }

    fn slide_to(&mut self, new_base: u64) {
        let by = new_base - self.base;
        // A shift by the whole width or more forgets every bit (and `>>` by 64 would overflow).
        self.seen = self
            .seen
            .checked_shr(by.try_into().unwrap_or(u32::MAX))
            .unwrap_or(0);
        self.base = new_base;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> DirectionKeys {
        DirectionKeys {
            period: 5,
            tag_key: SecretKey::from_bytes([3; 32]),
            header_key: SecretKey::from_bytes([4; 32]),
        }
    }

    fn window() -> (TagWindow, SecretKey) {
        let keys = keys();
        (TagWindow::new(&keys, 0), keys.tag_key)
    }

    #[test]
    fn a_peeked_stream_is_not_spent_until_it_is_marked_and_marking_twice_changes_nothing() {
        let (mut w, key) = window();
        let t = tag(&key, 3);
        assert_eq!(w.peek(&t), Some(3));
        assert_eq!(w.peek(&t), Some(3), "a peek marks nothing");
        assert_eq!((w.base(), w.seen()), (0, 0));
        w.mark(3);
        assert_eq!(w.peek(&t), None, "marked, it is spent");
        assert_eq!(w.recognise(&t), None);
        assert_eq!((w.base(), w.seen()), (0, 0b1000));
        w.mark(3);
        assert_eq!(
            (w.base(), w.seen()),
            (0, 0b1000),
            "a second copy marks nothing more"
        );
        w.mark(0);
        assert_eq!(
            (w.base(), w.seen()),
            (1, 0b100),
            "the window slides past what was seen"
        );
        // Far ahead: the window moves so the stream sits in its middle, as `recognise` does.
        w.mark(100);
        assert_eq!(w.base(), 100 - (WINDOW / 2 - 1));
        assert_eq!(w.peek(&tag(&key, 100)), None);
        assert_eq!(w.peek(&tag(&key, 0)), None, "behind the window");
        w.mark(0);
        assert_eq!(
            w.base(),
            100 - (WINDOW / 2 - 1),
            "behind the window: nothing"
        );
    }

    #[test]
    fn streams_are_recognised_out_of_order_once_each() {
        let (mut w, key) = window();
        for n in [2, 0, 1, 5, 3] {
            assert_eq!(w.recognise(&tag(&key, n)), Some(n));
        }
        assert_eq!(w.base(), 4);
        assert_eq!(w.seen(), 0b10, "stream 5 is seen, 4 is not");
        assert_eq!(
            w.recognise(&tag(&key, 2)),
            None,
            "a replayed stream is not recognised"
        );
        assert_eq!(w.recognise(&tag(&key, 5)), None);
        assert_eq!(w.recognise(&tag(&key, 4)), Some(4));
        assert_eq!((w.base(), w.seen()), (6, 0));
    }

    #[test]
    fn a_stream_far_ahead_is_recognised_and_moves_the_window_to_it() {
        let (mut w, key) = window();
        // 200 streams went into a black hole: the 201st still reaches the receiver.
        assert_eq!(w.recognise(&tag(&key, 200)), Some(200));
        assert_eq!(
            w.base(),
            200 + 1 - WINDOW / 2,
            "the newest seen sits mid-window"
        );
        assert_eq!(w.seen(), 1 << (WINDOW / 2 - 1));
        assert_eq!(w.recognise(&tag(&key, 200)), None, "and only once");
        assert_eq!(
            w.recognise(&tag(&key, 0)),
            None,
            "a stream left far behind is given up"
        );
        let oldest_kept = w.base();
        assert_eq!(w.recognise(&tag(&key, oldest_kept)), Some(oldest_kept));
        assert_eq!(w.recognise(&tag(&key, oldest_kept - 1)), None);
        // Even the last stream number there is.
        assert_eq!(w.recognise(&tag(&key, u64::MAX)), Some(u64::MAX));
        assert_eq!(w.base(), u64::MAX - WINDOW / 2 + 1);
        assert_eq!(w.recognise(&tag(&key, u64::MAX)), None);
    }

    #[test]
    fn the_window_slides_only_past_half_its_width() {
        let (mut w, key) = window();
        let half = WINDOW / 2;
        assert_eq!(w.recognise(&tag(&key, half - 1)), Some(half - 1));
        assert_eq!(w.base(), 0, "the newest is still within the first half");
        assert_eq!(w.seen(), 1 << (half - 1));
        assert_eq!(w.recognise(&tag(&key, half)), Some(half));
        assert_eq!(w.base(), 1);
        assert_eq!(w.seen(), 0b11 << (half - 2));
        assert_eq!(w.recognise(&tag(&key, 0)), None, "0 fell behind the window");
        assert_eq!(w.recognise(&tag(&key, 1)), Some(1));
        assert_eq!(w.base(), 2, "the oldest seen stream leaves the window");
    }

    #[test]
    fn a_jump_of_a_whole_window_or_more_forgets_every_seen_bit() {
        let (mut w, key) = window();
        for n in 0..10 {
            w.recognise(&tag(&key, n));
        }
        w.recognise(&tag(&key, 12));
        assert_eq!((w.base(), w.seen()), (10, 0b100));
        let far = 10 + WINDOW + half_window();
        assert_eq!(w.recognise(&tag(&key, far)), Some(far));
        assert_eq!(w.base(), far + 1 - half_window());
        assert_eq!(w.seen(), 1 << (half_window() - 1));
        for n in w.base()..far {
            assert_eq!(
                w.recognise(&tag(&key, n)),
                Some(n),
                "{n} is in the new window"
            );
        }
    }

    fn half_window() -> u64 {
        WINDOW / 2
    }

    #[test]
    fn a_resumed_window_still_refuses_what_was_seen() {
        let (mut w, key) = window();
        for n in [0, 1, 5, 9] {
            assert_eq!(w.recognise(&tag(&key, n)), Some(n));
        }
        let mut resumed = TagWindow::resume(&keys(), w.base(), w.seen());
        for n in [0, 1, 5, 9] {
            assert_eq!(
                resumed.recognise(&tag(&key, n)),
                None,
                "stream {n} replayed"
            );
        }
        assert_eq!(resumed.recognise(&tag(&key, 7)), Some(7));
        assert_eq!(resumed.period(), 5);
    }

    #[test]
    fn tags_of_other_keys_and_random_bytes_are_not_recognised() {
        let (mut w, _) = window();
        assert_eq!(w.recognise(&[0u8; TAG_LEN]), None);
        let other = SecretKey::from_bytes([9; 32]);
        for n in 0..WINDOW {
            assert_eq!(w.recognise(&tag(&other, n)), None);
        }
        assert_eq!((w.base(), w.seen()), (0, 0), "nothing moved the window");
    }

    #[test]
    fn distinct_numbers_give_distinct_tags_with_no_visible_structure() {
        let key = SecretKey::from_bytes([3; 32]);
        let tags: std::collections::HashSet<_> = (0..10_000).map(|n| tag(&key, n)).collect();
        assert_eq!(tags.len(), 10_000);
        // Neither the marker nor the counter shows through: no byte position is constant.
        let (t0, t1) = (tag(&key, 0), tag(&key, 1));
        assert!(t0.iter().zip(&t1).filter(|(a, b)| a == b).count() < 4);
    }

    #[test]
    fn a_window_prints_its_position_but_not_its_key() {
        let (mut w, key) = window();
        w.recognise(&tag(&key, 1));
        assert_eq!(
            format!("{w:?}"),
            "TagWindow { period: 5, base: 0, seen: 0x2, .. }"
        );
    }

    #[test]
    fn tags_are_pinned_to_known_bytes() {
        // AES-256 under the key 03…03 of the block "crtag/v2" ‖ n as 8 big-endian bytes.
        let key = SecretKey::from_bytes([3; 32]);
        assert_eq!(
            hex::encode(tag(&key, 0)),
            hex::encode(aes_reference(&[3; 32], 0))
        );
        assert_eq!(hex::encode(tag(&key, 0)), KNOWN_TAG_0);
        assert_eq!(hex::encode(tag(&key, 1 << 40)), KNOWN_TAG_2_40);
    }

    // Computed with an independent AES implementation (Python `cryptography`, AES-256-ECB).
    const KNOWN_TAG_0: &str = "54d9b741c797665413123c6a0da1541e";
    const KNOWN_TAG_2_40: &str = "a28e6feb1d1b9875fa7fa0215df0d740";

    /// The same block through the cipher directly, so the vector says what it is.
    fn aes_reference(key: &[u8; 32], n: u64) -> [u8; 16] {
        let cipher = Aes256::new(key.into());
        let mut block = [0u8; 16];
        block[..8].copy_from_slice(b"crtag/v2");
        block[8..].copy_from_slice(&n.to_be_bytes());
        let mut block = block.into();
        cipher.encrypt_block(&mut block);
        block.into()
    }
}
