//! Mailboxes: uploads the streams a mailbox transport writes, and fetches what waits for this node,
//! over the mailbox's HTTP API (`courier-mailbox-client`), off the node's thread.
//!
//! An upload the mailbox does not take (it is off, full, or asks us to slow down) is tried again
//! with backoff while the node runs; a fetched file is handed to the node as an accepted channel,
//! like a drive's, and deleted from the mailbox once the node has closed it, that is, once what it
//! carried is stored. A file the node never closed (it stopped) stays, and is fetched again; the
//! node recognises a stream it has read and takes nothing twice.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use courier_config::capability::TcpScope;
use courier_io::{
    ChannelId, ChannelIds, Driver, DriverContext, DriverError, DriverEvent, IoRequest,
    MailboxFolder, MailboxRegistration, Sink, TransportIndex,
};
use courier_mailbox_client::{MailboxClient, MailboxClientError};

use crate::handover::{InFlight, hand_over};
// What went wrong may name the mailbox's address: scrubbed unless unsafe logging is on.
use crate::lock;
use safelog::sensitive;

/// Uploads waiting for the mailbox at once; past this, a stream is dropped (its messages go again
/// when due), so a mailbox that is gone for days does not fill memory.
const MAX_PENDING_UPLOADS: usize = 64;
/// How long a stopping node waits for uploads under way.
const SHUTDOWN_PATIENCE: Duration = Duration::from_secs(20);
/// Longest wait between two tries of an upload.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Files handed to the node, by channel: where each came from, to delete once read.
type Handed = Arc<Mutex<HashMap<ChannelId, (MailboxFolder, String)>>>;

/// The mailbox driver of one node.
pub struct MailboxDriver {
    runtime: tokio::runtime::Handle,
    sink: Sink,
    ids: ChannelIds,
    handed: Handed,
    in_flight: Arc<InFlight>,
    fetching: Arc<AtomicBool>,
    pending: Arc<AtomicUsize>,
}

impl std::fmt::Debug for MailboxDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxDriver").finish_non_exhaustive()
    }
}

impl MailboxDriver {
    /// A driver on the node's runtime.
    pub fn new(cx: DriverContext) -> Self {
        MailboxDriver {
            runtime: cx.runtime,
            sink: cx.sink,
            ids: cx.ids,
            handed: Handed::default(),
            in_flight: Arc::default(),
            fetching: Arc::default(),
            pending: Arc::default(),
        }
    }

