//! The channel rules every simplex transport shares (a drive, a mailbox): a stream the host writes is
//! kept whole until the host closes its channel, then stored in one piece; a stream the host reads
//! (a file it found) is delivered as it comes, and nothing is ever answered on it.

use std::collections::HashMap;

use crate::settings::{Setting, only_keys, parse_or};

use crate::transport::courier::plugin::transport_types::{
    Action, ChannelFailure, ChannelId, Chunk, Event,
};

/// How often a simplex transport looks for streams and writes what is owed, and whether it does
/// each: settings `READ` and `WRITE` (`true`/`false`) and `every-secs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Polling {
    /// Look for streams for us on every tick.
    pub read: bool,
    /// Write what contacts are owed on every tick.
    pub write: bool,
    /// Milliseconds between ticks.
    pub every_ms: u64,
}

impl Polling {
    /// Reads the settings `[read, write]` name, and `every-secs` (`default_secs` if absent), with a
    /// clear error for each bad value or unknown key.
    pub fn parse<S: Setting>(
        settings: &[S],
        [read, write]: [&str; 2],
        default_secs: u64,
    ) -> Result<Self, String> {
        only_keys(settings, &[read, write, "every-secs"])?;
        let every_secs: u64 = parse_or(settings, "every-secs", default_secs)?;
        if every_secs == 0 {
            return Err("every-secs must be at least 1".into());
        }
        Ok(Polling {
            read: parse_or(settings, read, true)?,
            write: parse_or(settings, write, true)?,
            every_ms: every_secs.saturating_mul(1000),
        })
    }
}

/// One whole stream the host wrote, to store where `to` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written<T> {
    /// Where it goes, as the plugin decided when the channel opened.
    pub to: T,
    /// The stream's bytes.
    pub stream: Vec<u8>,
}

/// The streams being written, each with where it goes (`T`: nothing for a drive, a folder for a
/// mailbox).
#[derive(Debug)]
pub struct Streams<T> {
    writing: HashMap<ChannelId, (T, Vec<u8>)>,
}

impl<T> Default for Streams<T> {
    fn default() -> Self {
        Streams {
            writing: HashMap::new(),
        }
    }
}

impl<T> Streams<T> {
    /// Starts collecting the stream of `channel`, which goes `to`; the host may write at once.
    pub fn open(&mut self, channel: ChannelId, to: T) -> Action {
        self.writing.insert(channel, (to, Vec::new()));
        Action::Ready(channel)
    }

    /// Handles a channel event that is not `connect` or `tick`: the actions it causes, and the
    /// whole stream if it was a written channel's close with something on it.
    pub fn on_channel(&mut self, event: Event) -> (Vec<Action>, Option<Written<T>>) {
        match event {
            // A file the host reads: ready at once, delivered as it comes.
            Event::ChannelAccepted(channel) => (vec![Action::Ready(channel)], None),
            Event::Received(chunk) => (vec![Action::Deliver(chunk)], None),
            Event::Outgoing(Chunk { channel, data }) => match self.writing.get_mut(&channel) {
                Some((_, stream)) => {
                    stream.extend_from_slice(&data);
                    (Vec::new(), None)
                }
                // A file read is one way: nothing can be answered on it.
                None => (vec![Action::Close(channel)], None),
            },
            // Nothing written (nothing was owed): no empty file.
            Event::ChannelClosed(channel) => match self.writing.remove(&channel) {
                Some((to, stream)) if !stream.is_empty() => {
                    (Vec::new(), Some(Written { to, stream }))
                }
                _ => (Vec::new(), None),
            },
            // A failed stream is dropped: what it carried goes again when due.
            Event::ChannelFailed(ChannelFailure { channel, .. }) => {
                self.writing.remove(&channel);
                (Vec::new(), None)
            }
            Event::Tick(_)
            | Event::Connect(_)
            | Event::ChannelOpened(_)
            | Event::Listening(_)
            | Event::Discovered(_)
            | Event::PacketSize(_) => (Vec::new(), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_reads_its_two_switches_and_its_period_and_refuses_the_rest_by_name() {
        let keys = ["scan", "write"];
        assert_eq!(
            Polling::parse(&[("every-secs", "7"), ("write", "false")], keys, 5),
            Ok(Polling {
                read: true,
                write: false,
                every_ms: 7_000
            })
        );
        let none: [(&str, &str); 0] = [];
        assert_eq!(Polling::parse(&none, keys, 5).unwrap().every_ms, 5_000);
        assert!(
            Polling::parse(&[("poll", "1")], keys, 5)
                .unwrap_err()
                .contains("poll")
        );
        assert!(Polling::parse(&[("every-secs", "0")], keys, 5).is_err());
        assert!(
            Polling::parse(&[("scan", "maybe")], keys, 5)
                .unwrap_err()
                .contains("scan")
        );
    }

    fn chunk(channel: ChannelId, data: &[u8]) -> Chunk {
        Chunk {
            channel,
            data: data.to_vec(),
        }
    }

    #[test]
    fn a_written_stream_comes_out_whole_once_when_its_channel_closes() {
        let mut streams = Streams::default();
        assert_eq!(streams.open(4, "folder"), Action::Ready(4));
        assert_eq!(
            streams.on_channel(Event::Outgoing(chunk(4, b"tag+header"))),
            (vec![], None)
        );
        streams.on_channel(Event::Outgoing(chunk(4, b"+frames")));
        let written = Written {
            to: "folder",
            stream: b"tag+header+frames".to_vec(),
        };
        assert_eq!(
            streams.on_channel(Event::ChannelClosed(4)),
            (vec![], Some(written))
        );
        assert_eq!(streams.on_channel(Event::ChannelClosed(4)), (vec![], None));
    }

    #[test]
    fn nothing_written_or_a_failure_leaves_nothing() {
        let mut streams = Streams::default();
        streams.open(9, ());
        assert_eq!(streams.on_channel(Event::ChannelClosed(9)), (vec![], None));
        streams.open(10, ());
        streams.on_channel(Event::Outgoing(chunk(10, b"half")));
        let failure = ChannelFailure {
            channel: 10,
            reason: "gone".into(),
        };
        assert_eq!(
            streams.on_channel(Event::ChannelFailed(failure)),
            (vec![], None)
        );
        assert_eq!(streams.on_channel(Event::ChannelClosed(10)), (vec![], None));
    }

    #[test]
    fn a_read_file_is_delivered_and_nothing_is_answered_on_it() {
        let mut streams: Streams<()> = Streams::default();
        assert_eq!(
            streams.on_channel(Event::ChannelAccepted(2)).0,
            [Action::Ready(2)]
        );
        assert_eq!(
            streams.on_channel(Event::Received(chunk(2, b"stream"))).0,
            [Action::Deliver(chunk(2, b"stream"))]
        );
        assert_eq!(
            streams.on_channel(Event::Outgoing(chunk(2, b"answer"))).0,
            [Action::Close(2)]
        );
    }
}
