//! Transport security (BTP-like), sans-IO: per-contact, per-transport keys that rotate and are deleted,
//! the window of expected stream tags, and AEAD streams with fixed-size frames.
//!
//! A stream on the wire is `tag (16) | header (81) | frame*`. Nothing in it is plaintext: the tag is a
//! pseudo-random function of a secret key and the stream number, the header is sealed, and every frame
//! is sealed and padded to the same size.

pub mod rendezvous;
pub mod stream;
pub mod tag_window;
pub mod transport_keys;

/// Length of a stream tag.
pub const TAG_LEN: usize = 16;
