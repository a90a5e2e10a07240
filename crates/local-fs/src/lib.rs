//! Files on this machine: what Courier creates is its owner's alone, and what a user names is read
//! with a hard size limit.

pub mod erasure;
pub mod holders;
pub mod input_file;
pub mod owner_only;
