//! The simulated Bluetooth radio (`ble-sim`) between two drivers sharing a directory of air: what a
//! scanner sees, and connections that carry packets of the link's size and nothing larger.

use std::time::Duration;

use courier_config::bluetooth::BleSimConfig;
use courier_drivers::ble::advertisement::{tag_text, tags_in};
use courier_drivers::ble::sim::SimDriver;
use courier_io::{ChannelIds, Driver, DriverEvent, IoRequest, TransportIndex};

use crate::recorded::{bob_hears, next, recorded};

const T: TransportIndex = TransportIndex(0);

fn radio(air: &std::path::Path) -> BleSimConfig {
    BleSimConfig {
        air: air.to_owned(),
        mtu: 185,
        interval_ms: 10,
        packets_per_interval: 4,
        setup_ms: 50,
        drop_every_secs: 0.0,
    }
}

/// A driver on the simulated radio whose air is `air`, and its events.
fn driver(
    runtime: &tokio::runtime::Runtime,
    air: &std::path::Path,
    ids: ChannelIds,
) -> (SimDriver, std::sync::mpsc::Receiver<DriverEvent>) {
    recorded(runtime, ids, |cx| SimDriver::new(cx, &radio(air)))
}

/// Every advertisement on the air: (address, what it carries).
fn on_the_air(air: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut heard: Vec<(String, Vec<u8>)> = std::fs::read_dir(air)
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            Some((
                name.strip_suffix(".adv")?.to_owned(),
                std::fs::read(e.path()).ok()?,
            ))
        })
        .collect();
    heard.sort();
    heard
}

#[test]
fn a_scanner_that_is_no_contact_sees_nothing_in_common_between_two_rotation_periods() {
    let air = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (mut alice, _events) = driver(&runtime, air.path(), ChannelIds::default());
    let (this_period, next_period) = (tag_text(&[1; 10]), tag_text(&[2; 10]));
    alice
        .carry_out(
            T,
            IoRequest::BleAdvertise,
            std::slice::from_ref(&this_period),
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let before = on_the_air(air.path());
    assert_eq!(before.len(), 1);
    assert_eq!(tags_in(&before[0].1)[0], this_period, "and a random filler");
    // The keys rotate: the node hands the driver the next period's tags.
    alice.retag(T, std::slice::from_ref(&next_period));
    std::thread::sleep(Duration::from_millis(100));
    let after = on_the_air(air.path());
    assert_eq!(after.len(), 1, "the old advertisement is gone");
    assert_ne!(before[0].0, after[0].0, "a new address");
    assert_ne!(before[0].1, after[0].1, "new tags");
    assert_eq!(tags_in(&after[0].1)[0], next_period);
    let earlier = tags_in(&before[0].1);
    assert!(
        tags_in(&after[0].1).iter().all(|t| !earlier.contains(t)),
        "no tag, filler or not, stays"
    );
    alice.carry_out(T, IoRequest::BleWithdraw, &[]).unwrap();
    assert!(
        on_the_air(air.path()).is_empty(),
        "withdrawn, nothing is on the air"
    );
}

#[test]
fn bob_finds_alice_s_tag_connects_and_each_packet_arrives_whole_and_an_oversize_one_ends_the_link()
{
    let air = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ids = ChannelIds::default();
    let (mut alice, alice_events) = driver(&runtime, air.path(), ids.clone());
    let (mut bob, bob_events) = driver(&runtime, air.path(), ids.clone());
    let address = bob_hears(&mut alice, &mut bob, &bob_events, &tag_text(&[7; 10]));

    let channel = ids.next();
    bob.carry_out(T, IoRequest::BleConnect { channel, address }, &[])
        .unwrap();
    next(&bob_events, |e| {
        matches!(e, DriverEvent::Opened { channel: c } if c == channel).then_some(())
    });
    let size = next(&bob_events, |e| match e {
        DriverEvent::PacketSize { channel: c, bytes } if c == channel => Some(bytes),
        _ => None,
    });
    assert_eq!(size, 182, "an ATT MTU of 185 less its header");
    let accepted = next(&alice_events, |e| match e {
        DriverEvent::Accepted { channel, .. } => Some(channel),
        _ => None,
    });
    let packets: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 182]).collect();
    for packet in &packets {
        assert!(bob.write(channel, packet.clone()));
    }
    let mut got = Vec::new();
    while got.len() < packets.len() {
        got.push(next(&alice_events, |e| match e {
            DriverEvent::Received { channel, data } if channel == accepted => Some(data),
            _ => None,
        }));
    }
    assert_eq!(got, packets, "one read per packet, none joined or split");

    assert!(bob.write(channel, vec![0; 183]));
    next(&alice_events, |e| {
        matches!(e, DriverEvent::Closed { channel } if channel == accepted).then_some(())
    });
    next(&bob_events, |e| {
        matches!(e, DriverEvent::Closed { channel: c } if c == channel).then_some(())
    });
}
