//! Tor, embedded (`arti-client`, no tor process): one client per node, started on the first request
//! and bootstrapped in the background, its state and cache in the node's data directory; one onion
//! service per node, whose identity key the embedder hands over from the encrypted database (arti's
//! keystore is in memory only, so nothing on disk holds it); and streams to contacts' onion
//! services, each on circuits of its own.
//!
//! Incoming rendezvous streams become accepted channels and outgoing connections opened channels;
//! their bytes move as a TCP socket's do ([`crate::pump`]). Onion addresses are never logged.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arti_client::config::TorClientConfigBuilder;
use arti_client::{HasKind as _, StreamPrefs, TorClient, TorClientConfig};
use courier_config::tor::TorConfig;
use courier_io::{
    ChannelId, ChannelIds, Driver, DriverContext, DriverError, DriverEvent, IoRequest, Medium,
    MediumState, Meeting, Sink, TransportIndex,
};
use futures::StreamExt as _;
use safelog::DisplayRedacted as _;
use tor_rtcompat::PreferredRuntime;

use crate::lock;
use crate::pump::{Writers, WritersHandle, carry};

/// The port contacts connect to on our onion service (any is accepted; this one is asked for).
pub const ONION_PORT: u16 = 80;
/// How long bootstrapping may take before the transport is said to be unreachable, unless the
/// config says otherwise.
const UNREACHABLE_AFTER: Duration = Duration::from_secs(60);
/// How long an onion connection may keep retrying: a fresh one takes seconds, and on a small
/// network sometimes a second try.
const CONNECT_DEADLINE: Duration = Duration::from_secs(90);

/// What the Tor driver needs besides the node's context.
#[derive(Clone)]
pub struct TorSettings {
    /// Arti's state (guards, circuit timing; no keys): inside the data directory.
    pub state_dir: PathBuf,
    /// Arti's directory cache: inside the data directory.
    pub cache_dir: PathBuf,
    /// Which Tor network.
    pub network: TorConfig,
    /// The onion service's identity: an Ed25519 secret seed from the encrypted database, if the
    /// node has one.
    pub onion_key: Option<zeroize::Zeroizing<[u8; 32]>>,
}

impl std::fmt::Debug for TorSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorSettings")
            .field("private_network", &self.network.is_private())
            .finish_non_exhaustive()
    }
}

/// Why Tor could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum TorError {
    /// The client's config was refused.
    #[error("the Tor client's configuration is invalid: {0}")]
    Config(String),
    /// The client could not start.
    #[error("the Tor client could not start: {0}")]
    Client(String),
    /// An onion service was asked for without a key to run it under.
    #[error("no onion service key was given to the Tor driver; this is a bug in the embedder")]
    NoOnionKey,
    /// The onion service could not be launched.
    #[error("the onion service could not start: {0}")]
    Service(String),
}

/// The arti config for `settings`: directories, and a private network's authorities if any.
pub fn client_config(settings: &TorSettings) -> Result<TorClientConfig, TorError> {
    let mut b = TorClientConfigBuilder::from_directories(&settings.state_dir, &settings.cache_dir);
    // Our onion key comes from the encrypted database; every other key arti makes stays in memory.
    b.storage()
        .keystore()
        .primary()
        .kind(tor_config::ExplicitOrAuto::Explicit(
            tor_keymgr::config::ArtiKeystoreKind::Ephemeral,
        ));
    if settings.network.is_private() {
        private_network(&mut b, &settings.network)?;
    }
    for (i, line) in settings.network.bridges.iter().enumerate() {
        let bridge: arti_client::config::BridgeConfigBuilder = line.parse().map_err(|e| {
            TorError::Config(format!(
                "bridge {} of [tor] bridges does not parse ({e}); give it as ADDRESS:PORT FINGERPRINT",
                i + 1
            ))
        })?;
        b.bridges().bridges().push(bridge);
    }
    b.build().map_err(|e| TorError::Config(e.to_string()))
}

