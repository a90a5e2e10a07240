//! The local API a desktop app drives a node with: JSON over HTTP under `/v1`, live events on a
//! WebSocket, an OpenAPI document, and the web page at `/`, all thin over `courier-service`.
//!
//! [`Api::start`] serves it beside a running node, on loopback unless told otherwise, and writes
//! its address and a fresh token into the data directory for clients on this machine
//! (`courier_api_client::client::Client::of_data_dir`): the token file is readable by its owner only.

mod auth;
mod convert;
mod credentials;
mod error;
mod extract;
mod feed;
mod group_commit;
mod live;
pub mod openapi;
mod page;
pub mod qr;
mod routes;
mod serving;
mod state;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use courier_local_fs::owner_only;
use courier_service::events::Event;
use courier_service::node::NodeHandle;
use tokio::sync::{broadcast, watch};

pub use credentials::Token;
pub use error::{ApiError, StartError};
pub use feed::POLL;
pub use serving::{ServeError, Serving};

pub use convert::{
    contact as contact_json, group as group_json, group_entries as group_entries_json,
    group_member as group_member_json, message as message_json, messages as messages_json,
    queued as queued_json,
};
pub use courier_api_client::{ADDRESS_FILE, SOCKET_FILE, TOKEN_FILE, client, json};
pub use routes::conversations::MAX_WINDOW;
/// Live events held for a socket that reads slowly before it is told it missed some.
pub(crate) const EVENT_BACKLOG: usize = 4096;

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
    shutdown: Option<watch::Sender<bool>>,
    /// The service, held here too so that it is dropped on the stopping thread (see `Drop`).
    core: state::SharedCore,
}

impl std::fmt::Debug for state::Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Core")
    }
}

impl Api {
    /// Serves the API for `core` (its own connection to the data directory `dir`), the node behind
    /// `node` and the live `events`, on `runtime`; writes the address and token files into `dir`.
    pub(crate) fn start(
        runtime: &tokio::runtime::Handle,
        dir: &Path,
        options: ApiOptions,
        core: state::SharedCore,
        node: NodeHandle,
        events: broadcast::Sender<Event>,
    ) -> Result<Api, StartError> {
        options.check()?;
        let bind_error = |source| StartError::Bind {
            addr: options.bind,
            source,
        };
        let listener = std::net::TcpListener::bind(options.bind).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let _entered = runtime.enter();
        // The socket is a convenience beside the TCP port: where it cannot be made (a path too
        // long for a socket's name), the API runs without it; a second node on the same data
        // directory is refused.
        let socket = match unix_socket(dir) {
            Ok(socket) => Some(socket),
            Err(StartError::File { source, .. })
                if source.kind() != std::io::ErrorKind::AddrInUse =>
            {
                tracing::warn!("the API has no Unix socket: {source}");
                None
            }
            Err(e) => return Err(e),
        };
        let token = Token::generate();
        let mut files = write_files(dir, addr, &token)?;
        files.extend(socket.as_ref().map(|(_, file)| file.clone()));
        let state = state::AppState {
            core: core.clone(),
            node,
            token: token.clone(),
            hosts: credentials::Hosts::for_addr(addr),
            any_host: options.allow_remote && !addr.ip().is_loopback(),
            events,
            sockets: state::Sockets::new(),
            sends: group_commit::Sends::default(),
        };
        let listener = tokio::net::TcpListener::from_std(listener).map_err(bind_error)?;
        let (shutdown, stopped) = watch::channel(false);
        // Only programs of this user reach the socket (its mode, and the data directory's): no
        // browser can, so it takes any Host; the token is still asked for.
        let local = state::AppState {
            any_host: true,
            ..state.clone()
        };
        runtime.spawn(courier_http_serving::serve(
            listener,
            routes::router(state),
            courier_io::budget::Limits::for_api(),
            stopped.clone(),
        ));
        if let Some((socket, _)) = socket {
            runtime.spawn(serve(socket, routes::router(local), stopped));
        }
        Ok(Api {
            addr,
            token,
            files,
            shutdown: Some(shutdown),
            core,
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
            let _ = shutdown.send(true);
        }
        // A client that finds no files opens the database itself instead.
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
        // The server's tasks hold the service (a database connection, the plugins' engine) and
        // end with the runtime, on its threads. Wait for them, briefly, so that the service is
        // dropped here and not on a runtime thread while the process exits: that race aborted a
        // `serve --api` on SIGTERM.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while Arc::strong_count(&self.core) > 1 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// Serves `app` on the Unix socket `listener` until `stopped` turns true.
async fn serve<L>(listener: L, app: axum::Router, mut stopped: watch::Receiver<bool>)
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    });
    if let Err(e) = serving.await {
        tracing::error!("the API stopped: {e}");
    }
}

/// The API's Unix socket in `dir`, readable and writable by its owner only; one left by a node
/// that died is replaced.
fn unix_socket(dir: &Path) -> Result<(tokio::net::UnixListener, PathBuf), StartError> {
    let path = dir.join(SOCKET_FILE);
    let failed = |source| StartError::File {
        path: path.clone(),
        source,
    };
    if std::os::unix::net::UnixStream::connect(&path).is_ok() {
        return Err(failed(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "another node serves this data directory's API; stop it first",
        )));
    }
    let _ = std::fs::remove_file(&path);
    let socket = tokio::net::UnixListener::bind(&path).map_err(failed)?;
    owner_only::restrict(&path).map_err(failed)?;
    Ok((socket, path))
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

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_wipe_removes_every_file_the_api_writes_in_the_data_directory() {
        for file in [super::ADDRESS_FILE, super::SOCKET_FILE, super::TOKEN_FILE] {
            assert!(
                courier_service::panic::WRITTEN_BESIDE_DATABASE.contains(&file),
                "{file} is missing from what a panic wipe removes"
            );
        }
    }
}
