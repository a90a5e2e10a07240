//! Why the node could not start or had to stop.

use courier_error::{ErrorKind, HasKind};
use courier_io::DriverError;
use courier_storage::StorageError;

/// Why the node could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The wasm engine could not start.
    #[error(transparent)]
    Engine(#[from] courier_plugin_host::loader::EngineError),
    /// A driver could not start.
    #[error("an I/O driver could not start: {0}")]
    Driver(#[from] DriverError),
    /// The runtime the drivers run on could not start.
    #[error("cannot start the node's runtime: {0}")]
    Runtime(std::io::Error),
    /// The data directory has no identity.
    #[error("this data directory has no identity yet; run `courier init --name NAME` first")]
    NoIdentity,
    /// No transport loaded, so the node could reach nobody.
    #[error(
        "no transport can run, so nothing would ever be sent; not starting.{}",
        if .0.is_empty() {
            " The config has no [transports] section: add one (see config/*.toml)".to_owned()
        } else {
            .0.iter().map(|r| format!("\n  {r}")).collect::<String>()
        }
    )]
    NoTransport(Vec<String>),
}

impl HasKind for NodeError {
    fn kind(&self) -> ErrorKind {
        match self {
            NodeError::Storage(e) => e.kind(),
            NodeError::NoIdentity => ErrorKind::NotFound,
            NodeError::Engine(e) => e.kind(),
            NodeError::Driver(e) => e.kind(),
            NodeError::NoTransport(_) | NodeError::Runtime(_) => ErrorKind::Unavailable,
        }
    }
}
