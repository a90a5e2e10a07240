//! The BlueZ driver (bluer) against BlueZ's D-Bus API as BlueZoo serves it: a private
//! `dbus-daemon` and BlueZoo with two adapters, no radio (`courier_tor_net::bluezoo`). Alice's driver on hci0
//! advertises a tag; bob's on hci1 hears it, connects over GATT, and packets go both ways, each
//! whole.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use courier_drivers::ble::advertisement::tag_text;
use courier_drivers::ble::bluez::BluezDriver;
use courier_io::{ChannelIds, Driver, DriverContext, DriverEvent, IoRequest, TransportIndex};

const T: TransportIndex = TransportIndex(0);

fn driver(
    runtime: &tokio::runtime::Runtime,
    adapter: &str,
    ids: ChannelIds,
) -> (BluezDriver, mpsc::Receiver<DriverEvent>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let cx = DriverContext {
        sink: Arc::new(move |e| {
            let _ = tx.lock().unwrap().send(e);
        }),
        ids,
        runtime: runtime.handle().clone(),
    };
    (BluezDriver::new(cx, Some(adapter.into())), rx)
}

fn next<T>(
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

#[test]
fn bob_s_bluez_driver_hears_alice_s_tag_connects_over_gatt_and_packets_go_both_ways_whole() {
    let dir = tempfile::tempdir().unwrap();
    let Some(zoo) = courier_tor_net::bluezoo::Zoo::start(dir.path()).unwrap() else {
        return;
    };
    // Safety: set before any D-Bus client of this process connects; no other test reads it.
    unsafe { std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", zoo.address()) };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ids = ChannelIds::default();
    let (mut alice, alice_events) = driver(&runtime, "hci0", ids.clone());
    let (mut bob, bob_events) = driver(&runtime, "hci1", ids.clone());
    let tag = tag_text(&[9; 10]);
    alice
        .carry_out(T, IoRequest::BleAdvertise, std::slice::from_ref(&tag))
        .unwrap();
    bob.carry_out(T, IoRequest::BleScan { enabled: true }, &[])
        .unwrap();
    let address = next(&bob_events, |e| match e {
        DriverEvent::Found {
            tag: found,
            address,
            ..
        } if found == tag => Some(address),
        DriverEvent::Medium { state, .. } => panic!("bob's radio: {state}"),
        _ => None,
    });
    assert_eq!(address, "00:00:00:11:11:11", "alice's adapter");

    let channel = ids.next();
    bob.carry_out(T, IoRequest::BleConnect { channel, address }, &[])
        .unwrap();
    let size = next(&bob_events, |e| match e {
        DriverEvent::PacketSize { channel: c, bytes } if c == channel => Some(bytes),
        DriverEvent::Failed { reason, .. } => panic!("{reason}"),
        _ => None,
    });
    assert!(size >= 20, "{size}");
    let accepted = next(&alice_events, |e| match e {
        DriverEvent::Accepted { channel, .. } => Some(channel),
        _ => None,
    });
    let packets: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 20]).collect();
    for packet in &packets {
        assert!(bob.write(channel, packet.clone()));
        assert!(alice.write(accepted, packet.iter().map(|b| b ^ 0xff).collect()));
    }
    let at = |events: &mpsc::Receiver<DriverEvent>, on: u64| {
        (0..packets.len())
            .map(|_| {
                next(events, |e| match e {
                    DriverEvent::Received { channel, data } if channel == on => Some(data),
                    _ => None,
                })
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        at(&alice_events, accepted),
        packets,
        "bob's writes, each whole"
    );
    let flipped: Vec<Vec<u8>> = packets
        .iter()
        .map(|p| p.iter().map(|b| b ^ 0xff).collect())
        .collect();
    assert_eq!(
        at(&bob_events, channel),
        flipped,
        "alice's notifications, each whole"
    );
    alice.shutdown();
    bob.shutdown();
}
