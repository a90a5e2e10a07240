//! The mailbox's settings, from `mailbox.toml` in its data directory (defaults where absent).

use std::path::Path;

use courier_config::tor::TorConfig;
use serde::Deserialize;

use crate::MailboxError;

/// The config file's name in the data directory.
pub const CONFIG_FILE: &str = "mailbox.toml";

/// What the mailbox takes and keeps.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct MailboxConfig {
    /// The largest file, in bytes (a node's stream is at most 1 MiB).
    pub max_file_bytes: u64,
    /// What one folder may hold, in bytes.
    pub folder_quota_bytes: u64,
    /// What the whole mailbox may hold, in bytes.
    pub total_quota_bytes: u64,
    /// Uploads one token may make in a minute.
    pub uploads_per_minute: u32,
    /// Days a file is kept when nobody fetches it.
    pub retention_days: u32,
    /// With a `[tor]` section (empty: the public Tor network), the mailbox is an onion service
    /// and listens on no TCP port; without one, it listens on TCP.
    pub tor: Option<TorConfig>,
}

impl Default for MailboxConfig {
    fn default() -> Self {
        MailboxConfig {
            max_file_bytes: 1 << 20,
            folder_quota_bytes: 64 << 20,
            total_quota_bytes: 1 << 30,
            uploads_per_minute: 120,
            retention_days: 14,
            tor: None,
        }
    }
}

impl MailboxConfig {
    /// The config in `text`, named `path` in errors.
    pub fn parse(text: &str, path: &str) -> Result<MailboxConfig, MailboxError> {
        let config: MailboxConfig = toml::from_str(text).map_err(|e| MailboxError::Config {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })?;
        let positive = [
            ("max-file-bytes", config.max_file_bytes),
            ("folder-quota-bytes", config.folder_quota_bytes),
            ("total-quota-bytes", config.total_quota_bytes),
            ("uploads-per-minute", u64::from(config.uploads_per_minute)),
            ("retention-days", u64::from(config.retention_days)),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(MailboxError::Config {
                path: path.to_owned(),
                message: format!("{key} must be more than 0"),
            });
        }
        Ok(config)
    }

    /// The config of the data directory `dir`: its `mailbox.toml`, or the defaults if it has none.
    pub fn load(dir: &Path) -> Result<MailboxConfig, MailboxError> {
        let path = dir.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => MailboxConfig::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(MailboxConfig::default()),
            Err(e) => Err(MailboxError::disk("reading mailbox.toml")(e)),
        }
    }

    /// How long a file is kept, in milliseconds.
    pub fn retention_ms(&self) -> u64 {
        u64::from(self.retention_days) * 24 * 60 * 60 * 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_gives_the_defaults_and_each_key_overrides_one() {
        assert_eq!(
            MailboxConfig::parse("", "m.toml").unwrap(),
            MailboxConfig::default()
        );
        let config =
            MailboxConfig::parse("folder-quota-bytes = 4096\nretention-days = 3\n", "m.toml")
                .unwrap();
        assert_eq!(config.folder_quota_bytes, 4096);
        assert_eq!(config.retention_ms(), 3 * 86_400_000);
        assert_eq!(config.max_file_bytes, 1 << 20);
        assert_eq!(config.tor, None, "TCP unless told");
        let onion = MailboxConfig::parse("[tor]\n", "m.toml").unwrap();
        assert_eq!(
            onion.tor,
            Some(TorConfig::default()),
            "the public Tor network"
        );
    }

    #[test]
    fn an_unknown_key_or_a_zero_is_refused_with_the_file_named() {
        let unknown = MailboxConfig::parse("quota = 1\n", "m.toml").unwrap_err();
        assert!(
            unknown
                .to_string()
                .starts_with("m.toml: unknown field `quota`"),
            "{unknown}"
        );
        let zero = MailboxConfig::parse("uploads-per-minute = 0\n", "m.toml").unwrap_err();
        assert!(
            zero.to_string()
                .contains("uploads-per-minute must be more than 0"),
            "{zero}"
        );
    }
}
