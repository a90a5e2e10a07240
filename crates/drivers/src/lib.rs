//! Thin I/O drivers, one per medium, behind the node's one seam ([`courier_io::Driver`]): they carry
//! out what transport plugins ask for through their capabilities and report back as
//! [`courier_io::DriverEvent`]s. No protocol logic lives here, and no WIT type.

pub mod files;
pub mod mdns;
pub mod tcp;

use courier_io::{Driver, StartDriver};

/// Every driver this build has, to start with a node: TCP, mDNS and files.
pub fn all() -> Vec<StartDriver> {
    vec![
        Box::new(|cx| Ok(Box::new(files::FilesDriver::new(cx)) as Box<dyn Driver>)),
        Box::new(|cx| Ok(Box::new(tcp::TcpDriver::new(cx)) as Box<dyn Driver>)),
        Box::new(|cx| Ok(Box::new(mdns::MdnsDriver::new(cx)) as Box<dyn Driver>)),
    ]
}
