//! The mailbox transport (store-and-forward): streams wait, encrypted, in a mailbox (`courier
//! mailbox serve`) until their reader fetches them, so two people who are never online at the same
//! time still talk.
//!
//! Simplex, over the host's `mailbox` capability: on every poll the plugin asks the host to fetch
//! what waits for this node (the host hands each file over as a channel, recognises which are
//! streams for us by their tags, and deletes each from the mailbox once read), and dials: the host
//! then opens a channel to every contact that has a mailbox folder and no direct link, and writes
//! what each is owed; the plugin uploads each whole stream to the folder its `connect` request named.
//! The host keeps every mailbox's address and token; the plugin sees opaque folder ids only.
//!
//! Settings: `every-secs` (how often to poll; 30), `fetch` and `upload` (`true`/`false`).
//!
//! What it reveals: to the mailbox, when this node polls and uploads and how large each stream is
//! (streams are padded by the host to a few sizes); never who a stream is for: each contact has a
//! random folder id and token. To the network, the node's IP address when the mailbox is reached
//! over TCP beyond loopback.

use courier_plugin::simplex::{Polling, Streams};
use courier_plugin::transport::courier::plugin::transport_types::{
    Action, Description, Event, Mode, Reveals,
};

/// The plugin's exports.
pub type Mailbox = courier_plugin::driver::Exports<MailboxState>;

/// Two weeks: the mailbox keeps a file that long. Keys rotate on the two-week class.
pub const MAX_LATENCY_MS: u64 = 14 * 86_400_000;

/// The property of a `connect` request that names the folder to upload to.
pub const FOLDER: &str = "folder";

/// What the transport is.
pub fn description() -> Description {
    Description {
        id: "mailbox".into(),
        mode: Mode::Simplex,
        max_latency_ms: MAX_LATENCY_MS,
        // 16 KiB frames, as on a drive: a text costs one small file, a full stream is under 1 MiB.
        frame_size: 16 * 1024,
        reveals: Reveals::IP_ADDRESS,
        pass_through: false,
    }
}

/// Parsed settings: `fetch` (fetch what waits for us on every poll), `upload` (upload what
/// contacts are owed on every poll), `every-secs`.
pub type Settings = Polling;

/// Reads the mailbox's settings.
pub fn settings<S: courier_plugin::settings::Setting>(settings: &[S]) -> Result<Settings, String> {
    Polling::parse(settings, ["fetch", "upload"], 30)
}

/// A capability call the plugin wants made; the wasm side makes it, native tests inspect it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `mailbox.fetch()`.
    Fetch,
    /// `mailbox.upload(folder, stream)`.
    Upload {
        /// The folder the `connect` request named.
        folder: String,
        /// One whole stream.
        stream: Vec<u8>,
    },
}

/// The state machine: the streams being written, each with its folder.
#[derive(Debug)]
pub struct MailboxState {
    settings: Settings,
    streams: Streams<String>,
}

impl MailboxState {
    /// A fresh state machine.
    pub fn new(settings: Settings) -> Self {
        MailboxState {
            settings,
            streams: Streams::default(),
        }
    }

