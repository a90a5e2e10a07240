//! What can go wrong in a use case, each error saying what was wrong and what to do, and the few kinds
//! a front end tells apart (an exit code, an HTTP status).

use std::path::PathBuf;

use courier_config::ConfigError;
use courier_node::NodeError;
use courier_plugin_host::{CallError, EngineError};
use courier_proto::contact_link::LinkError;
use courier_storage::{Direction, NameError, StorageError};

pub use courier_error::ErrorKind;
use courier_error::HasKind;

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A content type that relates to nothing was sent as if it did.
    #[error("{0} is no reply, reaction, edit or retraction; send it without naming a message")]
    NotARelation(String),
    /// A deletion for everyone of a group post written before posts were sealed: its text is in
    /// the signed record every member keeps, and could only be hidden.
    #[error(
        "that post was written before group posts were sealed: its text is part of its signed record on every member's device and cannot be erased; ask the members to delete the group's history, or dissolve the group"
    )]
    UnsealedPost,
    /// A reply in a group sent as a relation: a group replies in a post's thread.
    #[error("in a group, reply to a post with --reply-to (its thread), not as a courier/reply")]
    GroupReplyByThread,
    /// A reply, reaction, edit or retraction sent without the message it names.
    #[error("a {0} names the message it relates to; give its id")]
    RelatesToNothing(&'static str),
    /// The database refused.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The text is not a contact link.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The name for a new identity is unfit.
    #[error("choose another --name: {0}")]
    Name(NameError),
    /// The node config is unreadable or inconsistent.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The wasm engine did not start.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The node could not start, or stopped on a failure.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// A plugin refused the input or failed.
    #[error(transparent)]
    Plugin(#[from] CallError),
    /// No data directory was named and there is no home to default to.
    #[error("no --data-dir given and HOME is not set; pass --data-dir DIR")]
    NoHome,
    /// The config grants a transport Tor and this build has no Tor driver.
    #[error(
        "the config grants a transport Tor, and this courier was built without Tor (as `cargo xtask \
         demo` builds it); build it with Tor (`cargo build -p courier-host`, a default feature) or \
         remove that transport"
    )]
    NoTor,
    /// The Tor client that reaches an onion mailbox could not start.
    #[error("Tor could not start to reach the mailbox: {0}; check the config's [tor] section")]
    Tor(String),
    /// The data directory could not be made or kept to its owner.
    #[error("{doing} data directory {}: {source}", path.display())]
    DataDir {
        /// `creating` or `restricting`.
        doing: &'static str,
        /// The directory.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// `init` never ran in the data directory.
    #[error(
        "{path} is not initialised; run `courier --data-dir {path} init --name NAME`",
        path = path.display()
    )]
    NotInitialised {
        /// The data directory.
        path: PathBuf,
    },
    /// A panic wipe was pointed at a folder that holds no Courier database.
    #[error(
        "{path} is not a Courier data directory (it holds no courier.db or courier.keys); nothing was removed; check --data-dir",
        path = path.display()
    )]
    NotADataDir {
        /// The folder.
        path: PathBuf,
    },
    /// No config names a plugin directory and none is beside the binary.
    #[error(
        "cannot find the plugin directory; set COURIER_PLUGIN_DIR or pass --config with [plugins] dir"
    )]
    NoPluginDir,
    /// No loaded message-type plugin handles the content type.
    #[error(
        "no message type {content_type:?} is installed; installed: {}",
        installed_list(installed)
    )]
    UnknownContentType {
        /// The content type asked for.
        content_type: String,
        /// Every content type a loaded plugin handles, sorted.
        installed: Vec<String>,
    },
    /// The input is larger than the content type's plugin takes.
    #[error(
        "the input is {size} bytes, over the {limit} bytes {content_type} takes; send a smaller one"
    )]
    InputTooLarge {
        /// The content type.
        content_type: String,
        /// The input's size.
        size: u64,
        /// The plugin's limit.
        limit: u64,
    },
    /// The contact has not completed the handshake, so there is no safety number yet.
    #[error("{0:?} is still pending; the safety number exists once the handshake completed")]
    PendingVerify(String),
    /// The contact has not completed the handshake, so there is no conversation yet.
    #[error(
        "{0:?} is still pending: messages can be sent once the handshake completed (run `courier serve` on both sides)"
    )]
    PendingConversation(String),
    /// The text is not (a prefix of) a message id.
    #[error(
        "{0:?} is not a message id; give at least 8 hex digits as `courier messages` shows them"
    )]
    BadMessageId(String),
    /// No message has an id with that prefix.
    #[error("no message has an id starting with {0}; `courier messages ALIAS` lists them")]
    NoSuchMessage(String),
    /// Several messages have ids with that prefix.
    #[error("{count} messages have ids starting with {prefix}; give more digits")]
    AmbiguousMessageId {
        /// The prefix given.
        prefix: String,
        /// How many ids start with it.
        count: usize,
    },
    /// Some of the attachment's chunks have not arrived.
    #[error(
        "that attachment is still arriving ({received} of {total} parts); try again once `courier serve` received the rest"
    )]
    StillArriving {
        /// Parts stored.
        received: usize,
        /// Parts in all.
        total: usize,
    },
    /// The attachment's chunks were lost or damaged on disk.
    #[error("that attachment is {}", damaged(*.0))]
    Damaged(Direction),
    /// A plugin's manifest is missing or wrong.
    #[error(transparent)]
    Manifest(#[from] courier_plugin_host::manifest::ManifestError),
    /// A plugin file named on the command line cannot be read.
    #[error("cannot read plugin file {}: {source}; give the path of a built NAME.wasm", path.display())]
    PluginFile {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// `plugins install` refused a component that does not load.
    #[error("not installed: {0}")]
    NotInstalled(String),
    /// `plugins try` could not run a component: it does not load, or it is no message type.
    #[error("not tried: {0}")]
    NotTried(String),
    /// `plugins new` cannot write the plugin asked for.
    #[error("no new plugin: {0}")]
    NewPlugin(String),
    /// The profile's policy refuses it.
    #[error(transparent)]
    Policy(#[from] courier_config::policy::Refusal),
    /// A timer that is not one.
    #[error(transparent)]
    Timer(#[from] courier_proto::sync::timer::TimerError),
    /// Stored content fails its plugin's `validate`, so it is not handed out.
    #[error("the content does not pass its plugin's checks, so it is not written: {0}")]
    InvalidContent(CallError),
    /// The file to save into could not be created.
    #[error("creating {} (an existing file is never overwritten): {source}", path.display())]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// The folder for a drive's files is missing or cannot be made.
    #[error("drive folder {}: {source}; mount the drive, or give the folder on it", path.display())]
    DriveFolder {
        /// The folder.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// The drive's folder could not be listed.
    #[error("{0}; check that the drive is mounted and readable")]
    DriveUnreadable(String),
    /// The mailbox refused or did not answer.
    #[error(transparent)]
    Mailbox(#[from] courier_mailbox_client::MailboxClientError),
    /// `mailbox unpair` or `status` with no mailbox paired.
    #[error("no mailbox is paired; pair one with `courier mailbox pair LINK`")]
    NoMailbox,
    /// The drive transport did not load or stopped making progress.
    #[error(
        "the drive transport did not run (is transport-drive in the plugin directory? `courier plugins` lists what loads); nothing was read or written"
    )]
    DriveStopped,
    /// A group's rules refuse the step (not a member, not the creator, dissolved, …).
    #[error(transparent)]
    Group(#[from] courier_proto::group::GroupError),
    /// No group has that name or an id starting with those digits.
    #[error(
        "no group is called {0:?} or has an id starting with it; `courier group list` lists them"
    )]
    NoSuchGroup(String),
    /// Several groups have that name or id prefix.
    #[error(
        "{count} groups are called {reference:?} or have ids starting with it; give more digits of its id (`courier group list`)"
    )]
    AmbiguousGroup {
        /// The name or prefix given.
        reference: String,
        /// How many groups it names.
        count: usize,
    },
    /// No invitation into that group waits for an answer.
    #[error(
        "no invitation into {0:?} waits for an answer (answered already, or its inviter is no longer a contact)"
    )]
    NoInvitation(String),
    /// We accepted the invitation and the creator's record adding us has not reached us.
    #[error(
        "you joined {0:?} and the group has not reached you from its creator yet; post once `courier group list` shows you a member"
    )]
    NotJoinedYet(String),
    /// No current member of the group has that name or key prefix.
    #[error(
        "no current member of the group is called {0:?}; `courier group members GROUP` lists them"
    )]
    NoSuchMember(String),
    /// Several current members have that name.
    #[error(
        "several members are called {0:?}; give the first hex digits of their key instead (`courier group members GROUP`)"
    )]
    AmbiguousMember(String),
    /// A group post's prepared payload is over what one attachment carries.
    #[error("the prepared post is {size} bytes, too large to post: {why}")]
    PostTooLarge {
        /// The prepared payload's size.
        size: usize,
        /// Why it cannot be split.
        why: String,
    },
    /// The file to save into could not be written.
    #[error("writing {}: {source}", path.display())]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
}

