//! One plugin's live instance under supervision: every call gets a fresh fuel budget, and a fault drops
//! the instance and hands the decision about restarting to the [`Supervisor`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

use courier_error::{ErrorKind, HasKind};

use super::fault::Fault;
use super::sandbox::{PluginState, new_store};
use super::supervisor::{Health, Supervisor, Verdict};
use courier_config::capability::Grants;
use courier_config::limits::PluginLimits;

/// Why a call into a plugin produced no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The plugin answered with an error of its own (bad input, unsupported version, …).
    #[error("plugin `{plugin}` refused: {message}")]
    Refused {
        /// Plugin name.
        plugin: String,
        /// The plugin's error, as text.
        message: String,
    },
    /// The plugin faulted during this call; it has been stopped.
    #[error("plugin `{plugin}` {fault}")]
    Faulted {
        /// Plugin name.
        plugin: String,
        /// What it did.
        fault: Fault,
    },
    /// The plugin is waiting out its restart backoff.
    #[error("plugin `{plugin}` is restarting after a fault; try again in {} ms", retry_in.as_millis())]
    Restarting {
        /// Plugin name.
        plugin: String,
        /// Time left.
        retry_in: Duration,
    },
    /// The plugin faulted too often and is off until the host restarts.
    #[error(
        "plugin `{plugin}` is disabled after repeated faults (last: {reason}); fix or remove it and restart Courier"
    )]
    Disabled {
        /// Plugin name.
        plugin: String,
        /// The last fault.
        reason: String,
    },
}

/// What the last call into a plugin used of its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Fuel the call burned (roughly, wasm instructions).
    pub fuel: u64,
    /// The largest size the instance's memory has grown to since it started, in bytes.
    pub memory_bytes: usize,
}

/// A world's bindings, as the supervisor needs them.
pub trait Bindings: Sized {
    /// Pre-linked form, made once per component.
    type Pre;
    /// Links `component` ahead of time; fails when the component does not implement the world.
    fn prepare(linker: &Linker<PluginState>, component: &Component) -> wasmtime::Result<Self::Pre>;
    /// Instantiates and runs the world's setup (e.g. creating the transport session).
    fn start(
        pre: &Self::Pre,
        store: &mut Store<PluginState>,
        settings: &[(String, String)],
    ) -> Result<Self, StartError>;
}

/// Why `Bindings::start` failed.
#[derive(Debug)]
pub enum StartError {
    /// Wasmtime failed (trap, missing import, …).
    Wasm(wasmtime::Error),
    /// The plugin refused its settings (its reason).
    Refused(String),
}

/// A supervised plugin instance of world `B`.
pub struct Supervised<B: Bindings> {
    name: Arc<str>,
    engine: Engine,
    pre: B::Pre,
    grants: Arc<Grants>,
    limits: PluginLimits,
    settings: Vec<(String, String)>,
    supervisor: Supervisor,
    live: Option<(Store<PluginState>, B)>,
    restarts: u32,
    last_usage: Option<Usage>,
}

