//! A loaded transport plugin: feeds it events, checks the actions it returns, and tracks which channels
//! it may act on, so a confused or hostile plugin cannot write to a channel it was never given.

use std::collections::BTreeSet;

use wasmtime::Store;
use wasmtime::component::{Component, Linker, ResourceAny};

use super::bindings::transport::{Transport, TransportPre};
use courier_config::capability::Reveal;

use super::bindings::transport_types::{Action, ChannelId, Description, Event, Reveals};
use super::bindings::{plugin_error_text, settings};
use super::fault::Fault;
use super::instance::{Bindings, CallError, StartError, Supervised};
use super::sandbox::PluginState;
use courier_io::IoRequest;

/// Most actions one event may cause.
pub const MAX_ACTIONS_PER_EVENT: usize = 256;
/// Largest chunk one `write` or `deliver` may carry.
pub const MAX_CHUNK_BYTES: usize = 1 << 20;
/// Most properties a transport may publish, and their sizes.
const MAX_PROPERTIES: usize = 16;
const MAX_PROPERTY_KEY: usize = 64;
const MAX_PROPERTY_VALUE: usize = 1024;

/// What a transport declares using it reveals.
pub fn declared_reveals(reveals: Reveals) -> Vec<Reveal> {
    [
        (Reveals::IP_ADDRESS, Reveal::IpAddress),
        (Reveals::PRESENCE, Reveal::Presence),
        (Reveals::LOCATION, Reveal::Location),
    ]
    .into_iter()
    .filter(|(flag, _)| reveals.contains(*flag))
    .map(|(_, reveal)| reveal)
    .collect()
}

/// What a transport declares using it reveals, by the names configs and front ends use:
/// `ip-address`, `presence`, `location`.
pub fn reveal_names(reveals: Reveals) -> Vec<&'static str> {
    declared_reveals(reveals)
        .into_iter()
        .map(Reveal::name)
        .collect()
}

/// A transport's bindings plus the session resource its `create` returned.
pub struct TransportSession {
    bindings: Transport,
    session: ResourceAny,
}

impl Bindings for TransportSession {
    type Pre = TransportPre<PluginState>;

    fn prepare(linker: &Linker<PluginState>, component: &Component) -> wasmtime::Result<Self::Pre> {
        TransportPre::new(linker.instantiate_pre(component)?)
    }

    fn start(
        pre: &Self::Pre,
        store: &mut Store<PluginState>,
        pairs: &[(String, String)],
    ) -> Result<Self, StartError> {
        let bindings = pre.instantiate(&mut *store).map_err(StartError::Wasm)?;
        let created = bindings
            .courier_plugin_driver()
            .session()
            .call_create(&mut *store, &settings(pairs))
            .map_err(StartError::Wasm)?;
        match created {
            Ok(session) => Ok(TransportSession { bindings, session }),
            Err(e) => Err(StartError::Refused(plugin_error_text(&e))),
        }
    }
}

/// What one event led to: the plugin's actions and the capability requests it made, both checked.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Actions, in the order returned.
    pub actions: Vec<Action>,
    /// Requests for the I/O drivers, in the order made.
    pub requests: Vec<IoRequest>,
}

/// A transport plugin under supervision.
pub struct TransportPlugin {
    instance: Supervised<TransportSession>,
    description: Description,
    channels: BTreeSet<ChannelId>,
    orphaned: Vec<ChannelId>,
}

impl TransportPlugin {
    /// Wraps `instance`, calling `describe` once and checking the answer.
    pub fn start(mut instance: Supervised<TransportSession>) -> Result<Self, CallError> {
        let description =
            instance.call(|store, t| t.bindings.courier_plugin_driver().call_describe(store))?;
        if let Some(problem) = description_problem(&description) {
            return Err(instance.fault(Fault::Malformed { message: problem }));
        }
        Ok(TransportPlugin {
            instance,
            description,
            channels: BTreeSet::new(),
            orphaned: Vec::new(),
        })
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        self.instance.name()
    }

    /// What the plugin said about its transport at load.
    pub fn description(&self) -> &Description {
        &self.description
    }

    /// The supervised instance (health, restarts).
    pub fn instance(&self) -> &Supervised<TransportSession> {
        &self.instance
    }

    /// Channels the plugin currently holds.
    pub fn channels(&self) -> &BTreeSet<ChannelId> {
        &self.channels
    }

    /// Channels the host must close because the plugin that held them faulted.
    pub fn take_orphaned(&mut self) -> Vec<ChannelId> {
        std::mem::take(&mut self.orphaned)
    }