fn installed_list(installed: &[String]) -> String {
    if installed.is_empty() {
        "none (add a [message_types] section to the config)".to_owned()
    } else {
        installed.join(", ")
    }
}

impl ServiceError {
    /// Which part of the input the error is about, by the name a front end's field has: `link`,
    /// `alias`, `id`, `content_type`, `input`; none for errors not about the input.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ServiceError::Link(_) | ServiceError::Storage(StorageError::OwnLink) => Some("link"),
            ServiceError::Storage(StorageError::DuplicateLink) => Some("link"),
            ServiceError::Name(_)
            | ServiceError::Storage(StorageError::BadAlias(_) | StorageError::DuplicateAlias(_)) => {
                Some("alias")
            }
            ServiceError::BadMessageId(_) | ServiceError::AmbiguousMessageId { .. } => Some("id"),
            ServiceError::UnknownContentType { .. } => Some("content_type"),
            ServiceError::InputTooLarge { .. }
            | ServiceError::InvalidContent(_)
            | ServiceError::PostTooLarge { .. } => Some("input"),
            ServiceError::Plugin(_) => Some("input"),
            _ => None,
        }
    }

    /// Which kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        use ErrorKind as K;
        match self {
            ServiceError::Storage(e) => e.kind(),
            ServiceError::Node(e) => e.kind(),
            ServiceError::Plugin(e) => e.kind(),
            ServiceError::Mailbox(e) => e.kind(),
            ServiceError::Group(e) => e.kind(),
            ServiceError::NoSuchGroup(_)
            | ServiceError::NoInvitation(_)
            | ServiceError::NoSuchMember(_) => K::NotFound,
            ServiceError::NotJoinedYet(_) => K::Unavailable,
            ServiceError::NotARelation(_)
            | ServiceError::RelatesToNothing(_)
            | ServiceError::GroupReplyByThread
            | ServiceError::UnsealedPost => K::InvalidInput,
            ServiceError::AmbiguousGroup { .. }
            | ServiceError::AmbiguousMember(_)
            | ServiceError::PostTooLarge { .. } => K::InvalidInput,
            ServiceError::NoMailbox => K::NotFound,
            ServiceError::Link(_)
            | ServiceError::Name(_)
            | ServiceError::Config(_)
            | ServiceError::NoHome
            | ServiceError::BadMessageId(_)
            | ServiceError::AmbiguousMessageId { .. }
            | ServiceError::InputTooLarge { .. }
            | ServiceError::WriteFile { .. } => K::InvalidInput,
            ServiceError::CreateFile { source, .. } => match source.kind() {
                std::io::ErrorKind::AlreadyExists => K::Conflict,
                _ => K::InvalidInput,
            },
            ServiceError::Engine(_) | ServiceError::NoPluginDir => K::Plugin,
            ServiceError::DataDir { .. } | ServiceError::Damaged(_) => K::Storage,
            ServiceError::DriveFolder { .. } | ServiceError::DriveUnreadable(_) => K::NotFound,
            ServiceError::DriveStopped => K::Plugin,
            ServiceError::NotInitialised { .. }
            | ServiceError::NotADataDir { .. }
            | ServiceError::UnknownContentType { .. }
            | ServiceError::NoSuchMessage(_) => K::NotFound,
            ServiceError::PendingVerify(_)
            | ServiceError::PendingConversation(_)
            | ServiceError::StillArriving { .. }
            | ServiceError::NoTor
            | ServiceError::Tor(_) => K::Unavailable,
            ServiceError::InvalidContent(_) | ServiceError::Policy(_) => K::RefusedByPolicy,
            ServiceError::Timer(_) | ServiceError::Manifest(_) | ServiceError::NewPlugin(_) => {
                K::InvalidInput
            }
            ServiceError::PluginFile { .. } => K::NotFound,
            ServiceError::NotInstalled(_) | ServiceError::NotTried(_) => K::Plugin,
        }
    }
}

