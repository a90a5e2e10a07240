//! Sync (BSP-like), sans-IO: the records two nodes exchange over a decrypted stream.

pub mod attachment;
pub mod receipt;
pub mod record;
pub mod relation;
pub mod session;
pub mod simplex;
pub mod timer;
