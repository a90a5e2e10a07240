//! Thin I/O drivers, one per medium, behind the node's one seam ([`courier_io::Driver`]): they carry
//! out what transport plugins ask for through their capabilities and report back as
//! [`courier_io::DriverEvent`]s. No protocol logic lives here, and no WIT type.

pub mod ble;
pub mod files;
mod handover;
pub mod mailbox;
pub mod mdns;
mod pump;
pub mod tcp;
#[cfg(feature = "tor")]
pub mod tor;

use courier_io::Driver;

pub use courier_io::StartDriver;
/// How much a channel may hold unwritten: where the node stops offering it more, and where it is cut.
pub use pump::{BACKLOG_CAP, BACKLOG_HIGH};

/// Locks `mutex`; its holders never leave it half-changed, so a panic elsewhere does not poison it.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The drivers every node starts with: files, TCP, mDNS and mailboxes over TCP (Tor needs
/// settings: see [`with_tor`]).
pub fn all() -> Vec<StartDriver> {
    let mut drivers = local();
    drivers.push(Box::new(|cx| {
        Ok(Box::new(mailbox::MailboxDriver::new(cx)) as Box<dyn Driver>)
    }));
    drivers
}

/// The drivers that reach no further than the machine and its network: files, TCP and mDNS.
fn local() -> Vec<StartDriver> {
    vec![
        Box::new(|cx| Ok(Box::new(files::FilesDriver::new(cx)) as Box<dyn Driver>)),
        Box::new(|cx| Ok(Box::new(tcp::TcpDriver::new(cx)) as Box<dyn Driver>)),
        Box::new(|cx| Ok(Box::new(mdns::MdnsDriver::new(cx)) as Box<dyn Driver>)),
    ]
}

/// [`all`], and Tor with `settings` (its directories, its network, the node's onion key): one
/// client, which the mailbox driver shares to reach mailboxes that are onion services.
#[cfg(feature = "tor")]
pub fn with_tor(settings: tor::TorSettings) -> Vec<StartDriver> {
    use std::sync::{Arc, OnceLock};
    // Made by whichever driver starts first, from its context (the node's runtime and sink).
    let shared: Arc<OnceLock<Arc<tor::Tor>>> = Arc::default();
    let tor_of = move |cx: &courier_io::DriverContext| {
        shared
            .get_or_init(|| {
                Arc::new(tor::Tor::new(
                    cx.runtime.clone(),
                    settings.clone(),
                    Some(cx.sink.clone()),
                ))
            })
            .clone()
    };
    let mailbox_tor = tor_of.clone();
    let mut drivers = local();
    drivers.push(Box::new(move |cx| {
        let agent = mailbox::MailboxAgent::with_tor(mailbox_tor(&cx));
        Ok(Box::new(mailbox::MailboxDriver::through(cx, agent)) as Box<dyn Driver>)
    }));
    drivers.push(Box::new(move |cx| {
        let tor = tor_of(&cx);
        Ok(Box::new(tor::TorDriver::sharing(cx, tor)) as Box<dyn Driver>)
    }));
    drivers
}
