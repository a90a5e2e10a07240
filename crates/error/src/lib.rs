//! The kinds of failure a front end tells apart (the CLI's exit code, the API's HTTP status), shared
//! by every layer so that each error enum says its own kind where it is defined, and no layer above
//! has to know another's variants (arti's `tor-error` idea).

/// The kinds of failure a front end tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Nothing has that name or id (a contact, a message, a content type, the identity).
    NotFound,
    /// The input is malformed or refused by its rules (a link, an alias, a message id, content).
    InvalidInput,
    /// It exists already (a contact, the identity, a file that is never overwritten).
    Conflict,
    /// The input is well formed but Courier's rules forbid it (e.g. content no peer would accept).
    RefusedByPolicy,
    /// The database stays shut: the passphrase is wrong, or another process holds it locked.
    Locked,
    /// Stored data or the disk failed.
    Storage,
    /// A plugin or the wasm engine failed.
    Plugin,
    /// Not possible yet: a pending handshake, an attachment still arriving, a plugin restarting.
    Unavailable,
}

/// An error that knows its kind.
pub trait HasKind {
    /// What kind of failure this is.
    fn kind(&self) -> ErrorKind;
}
