//! What every handler shares: the service (one database connection, the message-type plugins
//! loaded once) behind one lock, the node's handle, and the live events.

use std::sync::{Arc, Mutex};

use courier_service::Service;
use courier_service::events::Event;
use courier_service::node::NodeHandle;
use tokio::sync::broadcast;

use crate::credentials::{Hosts, Token};
use crate::error::ApiError;

/// The service, used by one request at a time.
pub(crate) struct Core {
    /// The use cases.
    pub service: Service,
}

/// The front end's connection to the data directory, shared by the API's requests and the feed of
/// live events.
pub(crate) type SharedCore = Arc<Mutex<Core>>;

impl Core {
    /// A core over `service`, which lets go of the database key between uses so that the node
    /// beside it can rotate the key.
    pub fn shared(mut service: Service) -> SharedCore {
        service.follow_key_rotations();
        Arc::new(Mutex::new(Core { service }))
    }

    /// Runs `f` holding the database key (following the node's rotation first if there was one),
    /// and lets go of it after.
    pub fn with_key<T, E: From<courier_service::ServiceError>>(
        core: &Mutex<Core>,
        f: impl FnOnce(&mut Core) -> Result<T, E>,
    ) -> Result<T, E> {
        // A handler that panicked left the service as SQLite left it: consistent.
        let mut core = core.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        core.service.hold_key()?;
        let result = f(&mut core);
        core.service.release_key();
        result
    }
}

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub core: SharedCore,
    pub node: NodeHandle,
    pub token: Token,
    pub hosts: Hosts,
    /// Any `Host` is taken: serving beyond loopback (`--api-allow-remote`), or on the Unix socket.
    pub any_host: bool,
    /// Live events, for each WebSocket to subscribe to.
    pub events: broadcast::Sender<Event>,
    /// WebSockets still waiting for their token, and logged-in ones: each holds a permit.
    pub sockets: Sockets,
    /// Sends waiting for the next group commit.
    pub sends: crate::group_commit::Sends,
}

/// The caps on WebSockets: one that never logs in holds a descriptor and buffers for seconds, so
/// only a few may wait at once; a desktop app needs one logged in.
#[derive(Clone)]
pub(crate) struct Sockets {
    pub waiting: Arc<tokio::sync::Semaphore>,
    pub live: Arc<tokio::sync::Semaphore>,
}

impl Sockets {
    /// How many may wait for their token at once.
    pub const WAITING: usize = 16;
    /// How many may be logged in at once.
    pub const LIVE: usize = 16;

    pub fn new() -> Sockets {
        Sockets {
            waiting: Arc::new(tokio::sync::Semaphore::new(Self::WAITING)),
            live: Arc::new(tokio::sync::Semaphore::new(Self::LIVE)),
        }
    }
}

impl AppState {
    /// Runs `f` on the service off the async threads (SQLite and wasm block).
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Core) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let core = self.core.clone();
        tokio::task::spawn_blocking(move || Core::with_key(&core, f))
            .await
            .map_err(|_| {
                ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "storage",
                    "the request failed inside the node; see its log",
                )
            })?
    }

    /// [`write`](Self::write) of a step that answers nothing: `204 No Content` once it is done.
    pub async fn done(
        &self,
        f: impl FnOnce(&mut Core) -> Result<(), courier_service::ServiceError> + Send + 'static,
    ) -> Result<axum::http::StatusCode, ApiError> {
        self.write(move |core| Ok(f(core)?)).await?;
        Ok(axum::http::StatusCode::NO_CONTENT)
    }

    /// [`run`](Self::run), then tells the node to look at the database now.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Core) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let result = self.run(f).await;
        self.node.wake();
        result
    }
}
