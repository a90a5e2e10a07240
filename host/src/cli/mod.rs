//! The subcommands of the `courier` binary, one module per group.

pub mod contacts;
pub mod conversation;
pub mod data_dir;
pub mod identity;
pub mod plugins;
pub mod serve;

/// Wall clock in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
