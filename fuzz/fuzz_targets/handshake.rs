//! Any bytes as handshake messages: refused cleanly; a forged proof never completes a handshake.
#![no_main]

use courier_proto::handshake::{HELLO_LEN, Handshake};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (mut handshake, _) = Handshake::start([3; 32], [9; 32]);
    let (hello, proof) = data.split_at(data.len().min(HELLO_LEN));
    if handshake.receive_hello(hello).is_ok() {
        assert!(handshake.receive_proof(proof).is_err(), "a forged proof completed the handshake");
    }
});
