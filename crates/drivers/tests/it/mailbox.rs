//! The mailbox driver against a real socket: a mailbox that is off is not knocked on at every poll.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use courier_config::capability::TcpScope;
use courier_drivers::mailbox::MailboxDriver;
use courier_io::{
    ChannelIds, Driver, DriverContext, DriverEvent, IoRequest, MailboxFolder, MailboxReach,
    TransportIndex,
};

#[test]
fn a_mailbox_that_does_not_answer_is_asked_again_after_one_two_and_four_seconds_not_at_every_poll()
{
    // A port that takes each connection and hangs up at once, as a dying machine does.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let knocks = Arc::new(AtomicUsize::new(0));
    {
        let knocks = knocks.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                knocks.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let mut driver = MailboxDriver::new(DriverContext {
        sink: Arc::new(move |e| {
            let _ = tx.lock().unwrap().send(e);
        }),
        ids: ChannelIds::default(),
        runtime: runtime.handle().clone(),
    });
    let poll = || IoRequest::MailboxFetch {
        from: vec![MailboxFolder {
            address: address.clone(),
            token: [7; 32],
            folder: [9; 16],
        }],
        register: Vec::new(),
        reach: MailboxReach {
            tcp: TcpScope::Loopback,
            tor: false,
        },
    };

    // Polled every 100 ms for 3.5 s, as a transport set to poll often would.
    let started = Instant::now();
    let mut polls = 0;
    while started.elapsed() < Duration::from_millis(3_500) {
        driver.carry_out(TransportIndex(0), poll(), &[]).unwrap();
        let told = loop {
            match rx.recv_timeout(Duration::from_secs(10)).unwrap() {
                DriverEvent::MailboxesPolled { unreachable, .. } => break unreachable,
                _ => continue,
            }
        };
        assert_eq!(
            told,
            std::slice::from_ref(&address),
            "every poll says it is unreachable"
        );
        polls += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let knocked = knocks.load(Ordering::SeqCst);
    assert!(polls >= 20, "{polls} polls");
    // Asked at 0 s, after 1 s and after 3 s (ureq may try a connection twice: allow for it).
    assert!(
        (3..=6).contains(&knocked),
        "{knocked} connections in {polls} polls"
    );
}
