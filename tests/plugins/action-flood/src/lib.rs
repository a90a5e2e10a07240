//! Hostile plugin: answers every event with a hundred thousand actions.

use courier_plugin::transport::courier::plugin::transport_types::{
    Action, Description, Event, Mode, Reveals,
};
use courier_plugin::transport::courier::plugin::types::{PluginError, Setting};

/// The plugin's exports.
pub type ActionFlood = courier_plugin::driver::Exports<Flood>;

/// The flooding state machine.
pub struct Flood;

impl courier_plugin::driver::Driver for Flood {
    fn describe() -> Description {
        Description {
            id: "test-flood".into(),
            mode: Mode::Duplex,
            max_latency_ms: 30_000,
            frame_size: 1024,
            reveals: Reveals::empty(),
            pass_through: false,
        }
    }
    fn new(_settings: &[Setting]) -> Result<Self, PluginError> {
        Ok(Flood)
    }
    fn handle(&mut self, _event: Event) -> Result<Vec<Action>, PluginError> {
        courier_plugin::log!(warn, "flooding the host");
        Ok((0..100_000u64).map(Action::WakeAt).collect())
    }
}

courier_plugin::export_transport!(ActionFlood);