    /// Handles one event: the calls to make, then the actions to return.
    pub fn step(&mut self, event: Event) -> (Vec<Call>, Vec<Action>) {
        match event {
            Event::Tick(now) => {
                let mut calls = Vec::new();
                let mut actions = vec![Action::WakeAt(now.saturating_add(self.settings.every_ms))];
                // Fetching first also tells the host this transport moves streams through
                // mailboxes, so the dial that follows reaches the contacts with folders.
                if self.settings.read || self.settings.write {
                    calls.push(Call::Fetch);
                }
                if self.settings.write {
                    actions.push(Action::Dial(Vec::new()));
                }
                (calls, actions)
            }
            Event::Connect(request) => {
                let folder = request
                    .properties
                    .into_iter()
                    .find(|p| p.key == FOLDER)
                    .map(|p| p.value);
                match folder {
                    Some(folder) => (Vec::new(), vec![self.streams.open(request.channel, folder)]),
                    // Nowhere to put it: the host keeps it owed.
                    None => (Vec::new(), vec![Action::Close(request.channel)]),
                }
            }
            other => {
                let (actions, written) = self.streams.on_channel(other);
                let calls = written.map(|w| Call::Upload {
                    folder: w.to,
                    stream: w.stream,
                });
                (calls.into_iter().collect(), actions)
            }
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod exports {
    use courier_plugin::driver::Driver;
    use courier_plugin::transport::courier::plugin::mailbox;
    use courier_plugin::transport::courier::plugin::transport_types::{Action, Description, Event};
    use courier_plugin::transport::courier::plugin::types::{PluginError, Setting};

    use super::{Call, Mailbox, MailboxState};

    impl Driver for MailboxState {
        fn describe() -> Description {
            super::description()
        }

        fn new(settings: &[Setting]) -> Result<Self, PluginError> {
            let settings = super::settings(settings).map_err(PluginError::InvalidInput)?;
            Ok(MailboxState::new(settings))
        }

        fn handle(&mut self, event: Event) -> Result<Vec<Action>, PluginError> {
            let (calls, actions) = self.step(event);
            for call in calls {
                let done = match call {
                    Call::Fetch => mailbox::fetch(),
                    Call::Upload { folder, stream } => mailbox::upload(&folder, &stream),
                };
                if let Err(e) = done {
                    courier_plugin::log!(warn, "the host refused a mailbox request: {e:?}");
                }
            }
            Ok(actions)
        }
    }

    courier_plugin::export_transport!(Mailbox);
}

#[cfg(test)]
mod tests {
    use super::*;
    use courier_plugin::transport::courier::plugin::transport_types::{
        Chunk, ConnectRequest, Property,
    };

    fn state(settings: &[(&str, &str)]) -> MailboxState {
        MailboxState::new(super::settings(settings).unwrap())
    }

    fn connect(channel: u64, folder: Option<&str>) -> Event {
        Event::Connect(ConnectRequest {
            channel,
            properties: folder
                .map(|f| Property {
                    key: FOLDER.into(),
                    value: f.into(),
                })
                .into_iter()
                .collect(),
        })
    }

    #[test]
    fn a_mailbox_is_simplex_waits_two_weeks_and_says_what_it_reveals() {
        let d = description();
        assert_eq!(d.mode, Mode::Simplex);
        assert_eq!(d.max_latency_ms, 14 * 24 * 3600 * 1000);
        assert_eq!(d.reveals, Reveals::IP_ADDRESS);
        assert_eq!(d.id, "mailbox");
        assert!(!d.pass_through, "streams are uploaded whole");
    }

    #[test]
    fn each_poll_fetches_dials_and_wakes_again() {
        let mut mailbox = state(&[("every-secs", "7")]);
        let (calls, actions) = mailbox.step(Event::Tick(1_000));
        assert_eq!(calls, [Call::Fetch]);
        assert_eq!(actions, [Action::WakeAt(8_000), Action::Dial(Vec::new())]);

        let mut reader = state(&[("upload", "false")]);
        let (calls, actions) = reader.step(Event::Tick(0));
        assert_eq!(
            (calls, actions),
            (vec![Call::Fetch], vec![Action::WakeAt(30_000)])
        );

        let mut off = state(&[("upload", "false"), ("fetch", "false")]);
        assert_eq!(
            off.step(Event::Tick(0)),
            (vec![], vec![Action::WakeAt(30_000)])
        );
    }

    #[test]
    fn a_stream_goes_whole_to_the_folder_its_connect_named() {
        let mut mailbox = state(&[]);
        assert_eq!(mailbox.step(connect(3, Some("ab12"))).1, [Action::Ready(3)]);
        let chunk = |data: &[u8]| {
            Event::Outgoing(Chunk {
                channel: 3,
                data: data.to_vec(),
            })
        };
        mailbox.step(chunk(b"tag+header"));
        mailbox.step(chunk(b"+frames"));
        let (calls, _) = mailbox.step(Event::ChannelClosed(3));
        assert_eq!(
            calls,
            [Call::Upload {
                folder: "ab12".into(),
                stream: b"tag+header+frames".to_vec()
            }]
        );
    }

    #[test]
    fn a_connect_without_a_folder_is_closed_and_nothing_uploaded() {
        let mut mailbox = state(&[]);
        assert_eq!(mailbox.step(connect(5, None)).1, [Action::Close(5)]);
        assert_eq!(mailbox.step(Event::ChannelClosed(5)), (vec![], vec![]));
    }

    #[test]
    fn the_mailbox_s_switches_are_fetch_and_upload() {
        assert!(settings(&[("poll", "1")]).unwrap_err().contains("poll"));
        assert!(!settings(&[("fetch", "false")]).unwrap().read);
        assert!(!settings(&[("upload", "false")]).unwrap().write);
    }
}
