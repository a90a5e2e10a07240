//! For tests of this crate and the crates above it: a scratch plugin directory holding copies of
//! the plugins `cargo xtask build-plugins` built, and a config that points at it.

use std::path::{Path, PathBuf};

use courier_config::Config;
use tempfile::TempDir;

use crate::PluginHost;

/// A temporary directory with `plugins/` and a `config.toml` that points at it.
pub struct Fixture {
    dir: TempDir,
}

fn built_plugin_dirs() -> [PathBuf; 2] {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
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