impl<B: Bindings> Supervised<B> {
    /// Links `component` for `B`; nothing runs until the first call.
    pub fn new(
        name: &str,
        engine: &Engine,
        linker: &Linker<PluginState>,
        component: &Component,
        grants: Grants,
        limits: PluginLimits,
        settings: Vec<(String, String)>,
    ) -> wasmtime::Result<Self> {
        Ok(Supervised {
            name: name.into(),
            engine: engine.clone(),
            pre: B::prepare(linker, component)?,
            grants: Arc::new(grants),
            supervisor: Supervisor::new(&limits),
            limits,
            settings,
            live: None,
            restarts: 0,
            last_usage: None,
        })
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the plugin is up, backing off or disabled.
    pub fn health(&self) -> &Health {
        self.supervisor.health()
    }

    /// How many times the instance was started again after a fault.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Calls into the plugin with a fresh budget; a trap becomes a [`CallError::Faulted`].
    pub fn call<R>(
        &mut self,
        f: impl FnOnce(&mut Store<PluginState>, &B) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        self.ensure_live()?;
        let (store, bindings) = self.live.as_mut().expect("ensure_live left an instance");
        reset_for_call(store, self.limits.fuel_per_call);
        let answer = f(store, bindings);
        self.last_usage = Some(Usage {
            fuel: self
                .limits
                .fuel_per_call
                .saturating_sub(store.get_fuel().unwrap_or(0)),
            memory_bytes: store.data().limiter.memory_peak,
        });
        match answer {
            Ok(value) => Ok(value),
            Err(error) => {
                let fault = Fault::from_call_error(&error, store.data_mut(), &self.limits);
                Err(self.fault(fault))
            }
        }
    }

    /// What the last call used of the plugin's limits (none before the first call).
    pub fn last_usage(&self) -> Option<Usage> {
        self.last_usage
    }

    /// The limits each call runs under.
    pub fn limits(&self) -> &PluginLimits {
        &self.limits
    }

    /// The requests the last call made through capabilities.
    pub fn take_requests(&mut self) -> Vec<courier_io::IoRequest> {
        self.live
            .as_mut()
            .map(|(store, _)| std::mem::take(&mut store.data_mut().requests))
            .unwrap_or_default()
    }

    /// Stops the instance for `fault`, logs why, and returns the error for the caller.
    pub fn fault(&mut self, fault: Fault) -> CallError {
        self.live = None;
        let plugin = self.name.to_string();
        match self
            .supervisor
            .record_fault(Instant::now(), &fault.to_string())
        {
            Verdict::RestartIn(delay) => {
                tracing::warn!(%plugin, reason = %fault, "plugin stopped; restarting in {} ms", delay.as_millis());
            }
            Verdict::Disable => {
                tracing::error!(%plugin, reason = %fault, "plugin disabled after repeated faults; the host and other plugins keep running");
            }
        }
        CallError::Faulted { plugin, fault }
    }

    fn ensure_live(&mut self) -> Result<(), CallError> {
        if self.live.is_some() {
            return Ok(());
        }
        let now = Instant::now();
        let plugin = self.name.to_string();
        match self.supervisor.health() {
            Health::Disabled { reason } => {
                return Err(CallError::Disabled {
                    plugin,
                    reason: reason.clone(),
                });
            }
            Health::BackingOff { until } if now < *until => {
                return Err(CallError::Restarting {
                    plugin,
                    retry_in: *until - now,
                });
            }
            Health::BackingOff { .. } => self.restarts += 1,
            Health::Up => {}
        }
        let mut store = new_store(&self.engine, &self.name, &self.grants, &self.limits);
        reset_for_call(&mut store, self.limits.fuel_per_call);
        match B::start(&self.pre, &mut store, &self.settings) {
            Ok(bindings) => {
                if self.restarts > 0 {
                    tracing::info!(%plugin, restarts = self.restarts, "plugin restarted");
                }
                self.supervisor.record_restart();
                self.live = Some((store, bindings));
                Ok(())
            }
            Err(StartError::Wasm(error)) => {
                let fault = Fault::from_call_error(&error, store.data_mut(), &self.limits);
                Err(self.fault(fault))
            }
            Err(StartError::Refused(message)) => Err(self.fault(Fault::Settings { message })),
        }
    }
}

fn reset_for_call(store: &mut Store<PluginState>, fuel: u64) {
    store
        .set_fuel(fuel)
        .expect("fuel metering is enabled on the engine");
    let state = store.data_mut();
    state.requests.clear();
    state.log_lines = 0;
    state.limiter.memory_refused = None;
}

impl HasKind for CallError {
    fn kind(&self) -> ErrorKind {
        match self {
            // The plugin read the input and said no: the input breaks its content type's rules.
            CallError::Refused { .. } => ErrorKind::InvalidInput,
            CallError::Restarting { .. } => ErrorKind::Unavailable,
            CallError::Faulted { .. } | CallError::Disabled { .. } => ErrorKind::Plugin,
        }
    }
}

impl HasKind for StartError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Plugin
    }
}
