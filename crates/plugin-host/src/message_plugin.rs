//! A loaded message-type plugin: the host's only way into a content type's rules, with every answer
//! checked against what the plugin said it would do.

use wasmtime::Store;
use wasmtime::component::{Component, Linker};

use super::bindings::message_type::exports::courier::plugin::content::Description;
use super::bindings::message_type::{MessageType, MessageTypePre};
use super::bindings::{PluginError, plugin_error_text, settings};
use super::fault::Fault;
use super::instance::{Bindings, CallError, StartError, Supervised};
use super::sandbox::PluginState;

/// Longest summary a plugin may return, in characters.
pub const MAX_SUMMARY_CHARS: usize = 1024;

impl Bindings for MessageType {
    type Pre = MessageTypePre<PluginState>;

    fn prepare(linker: &Linker<PluginState>, component: &Component) -> wasmtime::Result<Self::Pre> {
        MessageTypePre::new(linker.instantiate_pre(component)?)
    }

    fn start(
        pre: &Self::Pre,
        store: &mut Store<PluginState>,
        pairs: &[(String, String)],
    ) -> Result<Self, StartError> {
        let bindings = pre.instantiate(&mut *store).map_err(StartError::Wasm)?;
        // Checked at every start, so a bad setting is refused at load, not at the first send.
        bindings
            .courier_plugin_content()
            .call_check_settings(&mut *store, &settings(pairs))
            .map_err(StartError::Wasm)?
            .map_err(|e| StartError::Refused(plugin_error_text(&e)))?;
        Ok(bindings)
    }
}

/// A message-type plugin under supervision.
pub struct MessageTypePlugin {
    instance: Supervised<MessageType>,
    description: Description,
}

impl MessageTypePlugin {
    /// Wraps `instance`, calling `describe` once and checking the answer.
    pub fn start(mut instance: Supervised<MessageType>) -> Result<Self, CallError> {
        let description =
            instance.call(|store, b| b.courier_plugin_content().call_describe(store))?;
        if let Some(problem) = description_problem(&description) {
            return Err(instance.fault(Fault::Malformed { message: problem }));
        }
        Ok(MessageTypePlugin {
            instance,
            description,
        })
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        self.instance.name()
    }

    /// What the plugin said about its content type at load.
    pub fn description(&self) -> &Description {
        &self.description
    }

    /// The supervised instance (health, restarts).
    pub fn instance(&self) -> &Supervised<MessageType> {
        &self.instance
    }

    /// Turns user input into a payload of `version`.
    pub fn prepare(
        &mut self,
        input: &[u8],
        options: &[(String, String)],
        version: u32,
    ) -> Result<Vec<u8>, CallError> {
        if input.len() as u64 > self.description.max_input_bytes {
            return Err(self.refused(&PluginError::TooLarge(self.description.max_input_bytes)));
        }
        let options = settings(options);
        let answer = self.instance.call(|store, b| {
            b.courier_plugin_content()
                .call_prepare(store, input, &options, version)
        })?;
        let payload = answer.map_err(|e| self.refused(&e))?;
        let max = self.description.max_payload_bytes;
        if payload.len() as u64 > max {
            return Err(self.instance.fault(Fault::Malformed {
                message: format!(
                    "prepare returned {} bytes; its own limit is {max}",
                    payload.len()
                ),
            }));
        }
        Ok(payload)
    }

    /// Checks an incoming payload of `version`.
    pub fn validate(&mut self, payload: &[u8], version: u32) -> Result<(), CallError> {
        self.check_incoming(payload, version)?;
        let answer = self.instance.call(|store, b| {
            b.courier_plugin_content()
                .call_validate(store, payload, version)
        })?;
        answer.map_err(|e| self.refused(&e))
    }

    /// Short text for a payload: notifications, and peers without the plugin.
    pub fn summary(&mut self, payload: &[u8], version: u32) -> Result<String, CallError> {
        self.check_incoming(payload, version)?;
        let answer = self.instance.call(|store, b| {
            b.courier_plugin_content()
                .call_summary(store, payload, version)
        })?;
        let summary = answer.map_err(|e| self.refused(&e))?;
        if let Some(problem) = summary_problem(&summary) {
            return Err(self.instance.fault(Fault::Malformed { message: problem }));
        }
        Ok(summary)
    }

