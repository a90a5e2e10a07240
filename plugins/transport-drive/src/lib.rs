//! The removable-drive transport ("sneakernet"): streams carried on a USB stick between people who
//! never share a network.
//!
//! Simplex: each outgoing stream the host writes becomes one file with a random name in the granted
//! folder; reading is the host's (a `files.scan` hands every file it has not read before to the host
//! as a channel, and the host recognises which are streams for us by their tags). The plugin never
//! sees a key, a contact or a plaintext byte, and a file holds nothing but the stream: tag, sealed
//! header, sealed frames, padded by the host to a few sizes.
//!
//! Settings: `scan` (`true`/`false`: look for new files on every tick), `write` (`true`/`false`:
//! write what contacts are owed on every tick, while the folder is there), `every-secs` (how often a
//! running node ticks; 5).
//! `courier drive import` and `export` run it with both off and ask the host directly.
//!
//! What it reveals: nothing to any network. Whoever holds the stick sees how many files it holds and
//! their sizes, not whose they are.

use courier_plugin::simplex::{Polling, Streams};
use courier_plugin::transport::courier::plugin::transport_types::{
    Action, Description, Event, Mode, Reveals,
};

/// The plugin's exports.
pub type Drive = courier_plugin::driver::Exports<DriveState>;

/// Four weeks: a stick may sit in a pocket that long. Keys rotate on the four-week class.
pub const MAX_LATENCY_MS: u64 = 28 * 86_400_000;

/// What the transport is.
pub fn description() -> Description {
    Description {
        id: "drive".into(),
        mode: Mode::Simplex,
        max_latency_ms: MAX_LATENCY_MS,
        // 16 KiB frames: a text costs one small file; a full stream is 63 frames, under 1 MiB.
        frame_size: 16 * 1024,
        reveals: Reveals::empty(),
        pass_through: false,
    }
}

/// Parsed settings: `scan` (look for new files on every tick), `write` (write what contacts are
/// owed on every tick), `every-secs`.
pub type Settings = Polling;

/// Reads the drive's settings.
pub fn settings<S: courier_plugin::settings::Setting>(settings: &[S]) -> Result<Settings, String> {
    Polling::parse(settings, ["scan", "write"], 5)
}

/// A capability call the plugin wants made; the wasm side makes it, native tests inspect it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `files.scan()`.
    Scan,
    /// `files.write(random name, bytes)`: one whole stream.
    WriteFile(Vec<u8>),
    /// If the folder is there (`files.names()` lists it), dial every contact: the host then writes
    /// what each is owed. With the stick pulled out nothing is written, so nothing is marked sent
    /// that never reached a file.
    DialIfPresent,
}

/// The state machine: the streams being written, channel by channel.
#[derive(Debug)]
pub struct DriveState {
    settings: Settings,
    streams: Streams<()>,
}

impl DriveState {
    /// A fresh state machine.
    pub fn new(settings: Settings) -> Self {
        DriveState {
            settings,
            streams: Streams::default(),
        }
    }

    /// Handles one event: the calls to make, then the actions to return.
    pub fn step(&mut self, event: Event) -> (Vec<Call>, Vec<Action>) {
        match event {
            Event::Tick(now) => {
                let mut calls = Vec::new();
                let actions = vec![Action::WakeAt(now.saturating_add(self.settings.every_ms))];
                if self.settings.read {
                    calls.push(Call::Scan);
                }
                if self.settings.write {
                    calls.push(Call::DialIfPresent);
                }
                (calls, actions)
            }
            // Nothing to open: the file is written whole when the host closes the channel.
            Event::Connect(request) => (Vec::new(), vec![self.streams.open(request.channel, ())]),
            other => {
                let (actions, written) = self.streams.on_channel(other);
                let calls = written.map(|w| Call::WriteFile(w.stream));
                (calls.into_iter().collect(), actions)
            }
        }
    }
}

/// A file name that says nothing: 32 hex digits of fresh randomness, no extension.
pub fn file_name(random: &[u8]) -> String {
    random.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(target_arch = "wasm32")]
mod exports {
    use courier_plugin::driver::Driver;
    use courier_plugin::transport::courier::plugin::transport_types::{Action, Description, Event};
    use courier_plugin::transport::courier::plugin::types::{PluginError, Setting};
    use courier_plugin::transport::courier::plugin::{files, random};

    use super::{Call, Drive, DriveState, file_name};

