//! A mailbox served over HTTP until told to stop, on TCP or as an onion service: its connections
//! under a budget of their own (whoever has no token holds a few dozen connections at most,
//! briefly), and what nobody fetched swept away hourly.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use courier_http_serving::Accept;
use courier_io::budget::Limits;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Mailbox;
use crate::routes::{router, sweep_every};

/// The connection budget: a mailbox reached through a Tor onion service sees every client come
/// from one address, so one source may hold all the places a stranger may.
pub fn limits() -> Limits {
    Limits {
        channels: 512,
        strangers: 64,
        per_source: 64,
        deadline: Duration::from_secs(10),
    }
}

/// How often files downloaded a while ago, and files past their retention, are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Serves `mailbox` on the connections `listener` accepts until `stopped` turns true.
pub async fn serve(listener: impl Accept, mailbox: Mailbox, stopped: watch::Receiver<bool>) {
    let shared = Arc::new(Mutex::new(mailbox));
    let sweeping = tokio::spawn(sweep_every(shared.clone(), SWEEP_EVERY));
    courier_http_serving::serve(listener, router(shared), limits(), stopped).await;
    sweeping.abort();
}

/// Where `run` writes the address it listens on, in the data directory, for the owner's tools.
pub const ADDR_FILE: &str = "mailbox.addr";

/// Opens the mailbox of `dir` and listens: as an onion service if its config has `[tor]`, on
/// `listen` otherwise; tells `announce` the address it is reached at and, for a mailbox nobody can
/// open yet, the setup token; serves until SIGINT or SIGTERM.
pub fn run(
    dir: &std::path::Path,
    listen: std::net::SocketAddr,
    announce: impl FnOnce(&str, Option<&crate::token::Token>),
) -> Result<(), crate::MailboxError> {
    let (mailbox, setup) = Mailbox::open(dir)?;
    let runtime = runtime()?;
    match mailbox.config().tor.clone() {
        None => {
            let (listener, address) = bind(&runtime, listen)?;
            let address = address.to_string();
            serve_until_signalled(dir, &runtime, listener, &address, mailbox, || {
                announce(&address, setup.as_ref())
            })
        }
        #[cfg(feature = "tor")]
        Some(network) => {
            let (incoming, address) = crate::onion::listen(dir, network, runtime.handle())?;
            serve_until_signalled(dir, &runtime, incoming, &address, mailbox, || {
                announce(&address, setup.as_ref())
            })
        }
        #[cfg(not(feature = "tor"))]
        Some(_) => Err(crate::MailboxError::Tor(
            "this courier was built without Tor; build it with Tor, or remove [tor]".into(),
        )),
    }
}

/// Writes `address` where the owner's tools find it, calls `announce`, and serves `mailbox` on
/// `listener` until SIGINT or SIGTERM.
fn serve_until_signalled(
    dir: &std::path::Path,
    runtime: &tokio::runtime::Runtime,
    listener: impl Accept,
    address: &str,
    mailbox: Mailbox,
    announce: impl FnOnce(),
) -> Result<(), crate::MailboxError> {
    use crate::MailboxError;
    courier_local_fs::owner_only::file_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join(ADDR_FILE))
        .and_then(|mut file| std::io::Write::write_all(&mut file, address.as_bytes()))
        .map_err(MailboxError::disk("writing mailbox.addr"))?;
    let (stop, stopped) = watch::channel(false);
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(MailboxError::disk("installing signal handlers"))?;
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            let _ = stop.send(true);
        }
    });
    announce();
    runtime.block_on(serve(listener, mailbox, stopped));
    Ok(())
}

/// The runtime a mailbox serves on.
fn runtime() -> Result<tokio::runtime::Runtime, crate::MailboxError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(crate::MailboxError::disk("starting the runtime"))
}

/// A TCP listener on `listen`, and the address it got.
fn bind(
    runtime: &tokio::runtime::Runtime,
    listen: std::net::SocketAddr,
) -> Result<(TcpListener, std::net::SocketAddr), crate::MailboxError> {
    use crate::MailboxError;
    let listener = runtime
        .block_on(TcpListener::bind(listen))
        .map_err(MailboxError::disk("listening"))?;
    let address = listener
        .local_addr()
        .map_err(MailboxError::disk("listening"))?;
    Ok((listener, address))
}

/// A mailbox serving in this process, on its own runtime, until dropped: for a program (or a
/// test) that runs one beside other work.
pub struct Background {
    /// Where it listens.
    pub address: std::net::SocketAddr,
    /// Its setup token, if nobody has set it up yet.
    pub setup: Option<crate::token::Token>,
    _stop: watch::Sender<bool>,
    _runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background").finish_non_exhaustive()
    }
}

/// Serves the mailbox of `dir` on `listen` (TCP, whatever its config says) in the background.
pub fn in_background(
    dir: &std::path::Path,
    listen: std::net::SocketAddr,
) -> Result<Background, crate::MailboxError> {
    let (mailbox, setup) = Mailbox::open(dir)?;
    let runtime = runtime()?;
    let (listener, address) = bind(&runtime, listen)?;
    let (stop, stopped) = watch::channel(false);
    runtime.spawn(serve(listener, mailbox, stopped));
    Ok(Background {
        address,
        setup,
        _stop: stop,
        _runtime: runtime,
    })
}
