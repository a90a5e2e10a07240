//! Mailboxes: uploads the streams a mailbox transport writes, and fetches what waits for this node,
//! over the mailbox's HTTP API (`courier-mailbox-client`), off the node's thread: over TCP, or over
//! Tor to a mailbox that is an onion service ([`MailboxAgent`]).
//!
//! An upload the mailbox does not answer (it is off, or asks us to slow down) is tried again with
//! backoff for [`MAILBOX_UPLOAD_PATIENCE`]; the node hears whether the mailbox took it, and counts
//! what it carried as sent only then (a stream refused, or never answered, goes again: the reader
//! takes a copy it has once). A fetched file is handed to the node as an accepted channel,
//! like a drive's, and deleted from the mailbox once the node has closed it, that is, once what it
//! carried is stored. A file the node never closed (it stopped) stays, and is fetched again; the
//! node recognises a stream it has read and takes nothing twice.

mod agent;
mod backoff;
#[cfg(feature = "tor")]
mod onion;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use courier_io::{
    ChannelId, ChannelIds, Driver, DriverContext, DriverError, DriverEvent, IoRequest,
    MAILBOX_UPLOAD_PATIENCE, MailboxFolder, MailboxRegistration, Sink, TransportIndex,
};
use courier_mailbox_client::MailboxClientError;

pub use agent::MailboxAgent;
use backoff::Backoff;

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

