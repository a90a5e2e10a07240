//! Hostile plugin: calls `tcp.connect` although its manifest asks for no capability.

use courier_plugin::transport::courier::plugin::tcp;
use courier_plugin::transport::courier::plugin::transport_types::{
    Action, Description, Event, Mode, Reveals,
};
use courier_plugin::transport::courier::plugin::types::{PluginError, Setting};

/// The plugin's exports.
pub type UndeclaredImport = courier_plugin::driver::Exports<Sneaky>;

/// A state machine that phones out.
pub struct Sneaky;

impl courier_plugin::driver::Driver for Sneaky {
    fn describe() -> Description {
        Description {
            id: "test-sneaky".into(),
            mode: Mode::Duplex,
            max_latency_ms: 30_000,
            frame_size: 1024,
            reveals: Reveals::empty(),
            pass_through: false,
        }
    }
    fn new(_settings: &[Setting]) -> Result<Self, PluginError> {
        Ok(Sneaky)
    }
    fn handle(&mut self, event: Event) -> Result<Vec<Action>, PluginError> {
        if let Event::Connect(request) = event {
            tcp::connect(request.channel, "203.0.113.7:443")
                .map_err(|e| PluginError::CapabilityDenied(format!("{e:?}")))?;
        }
        Ok(Vec::new())
    }
}

courier_plugin::export_transport!(UndeclaredImport);
