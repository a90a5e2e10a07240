//! The node's one Tor client (`arti-client`, embedded): configured for the public network, bridges
//! or a private network, started on first use and bootstrapped in the background, and shared by
//! every driver that reaches Tor (the Tor transport's, the mailbox's). Its state and cache live in
//! the data directory; its keys stay in memory.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arti_client::config::TorClientConfigBuilder;
use arti_client::{
    DataStream, HasKind as _, IsolationToken, StreamPrefs, TorClient, TorClientConfig,
};
use courier_config::tor::TorConfig;
use courier_io::{DriverEvent, MediumState, Sink, TransportIndex};
use futures::StreamExt as _;
use tor_rtcompat::PreferredRuntime;

use crate::lock;

/// How long bootstrapping may take before the transport is said to be unreachable, unless the
/// config says otherwise.
const UNREACHABLE_AFTER: Duration = Duration::from_secs(60);
/// How long an onion connection may keep retrying: a fresh one takes seconds, and on a small
/// network sometimes a second try.
pub(crate) const CONNECT_DEADLINE: Duration = Duration::from_secs(90);

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

/// A Tor client shared by the drivers that use it; started by the first that asks.
pub struct Tor {
    runtime: tokio::runtime::Handle,
    settings: TorSettings,
    /// Where to tell watching transports how Tor is doing (none for a mailbox's own client).
    sink: Option<Sink>,
    watchers: Watchers,
    client: Mutex<Option<Arc<TorClient<PreferredRuntime>>>>,
}

impl std::fmt::Debug for Tor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tor")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Tor {
    /// A client with `settings` on `runtime`, started on first use; `sink`, if given, hears how
    /// bootstrapping goes for each transport that [`watch`](Self::watch)es.
    pub fn new(runtime: tokio::runtime::Handle, settings: TorSettings, sink: Option<Sink>) -> Tor {
        Tor {
            runtime,
            settings,
            sink,
            watchers: Watchers::default(),
            client: Mutex::new(None),
        }
    }

    /// What it was made with.
    pub fn settings(&self) -> &TorSettings {
        &self.settings
    }

    /// The runtime its client runs on.
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// Whether the client has been started.
    pub fn started(&self) -> bool {
        lock(&self.client).is_some()
    }

    /// From now on `transport` is told how Tor is doing; if the client runs already, it is told
    /// where things stand now.
    pub fn watch(&self, transport: TransportIndex) {
        if !lock(&self.watchers).insert(transport) {
            return;
        }
        let (Some(sink), Some(client)) = (&self.sink, lock(&self.client).clone()) else {
            return;
        };
        let state = if client.bootstrap_status().ready_for_traffic() {
            MediumState::Ready
        } else {
            MediumState::Starting { percent: 0 }
        };
        sink(DriverEvent::Medium { transport, state });
    }

    /// The client, started (and its bootstrap begun in the background) on first use.
    pub fn client(&self) -> Result<Arc<TorClient<PreferredRuntime>>, TorError> {
        let mut slot = lock(&self.client);
        if let Some(client) = &*slot {
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
        if let Some(sink) = &self.sink {
            let patience = self
                .settings
                .network
                .unreachable_after_secs
                .map_or(UNREACHABLE_AFTER, Duration::from_secs);
            self.runtime.spawn(watch(
                client.clone(),
                sink.clone(),
                self.watchers.clone(),
                patience,
            ));
        }
        *slot = Some(client.clone());
        Ok(client)
    }

    /// A stream to `onion` on `port` on circuits of `isolation`'s own, retried for a while (a
    /// fresh onion connection takes seconds, and on a small network sometimes a second try); what
    /// went wrong, without the address, if it never opened.
    pub async fn connect(
        &self,
        onion: &str,
        port: u16,
        isolation: IsolationToken,
    ) -> Result<DataStream, String> {
        let client = self.client().map_err(|e| e.to_string())?;
        let mut prefs = StreamPrefs::new();
        prefs.set_isolation(isolation);
        let started = tokio::time::Instant::now();
        loop {
            let attempt = client.connect_with_prefs((onion, port), &prefs);
            match tokio::time::timeout(CONNECT_DEADLINE, attempt).await {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(e)) if started.elapsed() < CONNECT_DEADLINE => {
                    tracing::debug!("an onion connection failed, trying again: {}", e.kind());
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Ok(Err(e)) => return Err(e.kind().to_string()),
                Err(_) => return Err("timed out".into()),
            }
        }
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
