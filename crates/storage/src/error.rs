//! Why storage failed, each error saying what was wrong and what to do.

use courier_error::{ErrorKind, HasKind};

use crate::name::NameError;

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A reply, reaction, edit or retraction the conversation does not allow.
    #[error("this {kind} is refused: {refused}")]
    Relation {
        /// What it was.
        kind: &'static str,
        /// Why it was refused.
        refused: RelationRefused,
    },
    /// A payload too large for one attachment.
    #[error(transparent)]
    Attachment(#[from] courier_proto::sync::attachment::AttachmentError),
    /// The passphrase does not unlock the database (or the file is not a Courier database).
    #[error(
        "wrong passphrase for the database {path} (or the file is not a Courier database); check COURIER_PASSPHRASE or what you typed"
    )]
    WrongPassphrase {
        /// Database path.
        path: String,
    },
    /// A new database's passphrase is too short.
    #[error(
        "the passphrase is shorter than {MIN_PASSPHRASE_CHARS} characters; choose a longer one (a few unrelated words are easy to remember)"
    )]
    ShortPassphrase,
    /// An empty passphrase was given.
    #[error("the passphrase is empty; set COURIER_PASSPHRASE or type one at the prompt")]
    EmptyPassphrase,
    /// The database is from a newer Courier.
    #[error(
        "the database has schema version {found}, newer than this build's {supported}; update Courier"
    )]
    TooNew {
        /// Version in the file.
        found: usize,
        /// Newest this build knows.
        supported: usize,
    },
    /// No contact has that alias.
    #[error("no contact is called {0:?}; `courier contacts list` shows them")]
    UnknownContact(String),
    /// `init` was run before.
    #[error("this data directory already has an identity; use another --data-dir for a second one")]
    IdentityExists,
    /// `init` has not run.
    #[error("this data directory has no identity yet; run `courier init --name NAME` first")]
    NoIdentity,
    /// The user added their own link.
    #[error("that is your own link; give it to your contact and add theirs")]
    OwnLink,
    /// The link was added before.
    #[error("that link was already added; `courier contacts list` shows it")]
    DuplicateLink,
    /// The alias is taken.
    #[error("a contact is already called {0:?}; choose another alias")]
    DuplicateAlias(String),
    /// The alias is empty, too long, or has characters that hide or reorder text.
    #[error("{0}")]
    BadAlias(#[from] NameError),
    /// The message breaks the wire limits, so no peer would ever accept it.
    #[error("cannot queue this message: {0}")]
    Undeliverable(#[from] courier_proto::sync::record::RecordError),
    /// The contact has not completed the handshake, so has no keys.
    #[error("this contact has no keys yet; they appear once the handshake with them completes")]
    NoKeys,
    /// The contact was made before this transport was configured, so has no keys for it.
    #[error(
        "this contact has no keys for transport {0:?}: you became contacts with a version that made keys only for the transports configured then; remove and re-add each other to use it"
    )]
    NoKeysFor(String),
    /// Stored data is not what this build wrote.
    #[error("the database is damaged: {0}; restore it from a backup")]
    Corrupt(&'static str),
    /// A chunk pack beside the database could not be read or written.
    #[error(
        "cannot use the attachment chunks in {path}: {source}; check that the data directory is yours and writable, and that the disk has space"
    )]
    Pack {
        /// The pack file.
        path: String,
        /// What the file system said.
        source: std::io::Error,
    },
    /// A chunk in a pack is missing or does not open under its seal.
    #[error(
        "an attachment chunk in {path} is missing, or was changed or damaged on disk; that attachment cannot be shown, ask the contact to send it again"
    )]
    PackDamaged {
        /// The pack file.
        path: String,
    },
    /// The database file is missing or empty, yet files beside it show it held data.
    #[error(
        "the database {path} is {state} but this data directory holds other Courier files ({others}); it was truncated or replaced; restore it from a backup (`init` will not write over it)"
    )]
    Vanished {
        /// The database file.
        path: String,
        /// `empty` or `missing`.
        state: &'static str,
        /// The Courier files that are still there.
        others: String,
    },
    /// The key file is not one Courier wrote, or was cut short.
    #[error(
        "the key file {path} is damaged or was written over (as a panic wipe does); the database cannot be opened without it: restore the data directory from a backup"
    )]
    KeyFileDamaged {
        /// The key file.
        path: String,
    },
    /// The database is there but its key file is not.
    #[error(
        "the database {path} has no key file beside it ({keys}); without it nothing in the database can be read: restore the data directory from a backup"
    )]
    KeyFileMissing {
        /// The database file.
        path: String,
        /// The key file it needs.
        keys: String,
    },
    /// The key file opened, but none of its keys (nor the passphrase) opens the database.
    #[error(
        "no key in {keys} opens the database {path}: the two are from different data directories, or the database was replaced; restore the data directory from a backup"
    )]
    KeyFileMismatch {
        /// The database file.
        path: String,
        /// The key file.
        keys: String,
    },
    /// Another process re-sealed the transport secrets while this one had the database open.
    #[error(
        "another Courier process re-sealed the contacts' keys while this one ran (two nodes on one data directory?): stop the other one, then open the data directory again"
    )]
    SecretsResealed,
    /// The database file could not be looked at.
    #[error("cannot use the database {path}: {source}; check that the data directory is yours")]
    File {
        /// The database file.
        path: String,
        /// What the file system said.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// No group by that id is kept here.
    #[error("no such group here; list them with `courier group list`")]
    UnknownGroup,
    /// A step of a group's rules failed in storage (the cause and its kind inside).
    #[error("{0}")]
    GroupStore(#[from] courier_proto::sync::session::StoreError),
}

/// The fewest characters (not bytes: "pässwört" is eight) a new database's passphrase has.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

impl HasKind for StorageError {
    fn kind(&self) -> ErrorKind {
        use ErrorKind as K;
        match self {
            StorageError::WrongPassphrase { .. } => K::Locked,
            StorageError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                K::Locked
            }
            StorageError::ShortPassphrase
            | StorageError::EmptyPassphrase
            | StorageError::OwnLink
            | StorageError::BadAlias(_)
            | StorageError::Attachment(_) => K::InvalidInput,
            StorageError::UnknownContact(_)
            | StorageError::NoIdentity
            | StorageError::UnknownGroup
            | StorageError::Relation {
                refused: RelationRefused::UnknownTarget,
                ..
            } => K::NotFound,
            StorageError::Relation {
                refused: RelationRefused::NotTheSender(_),
                ..
            } => K::RefusedByPolicy,
            StorageError::Relation { .. } => K::InvalidInput,
            StorageError::GroupStore(e) => e.kind(),
            StorageError::IdentityExists
            | StorageError::SecretsResealed
            | StorageError::DuplicateLink
            | StorageError::DuplicateAlias(_) => K::Conflict,
            StorageError::Undeliverable(_) => K::RefusedByPolicy,
            StorageError::NoKeys | StorageError::NoKeysFor(_) | StorageError::TooNew { .. } => {
                K::Unavailable
            }
            StorageError::Corrupt(_)
            | StorageError::Pack { .. }
            | StorageError::PackDamaged { .. }
            | StorageError::Vanished { .. }
            | StorageError::KeyFileDamaged { .. }
            | StorageError::KeyFileMissing { .. }
            | StorageError::KeyFileMismatch { .. }
            | StorageError::File { .. }
            | StorageError::Sqlite(_) => K::Storage,
        }
    }
}

/// A storage failure as a protocol store's port (sync's, a group's) reports it, with its kind.
pub(crate) fn store_error(e: impl Into<StorageError>) -> courier_proto::sync::session::StoreError {
    let e = e.into();
    courier_proto::sync::session::StoreError::new(e.kind(), e)
}

/// Why a relation was refused: nothing of it is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelationRefused {
    /// Its payload does not parse.
    #[error(transparent)]
    Malformed(#[from] courier_proto::sync::relation::RelationError),
    /// It names no message of this conversation.
    #[error("it names no message of this conversation; pick one the conversation shows")]
    UnknownTarget,
    /// It names a reaction, an edit or a retraction, which nothing relates to.
    #[error("it names a reaction, an edit or a retraction; relate to the message itself")]
    RelationTarget,
    /// An edit or retraction of the other side's message.
    #[error("only the sender of a message may {0} it")]
    NotTheSender(&'static str),
}
