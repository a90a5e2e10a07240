//! Courier's use cases over one data directory, for whichever front end calls them: the `courier`
//! command line today, a REST API next. A front end parses, prompts and prints; everything it asks
//! of a node is here, with typed errors whose [`ErrorKind`] it maps to an exit code or a status.
//!
//! ```no_run
//! # fn main() -> Result<(), courier_service::ServiceError> {
//! use courier_service::DataDir;
//! let dir = DataDir::resolve(None)?;
//! let mut service = dir.existing()?.unlock("a passphrase".to_owned())?;
//! service.send("bob", "courier/text", b"hello", &[])?;
//! # Ok(())
//! # }
//! ```

mod attachment;
pub mod contacts;
pub mod content;
pub mod conversation;
mod data_dir;
pub mod drive;
mod error;
pub mod events;
pub mod groups;
mod identity;
pub mod mailbox;
pub mod node;
pub mod panic;
pub mod plugin_check;
pub mod plugin_template;
pub mod plugins;
pub mod profile;
mod receipts;
mod send_group;
mod service;
mod timer;
pub mod views;

pub use attachment::Attachment;
pub use contacts::{ContactState, ContactSummary};
pub use content::PeerSupport;
pub use conversation::{
    ConversationPage, ConversationSummary, MessageSummary, MessageWindow, Outgoing, Page, Sent,
    Window,
};
pub use data_dir::{DataDir, LockedDatabase};
pub use error::{ErrorKind, ServiceError};
pub use groups::{
    GroupEvent, GroupItem, GroupPage, GroupReaction, GroupStanding, GroupSummary, GroupWindow,
    MemberSummary, Posted,
};
pub use identity::check_name;
pub use plugins::{Description, Inventory, PluginHealth, PluginInfo, Plugins};
pub use receipts::Receipts;
pub use send_group::SendRequest;
pub use service::Service;

pub use courier_proto::contact_link::ContactLink;
pub use courier_proto::sync::record::MessageId;
pub use courier_proto::sync::relation::RelationKind;
pub use courier_proto::sync::timer::Timer;
pub use courier_storage::{Delivery, Direction, MarkedRead, OutgoingState};
// What a front end reads or shows with the same rules the use cases apply.
pub use courier_config::Config;
pub use courier_config::world::World;
pub use courier_local_fs::input_file;
pub use courier_text_safety::for_terminal;
