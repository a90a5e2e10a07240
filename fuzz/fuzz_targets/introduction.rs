//! Any bytes, in any pieces, as a peer's side of the handshake inside a stream: refused cleanly, and a
//! stranger's bytes never complete an introduction.
#![no_main]

use courier_proto::introduction::Introduction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (mut intro, _) = Introduction::start([3; 32], [9; 32], 1);
    let cut = data.first().map_or(1, |b| usize::from(*b).max(1));
    for piece in data.chunks(cut) {
        match intro.push(piece) {
            Ok(progress) => assert!(progress.done.is_none(), "forged bytes completed a handshake"),
            Err(_) => return,
        }
    }
});