/// Uploads `data` to `folder`, trying again with backoff while the mailbox does not answer or
/// asks us to slow down, for [`MAILBOX_UPLOAD_PATIENCE`] at most; whether the mailbox took it.
async fn upload_patiently(agent: MailboxAgent, folder: MailboxFolder, data: Vec<u8>) -> bool {
    let started = Instant::now();
    let mut backoff = Duration::from_secs(1);
    loop {
        let (to, bytes, agent) = (folder.clone(), data.clone(), agent.clone());
        let tried = tokio::task::spawn_blocking(move || {
            agent
                .client(&to.address, &to.token)
                .upload(&to.folder, bytes)
        })
        .await;
        match tried {
            Ok(Ok(())) => return true,
            // Ours no more (wiped, or we were removed), full until its owner fetches, or out of
            // reach for good: the node writes it again at a later poll.
            Ok(Err(
                e @ (MailboxClientError::Unauthorized
                | MailboxClientError::NotFound
                | MailboxClientError::Full(_)
                | MailboxClientError::NeedsTor),
            )) => {
                tracing::warn!("the mailbox refused a stream: {}", sensitive(&e));
                return false;
            }
            Ok(Err(MailboxClientError::RateLimited { retry_after_secs })) => {
                backoff = backoff.max(Duration::from_secs(retry_after_secs));
            }
            Ok(Err(e)) => tracing::info!(
                "the mailbox did not take a stream; trying again in {} s: {}",
                backoff.as_secs(),
                sensitive(&e)
            ),
            Err(_) => return false,
        }
        if started.elapsed() + backoff > MAILBOX_UPLOAD_PATIENCE {
            tracing::info!("a stream did not reach the mailbox; it goes again at a later poll");
            return false;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Files handed to the node, by channel: where each came from, to delete once read.
type Handed = Arc<Mutex<HashMap<ChannelId, (MailboxFolder, String)>>>;

/// The mailbox driver of one node.
pub struct MailboxDriver {
    runtime: tokio::runtime::Handle,
    agent: MailboxAgent,
    sink: Sink,
    ids: ChannelIds,
    handed: Handed,
    in_flight: Arc<InFlight>,
    fetching: Arc<AtomicBool>,
    pending: Arc<AtomicUsize>,
    /// Mailboxes that did not answer, asked again less and less often.
    backoff: Arc<Mutex<Backoff>>,
}

impl std::fmt::Debug for MailboxDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxDriver").finish_non_exhaustive()
    }
}

impl MailboxDriver {
    /// A driver on the node's runtime, over TCP alone.
    pub fn new(cx: DriverContext) -> Self {
        MailboxDriver::through(cx, MailboxAgent::tcp())
    }

    /// A driver on the node's runtime whose requests go through `agent`.
    pub fn through(cx: DriverContext, agent: MailboxAgent) -> Self {
        MailboxDriver {
            runtime: cx.runtime,
            agent,
            sink: cx.sink,
            ids: cx.ids,
            handed: Handed::default(),
            in_flight: Arc::default(),
            fetching: Arc::default(),
            pending: Arc::default(),
            backoff: Arc::default(),
        }
    }

    fn upload(&self, folder: MailboxFolder, data: Vec<u8>, receipt: Option<u64>) {
        let sink = self.sink.clone();
        let answer = move |taken| {
            if let Some(receipt) = receipt {
                sink(DriverEvent::MailboxUploaded { receipt, taken });
            }
        };
        if self.pending.fetch_add(1, Ordering::SeqCst) >= MAX_PENDING_UPLOADS {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!(
                "{MAX_PENDING_UPLOADS} uploads already wait for the mailbox; this stream is dropped and goes again"
            );
            answer(false);
            return;
        }
        let (pending, agent) = (self.pending.clone(), self.agent.clone());
        self.runtime.spawn(async move {
            let taken = upload_patiently(agent, folder, data).await;
            pending.fetch_sub(1, Ordering::SeqCst);
            answer(taken);
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
        let (agent, backoff) = (self.agent.clone(), self.backoff.clone());
        self.runtime.spawn_blocking(move || {
            let mut backoff = lock(&backoff);
            let registered = register_all(&agent, &mut backoff, &register);
            let to = Handing {
                transport,
                sink: &sink,
                ids: &ids,
                handed: &handed,
                in_flight: &in_flight,
            };
            let (files, unreachable) = fetch_all(&agent, &mut backoff, &from, &to);
            drop(backoff);
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
/// the next fetch, or once a mailbox that did not answer is due again).
fn register_all(
    agent: &MailboxAgent,
    backoff: &mut Backoff,
    register: &[MailboxRegistration],
) -> Vec<i64> {
    let mut taken = Vec::new();
    for r in register {
        if !backoff.due(&r.address, Instant::now()) {
            continue;
        }
        match agent
            .client(&r.address, &r.owner)
            .register(&r.token, &r.inbox, &r.outbox)
        {
            Ok(()) => taken.push(r.key),
            Err(e) => {
                if unanswered(&e) {
                    backoff.failed(&r.address, Instant::now());
                }
                tracing::info!(
                    "a contact could not be registered at the mailbox yet: {}",
                    sensitive(&e)
                );
            }
        }
    }
    taken
}

/// Whether `e` says the mailbox did not answer (rather than answering no).
fn unanswered(e: &MailboxClientError) -> bool {
    matches!(e, MailboxClientError::Unreachable(_))
}

/// Which folders of one mailbox and token hold a file (`None`: the mailbox did not say; list each).
type Holding = Option<HashSet<[u8; 16]>>;

/// Where fetched files go: to the node, as `transport`'s accepted channels.
struct Handing<'a> {
    transport: TransportIndex,
    sink: &'a Sink,
    ids: &'a ChannelIds,
    handed: &'a Handed,
    in_flight: &'a InFlight,
}

/// Fetches every file in `from` not handed to the node already; how many, and the addresses of
/// the mailboxes that did not answer as they should.
fn fetch_all(
    agent: &MailboxAgent,
    backoff: &mut Backoff,
    from: &[MailboxFolder],
    to: &Handing,
) -> (usize, Vec<String>) {
    let Handing {
        transport,
        sink,
        ids,
        handed,
        in_flight,
    } = *to;
    let (mut files, mut unreachable) = (0, Vec::new());
    // What did not answer as it should: said once per poll, and held back if it did not answer.
    let mut failed = |address: &str, e: Option<MailboxClientError>, backoff: &mut Backoff| {
        if let Some(e) = e {
            tracing::info!("a mailbox did not answer as it should: {}", sensitive(&e));
            if unanswered(&e) {
                backoff.failed(address, Instant::now());
            }
        }
        if !unreachable.iter().any(|a| a == address) {
            unreachable.push(address.to_owned());
        }
    };
    // One question per mailbox and token, which of its folders hold a file, so that an owner
    // with many contacts lists only those. A mailbox that does not know it has each one listed.
    let mut holding: HashMap<(String, [u8; 32]), Holding> = HashMap::new();
    for folder in from {
        if !backoff.due(&folder.address, Instant::now()) {
            // Not asked yet: it stays unreachable, and nothing is written for it, until it answers.
            failed(&folder.address, None, backoff);
            continue;
        }
        let key = (folder.address.clone(), folder.token);
        let held = match holding.get(&key) {
            Some(held) => held.clone(),
            None => {
                let asked = agent.client(&folder.address, &folder.token).waiting();
                let held = match asked {
                    Ok(waiting) => {
                        backoff.answered(&folder.address);
                        Some(waiting.into_iter().collect())
                    }
                    Err(MailboxClientError::NotFound) => None,
                    Err(e) => {
                        failed(&folder.address, Some(e), backoff);
                        // Its other folders are not asked in this poll either.
                        Some(HashSet::new())
                    }
                };
                holding.insert(key, held.clone());
                held
            }
        };
        if held.is_some_and(|held| !held.contains(&folder.folder)) {
            continue;
        }
        let client = agent.client(&folder.address, &folder.token);
        let names = match client.list(&folder.folder) {
            Ok(names) => {
                backoff.answered(&folder.address);
                names
            }
            Err(e) => {
                failed(&folder.address, Some(e), backoff);
                continue;
            }
        };
        let busy: HashSet<String> = lock(handed).values().map(|(_, n)| n.clone()).collect();
        for name in names.into_iter().filter(|n| !busy.contains(n)) {
            let data = match client.download(&folder.folder, &name) {
                Ok(data) => data,
                Err(e) => {
                    failed(&folder.address, Some(e), backoff);
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
                "a mailbox is outside the transport's reach: beyond its tcp_scope, or an onion service while it is not granted tor-stream; widen the grant or pair with a mailbox within it"
                    .into(),
            )
        };
        match request {
            IoRequest::MailboxUpload {
                to: Some(to),
                data,
                reach,
                receipt,
                ..
            } => {
                if !reach.permits(&to.address) {
                    return Err(outside());
                }
                self.upload(to, data, receipt);
                Ok(())
            }
            IoRequest::MailboxFetch {
                from,
                register,
                reach,
            } => {
                let (inside, beyond): (Vec<_>, Vec<_>) =
                    from.into_iter().partition(|f| reach.permits(&f.address));
                let (register, beyond_register): (Vec<_>, Vec<_>) = register
                    .into_iter()
                    .partition(|r| reach.permits(&r.address));
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
        let agent = self.agent.clone();
        self.runtime.spawn_blocking(move || {
            let client = agent.client(&folder.address, &folder.token);
            if let Err(e) = client.delete(&folder.folder, &name) {
                tracing::info!(
                    "a fetched file stays in the mailbox until its sweep: {}",
                    sensitive(&e)
                );
            }
        });
    }

    fn shutdown(&mut self) {
        // Let the uploads under way finish (a node stopped right after it wrote, as a person closes
        // a laptop), within reason: what is not taken goes again at the node's next run.
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
