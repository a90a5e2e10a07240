//! A local user without a node's API token, holding as many connections to its TCP port as they
//! can: idle ones, ones that send a request's headers a byte a second and never finish, and
//! WebSocket handshakes that never log in. Each is opened again when the node closes it, at most
//! once a second, until the time is up; then it says how many it opened and how many the node
//! closed.
//!
//! Usage: `api-flood ADDR IDLE SLOW SOCKETS SECONDS` (the flood stories run it as another user).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Idle,
    Slow,
    Socket,
}

struct Held {
    kind: Kind,
    stream: Option<TcpStream>,
    next_try: Instant,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, idle, slow, sockets, seconds] = args.as_slice() else {
        eprintln!("usage: api-flood ADDR IDLE SLOW SOCKETS SECONDS");
        std::process::exit(2);
    };
    let addr: SocketAddr = addr.parse().expect("ADDR is an IP address and port");
    let count = |n: &String| n.parse::<usize>().expect("a count");
    let until = Instant::now() + Duration::from_secs(count(seconds) as u64);
    let handshake = format!(
        "GET /v1/ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    let slow_start = format!("GET /v1/identity HTTP/1.1\r\nHost: {addr}\r\n");
    let mut held: Vec<Held> = [
        (Kind::Idle, count(idle)),
        (Kind::Slow, count(slow)),
        (Kind::Socket, count(sockets)),
    ]
    .into_iter()
    .flat_map(|(kind, n)| {
        (0..n).map(move |_| Held {
            kind,
            stream: None,
            next_try: Instant::now(),
        })
    })
    .collect();
    let (mut opened, mut closed) = (0u64, 0u64);
    let mut last_drip = Instant::now();
    let mut buf = [0u8; 4096];
    while Instant::now() < until {
        let drip = last_drip.elapsed() >= Duration::from_secs(1);
        if drip {
            last_drip = Instant::now();
        }
        for h in &mut held {
            let now = Instant::now();
            match &mut h.stream {
                None if now >= h.next_try => {
                    h.next_try = now + Duration::from_secs(1);
                    let Ok(mut stream) =
                        TcpStream::connect_timeout(&addr, Duration::from_millis(50))
                    else {
                        continue;
                    };
                    let first = match h.kind {
                        Kind::Idle => "",
                        Kind::Slow => slow_start.as_str(),
                        Kind::Socket => handshake.as_str(),
                    };
                    if stream.write_all(first.as_bytes()).is_err()
                        || stream.set_nonblocking(true).is_err()
                    {
                        continue;
                    }
                    opened += 1;
                    h.stream = Some(stream);
                }
                None => {}
                Some(stream) => {
                    let gone = match stream.read(&mut buf) {
                        Ok(0) => true,
                        Ok(_) => false,
                        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                    };
                    let gone =
                        gone || (h.kind == Kind::Slow && drip && stream.write_all(b"X").is_err());
                    if gone {
                        closed += 1;
                        h.stream = None;
                        h.next_try = now + Duration::from_secs(1);
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("opened {opened} connections; the node closed {closed}");
}