/// What a damaged attachment's row says, and what to do about it.
pub fn damaged(direction: Direction) -> &'static str {
    match direction {
        Direction::Incoming => "damaged, ask the contact to send it again",
        Direction::Outgoing => "damaged on this device, send the file again",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_content_type_lists_the_installed_ones() {
        let error = ServiceError::UnknownContentType {
            content_type: "courier/poll".into(),
            installed: vec!["courier/image".into(), "courier/text".into()],
        };
        assert_eq!(
            error.to_string(),
            "no message type \"courier/poll\" is installed; installed: courier/image, courier/text"
        );
        assert_eq!(error.kind(), ErrorKind::NotFound);
        let none = ServiceError::UnknownContentType {
            content_type: "courier/poll".into(),
            installed: Vec::new(),
        };
        assert!(
            none.to_string()
                .ends_with("installed: none (add a [message_types] section to the config)"),
            "{none}"
        );
    }

    #[test]
    fn storage_errors_keep_their_words_and_get_their_kind() {
        let cases = [
            (
                StorageError::WrongPassphrase { path: "db".into() },
                ErrorKind::Locked,
            ),
            (StorageError::ShortPassphrase, ErrorKind::InvalidInput),
            (
                StorageError::UnknownContact("carol".into()),
                ErrorKind::NotFound,
            ),
            (StorageError::NoIdentity, ErrorKind::NotFound),
            (StorageError::DuplicateLink, ErrorKind::Conflict),
            (
                StorageError::DuplicateAlias("bob".into()),
                ErrorKind::Conflict,
            ),
            (StorageError::IdentityExists, ErrorKind::Conflict),
            (StorageError::Corrupt("a row"), ErrorKind::Storage),
            (StorageError::NoKeys, ErrorKind::Unavailable),
        ];
        for (storage, kind) in cases {
            let words = storage.to_string();
            let error = ServiceError::from(storage);
            assert_eq!(error.kind(), kind, "{error}");
            assert_eq!(error.to_string(), words, "wrapped transparently");
        }
    }

    #[test]
    fn a_busy_database_is_locked_not_broken() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert_eq!(
            ServiceError::from(StorageError::Sqlite(busy)).kind(),
            ErrorKind::Locked
        );
        let other = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
            None,
        );
        assert_eq!(
            ServiceError::from(StorageError::Sqlite(other)).kind(),
            ErrorKind::Storage
        );
    }

    #[test]
    fn a_plugin_refusing_is_bad_input_and_a_restarting_one_is_unavailable() {
        let refused = CallError::Refused {
            plugin: "location".into(),
            message: "latitude out of range".into(),
        };
        assert_eq!(ServiceError::from(refused).kind(), ErrorKind::InvalidInput);
        let restarting = CallError::Restarting {
            plugin: "image".into(),
            retry_in: std::time::Duration::from_millis(50),
        };
        assert_eq!(
            ServiceError::from(restarting).kind(),
            ErrorKind::Unavailable
        );
        let disabled = CallError::Disabled {
            plugin: "image".into(),
            reason: "trap".into(),
        };
        assert_eq!(ServiceError::from(disabled).kind(), ErrorKind::Plugin);
    }

    #[test]
    fn saving_over_an_existing_file_is_a_conflict() {
        let exists = ServiceError::CreateFile {
            path: "photo.jpg".into(),
            source: std::io::ErrorKind::AlreadyExists.into(),
        };
        assert_eq!(exists.kind(), ErrorKind::Conflict);
        assert!(exists.to_string().contains("never overwritten"), "{exists}");
    }
}
