//! Tor, embedded (`arti-client`, no tor process): one client per node ([`Tor`], shared with the
//! mailbox driver), started on the first request and bootstrapped in the background, its state and
//! cache in the node's data directory; one onion service per node, whose identity key the embedder
//! hands over from the encrypted database; and streams to contacts' onion services, each on
//! circuits of its own.
//!
//! Incoming rendezvous streams become accepted channels and outgoing connections opened channels;
//! their bytes move as a TCP socket's do ([`crate::pump`]). Onion addresses are never logged.

mod client;
pub mod onion_service;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use arti_client::IsolationToken;
use courier_io::{
    ChannelId, ChannelIds, Driver, DriverContext, DriverError, DriverEvent, IoRequest, Medium,
    Meeting, Sink, TransportIndex,
};
use futures::StreamExt as _;

pub use client::{Tor, TorError, TorSettings, client_config};
pub use onion_service::onion_identity;

use crate::pump::{Writers, WritersHandle, carry};

/// The port contacts connect to on our onion service (any is accepted; this one is asked for).
pub const ONION_PORT: u16 = 80;

/// The Tor driver of one node.
pub struct TorDriver {
    runtime: tokio::runtime::Handle,
    sink: Sink,
    ids: ChannelIds,
    tor: Arc<Tor>,
    services: HashMap<TransportIndex, (Arc<tor_hsservice::RunningOnionService>, String)>,
    /// Meeting points we host for pending contacts, by address; dropping one stops it.
    hosted: HashMap<String, Arc<tor_hsservice::RunningOnionService>>,
    /// Meeting points we look for, already reported found.
    sought: HashSet<String>,
    /// Meeting services launched so far, for their nicknames.
    meetings_made: u64,
    /// The transports that use Tor (and are told how it is doing).
    watching: HashSet<TransportIndex>,
    writers: Writers,
}

impl std::fmt::Debug for TorDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorDriver")
            .field("started", &self.tor.started())
            .finish_non_exhaustive()
    }
}

impl TorDriver {
    /// A driver on the node's runtime with a Tor client of its own; Tor starts on the first
    /// request.
    pub fn new(cx: DriverContext, settings: TorSettings) -> Self {
        let tor = Arc::new(Tor::new(
            cx.runtime.clone(),
            settings,
            Some(cx.sink.clone()),
        ));
        TorDriver::sharing(cx, tor)
    }

    /// A driver on the node's runtime with `tor`, a client shared with other drivers.
    pub fn sharing(cx: DriverContext, tor: Arc<Tor>) -> Self {
        TorDriver {
            runtime: cx.runtime,
            sink: cx.sink,
            ids: cx.ids,
            tor,
            services: HashMap::new(),
            hosted: HashMap::new(),
            sought: HashSet::new(),
            meetings_made: 0,
            watching: HashSet::new(),
            writers: Writers::default(),
        }
    }

    /// Publishes the node's onion service for `transport`; reports `Listening` with its address.
    pub fn publish(&mut self, transport: TransportIndex) -> Result<(), TorError> {
        if let Some((_, onion)) = self.services.get(&transport) {
            (self.sink)(listening(transport, onion));
            return Ok(());
        }
        let seed = self
            .tor
            .settings()
            .onion_key
            .clone()
            .ok_or(TorError::NoOnionKey)?;
        let (hsid, onion) = onion_identity(&seed);
        let service = self.launch(transport, hsid, "courier")?;
        self.services.insert(transport, (service, onion.clone()));
        (self.sink)(listening(transport, &onion));
        Ok(())
    }

    /// Hosts the meeting points listed for `transport` where we host, reports found those we look
    /// for, and stops those no longer listed (the contact was made, or removed).
    pub fn meet(&mut self, transport: TransportIndex, meetings: &[Meeting]) {
        if !self.tor.started() || !self.watching.contains(&transport) {
            // Not a Tor transport, or Tor not started yet: its publish brings the meetings again.
            return;
        }
        let mut listed = HashSet::new();
        for meeting in meetings {
            let (hsid, onion) = onion_identity(&meeting.secret);
            listed.insert(onion.clone());
            if !meeting.host {
                if self.sought.insert(onion.clone()) {
                    (self.sink)(DriverEvent::Found {
                        transport,
                        tag: meeting.their_tag.clone(),
                        address: onion,
                    });
                }
                continue;
            }
            if self.hosted.contains_key(&onion) {
                continue;
            }
            self.meetings_made += 1;
            let nickname = format!("meeting{}", self.meetings_made);
            match self.launch(transport, hsid, &nickname) {
                Ok(service) => {
                    self.hosted.insert(onion, service);
                }
                Err(e) => tracing::warn!("a meeting point for a pending contact: {e}"),
            }
        }
        self.hosted.retain(|onion, _| listed.contains(onion));
        self.sought.retain(|onion| listed.contains(onion));
    }

