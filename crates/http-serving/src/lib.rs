//! HTTP connections under a budget of their own (`courier_io::budget`), apart from the
//! transports': the local API's and the mailbox's. Anyone who can reach the port can connect, so a
//! connection is a stranger until a request on it shows a token. Strangers are capped (the oldest
//! closed to make room) and get the budget's deadline to show one; request headers must arrive
//! within [`HEADER_DEADLINE`]. Whoever has no token can thus hold no more than a few dozen
//! descriptors, briefly, and the token holders, the node and its transports go on.

use std::net::SocketAddr;
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

/// Serves `app` on `listener` until `stopped` turns true, each connection within `limits`.
pub async fn serve(
    listener: TcpListener,
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
        let (stream, peer): (_, SocketAddr) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors or memory: the budget should prevent it; wait, do not spin.
                tracing::debug!("could not accept an HTTP connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let id = ids.fetch_add(1, Ordering::Relaxed);
        let Some(stranger) = budget.admit(id, peer.ip()) else {
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
