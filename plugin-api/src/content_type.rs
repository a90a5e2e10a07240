//! The shape most message types have: rules over byte slices, in one version or a range of them
//! (the newest written, older ones still read). Implement [`ContentType`] and export [`Exports`] of
//! it; the version check and the description are written once, here.
//!
//! ```ignore
//! struct Poll;
//! impl courier_plugin::content_type::ContentType for Poll { /* NAME, limits, three rules */ }
//! type Plugin = courier_plugin::content_type::Exports<Poll>;
//! courier_plugin::export_message_type!(Plugin);
//! ```

use std::marker::PhantomData;

use crate::message_type::courier::plugin::types::{PluginError, Setting};
use crate::message_type::exports::courier::plugin::content::{Description, Guest, VersionRange};
use crate::payload::expect_version;

/// The rules of a content type that reads and writes one version.
pub trait ContentType {
    /// Content type name, e.g. `courier/location`.
    const NAME: &'static str;
    /// The version it writes (and reads).
    const VERSION: u32 = 1;
    /// The oldest version it still reads, and writes for a peer who reads no newer one.
    const OLDEST_VERSION: u32 = Self::VERSION;
    /// Largest user input `prepare` accepts, in bytes.
    const MAX_INPUT_BYTES: u64;
    /// Largest payload `prepare` writes or `validate` accepts, in bytes.
    const MAX_PAYLOAD_BYTES: u64;
    /// The keys its config section's `settings` may hold.
    const SETTINGS: &'static [&'static str] = &[];

    /// Checks the config's settings when the plugin loads. The default refuses keys outside
    /// [`SETTINGS`](Self::SETTINGS); a type whose values have rules checks those too.
    fn check_settings(settings: &[Setting]) -> Result<(), PluginError> {
        crate::settings::only_keys(settings, Self::SETTINGS).map_err(PluginError::InvalidInput)
    }

    /// Turns user input into a payload; `options` are the config's settings, then the user's.
    fn prepare(input: &[u8], options: &[Setting]) -> Result<Vec<u8>, PluginError>;
    /// Checks an incoming payload.
    fn validate(payload: &[u8]) -> Result<(), PluginError>;
    /// One line of plain text for the payload.
    fn summary(payload: &[u8]) -> Result<String, PluginError>;

    /// [`prepare`](Self::prepare) in `version`, one of those it reads; a type of one version
    /// needs nothing else.
    fn prepare_in(input: &[u8], options: &[Setting], version: u32) -> Result<Vec<u8>, PluginError> {
        let _ = version;
        Self::prepare(input, options)
    }
    /// [`validate`](Self::validate) a payload of `version`.
    fn validate_in(payload: &[u8], version: u32) -> Result<(), PluginError> {
        let _ = version;
        Self::validate(payload)
    }
    /// [`summary`](Self::summary) of a payload of `version`.
    fn summary_in(payload: &[u8], version: u32) -> Result<String, PluginError> {
        let _ = version;
        Self::summary(payload)
    }
}

/// Refuses a version outside those `T` reads.
fn expect_version_of<T: ContentType>(version: u32) -> Result<(), PluginError> {
    if (T::OLDEST_VERSION..=T::VERSION).contains(&version) {
        Ok(())
    } else {
        expect_version(version, T::VERSION)
    }
}

/// The `message-type` world's exports for a [`ContentType`].
pub struct Exports<T>(PhantomData<T>);

impl<T: ContentType> Guest for Exports<T> {
    fn describe() -> Description {
        Description {
            content_type: T::NAME.into(),
            versions: VersionRange {
                min: T::OLDEST_VERSION,
                max: T::VERSION,
            },
            max_input_bytes: T::MAX_INPUT_BYTES,
            max_payload_bytes: T::MAX_PAYLOAD_BYTES,
        }
    }

    fn prepare(
        input: Vec<u8>,
        options: Vec<Setting>,
        version: u32,
    ) -> Result<Vec<u8>, PluginError> {
        expect_version_of::<T>(version)?;
        T::prepare_in(&input, &options, version)
    }

    fn check_settings(settings: Vec<Setting>) -> Result<(), PluginError> {
        T::check_settings(&settings)
    }

    fn validate(payload: Vec<u8>, version: u32) -> Result<(), PluginError> {
        expect_version_of::<T>(version)?;
        T::validate_in(&payload, version)
    }

    fn summary(payload: Vec<u8>, version: u32) -> Result<String, PluginError> {
        expect_version_of::<T>(version)?;
        T::summary_in(&payload, version)
    }
}