/// Points the client at a private network's authorities, with the rules a network on one machine
/// needs (every relay on 127.0.0.0/8).
fn private_network(b: &mut TorClientConfigBuilder, network: &TorConfig) -> Result<(), TorError> {
    use arti_client::config::dir::FallbackDir;
    use tor_llcrypto::pk::ed25519::Ed25519Identity;
    use tor_llcrypto::pk::rsa::RsaIdentity;
    let bad = |what: &str| TorError::Config(format!("a [tor] authority's {what} does not parse"));
    let mut v3idents = Vec::new();
    let mut fallbacks = Vec::new();
    for a in &network.authorities {
        v3idents.push(RsaIdentity::from_hex(&a.v3ident).ok_or_else(|| bad("v3ident"))?);
        let mut fallback = FallbackDir::builder();
        fallback
            .rsa_identity(
                RsaIdentity::from_hex(&a.rsa_identity).ok_or_else(|| bad("rsa_identity"))?,
            )
            .ed_identity(
                Ed25519Identity::from_base64(&a.ed_identity).ok_or_else(|| bad("ed_identity"))?,
            );
        fallback
            .orports()
            .push(std::net::SocketAddr::from(([127, 0, 0, 1], a.or_port)));
        fallbacks.push(fallback);
    }
    let net = b.tor_network();
    net.authorities().set_v3idents(v3idents);
    net.set_fallback_caches(fallbacks);
    // Every relay shares 127.0.0.0/16: turn off the same-subnet rule.
    b.path_rules()
        .ipv4_subnet_family_prefix(33)
        .ipv6_subnet_family_prefix(129);
    b.address_filter().allow_local_addrs(true);
    if let Some(minutes) = network.hsdir_interval_minutes {
        b.override_net_params()
            .insert("hsdir_interval".into(), minutes as i32);
    }
    // Test data directories are made by a test's tempdir; the real one is 0700 already.
    b.storage().permissions().dangerously_trust_everyone();
    Ok(())
}

/// The Tor driver of one node.
pub struct TorDriver {
    runtime: tokio::runtime::Handle,
    sink: Sink,
    ids: ChannelIds,
    settings: TorSettings,
    client: Option<Arc<TorClient<PreferredRuntime>>>,
    /// The transports told how Tor is doing.
    watchers: Watchers,
    services: HashMap<TransportIndex, (Arc<tor_hsservice::RunningOnionService>, String)>,
    /// Meeting points we host for pending contacts, by address; dropping one stops it.
    hosted: HashMap<String, Arc<tor_hsservice::RunningOnionService>>,
    /// Meeting points we look for, already reported found.
    sought: HashSet<String>,
    /// Meeting services launched so far, for their nicknames.
    meetings_made: u64,
    writers: Writers,
}

