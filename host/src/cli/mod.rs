//! The subcommands of the `courier` binary, one module per group, over `courier-service`.

pub mod contacts;
pub mod conversation;
pub mod drive;
pub mod exit_code;
pub mod group;
pub mod identity;
pub mod mailbox;
pub mod panic;
pub mod plugins;
pub mod profile;
pub mod remote;
pub mod serve;
pub mod unlock;

use courier_service::ErrorKind;

/// A failure of the command line's own (a prompt, the plugins it lists), of the kind it counts as.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub(super) kind: ErrorKind,
    message: String,
}

impl CliError {
    /// A failure of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> CliError {
        CliError {
            kind,
            message: message.into(),
        }
    }
}