    impl Driver for DriveState {
        fn describe() -> Description {
            super::description()
        }

        fn new(settings: &[Setting]) -> Result<Self, PluginError> {
            let settings = super::settings(settings).map_err(PluginError::InvalidInput)?;
            Ok(DriveState::new(settings))
        }

        fn handle(&mut self, event: Event) -> Result<Vec<Action>, PluginError> {
            let (calls, mut actions) = self.step(event);
            for call in calls {
                match call {
                    Call::Scan => {
                        if let Err(e) = files::scan() {
                            courier_plugin::log!(warn, "the host refused to read the drive: {e:?}");
                        }
                    }
                    // No properties: a drive reaches every contact; the host writes only for
                    // those owed something.
                    Call::DialIfPresent => {
                        if files::names().is_ok() {
                            actions.push(Action::Dial(Vec::new()));
                        }
                    }
                    Call::WriteFile(stream) => {
                        let name = file_name(&random::bytes(16));
                        if let Err(e) = files::write(&name, &stream) {
                            // What it carried goes again when it is due again, here or elsewhere.
                            courier_plugin::log!(
                                error,
                                "could not write a stream to the drive ({} bytes): {e:?}",
                                stream.len()
                            );
                        }
                    }
                }
            }
            Ok(actions)
        }
    }

    courier_plugin::export_transport!(Drive);
}

#[cfg(test)]
mod tests {
    use super::*;
    use courier_plugin::transport::courier::plugin::transport_types::{
        ChannelId, Chunk, ConnectRequest,
    };

    fn state(settings: &[(&str, &str)]) -> DriveState {
        DriveState::new(super::settings(settings).unwrap())
    }

    fn chunk(channel: ChannelId, data: &[u8]) -> Chunk {
        Chunk {
            channel,
            data: data.to_vec(),
        }
    }

    #[test]
    fn a_drive_is_simplex_reveals_nothing_and_waits_four_weeks() {
        let d = description();
        assert_eq!(d.mode, Mode::Simplex);
        assert_eq!(d.reveals, Reveals::empty());
        assert_eq!(d.max_latency_ms, 28 * 24 * 3600 * 1000);
        assert_eq!(d.id, "drive");
    }

    #[test]
    fn each_tick_looks_for_new_files_asks_to_write_what_is_owed_and_wakes_again() {
        let mut drive = state(&[("every-secs", "7")]);
        let (calls, actions) = drive.step(Event::Tick(1_000));
        assert_eq!(calls, [Call::Scan, Call::DialIfPresent]);
        assert_eq!(actions, [Action::WakeAt(8_000)]);

        let mut quiet = state(&[("scan", "false"), ("write", "false")]);
        let (calls, actions) = quiet.step(Event::Tick(1_000));
        assert!(calls.is_empty());
        assert_eq!(actions, [Action::WakeAt(6_000)], "every-secs defaults to 5");
    }

    #[test]
    fn a_stream_the_host_writes_becomes_one_whole_file_when_its_channel_closes() {
        let mut drive = state(&[]);
        let connect = ConnectRequest {
            channel: 4,
            properties: Vec::new(),
        };
        assert_eq!(drive.step(Event::Connect(connect)).1, [Action::Ready(4)]);
        assert_eq!(
            drive.step(Event::Outgoing(chunk(4, b"tag+header"))),
            (vec![], vec![])
        );
        assert_eq!(
            drive.step(Event::Outgoing(chunk(4, b"+frames"))),
            (vec![], vec![])
        );
        let (calls, actions) = drive.step(Event::ChannelClosed(4));
        assert_eq!(calls, [Call::WriteFile(b"tag+header+frames".to_vec())]);
        assert!(actions.is_empty());
        assert_eq!(
            drive.step(Event::ChannelClosed(4)),
            (vec![], vec![]),
            "once"
        );
    }

    #[test]
    fn the_drive_s_switches_are_scan_and_write() {
        let unknown = settings(&[("max-latency-days", "28")]).unwrap_err();
        assert!(unknown.contains("max-latency-days"), "{unknown}");
        assert!(!settings(&[("scan", "false")]).unwrap().read);
        assert!(!settings(&[("write", "false")]).unwrap().write);
    }

    #[test]
    fn file_names_are_the_randomness_in_hex_and_nothing_else() {
        assert_eq!(file_name(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(file_name(&[0x11; 16]).len(), 32);
    }
}
