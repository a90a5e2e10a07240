//! The sandbox one plugin instance runs in: its store data, WASI with nothing granted, and the linker
//! that links exactly the capabilities its config grants.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::transport::courier::plugin as imports;
use super::limiter::Limiter;
use super::manifest::World;
use courier_config::capability::{Capability, Grants};
use courier_config::limits::PluginLimits;
use courier_io::IoRequest;

/// Everything one plugin instance's store holds.
pub struct PluginState {
    /// Plugin name, for log lines.
    pub name: Arc<str>,
    /// What the config granted.
    pub grants: Arc<Grants>,
    /// Memory, table and instance caps.
    pub limiter: Limiter,
    /// Requests made through capabilities during the current call.
    pub requests: Vec<IoRequest>,
    /// Log lines written during the current call.
    pub log_lines: u32,
    /// The last bytes the guest wrote to stdout/stderr (a panic message lands here).
    pub stderr: StderrTail,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A fresh store for one instance of `name`, with fuel on and the caps of `limits`.
pub fn new_store(
    engine: &Engine,
    name: &Arc<str>,
    grants: &Arc<Grants>,
    limits: &PluginLimits,
) -> Store<PluginState> {
    let stderr = StderrTail::default();
    // WASI as std needs it (random for HashMap, clocks, stdio for panics) and nothing else:
    // no preopened directories, no environment, no sockets, no name lookups.
    let wasi = WasiCtxBuilder::new()
        .stdout(stderr.clone())
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    let state = PluginState {
        name: name.clone(),
        grants: grants.clone(),
        limiter: Limiter::new(limits),
        requests: Vec::new(),
        log_lines: 0,
        stderr,
        wasi,
        table: ResourceTable::new(),
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    store
}

/// A linker with WASI and exactly the capabilities in `grants` for `world`.
pub fn linker(
    engine: &Engine,
    world: World,
    grants: &Grants,
) -> wasmtime::Result<Linker<PluginState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    // Type-only interfaces carry no power; every world may use them.
    imports::types::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    if world == World::Transport {
        imports::transport_types::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    }
    for capability in &grants.capabilities {
        let l = &mut linker;
        match capability {
            Capability::Log => imports::log::add_to_linker::<_, HasSelf<_>>(l, |s| s)?,
            Capability::Clock => imports::clock::add_to_linker::<_, HasSelf<_>>(l, |s| s)?,
            Capability::Random => imports::random::add_to_linker::<_, HasSelf<_>>(l, |s| s)?,
            Capability::Tcp => imports::tcp::add_to_linker::<_, HasSelf<_>>(l, |s| s)?,
            Capability::TorStream => imports::tor_stream::add_to_linker::<_, HasSelf<_>>(l, |s| s)?,
            Capability::Ble => imports::ble::add_to_linker::<_, HasSelf<_>>(l, |s| s)?,
            Capability::Mdns => imports::mdns::add_to_linker::<_, HasSelf<_>>(l, |s| s)?,
            Capability::Files => imports::files::add_to_linker::<_, HasSelf<_>>(l, |s| s)?,
            Capability::Mailbox => imports::mailbox::add_to_linker::<_, HasSelf<_>>(l, |s| s)?,
        }
    }
    Ok(linker)
}

/// Keeps the last few KiB a guest wrote to stdout/stderr, so a fault can quote the panic message.
#[derive(Debug, Clone, Default)]
pub struct StderrTail(Arc<Mutex<VecDeque<u8>>>);

const TAIL_BYTES: usize = 4096;

impl StderrTail {
    fn append(&self, bytes: &[u8]) {
        let mut tail = self.0.lock().unwrap_or_else(|p| p.into_inner());
        tail.extend(bytes);
        let excess = tail.len().saturating_sub(TAIL_BYTES);
        tail.drain(..excess);
    }

    /// Takes what was written since the last call, as one line of printable text.
    pub fn take(&self) -> String {
        let mut tail = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let bytes: Vec<u8> = tail.drain(..).collect();
        let text = String::from_utf8_lossy(&bytes);
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .filter(|c| !c.is_control())
            .collect()
    }
}

impl IsTerminal for StderrTail {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StderrTail {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi_io::async_trait]
impl OutputStream for StderrTail {
    fn write(&mut self, bytes: wasmtime_wasi_io::bytes::Bytes) -> Result<(), StreamError> {
        self.append(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(TAIL_BYTES)
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for StderrTail {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for StderrTail {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