impl std::fmt::Debug for TorDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorDriver")
            .field("started", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

impl TorDriver {
    /// A driver on the node's runtime; Tor starts on the first request.
    pub fn new(cx: DriverContext, settings: TorSettings) -> Self {
        TorDriver {
            runtime: cx.runtime,
            sink: cx.sink,
            ids: cx.ids,
            settings,
            client: None,
            watchers: Watchers::default(),
            services: HashMap::new(),
            hosted: HashMap::new(),
            sought: HashSet::new(),
            meetings_made: 0,
            writers: Writers::default(),
        }
    }

    /// The client, started (and its bootstrap begun in the background) on first use; `transport`
    /// is told how it is doing from then on.
    fn client(
        &mut self,
        transport: TransportIndex,
    ) -> Result<Arc<TorClient<PreferredRuntime>>, TorError> {
        if lock(&self.watchers).insert(transport)
            && let Some(client) = &self.client
        {
            // A second transport on Tor: say where things stand now; it hears every change after.
            let state = if client.bootstrap_status().ready_for_traffic() {
                MediumState::Ready
            } else {
                MediumState::Starting { percent: 0 }
            };
            (self.sink)(DriverEvent::Medium { transport, state });
        }
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let config = client_config(&self.settings)?;
        let _entered = self.runtime.enter();
        let runtime = PreferredRuntime::current().map_err(|e| TorError::Client(e.to_string()))?;
        let client = TorClient::with_runtime(runtime)
            .config(config)
            .create_unbootstrapped()
            .map_err(|e| TorError::Client(e.to_string()))?;
        let bootstrapping = client.clone();
        self.runtime.spawn(async move {
            if let Err(e) = bootstrapping.bootstrap().await {
                tracing::warn!("Tor could not bootstrap: {e}");
            }
        });
        let patience = self
            .settings
            .network
            .unreachable_after_secs
            .map_or(UNREACHABLE_AFTER, Duration::from_secs);
        self.runtime.spawn(watch(
            client.clone(),
            self.sink.clone(),
            self.watchers.clone(),
            patience,
        ));
        self.client = Some(client.clone());
        Ok(client)
    }

    /// Publishes the node's onion service for `transport`; reports `Listening` with its address.
    pub fn publish(&mut self, transport: TransportIndex) -> Result<(), TorError> {
        if let Some((_, onion)) = self.services.get(&transport) {
            (self.sink)(listening(transport, onion));
            return Ok(());
        }
        let seed = self
            .settings
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
        if self.client.is_none() || !lock(&self.watchers).contains(&transport) {
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
        let client = self.client(transport)?;
        let config = tor_hsservice::config::OnionServiceConfigBuilder::default()
            .nickname(
                nickname
                    .parse()
                    .map_err(|e: tor_hsservice::InvalidNickname| {
                        TorError::Service(e.to_string())
                    })?,
            )
            .build()
            .map_err(|e| TorError::Service(e.to_string()))?;
        let launched = {
            let _entered = self.runtime.enter();
            client
                .launch_onion_service_with_hsid(config, hsid)
                .map_err(|e| TorError::Service(e.to_string()))?
        };
        let Some((service, requests)) = launched else {
            return Err(TorError::Service("it is disabled in its config".into()));
        };
        let accepting = Accepting {
            transport,
            sink: self.sink.clone(),
            ids: self.ids.clone(),
            writers: self.writers.handle(),
        };
        self.runtime.spawn(accepting.run(requests));
        Ok(service)
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
        let client = match self.client(transport) {
            Ok(client) => client,
            Err(e) => {
                return (self.sink)(DriverEvent::Failed {
                    channel,
                    reason: e.to_string(),
                });
            }
        };
        let sink = self.sink.clone();
        let writers = self.writers.handle();
        self.runtime.spawn(async move {
            let mut prefs = StreamPrefs::new();
            // No two contacts, and no two connections, share a circuit.
            prefs.new_isolation_group();
            let started = tokio::time::Instant::now();
            let stream = loop {
                let attempt = client.connect_with_prefs((onion.as_str(), port), &prefs);
                match tokio::time::timeout(CONNECT_DEADLINE, attempt).await {
                    Ok(Ok(stream)) => break stream,
                    Ok(Err(e)) if started.elapsed() < CONNECT_DEADLINE => {
                        tracing::debug!("an onion connection failed, trying again: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    failed => {
                        let reason = match failed {
                            Ok(Err(e)) => e.kind().to_string(),
                            _ => "timed out".into(),
                        };
                        return sink(DriverEvent::Failed { channel, reason });
                    }
                }
            };
            let queue = writers.open(channel);
            sink(DriverEvent::Opened { channel });
            carry(stream, channel, None, queue, sink, writers.alive(), ()).await;
        });
    }
}

/// The transports that use Tor, to be told how it is doing.
type Watchers = Arc<std::sync::Mutex<std::collections::BTreeSet<TransportIndex>>>;

/// Tells every watching transport how bootstrapping goes: its progress, then connected; or, if it
/// is not connected within `patience`, unreachable (and connected later, if it gets there).
async fn watch(
    client: Arc<TorClient<PreferredRuntime>>,
    sink: Sink,
    watchers: Watchers,
    patience: Duration,
) {
    let tell = |state: &MediumState| {
        let watching: Vec<TransportIndex> = lock(&watchers).iter().copied().collect();
        for transport in watching {
            sink(DriverEvent::Medium {
                transport,
                state: state.clone(),
            });
        }
    };
    let mut told = MediumState::Starting { percent: 0 };
    tell(&told);
    let mut events = client.bootstrap_events();
    let deadline = tokio::time::sleep(patience);
    tokio::pin!(deadline);
    loop {
        let next = tokio::select! {
            status = events.next() => match status {
                Some(status) if status.ready_for_traffic() => MediumState::Ready,
                // Unreachable stays said until it is connected.
                Some(_) if matches!(told, MediumState::Unreachable { .. }) => continue,
                Some(status) => MediumState::Starting {
                    percent: (status.as_frac() * 100.0).clamp(0.0, 99.0) as u8,
                },
                None => return,
            },
            () = &mut deadline, if matches!(told, MediumState::Starting { .. }) => {
                let reason = match client.bootstrap_status().blocked() {
                    Some(blockage) => format!("{blockage}; still trying (bridges may help)"),
                    None => format!(
                        "no Tor relay answered within {} s; still trying (bridges may help)",
                        patience.as_secs()
                    ),
                };
                MediumState::Unreachable { reason }
            }
        };
        if next != told {
            tell(&next);
            told = next;
        }
    }
}

/// The onion service identity of an Ed25519 `seed`, and its `.onion` address.
fn onion_identity(seed: &[u8; 32]) -> (tor_hscrypto::pk::HsIdKeypair, String) {
    let keypair = tor_llcrypto::pk::ed25519::Keypair::from_bytes(seed);
    let hsid = tor_hscrypto::pk::HsIdKeypair::from(
        tor_llcrypto::pk::ed25519::ExpandedKeypair::from(&keypair),
    );
    let onion = tor_hscrypto::pk::HsIdKey::from(&hsid)
        .id()
        .display_unredacted()
        .to_string();
    (hsid, onion)
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
    async fn run(self, requests: impl futures::Stream<Item = tor_hsservice::RendRequest> + Send) {
        let streams = tor_hsservice::handle_rend_requests(requests);
        futures::pin_mut!(streams);
        while let Some(request) = streams.next().await {
            let stream = match request
                .accept(tor_cell::relaycell::msg::Connected::new_empty())
                .await
            {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::debug!("an incoming onion stream failed: {e}");
                    continue;
                }
            };
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
