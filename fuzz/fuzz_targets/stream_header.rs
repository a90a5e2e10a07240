//! Any bytes where a stream header should be: refused cleanly, never a panic.
#![no_main]

use courier_proto::transport_security::TAG_LEN;
use courier_proto::transport_security::stream::{HEADER_LEN, StreamReader};
use courier_proto::transport_security::transport_keys::{Role, SecretKey, TransportKeys};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keys = TransportKeys::new(&SecretKey::from_bytes([1; 32]), "fuzz", Role::Bob, 0, 0);
    if data.len() >= TAG_LEN + HEADER_LEN {
        let tag: [u8; TAG_LEN] = data[..TAG_LEN].try_into().unwrap();
        let header: &[u8; HEADER_LEN] = data[TAG_LEN..TAG_LEN + HEADER_LEN].try_into().unwrap();
        assert!(StreamReader::open(&keys.incoming()[0], 0, &tag, header).is_err(), "forged a header");
    }
});
