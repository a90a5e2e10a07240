//! The mailbox: a user-owned, always-on server (an old laptop, a Raspberry Pi) that keeps opaque
//! files for its owner and the owner's contacts until they fetch them, so that two people who are
//! never online at the same time still exchange messages (#28).
//!
//! What it holds is already encrypted end to end by the nodes (padded streams of their simplex
//! links); it sees only sizes and timing. Every request carries a bearer token: the owner's, or one
//! per contact that the owner registered with an inbox (the contact uploads, the owner fetches) and
//! an outbox (the owner uploads, the contact fetches). A request without a token the mailbox knows
//! gets the same bare 401 on any path, so the mailbox does not tell a scanner what it is; a folder
//! a token may not use is a 404, as if it did not exist.
//!
//! - [`config`]: quotas, the file size limit, the upload rate and the retention, from
//!   `mailbox.toml`.
//! - [`token`]: bearer tokens, and the digests the mailbox keeps of them.
//! - [`registry`]: who may use the mailbox (setup, owner, contacts), kept on disk.
//! - [`folders`]: the files, each written and synced before it is acknowledged.
//! - [`access`]: which folder a role may use for what.
//! - [`rate`]: the upload rate limit per token.
//! - [`mailbox`]: all of it behind one lock, as the routes use it.
//! - [`routes`]: the HTTP API under `/v1`.
//! - [`serving`]: the API on a socket, its connections under a budget.
//! - [`onion`]: the mailbox as an onion service, where its config has `[tor]`.

pub mod access;
pub mod config;
pub mod error;
pub mod folders;
pub mod mailbox;
#[cfg(feature = "tor")]
pub mod onion;
pub mod rate;
pub mod registry;
pub mod routes;
pub mod serving;
pub mod token;

pub use config::MailboxConfig;
pub use courier_error::{ErrorKind, HasKind};
pub use error::MailboxError;
pub use mailbox::Mailbox;
