//! The machine's Bluetooth driver (bluer peripheral, btleplug central) against BlueZ's D-Bus API as BlueZoo serves it: a private
//! `dbus-daemon` and BlueZoo with two adapters, no radio (`courier_tor_net::bluezoo`). Alice's driver on hci0
//! advertises a tag; bob's on hci1 hears it, connects over GATT, and packets go both ways, each
//! whole.

use std::sync::mpsc;

use courier_drivers::ble::advertisement::tag_text;
use courier_drivers::ble::machine::MachineRadio;
use courier_io::{ChannelIds, Driver, DriverEvent, IoRequest, TransportIndex};

use crate::recorded::{bob_hears, next, recorded};

const T: TransportIndex = TransportIndex(0);

/// A BlueZ driver on `adapter`, and its events.
fn driver(
    runtime: &tokio::runtime::Runtime,
    adapter: &str,
    ids: ChannelIds,
) -> (MachineRadio, mpsc::Receiver<DriverEvent>) {
    recorded(runtime, ids, |cx| {
        MachineRadio::new(cx, Some(adapter.into()))
    })
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
    let address = bob_hears(&mut alice, &mut bob, &bob_events, &tag_text(&[9; 10]));
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
