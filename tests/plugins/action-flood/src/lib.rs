//! Hostile plugin: answers every event with a hundred thousand actions.

use courier_plugin::transport::courier::plugin::transport_types::{
    Action, Description, Event, Mode, Reveals,
};
use courier_plugin::transport::courier::plugin::types::{PluginError, Setting};
use courier_plugin::transport::exports::courier::plugin::driver::{Guest, GuestSession, Session};

/// The plugin's exports.
pub struct ActionFlood;

impl Guest for ActionFlood {
    type Session = Flood;

    fn describe() -> Description {
        Description {
            id: "test-flood".into(),
            mode: Mode::Duplex,
            max_latency_ms: 30_000,
            frame_size: 1024,
            reveals: Reveals::empty(),
        }
    }
}

/// The flooding state machine.
pub struct Flood;

impl GuestSession for Flood {
    fn create(_settings: Vec<Setting>) -> Result<Session, PluginError> {
        Ok(Session::new(Flood))
    }
    fn handle(&self, _event: Event) -> Result<Vec<Action>, PluginError> {
        courier_plugin::log!(warn, "flooding the host");
        Ok((0..100_000u64).map(Action::WakeAt).collect())
    }
}

courier_plugin::export_transport!(ActionFlood);
