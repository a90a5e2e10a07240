//! Tor on the private test network (real relays from Debian's `tor`, real arti) against plain
//! loopback TCP, through the same drivers the node uses. Prints, in one run:
//! - the time arti takes to bootstrap on the network, from a fresh state directory;
//! - the time a connection to an onion service takes to open, p50 of several;
//! - one small message's round trip over an open channel, p50 and p99, and its ratio to TCP's;
//! - 10 MB carried one way, as throughput (the best of three), and its ratio to TCP's;
//! - the ceiling: the same round trip and bulk between a C tor client and a C tor onion service on
//!   the same network, over plain sockets, and arti's figures as a multiple of it.
//!
//! Needs `tor` installed (`.ci/run` installs it); says SKIPPED otherwise.

use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use courier_config::capability::TcpScope;
use courier_drivers::tcp::TcpDriver;
use courier_drivers::tor::{ONION_PORT, TorDriver, TorSettings};
use courier_io::{
    ChannelId, ChannelIds, Driver, DriverContext, DriverEvent, IoRequest, MediumState,
    TransportIndex,
};
use courier_tor_net::TorNetwork;

const CONNECTS: usize = 5;
const ROUND_TRIPS: usize = 200;
const BULK: usize = 10 * 1000 * 1000;

fn context(
    runtime: &tokio::runtime::Runtime,
    ids: &ChannelIds,
) -> (DriverContext, Receiver<DriverEvent>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let cx = DriverContext {
        sink: Arc::new(move |e| {
            let _ = tx.lock().unwrap().send(e);
        }),
        ids: ids.clone(),
        runtime: runtime.handle().clone(),
    };
    (cx, rx)
}

fn next<T>(rx: &Receiver<DriverEvent>, mut wanted: impl FnMut(DriverEvent) -> Option<T>) -> T {
    loop {
        let event = rx
            .recv_timeout(Duration::from_secs(180))
            .expect("the awaited event in time");
        if let Some(found) = wanted(event) {
            return found;
        }
    }
}

/// Two ends of one open channel, whatever the medium: a dialer and an acceptor.
struct Pair<'a> {
    dialer: &'a mut dyn Driver,
    dialer_events: &'a Receiver<DriverEvent>,
    acceptor: &'a mut dyn Driver,
    acceptor_events: &'a Receiver<DriverEvent>,
    dialed: ChannelId,
    accepted: ChannelId,
}

impl Pair<'_> {
    /// Sends `n` bytes from the dialer and waits until the acceptor has them all.
    fn carry(&mut self, n: usize) {
        let accepted = self.accepted;
        let (dialed, dialer) = (self.dialed, &mut *self.dialer);
        let piece = vec![0x5a; 64 * 1024];
        let mut sent = 0;
        let mut got = 0;
        while sent < n {
            let len = piece.len().min(n - sent);
            assert!(dialer.write(dialed, piece[..len].to_vec()));
            sent += len;
            // As the node does: no more writes while the channel holds a backlog, until it drains.
            if dialer.backlogged(dialed) {
                next(self.dialer_events, |e| match e {
                    DriverEvent::Drained { channel } if channel == dialed => Some(()),
                    _ => None,
                });
            }
            while let Ok(DriverEvent::Received { channel, data }) = self.acceptor_events.try_recv()
            {
                if channel == accepted {
                    got += data.len();
                }
            }
        }
        while got < n {
            got += next(self.acceptor_events, |e| match e {
                DriverEvent::Received { channel, data } if channel == accepted => Some(data.len()),
                _ => None,
            });
        }
    }

    /// One small message there and its echo back: the round trip.
    fn round_trip(&mut self) -> Duration {
        let started = Instant::now();
        assert!(
            self.dialer
                .write(self.dialed, b"ping: one short text".to_vec())
        );
        let accepted = self.accepted;
        let data = next(self.acceptor_events, |e| match e {
            DriverEvent::Received { channel, data } if channel == accepted => Some(data),
            _ => None,
        });
        assert!(self.acceptor.write(accepted, data));
        let dialed = self.dialed;
        next(self.dialer_events, |e| match e {
            DriverEvent::Received { channel, .. } if channel == dialed => Some(()),
            _ => None,
        });
        started.elapsed()
    }
}

