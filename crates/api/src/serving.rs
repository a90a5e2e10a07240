//! A node with its API beside it, if one is asked for, on one runtime: what `courier serve` runs and
//! what a desktop app embeds.

use std::net::SocketAddr;
use std::sync::mpsc::Receiver;

use courier_service::node::{NodeHandle, Notice, RunningNode};
use courier_service::{Config, ErrorKind, Service, ServiceError};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::{Api, ApiOptions, StartError};

/// Why a node and its API could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The node could not start.
    #[error(transparent)]
    Node(#[from] ServiceError),
    /// The API could not start (the node was stopped again).
    #[error(transparent)]
    Api(#[from] StartError),
}

impl ServeError {
    /// The kind a front end tells apart (an exit code).
    pub fn kind(&self) -> ErrorKind {
        match self {
            ServeError::Node(e) => e.kind(),
            ServeError::Api(e) => e.kind(),
        }
    }
}

/// A running node, and its API if one was asked for.
#[derive(Debug)]
pub struct Serving {
    node: RunningNode,
    api: Option<Api>,
}

impl Serving {
    /// Starts the node on `node` (a service over the data directory) with `config`, and, given
    /// `api` (a second service over the same directory, and where to listen), the API beside it on
    /// the node's runtime.
    pub fn start(
        config: &Config,
        node: Service,
        api: Option<(Service, ApiOptions)>,
    ) -> Result<Serving, ServeError> {
        let dir = node.dir().path().to_owned();
        let node = node.serve(config)?;
        let Some((service, options)) = api else {
            return Ok(Serving { node, api: None });
        };
        let runtime = node
            .runtime()
            .expect("a node the service starts runs its own runtime");
        match Api::start(&runtime, &dir, options, service, node.handle.clone()) {
            Ok(api) => Ok(Serving {
                node,
                api: Some(api),
            }),
            Err(e) => {
                // Stopped cleanly, not left running without the API that was asked for.
                let _ = node.stop();
                Err(e.into())
            }
        }
    }

    /// Wakes, asks or stops the node from another thread.
    pub fn handle(&self) -> NodeHandle {
        self.node.handle.clone()
    }

    /// Where the API listens, if it runs.
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api.as_ref().map(Api::addr)
    }

    /// What the node reports (arrivals, listeners, reads); taken once, whoever shows them.
    pub fn take_notices(&mut self) -> Receiver<Notice> {
        std::mem::replace(&mut self.node.notices, std::sync::mpsc::channel().1)
    }

    /// Stops the node cleanly on SIGINT or SIGTERM (a terminal's Ctrl-C, a service manager).
    pub fn stop_on_signals(&self) -> std::io::Result<()> {
        let handle = self.handle();
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                handle.stop();
            }
        });
        Ok(())
    }

    /// Waits until the node stops (after [`NodeHandle::stop`] or a signal), then stops the API.
    pub fn wait(self) -> Result<(), ServiceError> {
        let Serving { node, api } = self;
        let stopped = node.wait();
        drop(api);
        Ok(stopped?)
    }
}
