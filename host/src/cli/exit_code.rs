//! The exit code of a failed command, by the kind of its error; the table is in `courier --help`.

use std::process::ExitCode;

use courier_api::client::ClientError;
use courier_service::input_file::InputFileError;
use courier_service::{ErrorKind, ServiceError};

use super::CliError;

/// `courier --help`'s table of exit codes.
pub const TABLE: &str = "\
Exit codes:
  0   success
  1   any other failure (e.g. the node could not start)
  2   the command line is wrong (usage)
  3   not found: no such contact, message, message type, identity or data directory
  4   invalid input: a malformed link, alias, message id, file or content the plugin refused
  5   conflict: the contact, identity or file already exists
  6   refused by policy: content no contact would accept, or failing its plugin's checks
  7   locked: wrong passphrase, none given, or the database is locked by another process
  8   storage: the database or the attachment chunks are damaged or unwritable
  9   plugin: a plugin faulted, is disabled, or did not load; or the wasm engine did not start
  10  unavailable: not yet (a pending handshake, an attachment still arriving, a plugin restarting)";

/// The code for `kind`, as [`TABLE`] lists it.
fn code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::NotFound => 3,
        ErrorKind::InvalidInput => 4,
        ErrorKind::Conflict => 5,
        ErrorKind::RefusedByPolicy => 6,
        ErrorKind::Locked => 7,
        ErrorKind::Storage => 8,
        ErrorKind::Plugin => 9,
        ErrorKind::Unavailable => 10,
    }
}

/// The exit code for `error`: its kind's, found anywhere in its chain of causes, else 1.
pub fn of(error: &anyhow::Error) -> ExitCode {
    let kind = error.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<ServiceError>() {
            Some(e.kind())
        } else if let Some(e) = cause.downcast_ref::<CliError>() {
            Some(e.kind)
        } else if let Some(e) = cause.downcast_ref::<ClientError>() {
            Some(client_kind(e))
        } else if let Some(e) = cause.downcast_ref::<courier_api::StartError>() {
            Some(e.kind())
        } else if let Some(e) = cause.downcast_ref::<courier_api::ServeError>() {
            Some(e.kind())
        } else if let Some(e) = cause.downcast_ref::<courier_mailbox::MailboxError>() {
            use courier_mailbox::HasKind as _;
            Some(e.kind())
        } else {
            // A file or standard input the command line read for a plugin.
            cause
                .downcast_ref::<InputFileError>()
                .map(|_| ErrorKind::InvalidInput)
        }
    });
    ExitCode::from(kind.map_or(1, code))
}

/// The kind of failure a call through a running node's API came to, as the service names it.
fn client_kind(error: &ClientError) -> ErrorKind {
    use ErrorKind as K;
    match error {
        ClientError::Unreachable(_) => K::Unavailable,
        ClientError::Garbled(_) => K::Storage,
        ClientError::Api { status, detail } => match (*status, detail.kind.as_str()) {
            (404, _) => K::NotFound,
            (400 | 413, _) => K::InvalidInput,
            (409, "unavailable") => K::Unavailable,
            (409, _) => K::Conflict,
            (422, _) => K::RefusedByPolicy,
            (_, "locked") => K::Locked,
            (_, "plugin") => K::Plugin,
            _ => K::Storage,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_code_and_a_line_in_the_table() {
        let kinds = [
            ErrorKind::NotFound,
            ErrorKind::InvalidInput,
            ErrorKind::Conflict,
            ErrorKind::RefusedByPolicy,
            ErrorKind::Locked,
            ErrorKind::Storage,
            ErrorKind::Plugin,
            ErrorKind::Unavailable,
        ];
        let mut codes: Vec<u8> = kinds.iter().map(|k| code(*k)).collect();
        for c in &codes {
            assert!(
                TABLE.contains(&format!("\n  {c:<3} ")),
                "{c} is in the table"
            );
        }
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
    }
}
