//! What can go wrong in the mailbox, each with the kind a front end maps to a status.

use courier_error::{ErrorKind, HasKind};

/// Why a mailbox operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    /// `mailbox.toml` could not be read as a mailbox config.
    #[error(
        "{path}: {message}; fix the file (its keys are documented in the README) or remove it for the defaults"
    )]
    Config {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The mailbox's files could not be read or written.
    #[error(
        "the mailbox's data directory failed ({context}): {source}; check the disk and its permissions"
    )]
    Disk {
        /// What it was doing.
        context: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The registry on disk is not one this mailbox wrote.
    #[error(
        "the mailbox's registry is damaged: {0}; restore it or wipe the mailbox and pair it again"
    )]
    Damaged(String),
    /// A name in the request is not one the mailbox issues (a folder, a file, a contact).
    #[error("{what} {name:?} is not a valid name: the mailbox's names are lowercase hex")]
    BadName {
        /// What kind of name.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// The folder, file or contact does not exist, or the token may not use it.
    #[error("no such {0}")]
    NotFound(&'static str),
    /// The contact id exists with other folders or token.
    #[error(
        "contact {0} is registered already with other folders or another token; delete it first"
    )]
    Conflict(String),
    /// A file larger than the mailbox takes.
    #[error("the file is {size} bytes; this mailbox takes files of at most {limit} bytes")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The folder or the whole mailbox is full.
    #[error("the {which} quota of {limit} bytes is used; the files waiting must be fetched first")]
    QuotaFull {
        /// `folder` or `mailbox`.
        which: &'static str,
        /// The quota.
        limit: u64,
    },
    /// The onion service could not start.
    #[error(
        "the mailbox's onion service could not start: {0}; check the [tor] section of mailbox.toml"
    )]
    Tor(String),
    /// Too many uploads from one token in the last minute.
    #[error("too many uploads; try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until one more upload is allowed.
        retry_after_secs: u64,
    },
}

impl HasKind for MailboxError {
    fn kind(&self) -> ErrorKind {
        match self {
            MailboxError::Config { .. } | MailboxError::BadName { .. } => ErrorKind::InvalidInput,
            MailboxError::Disk { .. } | MailboxError::Damaged(_) => ErrorKind::Storage,
            MailboxError::NotFound(_) => ErrorKind::NotFound,
            MailboxError::Conflict(_) => ErrorKind::Conflict,
            MailboxError::TooLarge { .. } | MailboxError::QuotaFull { .. } => {
                ErrorKind::RefusedByPolicy
            }
            MailboxError::RateLimited { .. } | MailboxError::Tor(_) => ErrorKind::Unavailable,
        }
    }
}

impl MailboxError {
    /// A disk error while doing `context`.
    pub(crate) fn disk(context: &'static str) -> impl FnOnce(std::io::Error) -> MailboxError {
        move |source| MailboxError::Disk { context, source }
    }
}
