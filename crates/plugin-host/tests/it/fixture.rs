//! What the plugin host's stories share: a log catcher and config sections.

use std::io::Write;
use std::sync::{Arc, Mutex};

pub use courier_plugin_host::testing::Fixture;

/// Runs `f` with the host's log captured, returning what it logged.
pub fn capture_logs<R>(f: impl FnOnce() -> R) -> (R, String) {
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let log = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    (result, log)
}

/// A config section for a message-type plugin with `limits`.
pub fn message_type(name: &str, grant: &str, limits: &str) -> String {
    format!(
        "[message_types.{name}]\nplugin = \"{name}\"\ngrant = [{grant}]\nlimits = {{ {limits} }}\n\n"
    )
}

/// The config section for the well-behaved text plugin.
pub fn text() -> String {
    message_type("text", "\"log\"", "memory_mib = 16")
}
