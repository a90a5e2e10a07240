//! The node's stories: two in-process nodes with real databases, real sockets on loopback and the
//! real plugins in wasmtime (run `cargo xtask build-plugins` first; `cargo xtask test` does), behind
//! a black hole, over a one-way medium, over a private Tor network and with Tor cut off.

mod two_nodes;

mod backlog;
mod black_hole;
mod idle;
mod rendezvous;
mod simplex;
mod tor_boundary;
mod tor_cut_off;
