//! The wasmtime engine plugins run on, and the on-disk cache of compiled components.
//!
//! Compiling a component takes tens of milliseconds; loading a precompiled one takes a fraction of one.
//! Cache entries are keyed by the SHA-256 of the component bytes and of the engine's compatibility hash,
//! so a new wasmtime version or different engine settings never load a stale artifact.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// Builds the engine every plugin shares: component model on, fuel metering on.
pub fn engine() -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.consume_fuel(true);
    // Keep a guest's recursion from taking the host thread's stack with it.
    config.max_wasm_stack(512 * 1024);
    Engine::new(&config)
}

/// Whether a component came from the cache or was compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Deserialized from a cached artifact.
    Cached,
    /// Compiled now (and written to the cache, if there is one).
    Compiled,
}

/// Loads components, compiling only what the cache does not hold.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
}

/// Feeds `Hash` output into SHA-256, so the engine's compatibility hash can be part of the key.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("SHA-256 is 32 bytes"))
    }
}

impl ComponentCache {
    /// A cache in `dir`; `None` compiles every time.
    pub fn new(dir: Option<PathBuf>) -> Self {
        ComponentCache { dir }
    }

    /// Loads the component in `wasm`, from the cache when it can.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<(Component, Origin)> {
        let Some(dir) = &self.dir else {
            return Ok((Component::new(engine, wasm)?, Origin::Compiled));
        };
        let path = dir.join(format!("{}.cwasm", cache_key(engine, wasm)));
        // Read, not mmap (`deserialize_file`): a mapped file truncated by anyone else would crash the host
        // with SIGBUS, and reading a few hundred KiB costs little next to compiling.
        if let Ok(artifact) = std::fs::read(&path) {
            // SAFETY: the artifact was written by `precompile_component` of an engine with the same
            // compatibility hash (it is in the file name), and wasmtime checks its header before use. The
            // cache lives in the user's own plugin or data directory, as trusted as the plugins themselves:
            // whoever can write it can replace them.
            match unsafe { Component::deserialize(engine, &artifact) } {
                Ok(component) => return Ok((component, Origin::Cached)),
                Err(e) => {
                    tracing::warn!(error = %e, "a cached component is unreadable; compiling it again")
                }
            }
        }
        let artifact = engine.precompile_component(wasm)?;
        write_atomically(dir, &path, &artifact)?;
        // SAFETY: `artifact` was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &artifact)? };
        Ok((component, Origin::Compiled))
    }
}

fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    let mut hasher = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.update(wasm);
    hex::encode(hasher.0.finalize())
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    courier_local_fs::owner_only::create_dir_all(dir)?;
    // The temporary file is already owner-only, and keeps its mode when renamed.
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
