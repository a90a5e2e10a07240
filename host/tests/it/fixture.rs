//! A scratch plugin directory holding copies of built plugins, a config for it, and a log catcher.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use courier_host::config::Config;
use courier_host::plugin::PluginHost;
use tempfile::TempDir;

/// A temporary directory with `plugins/` and a `config.toml` that points at it.
pub struct Fixture {
    dir: TempDir,
}

fn built_plugin_dirs() -> [PathBuf; 2] {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    [target.join("plugins"), target.join("test-plugins")]
}

impl Fixture {
    /// Copies the named plugins (component + manifest) into a fresh plugin directory.
    pub fn with_plugins(names: &[&str]) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let plugins = dir.path().join("plugins");
        std::fs::create_dir(&plugins).unwrap();
        for name in names {
            let source = built_plugin_dirs()
                .into_iter()
                .find(|d| d.join(format!("{name}.wasm")).exists())
                .unwrap_or_else(|| {
                    panic!("plugin {name} is not built; run `cargo xtask build-plugins` first")
                });
            for ext in ["wasm", "toml"] {
                std::fs::copy(
                    source.join(format!("{name}.{ext}")),
                    plugins.join(format!("{name}.{ext}")),
                )
                .unwrap();
            }
        }
        Fixture { dir }
    }

    /// The plugin directory.
    pub fn plugin_dir(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    /// Writes `body` as the config (after a `[plugins]` table pointing at the plugin directory) and parses it.
    pub fn config(&self, body: &str) -> Config {
        let path = self.dir.path().join("config.toml");
        std::fs::write(&path, format!("[plugins]\ndir = \"plugins\"\n\n{body}")).unwrap();
        Config::read(&path).expect("test config parses")
    }

    /// Loads the plugins of `body`.
    pub fn load(&self, body: &str) -> PluginHost {
        PluginHost::load(&self.config(body)).expect("engine starts")
    }
}

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

/// Runs one duplex sync session between two conversations over an in-memory link until both are quiet.
/// `reaches_b` and `reaches_a` decide whether each record gets through (a dropped link, a crash before
/// acks leave). Returns how many message records `a` sent.
pub fn sync_session(
    a: &mut impl courier_host::sync::session::SyncStore,
    b: &mut impl courier_host::sync::session::SyncStore,
    now: u64,
    mut reaches_b: impl FnMut(&courier_host::sync::record::Record) -> bool,
    mut reaches_a: impl FnMut(&courier_host::sync::record::Record) -> bool,
) -> usize {
    use courier_host::sync::record::Record;
    use courier_host::sync::session::{Mode, Session};
    let (mut sa, mut sb) = (Session::new(Mode::Duplex), Session::new(Mode::Duplex));
    let (mut to_b, mut to_a) = (sa.start(a, now).unwrap(), sb.start(b, now).unwrap());
    let mut sent = 0;
    while !to_a.is_empty() || !to_b.is_empty() {
        sent += to_b
            .iter()
            .filter(|r| matches!(r, Record::Message(_)))
            .count();
        let replies_to_a: Vec<Record> = to_b
            .drain(..)
            .filter(|r| reaches_b(r))
            .flat_map(|r| sb.handle(r, b, now).unwrap())
            .collect();
        let replies_to_b: Vec<Record> = to_a
            .drain(..)
            .filter(|r| reaches_a(r))
            .flat_map(|r| sa.handle(r, a, now).unwrap())
            .collect();
        to_a = replies_to_a;
        to_b = replies_to_b;
    }
    sent
}
