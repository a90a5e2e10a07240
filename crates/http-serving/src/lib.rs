//! HTTP connections under a budget of their own (`courier_io::budget`), apart from the
//! transports': the local API's and the mailbox's. Anyone who can reach the port can connect, so a
//! connection is a stranger until a request on it shows a token. Strangers are capped (the oldest
//! closed to make room) and get the budget's deadline to show one; request headers must arrive
//! within [`HEADER_DEADLINE`]. Whoever has no token can thus hold no more than a few dozen
//! descriptors, briefly, and the token holders, the node and its transports go on.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Extension;
use courier_io::budget::{Budget, Limits};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long a request's headers may take to arrive, on any connection.
pub const HEADER_DEADLINE: Duration = Duration::from_secs(5);

/// What a request carries about its connection (an `Extension`), so the token check can vouch for
/// it.
#[derive(Clone)]
pub struct Connection {
    id: u64,
    budget: Arc<Budget>,
}

impl Connection {
    /// The connection showed the token: no longer a stranger. (Requests on the Unix socket, which
    /// is this user's alone, carry no `Connection`.)
    pub fn vouch(&self) {
        self.budget.vouch(self.id);
    }
}

/// Where connections come from: a TCP listener, or any stream of connections (an onion service's).
pub trait Accept: Send + 'static {
    /// One connection.
    type Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static;
    /// The next connection and the address it came from (the budget counts per source).
    fn accept(&mut self) -> impl Future<Output = std::io::Result<(Self::Io, IpAddr)>> + Send;
}

impl Accept for TcpListener {
    type Io = tokio::net::TcpStream;

    async fn accept(&mut self) -> std::io::Result<(Self::Io, IpAddr)> {
        let (stream, peer): (_, SocketAddr) = TcpListener::accept(self).await?;
        Ok((stream, peer.ip()))
    }
}

/// Connections from a stream of them, all from one `source` (an onion service's come with no
/// address), kept serving while `keep` lives (the onion service itself).
pub struct Incoming<I, K> {
    streams: Pin<Box<dyn futures_core::Stream<Item = I> + Send>>,
    source: IpAddr,
    _keep: K,
}

impl<I, K> Incoming<I, K> {
    /// Connections from `streams`, all from `source`; `keep` is held as long as they are served.
    pub fn new(
        streams: impl futures_core::Stream<Item = I> + Send + 'static,
        source: IpAddr,
        keep: K,
    ) -> Self {
        Incoming {
            streams: Box::pin(streams),
            source,
            _keep: keep,
        }
    }
}

impl<I, K> Accept for Incoming<I, K>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    K: Send + 'static,
{
    type Io = I;

    async fn accept(&mut self) -> std::io::Result<(I, IpAddr)> {
        match std::future::poll_fn(|cx| self.streams.as_mut().poll_next(cx)).await {
            Some(io) => Ok((io, self.source)),
            // The service stopped: nothing more will come.
            None => std::future::pending().await,
        }
    }
}

/// Serves `app` on the connections `listener` accepts until `stopped` turns true, each connection
/// within `limits`.
pub async fn serve(
    mut listener: impl Accept,
    app: axum::Router,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) {
    let budget = Arc::new(Budget::new(limits));
    let ids = AtomicU64::new(1);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        let (stream, source) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors or memory: the budget should prevent it; wait, do not spin.
                tracing::debug!("could not accept an HTTP connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let id = ids.fetch_add(1, Ordering::Relaxed);
        let Some(stranger) = budget.admit(id, source) else {
            // Every place is held by clients that showed the token.
            continue;
        };
        let connection = Connection {
            id,
            budget: budget.clone(),
        };
        let service = TowerToHyperService::new(app.clone().layer(Extension(connection)));
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_DEADLINE);
            let conn = builder
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(conn);
            let vouched = tokio::select! {
                _ = &mut conn => return,
                () = stranger.vouched() => true,
                () = stranger.evicted() => false,
                () = tokio::time::sleep(stranger.deadline()) => false,
                _ = stopped.wait_for(|stop| *stop) => false,
            };
            if !vouched {
                // Dropped unfinished: the socket closes.
                return;
            }
            let _slot = stranger.into_slot();
            tokio::select! {
                _ = &mut conn => return,
                _ = stopped.wait_for(|stop| *stop) => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
}
