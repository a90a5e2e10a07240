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
