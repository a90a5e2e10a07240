//! The wasmtime resource limiter that enforces a plugin's memory, table and instance caps.

use courier_config::limits::PluginLimits;

/// Tables, elements and instances a component may create: generous for wit-bindgen output, tight for a bomb.
const MAX_TABLE_ELEMENTS: usize = 100_000;
const MAX_INSTANCES: usize = 64;
const MAX_TABLES: usize = 64;
const MAX_MEMORIES: usize = 8;

/// Enforces the caps on one store and remembers whether it refused memory, so a fault can say why.
#[derive(Debug)]
pub struct Limiter {
    memory_bytes: usize,
    /// The size a refused `memory.grow` asked for, if any.
    pub memory_refused: Option<usize>,
    /// The largest size a memory of this store has grown to, in bytes.
    pub memory_peak: usize,
}

impl Limiter {
    /// A limiter for `limits`.
    pub fn new(limits: &PluginLimits) -> Self {
        Limiter {
            memory_bytes: limits.memory_bytes(),
            memory_refused: None,
            memory_peak: 0,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.memory_refused = Some(desired);
            // Trapping (not returning -1 to the guest) means a bomb cannot catch the failure and try again.
            wasmtime::bail!("memory cap of {} MiB reached", self.memory_bytes >> 20);
        }
        self.memory_peak = self.memory_peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            wasmtime::bail!("table cap of {MAX_TABLE_ELEMENTS} elements reached");
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}
