//! Thin I/O drivers, one per medium, behind the node's one seam ([`courier_io::Driver`]): they carry
//! out what transport plugins ask for through their capabilities and report back as
//! [`courier_io::DriverEvent`]s. No protocol logic lives here, and no WIT type.

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

/// Locks `mutex`; its holders never leave it half-changed, so a panic elsewhere does not poison it.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The drivers every node starts with: TCP, mDNS, files and mailboxes (Tor needs settings: see
/// [`with_tor`]).
pub fn all() -> Vec<StartDriver> {
    vec![
        Box::new(|cx| Ok(Box::new(files::FilesDriver::new(cx)) as Box<dyn Driver>)),
        Box::new(|cx| Ok(Box::new(mailbox::MailboxDriver::new(cx)) as Box<dyn Driver>)),
        Box::new(|cx| Ok(Box::new(tcp::TcpDriver::new(cx)) as Box<dyn Driver>)),
        Box::new(|cx| Ok(Box::new(mdns::MdnsDriver::new(cx)) as Box<dyn Driver>)),
    ]
}

/// [`all`], and Tor with `settings` (its directories, its network, the node's onion key).
#[cfg(feature = "tor")]
pub fn with_tor(settings: tor::TorSettings) -> Vec<StartDriver> {
    let mut drivers = all();
    drivers.push(Box::new(move |cx| {
        Ok(Box::new(tor::TorDriver::new(cx, settings)) as Box<dyn Driver>)
    }));
    drivers
}
