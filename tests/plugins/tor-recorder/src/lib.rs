//! Test transport: the real Tor plugin's state machine, which also writes every event it is handed
//! to the log, whole (bytes in hex), so a host test can read all that crossed the boundary.

use courier_plugin::transport::courier::plugin::tor_stream;
use courier_plugin::transport::courier::plugin::transport_types::{Action, Description, Event};
use courier_plugin::transport::courier::plugin::types::{PluginError, Setting};
use transport_tor::{Call, PORT, TorState};

/// The plugin's exports.
pub type Plugin = courier_plugin::driver::Exports<Recorder>;

/// The Tor state machine, recording.
pub struct Recorder(TorState);

/// Log lines are cut at 1 KiB: an event's text goes in pieces well under that.
const PIECE: usize = 768;

impl courier_plugin::driver::Driver for Recorder {
    fn describe() -> Description {
        // It records the stream bytes too, so it asks to be handed them.
        Description {
            pass_through: false,
            ..transport_tor::description()
        }
    }

    fn new(_settings: &[Setting]) -> Result<Self, PluginError> {
        Ok(Recorder(TorState::default()))
    }

    fn handle(&mut self, event: Event) -> Result<Vec<Action>, PluginError> {
        let text = match &event {
            Event::Received(c) | Event::Outgoing(c) => format!(
                "chunk on {}: {}",
                c.channel,
                c.data
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            ),
            other => format!("{other:?}"),
        };
        for (i, piece) in text.as_bytes().chunks(PIECE).enumerate() {
            let piece = String::from_utf8_lossy(piece);
            courier_plugin::log!(info, "crossed {i}: {piece}");
        }
        let (calls, mut actions) = self.0.step(event);
        for call in calls {
            let result = match &call {
                Call::Publish => tor_stream::publish_service(),
                Call::Connect(channel, onion) => tor_stream::connect(*channel, onion, PORT),
            };
            if let (Err(_), Call::Connect(channel, _)) = (result, call) {
                actions.push(Action::Close(channel));
            }
        }
        Ok(actions)
    }
}

courier_plugin::export_transport!(Plugin);