    fn upload(&self, folder: MailboxFolder, data: Vec<u8>) {
        if self.pending.fetch_add(1, Ordering::SeqCst) >= MAX_PENDING_UPLOADS {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!(
                "{MAX_PENDING_UPLOADS} uploads already wait for the mailbox; this stream is dropped and goes again when due"
            );
            return;
        }
        let pending = self.pending.clone();
        self.runtime.spawn(async move {
            let mut backoff = Duration::from_secs(1);
            loop {
                let (to, bytes) = (folder.clone(), data.clone());
                let tried = tokio::task::spawn_blocking(move || {
                    MailboxClient::new(&to.address, &to.token).upload(&to.folder, bytes)
                })
                .await;
                match tried {
                    Ok(Ok(())) => break,
                    // Ours no more: wiped, or we were removed. Nothing will take it.
                    Ok(Err(
                        e @ (MailboxClientError::Unauthorized | MailboxClientError::NotFound),
                    )) => {
                        tracing::warn!("the mailbox refused a stream: {}", sensitive(&e));
                        break;
                    }
                    Ok(Err(MailboxClientError::RateLimited { retry_after_secs })) => {
                        backoff = backoff.max(Duration::from_secs(retry_after_secs));
                    }
                    Ok(Err(e)) => tracing::info!(
                        "the mailbox did not take a stream; trying again in {} s: {}",
                        backoff.as_secs(),
                        sensitive(&e)
                    ),
                    Err(_) => break,
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            pending.fetch_sub(1, Ordering::SeqCst);
        });
    }

    fn fetch(
        &self,
        transport: TransportIndex,
        register: Vec<MailboxRegistration>,
        from: Vec<MailboxFolder>,
    ) {
        // One fetch at a time: the next poll finds what this one has not reached.
        if self.fetching.swap(true, Ordering::SeqCst) {
            return;
        }
        let (sink, ids, handed) = (self.sink.clone(), self.ids.clone(), self.handed.clone());
        let (in_flight, fetching) = (self.in_flight.clone(), self.fetching.clone());
        self.runtime.spawn_blocking(move || {
            let registered = register_all(&register);
            let (files, unreachable) =
                fetch_all(transport, &from, &sink, &ids, &handed, &in_flight);
            fetching.store(false, Ordering::SeqCst);
            // Which mailboxes did not answer is the transport's state, told once when it changes.
            sink(DriverEvent::Scanned {
                transport,
                files,
                error: None,
            });
            sink(DriverEvent::MailboxesPolled {
                transport,
                unreachable,
                registered,
            });
        });
    }
}

/// Registers each contact at our mailbox; the keys of those it took (the rest are asked again at
/// the next fetch).
fn register_all(register: &[MailboxRegistration]) -> Vec<i64> {
    let mut taken = Vec::new();
    for r in register {
        match MailboxClient::new(&r.address, &r.owner).register(&r.token, &r.inbox, &r.outbox) {
            Ok(()) => taken.push(r.key),
            Err(e) => tracing::info!(
                "a contact could not be registered at the mailbox yet: {}",
                sensitive(&e)
            ),
        }
    }
    taken
}

/// Fetches every file in `from` not handed to the node already; how many, and the addresses of
/// the mailboxes that did not answer as they should.
fn fetch_all(
    transport: TransportIndex,
    from: &[MailboxFolder],
    sink: &Sink,
    ids: &ChannelIds,
    handed: &Handed,
    in_flight: &InFlight,
) -> (usize, Vec<String>) {
    let (mut files, mut unreachable) = (0, Vec::new());
    let mut failed = |folder: &MailboxFolder, e: MailboxClientError| {
        tracing::info!("a mailbox did not answer as it should: {}", sensitive(&e));
        if !unreachable.contains(&folder.address) {
            unreachable.push(folder.address.clone());
        }
    };
    for folder in from {
        let client = MailboxClient::new(&folder.address, &folder.token);
        let names = match client.list(&folder.folder) {
            Ok(names) => names,
            Err(e) => {
                failed(folder, e);
                continue;
            }
        };
        let busy: HashSet<String> = lock(handed).values().map(|(_, n)| n.clone()).collect();
        for name in names.into_iter().filter(|n| !busy.contains(n)) {
            let data = match client.download(&folder.folder, &name) {
                Ok(data) => data,
                Err(e) => {
                    failed(folder, e);
                    continue;
                }
            };
            // Only once the node has room for it: memory holds a few files, not the mailbox.
            let channel = ids.next();
            in_flight.enter(channel);
            lock(handed).insert(channel, (folder.clone(), name.clone()));
            hand_over(sink, transport, channel, None, &data);
            files += 1;
        }
    }
    (files, unreachable)
}

/// Whether the mailbox at `address` is within `scope`.
fn within(scope: TcpScope, address: &str) -> bool {
    address
        .parse::<SocketAddr>()
        .is_ok_and(|addr| scope.permits(&addr))
}

impl Driver for MailboxDriver {
    fn name(&self) -> &'static str {
        "mailbox"
    }

    fn handles(&self, request: &IoRequest) -> bool {
        matches!(
            request,
            IoRequest::MailboxUpload { .. } | IoRequest::MailboxFetch { .. }
        )
    }

    fn carry_out(
        &mut self,
        transport: TransportIndex,
        request: IoRequest,
        _tags: &[String],
    ) -> Result<(), DriverError> {
        let outside = || {
            DriverError(
                "a mailbox is outside the transport's tcp_scope; widen tcp_scope or pair with a mailbox inside it"
                    .into(),
            )
        };
        match request {
            IoRequest::MailboxUpload {
                to: Some(to),
                data,
                scope,
                ..
            } => {
                if !within(scope, &to.address) {
                    return Err(outside());
                }
                self.upload(to, data);
                Ok(())
            }
            IoRequest::MailboxFetch {
                from,
                register,
                scope,
            } => {
                let (inside, beyond): (Vec<_>, Vec<_>) =
                    from.into_iter().partition(|f| within(scope, &f.address));
                let (register, beyond_register): (Vec<_>, Vec<_>) = register
                    .into_iter()
                    .partition(|r| within(scope, &r.address));
                self.fetch(transport, register, inside);
                if beyond.is_empty() && beyond_register.is_empty() {
                    Ok(())
                } else {
                    Err(outside())
                }
            }
            other => Err(DriverError(format!(
                "the mailbox driver was handed {other:?}"
            ))),
        }
    }

    fn write(&mut self, _channel: ChannelId, _data: Vec<u8>) -> bool {
        // A fetched file is one way: nothing is answered on it.
        false
    }

    fn close(&mut self, channel: ChannelId) {
        self.in_flight.leave(channel);
        let Some((folder, name)) = lock(&self.handed).remove(&channel) else {
            return;
        };
        // Read and stored: the mailbox need not keep it.
        self.runtime.spawn_blocking(move || {
            let client = MailboxClient::new(&folder.address, &folder.token);
            if let Err(e) = client.delete(&folder.folder, &name) {
                tracing::info!(
                    "a fetched file stays in the mailbox until its sweep: {}",
                    sensitive(&e)
                );
            }
        });
    }

    fn shutdown(&mut self) {
        // A stream the node wrote is marked sent: let the uploads under way finish (a node stopped
        // right after it wrote, as a person closes a laptop), within reason.
        let started = std::time::Instant::now();
        while self.pending.load(Ordering::SeqCst) > 0 && started.elapsed() < SHUTDOWN_PATIENCE {
            std::thread::sleep(Duration::from_millis(20));
        }
        let left = self.pending.load(Ordering::SeqCst);
        if left > 0 {
            tracing::warn!("{left} stream(s) never reached the mailbox; they go again when due");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailbox_is_reached_only_within_the_grant_s_scope() {
        assert!(within(TcpScope::Loopback, "127.0.0.1:9"));
        assert!(!within(TcpScope::Loopback, "192.168.1.2:9"));
        assert!(within(TcpScope::Lan, "192.168.1.2:9"));
        assert!(!within(TcpScope::Any, "example.onion:80"), "not over TCP");
    }
}
