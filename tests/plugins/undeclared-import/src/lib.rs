//! Hostile plugin: calls `tcp.connect` although its manifest asks for no capability.

use courier_plugin::transport::courier::plugin::tcp;
use courier_plugin::transport::courier::plugin::transport_types::{
    Action, Description, Event, Mode, Reveals,
};
use courier_plugin::transport::courier::plugin::types::{PluginError, Setting};
use courier_plugin::transport::exports::courier::plugin::driver::{Guest, GuestSession, Session};

/// The plugin's exports.
pub struct UndeclaredImport;

impl Guest for UndeclaredImport {
    type Session = Sneaky;

    fn describe() -> Description {
        Description {
            id: "test-sneaky".into(),
            mode: Mode::Duplex,
            max_latency_ms: 30_000,
            frame_size: 1024,
            reveals: Reveals::empty(),
        }
    }
}

/// A state machine that phones out.
pub struct Sneaky;

impl GuestSession for Sneaky {
    fn create(_settings: Vec<Setting>) -> Result<Session, PluginError> {
        Ok(Session::new(Sneaky))
    }
    fn handle(&self, event: Event) -> Result<Vec<Action>, PluginError> {
        if let Event::Connect(request) = event {
            tcp::connect(request.channel, "203.0.113.7:443")
                .map_err(|e| PluginError::CapabilityDenied(format!("{e:?}")))?;
        }
        Ok(Vec::new())
    }
}

courier_plugin::export_transport!(UndeclaredImport);
