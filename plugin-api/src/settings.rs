//! Reading a plugin's config settings (the `settings` table of its config section).

use std::str::FromStr;

/// A key/value pair as the host passes settings; implemented for each world's generated `Setting`.
pub trait Setting {
    /// The setting's name.
    fn key(&self) -> &str;
    /// The setting's value as written in the config.
    fn value(&self) -> &str;
}

#[cfg(feature = "transport")]
impl Setting for crate::transport::courier::plugin::types::Setting {
    fn key(&self) -> &str {
        &self.key
    }
    fn value(&self) -> &str {
        &self.value
    }
}

#[cfg(feature = "message-type")]
impl Setting for crate::message_type::courier::plugin::types::Setting {
    fn key(&self) -> &str {
        &self.key
    }
    fn value(&self) -> &str {
        &self.value
    }
}

/// Plain pairs, for native tests of a plugin's settings.
impl Setting for (&str, &str) {
    fn key(&self) -> &str {
        self.0
    }
    fn value(&self) -> &str {
        self.1
    }
}

/// Refuses any setting whose key is not in `known`, naming it and the keys this plugin reads.
pub fn only_keys<S: Setting>(settings: &[S], known: &[&str]) -> Result<(), String> {
    match settings.iter().find(|s| !known.contains(&s.key())) {
        None => Ok(()),
        Some(unknown) if known.is_empty() => Err(format!(
            "unknown setting `{}`: this plugin takes no settings",
            unknown.key()
        )),
        Some(unknown) => Err(format!(
            "unknown setting `{}`: this plugin reads {}",
            unknown.key(),
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The value of `key`, if set (the last one wins when a key repeats).
pub fn get<'a, S: Setting>(settings: &'a [S], key: &str) -> Option<&'a str> {
    settings
        .iter()
        .rev()
        .find(|s| s.key() == key)
        .map(Setting::value)
}

/// The value of `key` parsed as `T`, `default` when unset, or a message naming the key and the bad value.
pub fn parse_or<T: FromStr, S: Setting>(
    settings: &[S],
    key: &str,
    default: T,
) -> Result<T, String> {
    match get(settings, key) {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|_| {
            format!(
                "setting `{key}` has value {raw:?}, which is not a valid {}",
                std::any::type_name::<T>()
            )
        }),
    }
}
