//! What every handler shares: the service (one database connection, the message-type plugins
//! loaded once) behind one lock, the node's handle, and the live events.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use courier_service::Service;
use courier_service::node::NodeHandle;
use tokio::sync::broadcast;

use crate::auth::{Hosts, Token};
use crate::error::ApiError;
use courier_api_client::json::Queued;

/// Sends remembered by their `Idempotency-Key`, so a client that retries gets the first answer.
const REMEMBERED_SENDS: usize = 4096;

/// The service and what the API keeps beside it, used by one request at a time.
pub(crate) struct Core {
    /// The use cases.
    pub service: Service,
    /// Recent sends by idempotency key.
    pub sends: Sends,
}

/// Answers to recent sends, by the key the client gave.
#[derive(Default)]
pub(crate) struct Sends {
    by_key: HashMap<String, Queued>,
    order: VecDeque<String>,
}

impl Sends {
    /// The answer to an earlier send with `key`.
    pub fn get(&self, key: &str) -> Option<Queued> {
        self.by_key.get(key).cloned()
    }

    /// Remembers the answer to the send with `key`, forgetting the oldest past the limit.
    pub fn remember(&mut self, key: String, queued: Queued) {
        if self.by_key.insert(key.clone(), queued).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > REMEMBERED_SENDS {
            if let Some(old) = self.order.pop_front() {
                self.by_key.remove(&old);
            }
        }
    }
}

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub core: Arc<Mutex<Core>>,
    pub node: NodeHandle,
    pub token: Token,
    pub hosts: Hosts,
    /// Any `Host` is taken: serving beyond loopback (`--api-allow-remote`), or on the Unix socket.
    pub any_host: bool,
    /// Live events, each already JSON.
    pub events: broadcast::Sender<Arc<str>>,
}

impl AppState {
    /// Runs `f` on the service off the async threads (SQLite and wasm block).
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Core) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let core = self.core.clone();
        tokio::task::spawn_blocking(move || {
            // A handler that panicked left the service as SQLite left it: consistent.
            let mut core = core.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut core)
        })
        .await
        .map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "storage",
                "the request failed inside the node; see its log",
            )
        })?
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
