//! Why a plugin call failed in a way that is the plugin's fault, and how that reads in the log.

use std::fmt;

use wasmtime::Trap;

use super::sandbox::PluginState;
use courier_config::limits::PluginLimits;

/// A plugin misbehaved; the instance is dropped and restarted (or disabled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The call burned its whole budget (an endless loop, or far too much work).
    Budget {
        /// The per-call fuel.
        fuel: u64,
    },
    /// The instance asked for more memory than its cap.
    Memory {
        /// Bytes it asked for.
        requested: usize,
        /// The cap in MiB.
        cap_mib: u64,
    },
    /// The guest panicked or hit an `unreachable`.
    Panic {
        /// What the guest printed before dying, if anything.
        message: String,
    },
    /// Any other trap (out-of-bounds access, stack overflow, …).
    Trap {
        /// Wasmtime's description.
        message: String,
    },
    /// The plugin returned output that breaks the contract (too many actions, oversize payloads, …).
    Malformed {
        /// What was wrong.
        message: String,
    },
    /// The plugin refused the settings its config section gives it.
    Settings {
        /// The plugin's reason, naming the setting.
        message: String,
    },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Budget { fuel } => write!(
                f,
                "used up its per-call budget of {fuel} fuel (endless loop?); raise limits.fuel_per_call only if the work is legitimate"
            ),
            Fault::Memory { requested, cap_mib } => write!(
                f,
                "tried to grow its memory to {} MiB, over its {cap_mib} MiB cap; raise limits.memory_mib only if the plugin needs it",
                requested.div_ceil(1 << 20)
            ),
            Fault::Panic { message } if message.is_empty() => write!(f, "panicked"),
            Fault::Panic { message } => write!(f, "panicked: {message}"),
            Fault::Trap { message } => write!(f, "trapped: {message}"),
            Fault::Malformed { message } => write!(f, "returned malformed output: {message}"),
            Fault::Settings { message } => write!(
                f,
                "refused its settings: {message}; fix them in the config section's `settings`"
            ),
        }
    }
}

impl Fault {
    /// Classifies an error from a call into a store, using what the store saw.
    pub fn from_call_error(
        error: &wasmtime::Error,
        state: &mut PluginState,
        limits: &PluginLimits,
    ) -> Fault {
        let (fuel, cap_mib) = (limits.fuel_per_call, limits.memory_mib);
        if let Some(requested) = state.limiter.memory_refused {
            return Fault::Memory { requested, cap_mib };
        }
        let guest_output = state.stderr.take();
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => Fault::Budget { fuel },
            Some(Trap::UnreachableCodeReached) => Fault::Panic {
                message: panic_line(&guest_output),
            },
            Some(trap) => Fault::Trap {
                message: trap.to_string(),
            },
            None => Fault::Trap {
                message: format!("{error:#}"),
            },
        }
    }
}

/// The "panicked at …" part of what a Rust guest printed, or all of it when there is no such part.
fn panic_line(output: &str) -> String {
    let start = output.find("panicked at").unwrap_or(0);
    output[start..].chars().take(300).collect()
}
