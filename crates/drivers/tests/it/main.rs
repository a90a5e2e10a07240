//! The drivers against real media: Tor on a private network of real relays on loopback.

mod tor;
