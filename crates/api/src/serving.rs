//! A node with its API beside it, if one is asked for, on one runtime: what `courier serve` runs and
//! what a desktop app embeds.

use std::net::SocketAddr;
use std::thread::JoinHandle;

use courier_service::events::Event;
use courier_service::node::{NodeHandle, RunningNode};
use courier_service::{Config, ErrorKind, Service, ServiceError};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tokio::sync::broadcast;

use crate::state::Core;
use crate::{Api, ApiOptions, EVENT_BACKLOG, StartError};

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

/// A running node, the feed of its live events, and its API if one was asked for.
#[derive(Debug)]
pub struct Serving {
    node: RunningNode,
    api: Option<Api>,
    events: broadcast::Sender<Event>,
    /// Subscribed at the start, for the first to ask, so that nothing since is missed.
    first: Option<broadcast::Receiver<Event>>,
    feed: Option<JoinHandle<()>>,
}

impl Serving {
    /// Starts the node on `node` (a service over the data directory) with `config`, the feed of
    /// its live events on `front` (a second service over the same directory), and, given `api`
    /// (where to listen), the API beside them on the node's runtime, sharing `front`.
    pub fn start(
        config: &Config,
        node: Service,
        front: Service,
        api: Option<ApiOptions>,
    ) -> Result<Serving, ServeError> {
        let dir = node.dir().path().to_owned();
        let mut node = node.serve(config)?;
        let core = Core::shared(front);
        let (events, first) = broadcast::channel(EVENT_BACKLOG);
        let api = match api {
            None => None,
            Some(options) => {
                let runtime = node
                    .runtime()
                    .expect("a node the service starts runs its own runtime");
                let started = Api::start(
                    &runtime,
                    &dir,
                    options,
                    core.clone(),
                    node.handle.clone(),
                    events.clone(),
                );
                match started {
                    Ok(api) => Some(api),
                    Err(e) => {
                        // Stopped cleanly, not left running without the API that was asked for.
                        let _ = node.stop();
                        return Err(e.into());
                    }
                }
            }
        };
        let notices = std::mem::replace(&mut node.notices, std::sync::mpsc::channel().1);
        let handle = node.handle.clone();
        let sender = events.clone();
        let feed = std::thread::Builder::new()
            .name("courier-events".into())
            .spawn(move || crate::feed::run(core, handle, notices, sender))
            .expect("the OS can start a thread");
        Ok(Serving {
            node,
            api,
            events,
            first: Some(first),
            feed: Some(feed),
        })
    }

    /// Wakes, asks or stops the node from another thread.
    pub fn handle(&self) -> NodeHandle {
        self.node.handle.clone()
    }

    /// Where the API listens, if it runs.
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api.as_ref().map(Api::addr)
    }

    /// The node's live events in order: the first call gets every one since the start, a later one
    /// those from then on. A subscriber more than a few thousand events behind is told how many it
    /// missed (`RecvError::Lagged`).
    pub fn events(&mut self) -> broadcast::Receiver<Event> {
        self.first.take().unwrap_or_else(|| self.events.subscribe())
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
        let Serving {
            node, api, feed, ..
        } = self;
        let stopped = node.wait();
        // The feed ends with the node; its last events are out before the API goes.
        if let Some(feed) = feed {
            let _ = feed.join();
        }
        drop(api);
        Ok(stopped?)
    }
}