    /// Feeds one event and returns what the plugin wants done.
    pub fn handle(&mut self, event: &Event) -> Result<Outcome, CallError> {
        match event {
            Event::Connect(request) => {
                self.channels.insert(request.channel);
            }
            Event::ChannelAccepted(channel) => {
                self.channels.insert(*channel);
            }
            _ => {}
        }
        let answer = self.instance.call(|store, t| {
            t.bindings
                .courier_plugin_driver()
                .session()
                .call_handle(store, t.session, event)
        });
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => return Err(self.orphan_channels(error)),
        };
        let requests = self.instance.take_requests();
        let actions = match answer {
            Ok(actions) => actions,
            Err(e) => {
                return Err(CallError::Refused {
                    plugin: self.name().to_owned(),
                    message: plugin_error_text(&e),
                });
            }
        };
        if let Some(problem) = self.actions_problem(&actions) {
            let error = self.instance.fault(Fault::Malformed { message: problem });
            return Err(self.orphan_channels(error));
        }
        if let Event::ChannelClosed(channel) = event {
            self.channels.remove(channel);
        }
        for action in &actions {
            if let Action::Close(channel) = action {
                self.channels.remove(channel);
            }
        }
        Ok(Outcome { actions, requests })
    }

    fn orphan_channels(&mut self, error: CallError) -> CallError {
        if matches!(error, CallError::Faulted { .. }) {
            self.orphaned.extend(std::mem::take(&mut self.channels));
        }
        error
    }

    fn actions_problem(&self, actions: &[Action]) -> Option<String> {
        if actions.len() > MAX_ACTIONS_PER_EVENT {
            return Some(format!(
                "{} actions for one event; the limit is {MAX_ACTIONS_PER_EVENT}",
                actions.len()
            ));
        }
        actions.iter().find_map(|action| match action {
            Action::Write(chunk) | Action::Deliver(chunk) if chunk.data.len() > MAX_CHUNK_BYTES => {
                Some(format!(
                    "a {}-byte chunk; the limit is {MAX_CHUNK_BYTES}",
                    chunk.data.len()
                ))
            }
            Action::Write(chunk) | Action::Deliver(chunk)
                if !self.channels.contains(&chunk.channel) =>
            {
                Some(format!(
                    "used channel {} which it does not hold",
                    chunk.channel
                ))
            }
            Action::Ready(channel) | Action::Close(channel) if !self.channels.contains(channel) => {
                Some(format!("used channel {channel} which it does not hold"))
            }
            Action::Publish(properties) | Action::Dial(properties) => {
                properties_problem(properties)
            }
            _ => None,
        })
    }
}

fn properties_problem(properties: &[super::bindings::transport_types::Property]) -> Option<String> {
    if properties.len() > MAX_PROPERTIES {
        return Some(format!(
            "published {} properties; the limit is {MAX_PROPERTIES}",
            properties.len()
        ));
    }
    properties
        .iter()
        .find(|p| {
            p.key.is_empty() || p.key.len() > MAX_PROPERTY_KEY || p.value.len() > MAX_PROPERTY_VALUE
        })
        .map(|p| {
            format!(
                "property key of {} bytes or value of {} bytes is out of bounds",
                p.key.len(),
                p.value.len()
            )
        })
}

fn description_problem(d: &Description) -> Option<String> {
    if d.id.is_empty()
        || d.id.len() > 32
        || !d
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Some(format!(
            "transport id {:?} must be 1-32 characters of a-z, 0-9 and '-'",
            d.id
        ));
    }
    if d.frame_size < 64 || d.frame_size as usize > MAX_CHUNK_BYTES {
        return Some(format!(
            "frame size {} must be between 64 and {MAX_CHUNK_BYTES} bytes",
            d.frame_size
        ));
    }
    if d.max_latency_ms == 0 {
        return Some("max-latency-ms must be above 0".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wit_declares_the_limits_the_host_enforces_on_transports() {
        let wit = super::super::doc_text(include_str!("../../../plugin-api/wit/transport.wit"));
        for limit in [
            format!("at most {MAX_ACTIONS_PER_EVENT} actions per event"),
            format!("at most {MAX_CHUNK_BYTES} bytes"),
            format!("at most {MAX_PROPERTIES} published or dialed properties"),
            format!("keys of 1 to {MAX_PROPERTY_KEY} bytes"),
            format!("values of at most {MAX_PROPERTY_VALUE} bytes"),
            format!(
                "at most {} capability requests",
                super::super::host_imports::MAX_REQUESTS_PER_CALL
            ),
            format!("64 to {MAX_CHUNK_BYTES}"),
        ] {
            assert!(wit.contains(&limit), "transport.wit does not say {limit:?}");
        }
    }
}
