//! The drivers against real media: Tor on a private network of real relays on loopback, and a
//! mailbox's port on loopback.

mod mailbox;
mod tor;