    fn check_incoming(&self, payload: &[u8], version: u32) -> Result<(), CallError> {
        let d = &self.description;
        if payload.len() as u64 > d.max_payload_bytes {
            return Err(self.refused(&PluginError::TooLarge(d.max_payload_bytes)));
        }
        if !(d.versions.min..=d.versions.max).contains(&version) {
            return Err(self.refused(&PluginError::UnsupportedVersion(version)));
        }
        Ok(())
    }

    fn refused(&self, error: &PluginError) -> CallError {
        CallError::Refused {
            plugin: self.name().to_owned(),
            message: plugin_error_text(error),
        }
    }
}

/// Whether `name` is a content type: `kind/name`, each 1-64 characters of a-z, 0-9 and '-'.
pub fn is_content_type(name: &str) -> bool {
    let (kind, sub) = name.split_once('/').unwrap_or(("", ""));
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    token(kind) && token(sub)
}

fn description_problem(d: &Description) -> Option<String> {
    if !is_content_type(&d.content_type) {
        return Some(format!(
            "content type {:?} is not of the form `kind/name` in a-z, 0-9 and '-'",
            d.content_type
        ));
    }
    if d.versions.min == 0 || d.versions.min > d.versions.max {
        return Some(format!(
            "version range {}..={} is empty or starts at 0",
            d.versions.min, d.versions.max
        ));
    }
    if d.max_payload_bytes == 0 || d.max_input_bytes == 0 {
        return Some("max-input-bytes and max-payload-bytes must be above 0".into());
    }
    None
}

/// Why a summary cannot be shown to a user, if it cannot.
fn summary_problem(summary: &str) -> Option<String> {
    let chars = summary.chars().count();
    if chars > MAX_SUMMARY_CHARS {
        return Some(format!(
            "summary is {chars} characters; the limit is {MAX_SUMMARY_CHARS}"
        ));
    }
    summary
        .chars()
        .find(|&c| courier_text_safety::is_spoofing(c))
        .map(|c| {
            format!(
                "summary contains the control or direction-changing character U+{:04X}",
                c as u32
            )
        })
}

#[cfg(test)]
mod tests {
    use super::super::bindings::message_type::exports::courier::plugin::content::VersionRange;
    use super::*;

    #[test]
    fn descriptions_that_contradict_themselves_are_refused() {
        let good = Description {
            content_type: "courier/text".into(),
            versions: VersionRange { min: 1, max: 2 },
            max_input_bytes: 10,
            max_payload_bytes: 10,
        };
        assert_eq!(description_problem(&good), None);
        let bad_type = Description {
            content_type: "Text".into(),
            ..good.clone()
        };
        assert!(
            description_problem(&bad_type)
                .unwrap()
                .contains("kind/name")
        );
        let empty = Description {
            versions: VersionRange { min: 3, max: 2 },
            ..good
        };
        assert!(description_problem(&empty).unwrap().contains("empty"));
    }

    #[test]
    fn summaries_with_escapes_or_overrides_are_refused() {
        assert_eq!(summary_problem("Photo, 1024×768"), None);
        assert!(summary_problem("\u{1b}[2J").unwrap().contains("U+001B"));
        assert!(
            summary_problem("abc\u{202E}def")
                .unwrap()
                .contains("U+202E")
        );
        assert!(
            summary_problem(&"x".repeat(2000))
                .unwrap()
                .contains("limit")
        );
    }

    #[test]
    fn the_wit_declares_the_limits_the_host_enforces_on_message_types() {
        let wit = super::super::doc_text(include_str!("../../../plugin-api/wit/message.wit"));
        let defaults = courier_config::limits::PluginLimits::default();
        for limit in [
            format!("at most {MAX_SUMMARY_CHARS} characters"),
            format!("fuel: {} per call", defaults.fuel_per_call),
            format!("memory: {} MiB per instance", defaults.memory_mib),
            format!(
                "after {} faults in {} minutes",
                defaults.max_failures,
                defaults.failure_window_s / 60
            ),
            format!(
                "at most {} lines per call, each cut at {} characters",
                super::super::host_imports::MAX_LOG_LINES_PER_CALL,
                super::super::host_imports::MAX_LOG_CHARS
            ),
            format!(
                "at most {} bytes per `bytes` call",
                super::super::host_imports::MAX_RANDOM_BYTES
            ),
        ] {
            assert!(wit.contains(&limit), "message.wit does not say {limit:?}");
        }
    }
}