    /// Launches an onion service under `hsid` whose incoming streams become `transport`'s channels.
    fn launch(
        &mut self,
        transport: TransportIndex,
        hsid: tor_hscrypto::pk::HsIdKeypair,
        nickname: &str,
    ) -> Result<Arc<tor_hsservice::RunningOnionService>, TorError> {
        self.watch(transport);
        let (service, streams) = onion_service::launch(&self.tor, hsid, nickname)?;
        let accepting = Accepting {
            transport,
            sink: self.sink.clone(),
            ids: self.ids.clone(),
            writers: self.writers.handle(),
        };
        self.runtime.spawn(accepting.run(streams));
        Ok(service)
    }

    /// `transport` uses Tor: it hears how Tor is doing from now on.
    fn watch(&mut self, transport: TransportIndex) {
        if self.watching.insert(transport) {
            self.tor.watch(transport);
        }
    }

    /// Starts connecting `channel` to `onion` on `port`, on circuits no other channel uses;
    /// reports `Opened` or `Failed`.
    pub fn connect(
        &mut self,
        transport: TransportIndex,
        channel: ChannelId,
        onion: String,
        port: u16,
    ) {
        self.watch(transport);
        let tor = self.tor.clone();
        let sink = self.sink.clone();
        let writers = self.writers.handle();
        self.runtime.spawn(async move {
            // No two contacts, and no two connections, share a circuit.
            let stream = match tor.connect(&onion, port, IsolationToken::new()).await {
                Ok(stream) => stream,
                Err(reason) => return sink(DriverEvent::Failed { channel, reason }),
            };
            let queue = writers.open(channel);
            sink(DriverEvent::Opened { channel });
            carry(stream, channel, None, queue, sink, writers.alive(), ()).await;
        });
    }
}

/// A `Listening` event for our onion service at `onion`.
fn listening(transport: TransportIndex, onion: &str) -> DriverEvent {
    DriverEvent::Listening {
        transport,
        medium: Medium::Tor,
        // Shown to the person running the node; the address itself goes to the plugin only.
        bound: "an onion service".into(),
        reachable: Some(onion.to_owned()),
    }
}

/// What one onion service's accept loop needs.
struct Accepting {
    transport: TransportIndex,
    sink: Sink,
    ids: ChannelIds,
    writers: WritersHandle,
}

impl Accepting {
    async fn run(self, streams: impl futures::Stream<Item = arti_client::DataStream> + Send) {
        futures::pin_mut!(streams);
        while let Some(stream) = streams.next().await {
            let channel = self.ids.next();
            let queue = self.writers.open(channel);
            (self.sink)(DriverEvent::Accepted {
                transport: self.transport,
                channel,
                name: None,
            });
            tokio::spawn(carry(
                stream,
                channel,
                None,
                queue,
                self.sink.clone(),
                self.writers.alive(),
                (),
            ));
        }
    }
}

impl Driver for TorDriver {
    fn name(&self) -> &'static str {
        "tor"
    }

    fn handles(&self, request: &IoRequest) -> bool {
        matches!(
            request,
            IoRequest::TorPublishService | IoRequest::TorConnect { .. }
        )
    }

    fn carry_out(
        &mut self,
        transport: TransportIndex,
        request: IoRequest,
        _tags: &[String],
    ) -> Result<(), DriverError> {
        match request {
            IoRequest::TorPublishService => self
                .publish(transport)
                .map_err(|e| DriverError(e.to_string())),
            IoRequest::TorConnect {
                channel,
                onion,
                port,
            } => {
                self.connect(transport, channel, onion, port);
                Ok(())
            }
            other => Err(DriverError(format!(
                "the Tor driver cannot carry out {other:?}"
            ))),
        }
    }

    fn meet(&mut self, transport: TransportIndex, meetings: &[Meeting]) {
        TorDriver::meet(self, transport, meetings);
    }

    fn write(&mut self, channel: ChannelId, data: Vec<u8>) -> bool {
        self.writers.write(channel, data)
    }

    fn backlogged(&self, channel: ChannelId) -> bool {
        self.writers.backlogged(channel)
    }

    fn close(&mut self, channel: ChannelId) {
        self.writers.close(channel);
    }

    fn shutdown(&mut self) {
        self.services.clear();
        self.hosted.clear();
        self.writers.shutdown(&self.runtime, Duration::from_secs(2));
    }
}
