//! The local API a desktop app drives a node with: JSON over HTTP under `/v1`, live events on a
//! WebSocket, an OpenAPI document, and the web page at `/`, all thin over `courier-service`.
//!
//! [`Api::start`] serves it beside a running node, on loopback unless told otherwise, and writes
//! its address and a fresh token into the data directory for clients on this machine
//! (`courier_api_client::client::Client::of_data_dir`): the token file is readable by its owner only.

mod auth;
mod convert;
mod error;
mod extract;
mod live;
pub mod openapi;
mod page;
pub mod qr;
mod routes;
mod state;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use courier_local_fs::owner_only;
use courier_service::Service;
use courier_service::node::NodeHandle;
use tokio::sync::{broadcast, oneshot};

pub use auth::Token;
pub use error::{ApiError, StartError};

pub use convert::{contact as contact_json, message as message_json, queued as queued_json};
pub use courier_api_client::{ADDRESS_FILE, TOKEN_FILE, client, json};
/// Live events held for a socket that reads slowly before it is told it missed some.
const EVENT_BACKLOG: usize = 4096;

/// How to serve the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiOptions {
    /// The address to listen on; port 0 picks a free one.
    pub bind: SocketAddr,
    /// Serve on an address that is not loopback (the user asked for it knowingly).
    pub allow_remote: bool,
}

impl ApiOptions {
    /// Refuses an address beyond loopback unless remote use was asked for.
    pub fn check(&self) -> Result<(), StartError> {
        if self.bind.ip().is_loopback() || self.allow_remote {
            Ok(())
        } else {
            Err(StartError::Remote(self.bind))
        }
    }
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            allow_remote: false,
        }
    }
}

/// The API, serving until stopped or dropped.
#[derive(Debug)]
pub struct Api {
    addr: SocketAddr,
    token: Token,
    files: Vec<PathBuf>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Api {
    /// Serves the API for `service` (its own connection to the data directory `dir`) and the node
    /// behind `node`, on `runtime`; writes the address and token files into `dir`.
    pub fn start(
        runtime: &tokio::runtime::Handle,
        dir: &Path,
        options: ApiOptions,
        service: Service,
        node: NodeHandle,
    ) -> Result<Api, StartError> {
        options.check()?;
        let bind_error = |source| StartError::Bind {
            addr: options.bind,
            source,
        };
        let listener = std::net::TcpListener::bind(options.bind).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let token = Token::generate();
        let files = write_files(dir, addr, &token)?;
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        let state = state::AppState {
            core: Arc::new(Mutex::new(state::Core {
                service,
                sends: state::Sends::default(),
            })),
            node,
            token: token.clone(),
            hosts: auth::Hosts::for_addr(addr),
            remote: options.allow_remote && !addr.ip().is_loopback(),
            events,
        };
        let _entered = runtime.enter();
        let listener = tokio::net::TcpListener::from_std(listener).map_err(bind_error)?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        runtime.spawn(live::watch(state.clone()));
        let app = routes::router(state);
        runtime.spawn(async move {
            let serving = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serving.await {
                tracing::error!("the API stopped: {e}");
            }
        });
        Ok(Api {
            addr,
            token,
            files,
            shutdown: Some(shutdown),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its token.
    pub fn token(&self) -> &Token {
        &self.token
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // A client that finds no files opens the database itself instead.
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Writes the token (owner-only) and then the address, each whole or not at all.
fn write_files(dir: &Path, addr: SocketAddr, token: &Token) -> Result<Vec<PathBuf>, StartError> {
    let mut written = Vec::new();
    for (name, text) in [
        (TOKEN_FILE, token.as_str().to_owned()),
        (ADDRESS_FILE, addr.to_string()),
    ] {
        let path = dir.join(name);
        let partial = dir.join(format!("{name}~"));
        let failed = |source| StartError::File {
            path: path.clone(),
            source,
        };
        let _ = std::fs::remove_file(&partial);
        let mut file = owner_only::file_options()
            .write(true)
            .create_new(true)
            .open(&partial)
            .map_err(failed)?;
        std::io::Write::write_all(&mut file, format!("{text}\n").as_bytes()).map_err(failed)?;
        std::fs::rename(&partial, &path).map_err(failed)?;
        written.push(path);
    }
    Ok(written)
}
