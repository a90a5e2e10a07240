//! Per-plugin limits: the per-call budget, the memory cap, table and instance caps, and the restart policy.

use std::time::Duration;

use serde::Deserialize;

/// Limits for one plugin, set in its config section under `limits`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginLimits {
    /// Linear memory cap per instance, in MiB.
    pub memory_mib: u64,
    /// Fuel (roughly, wasm instructions) one call may burn before it is stopped.
    pub fuel_per_call: u64,
    /// Wait before the first restart after a fault, in milliseconds; doubles per fault in a row.
    pub restart_backoff_ms: u64,
    /// Longest wait between restarts, in milliseconds.
    pub max_backoff_ms: u64,
    /// Faults within `failure_window_s` after which the plugin is disabled until the host restarts.
    pub max_failures: u32,
    /// Window in which faults are counted, in seconds.
    pub failure_window_s: u64,
}

impl Default for PluginLimits {
    fn default() -> Self {
        PluginLimits {
            memory_mib: 64,
            fuel_per_call: 2_000_000_000,
            restart_backoff_ms: 200,
            max_backoff_ms: 60_000,
            max_failures: 5,
            failure_window_s: 300,
        }
    }
}

/// Tables, elements and instances a component may create: generous for wit-bindgen output, tight for a bomb.
const MAX_TABLE_ELEMENTS: usize = 100_000;
const MAX_INSTANCES: usize = 64;
const MAX_TABLES: usize = 64;
const MAX_MEMORIES: usize = 8;

impl PluginLimits {
    /// Checks the values make sense; the message names the field.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=4096).contains(&self.memory_mib) {
            return Err(format!(
                "memory_mib = {} must be between 1 and 4096",
                self.memory_mib
            ));
        }
        if self.fuel_per_call < 1_000 {
            return Err(format!(
                "fuel_per_call = {} is too small for any call; use at least 1000",
                self.fuel_per_call
            ));
        }
        if self.max_failures == 0 {
            return Err("max_failures must be at least 1".into());
        }
        if self.max_backoff_ms < self.restart_backoff_ms {
            return Err("max_backoff_ms must be at least restart_backoff_ms".into());
        }
        Ok(())
    }

    /// The memory cap in bytes.
    pub fn memory_bytes(&self) -> usize {
        usize::try_from(self.memory_mib << 20).unwrap_or(usize::MAX)
    }

    /// The first restart delay.
    pub fn backoff(&self) -> Duration {
        Duration::from_millis(self.restart_backoff_ms)
    }

    /// The longest restart delay.
    pub fn max_backoff(&self) -> Duration {
        Duration::from_millis(self.max_backoff_ms)
    }

    /// The window faults are counted in.
    pub fn failure_window(&self) -> Duration {
        Duration::from_secs(self.failure_window_s)
    }
}

/// Enforces the caps on one store and remembers whether it refused memory, so a fault can say why.
#[derive(Debug)]
pub struct Limiter {
    memory_bytes: usize,
    /// The size a refused `memory.grow` asked for, if any.
    pub memory_refused: Option<usize>,
}

impl Limiter {
    /// A limiter for `limits`.
    pub fn new(limits: &PluginLimits) -> Self {
        Limiter {
            memory_bytes: limits.memory_bytes(),
            memory_refused: None,
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
