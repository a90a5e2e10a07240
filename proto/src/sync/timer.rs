//! The disappearing-messages timer of a conversation, carried in the conversation itself: a message
//! of [`TIMER_TYPE`] says how long after it is read (received) or sent (acked) each message of the
//! conversation is deleted on both sides. The latest such message, by the sender's timestamp and then
//! by id, is the conversation's timer on both sides, so two people who change it at once still agree.

use std::fmt;

use super::record::Message;

/// Content type of a timer message.
pub const TIMER_TYPE: &str = "courier/timer";
/// The one version of the body.
pub const TIMER_VERSION: u32 = 1;
/// The shortest timer: one minute.
pub const MIN_TIMER_SECS: u64 = 60;
/// The longest timer: 365 days.
pub const MAX_TIMER_SECS: u64 = 365 * 86_400;

/// A conversation's timer: off, or a length between [`MIN_TIMER_SECS`] and [`MAX_TIMER_SECS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timer(Option<u64>);

/// Why a timer or its message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimerError {
    /// Outside the range.
    #[error(
        "a disappearing timer of {0} s is outside 1 minute to 365 days; pick one in that range"
    )]
    OutOfRange(u64),
    /// Not `off`, nor a number with a unit.
    #[error("{0:?} is not a timer: write off, or a number with m, h or d (30m, 12h, 7d)")]
    Unreadable(String),
    /// A timer message whose body is not eight bytes.
    #[error("a timer message's body must be 8 bytes")]
    Malformed,
}

impl Timer {
    /// No timer: messages stay.
    pub const OFF: Timer = Timer(None);

    /// A timer of `secs`, if in range.
    pub fn of_secs(secs: u64) -> Result<Timer, TimerError> {
        if (MIN_TIMER_SECS..=MAX_TIMER_SECS).contains(&secs) {
            Ok(Timer(Some(secs)))
        } else {
            Err(TimerError::OutOfRange(secs))
        }
    }

    /// Its length in seconds, or `None` when off.
    pub fn secs(self) -> Option<u64> {
        self.0
    }

    /// Whether this timer deletes messages no later than `limit` does (off never does).
    pub fn within(self, limit: Timer) -> bool {
        match (self.0, limit.0) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(ours), Some(most)) => ours <= most,
        }
    }

    /// The body of a timer message: the length in seconds, big-endian, 0 for off.
    pub fn encode(self) -> Vec<u8> {
        self.0.unwrap_or(0).to_be_bytes().to_vec()
    }

    /// The timer a timer message's body says.
    pub fn decode(body: &[u8]) -> Result<Timer, TimerError> {
        let bytes: [u8; 8] = body.try_into().map_err(|_| TimerError::Malformed)?;
        match u64::from_be_bytes(bytes) {
            0 => Ok(Timer::OFF),
            secs => Timer::of_secs(secs),
        }
    }

    /// The message that sets this timer, with the line a reader without timers sees.
    pub fn message(self, timestamp_ms: u64) -> Message {
        let fallback = match self.0 {
            None => "turned disappearing messages off".to_owned(),
            Some(_) => format!(
                "set messages to disappear {self} after they are read; this app cannot delete them, so delete them yourself"
            ),
        };
        Message {
            timestamp_ms,
            content_type: TIMER_TYPE.to_owned(),
            type_version: TIMER_VERSION,
            fallback,
            body: self.encode(),
        }
    }
}

impl std::str::FromStr for Timer {
    type Err = TimerError;
    /// `off`, or a whole number with `m`, `h` or `d`.
    fn from_str(text: &str) -> Result<Timer, TimerError> {
        let unreadable = || TimerError::Unreadable(text.to_owned());
        if text == "off" {
            return Ok(Timer::OFF);
        }
        // By suffix, not by byte position: the text may end in any character.
        let (number, scale) = [("m", 60), ("h", 3_600), ("d", 86_400)]
            .into_iter()
            .find_map(|(unit, scale)| text.strip_suffix(unit).map(|n| (n, scale)))
            .ok_or_else(unreadable)?;
        let number: u64 = number.parse().map_err(|_| unreadable())?;
        Timer::of_secs(number.checked_mul(scale).ok_or_else(unreadable)?)
    }
}

