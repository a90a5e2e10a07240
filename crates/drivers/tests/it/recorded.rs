//! Drivers whose events a test reads in order.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use courier_io::{ChannelIds, DriverContext, DriverEvent};

/// The driver `make` builds on `runtime`, sharing `ids`, and the receiver its events arrive on.
pub fn recorded<D>(
    runtime: &tokio::runtime::Runtime,
    ids: ChannelIds,
    make: impl FnOnce(DriverContext) -> D,
) -> (D, mpsc::Receiver<DriverEvent>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let cx = DriverContext {
        sink: Arc::new(move |e| {
            let _ = tx.lock().unwrap().send(e);
        }),
        ids,
        runtime: runtime.handle().clone(),
    };
    (make(cx), rx)
}

/// The next event `matches` picks out, skipping the others; fails after 30 s without one.
pub fn next<T>(
    rx: &mpsc::Receiver<DriverEvent>,
    mut matches: impl FnMut(DriverEvent) -> Option<T>,
) -> T {
    loop {
        let event = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("an event in time");
        if let Some(found) = matches(event) {
            return found;
        }
    }
}

/// Alice's driver advertises `tag` for transport 0 and bob's scans: the address bob heard it at.
pub fn bob_hears(
    alice: &mut impl courier_io::Driver,
    bob: &mut impl courier_io::Driver,
    bob_events: &mpsc::Receiver<DriverEvent>,
    tag: &str,
) -> String {
    let t = courier_io::TransportIndex(0);
    alice
        .carry_out(t, courier_io::IoRequest::BleAdvertise, &[tag.to_owned()])
        .unwrap();
    bob.carry_out(t, courier_io::IoRequest::BleScan { enabled: true }, &[])
        .unwrap();
    next(bob_events, |e| match e {
        DriverEvent::Found {
            tag: found,
            address,
            ..
        } if found == tag => Some(address),
        DriverEvent::Medium { state, .. } => panic!("bob's radio: {state}"),
        _ => None,
    })
}
