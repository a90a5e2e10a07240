//! Mailboxes at onion names, for the HTTP agent (`ureq`'s transport seam): a connector that opens
//! a stream over Tor for an onion name (on circuits of that mailbox's own) and leaves every other
//! name to TCP, the stream as a blocking transport, and a resolver that never looks an onion name
//! up.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use arti_client::{DataStream, IsolationToken};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, TcpConnector,
    Transport,
};

use crate::lock;
use crate::tor::Tor;

/// An agent that reaches onion names over `tor` and every other address over TCP.
pub fn agent(tor: Arc<Tor>) -> ureq::Agent {
    let connector = ()
        .chain(OnionConnector {
            tor,
            isolation: Mutex::default(),
        })
        .chain(TcpConnector::default());
    ureq::Agent::with_parts(
        courier_mailbox_client::agent_config(),
        connector,
        OnionResolver::default(),
    )
}

/// Whether `uri` names an onion service.
fn onion_host(uri: &ureq::http::Uri) -> Option<&str> {
    uri.host().filter(|host| host.ends_with(".onion"))
}

/// Opens streams to onion names over Tor; passes anything else on.
struct OnionConnector {
    tor: Arc<Tor>,
    /// One isolation token per mailbox: no two mailboxes share a circuit.
    isolation: Mutex<HashMap<String, IsolationToken>>,
}

impl std::fmt::Debug for OnionConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnionConnector").finish_non_exhaustive()
    }
}

impl<In: Transport> Connector<In> for OnionConnector {
    type Out = Either<In, OnionTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if chained.is_some() {
            return Ok(chained.map(Either::A));
        }
        let Some(onion) = onion_host(details.uri) else {
            return Ok(None);
        };
        let port = details.uri.port_u16().unwrap_or(80);
        let isolation = *lock(&self.isolation)
            .entry(onion.to_owned())
            .or_insert_with(IsolationToken::new);
        // Not the agent's connect timeout, meant for TCP: a fresh onion connection takes seconds
        // and sometimes a second try, which `Tor::connect` bounds itself.
        let runtime = self.tor.runtime().clone();
        let stream = runtime
            .block_on(self.tor.connect(onion, port, isolation))
            .map_err(|reason| {
                ureq::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    format!("over Tor: {reason}"),
                ))
            })?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(OnionTransport {
            runtime,
            stream,
            buffers,
            open: true,
        })))
    }
}

/// A stream to an onion service, driven from a blocking caller on the Tor client's runtime.
#[derive(Debug)]
pub struct OnionTransport {
    runtime: tokio::runtime::Handle,
    stream: DataStream,
    buffers: LazyBuffers,
    open: bool,
}

/// `io`, within `timeout` if it has one.
async fn within<T>(
    timeout: NextTimeout,
    io: impl Future<Output = std::io::Result<T>>,
) -> Result<T, ureq::Error> {
    match timeout.not_zero() {
        Some(limit) => tokio::time::timeout(*limit, io)
            .await
            .map_err(|_| ureq::Error::Timeout(timeout.reason))?
            .map_err(ureq::Error::from),
        None => io.await.map_err(ureq::Error::from),
    }
}

impl Transport for OnionTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let output = &self.buffers.output()[..amount];
        let stream = &mut self.stream;
        let sent = self.runtime.block_on(within(timeout.for_write(), async {
            stream.write_all(output).await?;
            // Arti packs what is written into cells until flushed.
            stream.flush().await
        }));
        if sent.is_err() {
            self.open = false;
        }
        sent
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let input = self.buffers.input_append_buf();
        let stream = &mut self.stream;
        let read = self
            .runtime
            .block_on(within(timeout.for_read(), stream.read(input)));
        let amount = match read {
            Ok(amount) => amount,
            Err(e) => {
                self.open = false;
                return Err(e);
            }
        };
        self.buffers.input_appended(amount);
        if amount == 0 {
            self.open = false;
        }
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        if !self.open {
            return false;
        }
        // As for a kept TCP connection: nothing may be waiting on an idle one, and reading must
        // not block. Anything there (or the end) means it cannot be used again.
        let _entered = self.runtime.enter();
        let mut byte = [0; 1];
        if futures::FutureExt::now_or_never(self.stream.read(&mut byte)).is_some() {
            self.open = false;
        }
        self.open
    }
}

/// Looks up every name but an onion name, which it hands on unresolved (ureq wants an address:
/// it gets one the onion connector ignores).
#[derive(Debug, Default)]
struct OnionResolver(DefaultResolver);

impl Resolver for OnionResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        if onion_host(uri).is_none() {
            return self.0.resolve(uri, config, timeout);
        }
        let mut addrs = self.empty();
        addrs.push(SocketAddr::from((
            [0, 0, 0, 0],
            uri.port_u16().unwrap_or(80),
        )));
        Ok(addrs)
    }
}

/// A multi-threaded runtime on a thread of its own, which ends when this is dropped (wherever that
/// is: a runtime may not be dropped inside another's task).
pub(super) struct OwnRuntime {
    pub(super) handle: tokio::runtime::Handle,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl OwnRuntime {
    /// Starts one.
    pub(super) fn start() -> std::io::Result<OwnRuntime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mailbox-tor")
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("mailbox-tor".into())
            .spawn(move || {
                let _ = runtime.block_on(stopped);
            })?;
        Ok(OwnRuntime {
            handle,
            _stop: stop,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(uri: &str) -> Result<Vec<SocketAddr>, ureq::Error> {
        let uri: ureq::http::Uri = uri.parse().unwrap();
        let config = courier_mailbox_client::agent_config();
        OnionResolver::default()
            .resolve(&uri, &config, NextTimeout::default())
            .map(|addrs| addrs.iter().copied().collect())
    }

    #[test]
    fn an_onion_name_is_handed_on_unresolved_and_a_socket_address_is_kept() {
        let onion = format!("http://{}.onion:80/v1/status", "a".repeat(52) + "2345");
        // Asked of DNS, the name would not resolve (there is no such name): this is no lookup.
        assert_eq!(
            resolve(&onion).unwrap(),
            [SocketAddr::from(([0, 0, 0, 0], 80))]
        );
        assert_eq!(
            resolve("http://127.0.0.1:7400/v1/status").unwrap(),
            [SocketAddr::from(([127, 0, 0, 1], 7400))]
        );
    }
}
