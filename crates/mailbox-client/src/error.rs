//! What went wrong talking to a mailbox.

use courier_error::{ErrorKind, HasKind};

/// A failure of one request to a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailboxClientError {
    /// The mailbox did not answer: it is off, or the address is wrong.
    #[error("the mailbox did not answer ({0}); check that it is running and the address is right")]
    Unreachable(String),
    /// The mailbox does not know our token: it was wiped, or we were removed.
    #[error("the mailbox refused our token; pair again with a new link from the mailbox")]
    Unauthorized,
    /// The folder or file is not there, or not ours.
    #[error("the mailbox has no such folder or file for us")]
    NotFound,
    /// The mailbox is full, or the file is over its limit.
    #[error("the mailbox is full or the file is too large: {0}")]
    Full(String),
    /// We sent too much too fast.
    #[error("the mailbox asks us to slow down; try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds it asked us to wait.
        retry_after_secs: u64,
    },
    /// Any other answer.
    #[error("the mailbox answered {status}: {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// What it said.
        message: String,
    },
    /// The mailbox is an onion service, and this node does not reach mailboxes over Tor.
    #[error(
        "the mailbox is an onion service, reached only over Tor; grant the mailbox transport tor-stream as well as mailbox, and give the config a [tor] section if the network is not the public one"
    )]
    NeedsTor,
    /// A pairing link that is not one.
    #[error(
        "not a mailbox pairing link ({0}); copy the whole `courier-mailbox://` line the mailbox printed"
    )]
    BadLink(&'static str),
}

impl HasKind for MailboxClientError {
    fn kind(&self) -> ErrorKind {
        match self {
            MailboxClientError::Unreachable(_) | MailboxClientError::RateLimited { .. } => {
                ErrorKind::Unavailable
            }
            MailboxClientError::Unauthorized => ErrorKind::RefusedByPolicy,
            MailboxClientError::NotFound => ErrorKind::NotFound,
            MailboxClientError::Full(_) | MailboxClientError::Refused { .. } => {
                ErrorKind::Unavailable
            }
            MailboxClientError::BadLink(_) => ErrorKind::InvalidInput,
            MailboxClientError::NeedsTor => ErrorKind::RefusedByPolicy,
        }
    }
}
