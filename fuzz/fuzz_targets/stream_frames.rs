//! Arbitrary frame bytes after a genuine header, in arbitrary pieces: errors, never a panic, and a
//! failed reader stays failed.
#![no_main]

use courier_proto::transport_security::TAG_LEN;
use courier_proto::transport_security::stream::{HEADER_LEN, StreamReader, StreamWriter};
use courier_proto::transport_security::transport_keys::{Role, SecretKey, TransportKeys};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let root = SecretKey::from_bytes([2; 32]);
    let alice = TransportKeys::new(&root, "fuzz", Role::Alice, 0, 0);
    let bob = TransportKeys::new(&root, "fuzz", Role::Bob, 0, 0);
    let (_, head) = StreamWriter::new(alice.outgoing(), 0, 128).unwrap();
    let tag: [u8; TAG_LEN] = head[..TAG_LEN].try_into().unwrap();
    let header: &[u8; HEADER_LEN] = head[TAG_LEN..].try_into().unwrap();
    let keys = bob.incoming().iter().find(|k| k.period == 0).unwrap();
    let mut reader = StreamReader::open(keys, 0, &tag, header).unwrap();
    let piece = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut failed = false;
    for chunk in data.chunks(piece) {
        let result = reader.push(chunk);
        assert!(!(failed && result.is_ok()), "a failed reader accepted more data");
        failed |= result.is_err();
    }
    let _ = reader.finish();
});
