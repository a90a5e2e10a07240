//! The drivers against real media: Tor on a private network of real relays on loopback, a
//! mailbox's port on loopback, and the simulated Bluetooth radio.

mod ble_sim;
#[cfg(feature = "bluez")]
mod bluez;
mod mailbox;
mod recorded;
mod tor;