/// A C tor client's stream to a C tor onion service: the reference arti is measured against.
struct CTorStream {
    dialed: std::net::TcpStream,
    accepted: std::net::TcpStream,
}

impl CTorStream {
    /// Connects through `client`'s SOCKS port to `onion`, retrying while the descriptor is new, and
    /// takes the stream `listener` (the service's target) accepts.
    fn open(client: &courier_tor_net::CTor, onion: &str, listener: &std::net::TcpListener) -> Self {
        let started = Instant::now();
        let dialed = loop {
            match socks::Socks5Stream::connect(
                client.socks(),
                (onion, courier_tor_net::C_ONION_PORT),
            ) {
                Ok(stream) => break stream.into_inner(),
                Err(e) if started.elapsed() < Duration::from_secs(180) => {
                    eprintln!("C tor: no stream to the onion service yet ({e}); retrying");
                    std::thread::sleep(Duration::from_secs(2));
                }
                Err(e) => panic!("C tor: no stream to the onion service in 180 s: {e}"),
            }
        };
        let (accepted, _) = listener.accept().expect("the service's stream arrives");
        for s in [&dialed, &accepted] {
            s.set_nodelay(true).unwrap();
        }
        CTorStream { dialed, accepted }
    }

    /// As [`Pair::round_trip`].
    fn round_trip(&mut self) -> Duration {
        use std::io::{Read, Write};
        let ping = b"ping: one short text";
        let mut buf = [0; 20];
        let started = Instant::now();
        self.dialed.write_all(ping).unwrap();
        self.accepted.read_exact(&mut buf).unwrap();
        self.accepted.write_all(&buf).unwrap();
        self.dialed.read_exact(&mut buf).unwrap();
        started.elapsed()
    }

    /// As [`Pair::carry`]: `n` bytes one way, until the far end has them all.
    fn carry(&mut self, n: usize) -> Duration {
        use std::io::{Read, Write};
        let mut reader = self.accepted.try_clone().unwrap();
        let started = Instant::now();
        let receiving = std::thread::spawn(move || {
            let mut buf = vec![0; 64 * 1024];
            let mut got = 0;
            while got < n {
                got += reader.read(&mut buf).unwrap();
            }
        });
        let piece = vec![0x5a; 64 * 1024];
        let mut sent = 0;
        while sent < n {
            let len = piece.len().min(n - sent);
            self.dialed.write_all(&piece[..len]).unwrap();
            sent += len;
        }
        receiving.join().unwrap();
        started.elapsed()
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p) as usize]
}

