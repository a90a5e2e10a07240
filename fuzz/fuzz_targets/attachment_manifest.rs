//! Any bytes as an attachment manifest: an error or a manifest whose chunk count fits its length.
#![no_main]

use courier_proto::sync::attachment::{CHUNK_LEN, parse_manifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = parse_manifest(data) {
        assert_eq!(manifest.len.div_ceil(CHUNK_LEN as u64), manifest.chunks.len() as u64);
    }
});
