//! Stream-layer throughput next to raw ChaCha20-Poly1305 on the same data (64 KiB buffers, one core).
//! Target: the stream layer (framing + AEAD + padding) at 80% of raw or better. Prints; asserts nothing.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use courier_proto::transport_security::TAG_LEN;
use courier_proto::transport_security::stream::{
    FRAME_OVERHEAD, HEADER_LEN, StreamReader, StreamWriter,
};
use courier_proto::transport_security::tag_window::TagWindow;
use courier_proto::transport_security::transport_keys::{Role, SecretKey, TransportKeys};

const BUFFER: usize = 64 * 1024;
const TOTAL: usize = 64 << 20;

fn best_of(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..runs).map(|_| f()).min().expect("at least one run")
}

fn mb_per_s(d: Duration) -> f64 {
    TOTAL as f64 / d.as_secs_f64() / 1e6
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let data = vec![0x5Au8; TOTAL];
    let cipher = ChaCha20Poly1305::new(&[7u8; 32].into());
    let raw_seal = best_of(5, || {
        let mut buffer = vec![0u8; BUFFER];
        let start = Instant::now();
        for (i, chunk) in data.chunks(BUFFER).enumerate() {
            buffer.copy_from_slice(chunk);
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&(i as u64).to_be_bytes());
            black_box(
                cipher
                    .encrypt_in_place_detached(&nonce.into(), &[], &mut buffer)
                    .unwrap(),
            );
        }
        start.elapsed()
    });

    let root = SecretKey::from_bytes([1; 32]);
    let alice = TransportKeys::new(&root, "lan", Role::Alice, 0, 0);
    let bob = TransportKeys::new(&root, "lan", Role::Bob, 0, 0);
    let frame_len = BUFFER + FRAME_OVERHEAD;
    // As a sender does: seal a frame into one reused buffer, hand it to the transport, repeat.
    let stream_seal = best_of(5, || {
        let mut frame = Vec::with_capacity(frame_len);
        let start = Instant::now();
        let (mut writer, head) = StreamWriter::new(alice.outgoing(), 0, frame_len).unwrap();
        black_box(&head);
        let frames = TOTAL / BUFFER;
        for (i, chunk) in data.chunks(BUFFER).enumerate() {
            frame.clear();
            writer
                .seal_frame(chunk, i + 1 == frames, &mut frame)
                .unwrap();
            black_box(&frame);
        }
        start.elapsed()
    });
    let (mut writer, mut wire) = StreamWriter::new(alice.outgoing(), 0, frame_len).unwrap();
    writer.seal_all(&data, &mut wire).unwrap();

    let keys = &bob.incoming()[0];
    let stream_open = best_of(5, || {
        let start = Instant::now();
        let tag: [u8; TAG_LEN] = wire[..TAG_LEN].try_into().unwrap();
        let n = TagWindow::new(keys, 0).recognise(&tag).unwrap();
        let header = wire[TAG_LEN..TAG_LEN + HEADER_LEN].try_into().unwrap();
        let mut reader = StreamReader::open(keys, n, &tag, header).unwrap();
        let mut read = 0;
        for piece in wire[TAG_LEN + HEADER_LEN..].chunks(frame_len) {
            read += reader
                .push(piece)
                .unwrap()
                .iter()
                .map(Vec::len)
                .sum::<usize>();
        }
        reader.finish().unwrap();
        assert_eq!(read, TOTAL);
        start.elapsed()
    });

    println!(
        "transport security, {} MiB in 64 KiB buffers, one core",
        TOTAL >> 20
    );
    println!(
        "  raw ChaCha20-Poly1305 seal     {:>8.0} MB/s",
        mb_per_s(raw_seal)
    );
    println!(
        "  stream layer seal              {:>8.0} MB/s   ({:.0}% of raw; target >= 80%)",
        mb_per_s(stream_seal),
        100.0 * raw_seal.as_secs_f64() / stream_seal.as_secs_f64()
    );
    println!(
        "  stream layer open (recognise, header, frames) {:>8.0} MB/s   ({:.0}% of raw seal)",
        mb_per_s(stream_open),
        100.0 * raw_seal.as_secs_f64() / stream_open.as_secs_f64()
    );
}
