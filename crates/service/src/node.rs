//! Running the node on the directory's database: the one place the drivers meet the node.

use courier_config::Config;
use courier_node::{Node, NodeError, Pacing, RunningNode};

use crate::{Service, ServiceError};

pub use courier_node::{NodeHandle, Notice, ReadOutcome, TransportState};

impl Service {
    /// Starts the node on this directory's database with `config`'s transports and every driver
    /// this build has; the node owns the database from now on.
    pub fn serve(self, config: &Config) -> Result<RunningNode, ServiceError> {
        Ok(Node::spawn_paced(
            self.into_database(),
            config,
            courier_drivers::all(),
            Pacing::default(),
        )?)
    }
}

/// What kind of failure stopped a node from starting or running.
pub(crate) fn node_kind(error: &NodeError) -> crate::ErrorKind {
    use crate::ErrorKind as K;
    match error {
        NodeError::Storage(e) => crate::error::storage_kind(e),
        NodeError::NoIdentity => K::NotFound,
        NodeError::Engine(_) => K::Plugin,
        NodeError::NoTransport | NodeError::Driver(_) | NodeError::Runtime(_) => K::Unavailable,
    }
}