fn main() {
    if !TorNetwork::available() {
        println!("SKIPPED: tor and tor-gencert are not installed (apt-get install tor)");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let net = TorNetwork::start(&root.path().join("net")).unwrap();
    net.wait_until_ready(Duration::from_secs(240)).unwrap();
    println!(
        "private Tor network (3 authorities, 2 exits, 4 relays) ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The ceiling's two C tor clients bootstrap and publish while arti does.
    let target = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c_service = net
        .start_c_client("c-service", Some(target.local_addr().unwrap().port()))
        .unwrap();
    let c_client = net.start_c_client("c-client", None).unwrap();
    let section = net.config_section();
    let network = courier_config::Config::parse(&section, "tor-net", std::path::Path::new("/"))
        .expect("the network's [tor] section parses")
        .tor;
    // Each end on a runtime of its own with one worker, as each node runs its own
    // (`courier_node::RunningNode`): one shared worker made both ends' arti take turns.
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    };
    let (host_runtime, guest_runtime) = (runtime(), runtime());
    let ids = ChannelIds::default();
    let settings = |name: &str, key: Option<[u8; 32]>| TorSettings {
        state_dir: root.path().join(name).join("state"),
        cache_dir: root.path().join(name).join("cache"),
        network: network.clone(),
        onion_key: key.map(zeroize::Zeroizing::new),
    };
    let (cx, host_events) = context(&host_runtime, &ids);
    let mut host = TorDriver::new(cx, settings("host", Some([0x42; 32])));
    let (cx, guest_events) = context(&guest_runtime, &ids);
    let mut guest = TorDriver::new(cx, settings("guest", None));

    // Bootstrap: from a fresh client to connected.
    let booting = Instant::now();
    host.carry_out(TransportIndex(0), IoRequest::TorPublishService, &[])
        .unwrap();
    let onion = next(&host_events, |e| match e {
        DriverEvent::Listening { reachable, .. } => reachable,
        _ => None,
    });
    next(&host_events, |e| match e {
        DriverEvent::Medium {
            state: MediumState::Ready,
            ..
        } => Some(()),
        _ => None,
    });
    println!(
        "arti bootstrap on the test network: {:.2} s",
        booting.elapsed().as_secs_f64()
    );

    // Onion connects: dial to opened, several times (each on circuits of its own).
    let mut connects = Vec::new();
    let mut last = (0, 0);
    for _ in 0..CONNECTS {
        let channel = ids.next();
        let dialing = Instant::now();
        let request = IoRequest::TorConnect {
            channel,
            onion: onion.clone(),
            port: ONION_PORT,
        };
        guest.carry_out(TransportIndex(0), request, &[]).unwrap();
        next(&guest_events, |e| match e {
            DriverEvent::Opened { channel: c } if c == channel => Some(()),
            DriverEvent::Failed { channel: c, reason } if c == channel => panic!("{reason}"),
            _ => None,
        });
        connects.push(dialing.elapsed());
        assert!(guest.write(channel, b"hello".to_vec()));
        let accepted = next(&host_events, |e| match e {
            DriverEvent::Accepted { channel, .. } => Some(channel),
            _ => None,
        });
        if last.0 != 0 {
            guest.close(last.0);
            host.close(last.1);
        }
        last = (channel, accepted);
    }
    let connect_p50 = percentile(&mut connects, 0.5);
    println!(
        "onion connection opened: p50 {:.2} s over {CONNECTS} (min {:.2} s, max {:.2} s)",
        connect_p50.as_secs_f64(),
        connects[0].as_secs_f64(),
        connects[CONNECTS - 1].as_secs_f64()
    );
    // What the last connect's first write carried, before measuring on it.
    next(&host_events, |e| match e {
        DriverEvent::Received { channel, .. } if channel == last.1 => Some(()),
        _ => None,
    });
    let mut tor = Pair {
        dialer: &mut guest,
        dialer_events: &guest_events,
        acceptor: &mut host,
        acceptor_events: &host_events,
        dialed: last.0,
        accepted: last.1,
    };
    let mut tor_rtt: Vec<Duration> = (0..ROUND_TRIPS).map(|_| tor.round_trip()).collect();
    // Best of three, as the ceiling's.
    let tor_bulk = (0..3)
        .map(|_| {
            let bulk = Instant::now();
            tor.carry(BULK);
            BULK as f64 / bulk.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max);

    // The same over loopback TCP.
    let (cx, tcp_a_events) = context(&guest_runtime, &ids);
    let mut tcp_a = TcpDriver::new(cx);
    let (cx, tcp_b_events) = context(&host_runtime, &ids);
    let mut tcp_b = TcpDriver::new(cx);
    let listen = IoRequest::TcpListen {
        port: 0,
        scope: TcpScope::Loopback,
    };
    tcp_b.carry_out(TransportIndex(0), listen, &[]).unwrap();
    let address = next(&tcp_b_events, |e| match e {
        DriverEvent::Listening { bound, .. } => Some(bound),
        _ => None,
    });
    let channel = ids.next();
    let connect = IoRequest::TcpConnect {
        channel,
        address: address.parse().unwrap(),
    };
    tcp_a.carry_out(TransportIndex(0), connect, &[]).unwrap();
    next(&tcp_a_events, |e| {
        matches!(e, DriverEvent::Opened { .. }).then_some(())
    });
    let accepted = next(&tcp_b_events, |e| match e {
        DriverEvent::Accepted { channel, .. } => Some(channel),
        _ => None,
    });
    // A contact, not a stranger: full-size reads.
    tcp_b.vouch(accepted);
    let mut tcp = Pair {
        dialer: &mut tcp_a,
        dialer_events: &tcp_a_events,
        acceptor: &mut tcp_b,
        acceptor_events: &tcp_b_events,
        dialed: channel,
        accepted,
    };
    let mut tcp_rtt: Vec<Duration> = (0..ROUND_TRIPS).map(|_| tcp.round_trip()).collect();
    let bulk = Instant::now();
    tcp.carry(BULK);
    let tcp_bulk = BULK as f64 / bulk.elapsed().as_secs_f64();

    // The ceiling: C tor to a C tor onion service, the same figures over plain sockets.
    c_client
        .wait_until_bootstrapped(Duration::from_secs(180))
        .unwrap();
    let c_onion = c_service.wait_for_onion(Duration::from_secs(180)).unwrap();
    let mut c_tor = CTorStream::open(&c_client, &c_onion, &target);
    let mut c_rtt: Vec<Duration> = (0..ROUND_TRIPS).map(|_| c_tor.round_trip()).collect();
    // The ceiling's best of three, so that it is not understated by one slow run.
    let c_bulk = (0..3)
        .map(|_| BULK as f64 / c_tor.carry(BULK).as_secs_f64())
        .fold(0.0, f64::max);

    let (tor_p50, tor_p99) = (
        percentile(&mut tor_rtt, 0.5),
        percentile(&mut tor_rtt, 0.99),
    );
    let (c_p50, c_p99) = (percentile(&mut c_rtt, 0.5), percentile(&mut c_rtt, 0.99));
    let (tcp_p50, tcp_p99) = (
        percentile(&mut tcp_rtt, 0.5),
        percentile(&mut tcp_rtt, 0.99),
    );
    println!(
        "one text's round trip: Tor p50 {:.2} ms / p99 {:.2} ms; loopback TCP p50 {:.3} ms / p99 {:.3} ms; Tor/TCP p50 {:.0}x",
        tor_p50.as_secs_f64() * 1e3,
        tor_p99.as_secs_f64() * 1e3,
        tcp_p50.as_secs_f64() * 1e3,
        tcp_p99.as_secs_f64() * 1e3,
        tor_p50.as_secs_f64() / tcp_p50.as_secs_f64()
    );
    println!(
        "10 MB one way: Tor {:.1} MB/s (best of 3); loopback TCP {:.1} MB/s; Tor/TCP {:.1}%",
        tor_bulk / 1e6,
        tcp_bulk / 1e6,
        100.0 * tor_bulk / tcp_bulk
    );
    println!(
        "the ceiling, C tor client to C tor onion service on the same network: round trip p50 {:.2} ms / p99 {:.2} ms, 10 MB one way {:.1} MB/s (best of 3)",
        c_p50.as_secs_f64() * 1e3,
        c_p99.as_secs_f64() * 1e3,
        c_bulk / 1e6
    );
    println!(
        "the Tor transport against the ceiling: round trip p50 {:.2}x C tor's (target <= 2x); bulk {:.2}x C tor's (target >= 0.5x)",
        tor_p50.as_secs_f64() / c_p50.as_secs_f64(),
        tor_bulk / c_bulk
    );
    guest.shutdown();
    host.shutdown();
    tcp_a.shutdown();
    tcp_b.shutdown();
}