impl fmt::Display for Timer {
    /// `off`, or the length in the largest unit that divides it (`1 minute`, `7 days`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(secs) = self.0 else {
            return f.write_str("off");
        };
        let (n, unit) = [(86_400, "day"), (3_600, "hour"), (60, "minute")]
            .into_iter()
            .find(|(scale, _)| secs % scale == 0)
            .map_or((secs, "second"), |(scale, unit)| (secs / scale, unit));
        write!(f, "{n} {unit}{}", if n == 1 { "" } else { "s" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timer_s_body_is_its_seconds_big_endian_and_off_is_zero() {
        // Known answers: the wire form is pinned.
        let minute = Timer::of_secs(60).unwrap();
        assert_eq!(minute.encode(), [0, 0, 0, 0, 0, 0, 0, 60]);
        assert_eq!(Timer::OFF.encode(), [0; 8]);
        let year = Timer::of_secs(MAX_TIMER_SECS).unwrap();
        assert_eq!(year.encode(), [0, 0, 0, 0, 0x01, 0xe1, 0x33, 0x80]);
        for t in [minute, year, Timer::OFF] {
            assert_eq!(Timer::decode(&t.encode()), Ok(t));
        }
        assert_eq!(Timer::decode(&[0; 7]), Err(TimerError::Malformed));
        assert_eq!(
            Timer::decode(&59u64.to_be_bytes()),
            Err(TimerError::OutOfRange(59))
        );
    }

    #[test]
    fn timers_run_from_one_minute_to_a_year() {
        assert!(Timer::of_secs(MIN_TIMER_SECS - 1).is_err());
        assert!(Timer::of_secs(MIN_TIMER_SECS).is_ok());
        assert!(Timer::of_secs(MAX_TIMER_SECS).is_ok());
        assert!(Timer::of_secs(MAX_TIMER_SECS + 1).is_err());
    }

    #[test]
    fn timers_are_written_with_a_unit_and_shown_in_words() {
        let cases = [
            ("1m", "1 minute"),
            ("90m", "90 minutes"),
            ("12h", "12 hours"),
            ("7d", "7 days"),
            ("365d", "365 days"),
            ("off", "off"),
        ];
        for (text, shown) in cases {
            assert_eq!(text.parse::<Timer>().unwrap().to_string(), shown);
        }
        assert_eq!("60m".parse::<Timer>().unwrap().to_string(), "1 hour");
        for bad in [
            "",
            "7",
            "7w",
            "d",
            "-1d",
            "366d",
            "0m",
            "99999999999999999999d",
            // Ending in a character of more than one byte (found by schemathesis through the API).
            "7ü",
            "\u{00cc}\u{00d5}Bj,\u{00cc}\u{00ce}",
            "é",
        ] {
            assert!(bad.parse::<Timer>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_timer_is_within_a_limit_when_it_deletes_no_later() {
        let day: Timer = "1d".parse().unwrap();
        let week: Timer = "7d".parse().unwrap();
        assert!(day.within(week));
        assert!(week.within(week));
        assert!(!week.within(day));
        assert!(!Timer::OFF.within(week));
        assert!(Timer::OFF.within(Timer::OFF));
        assert!(week.within(Timer::OFF));
    }

    #[test]
    fn the_message_carries_the_timer_and_a_line_for_readers_without_timers() {
        let m = Timer::of_secs(60).unwrap().message(5);
        assert_eq!((m.content_type.as_str(), m.type_version), (TIMER_TYPE, 1));
        assert_eq!(m.timestamp_ms, 5);
        assert!(m.fallback.contains("1 minute"), "{}", m.fallback);
        m.check().unwrap();
        assert_eq!(
            Timer::OFF.message(1).fallback,
            "turned disappearing messages off"
        );
    }
}
