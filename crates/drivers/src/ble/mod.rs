//! Bluetooth Low Energy: what goes on the air ([`advertisement`]) and the radios that carry it.
//! `[bluetooth] medium` picks one: the machine's own ([`machine`]: bluer for the peripheral role,
//! btleplug for the central), or `ble-sim` ([`sim`]), a simulated radio between nodes on one
//! machine for tests and benchmarks.

#[cfg(feature = "ble-central")]
mod adapter;
pub mod advertisement;
#[cfg(feature = "ble-central")]
mod central;
#[cfg(feature = "ble-central")]
pub mod gatt;
#[cfg(feature = "ble-central")]
pub mod machine;
#[cfg(feature = "bluez")]
mod peripheral;
pub mod sim;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use courier_config::bluetooth::{BleMedium, BluetoothConfig};
use courier_io::{
    ChannelId, Driver, DriverContext, DriverError, DriverEvent, IoRequest, MediumState, Sink,
    StartDriver, TransportIndex,
};

/// The driver `config` picks for the `ble` capability.
pub fn driver(config: &BluetoothConfig) -> StartDriver {
    match (config.medium, config.sim.clone()) {
        (BleMedium::BleSim, Some(sim)) => {
            Box::new(move |cx| Ok(Box::new(sim::SimDriver::new(cx, &sim)) as Box<dyn Driver>))
        }
        #[cfg(feature = "ble-central")]
        _ => {
            let adapter = config.adapter.clone();
            Box::new(move |cx| {
                Ok(Box::new(machine::MachineRadio::new(cx, adapter)) as Box<dyn Driver>)
            })
        }
        #[cfg(not(feature = "ble-central"))]
        _ => Box::new(|cx| Ok(Box::new(NoRadio::new(cx)) as Box<dyn Driver>)),
    }
}

/// Whether `request` is one of the `ble` capability's.
pub(crate) fn is_ble_request(request: &IoRequest) -> bool {
    matches!(
        request,
        IoRequest::BleAdvertise
            | IoRequest::BleWithdraw
            | IoRequest::BleScan { .. }
            | IoRequest::BleConnect { .. }
    )
}

/// How a connection began: we dialed it, or a central connected to us on a transport.
pub(crate) enum Began {
    Dialed,
    Accepted(TransportIndex),
}

/// Registers `channel`'s writes and tells the node it is open, and its packet size (the ATT MTU
/// less 3): the queue its writer reads.
pub(crate) fn open_channel(
    writers: &crate::pump::WritersHandle,
    sink: &Sink,
    channel: ChannelId,
    began: Began,
    packet: usize,
) -> crate::pump::Queue {
    let queue = writers.open(channel);
    sink(match began {
        Began::Dialed => DriverEvent::Opened { channel },
        Began::Accepted(transport) => DriverEvent::Accepted {
            transport,
            channel,
            name: None,
        },
    });
    sink(DriverEvent::PacketSize {
        channel,
        bytes: u32::try_from(packet).unwrap_or(u32::MAX),
    });
    queue
}

/// How long a scan stays quiet about a tag it reported at one address.
const REPORT_AGAIN_AFTER: Duration = Duration::from_secs(2);

/// The (tag, address) pairs a scan reported lately: a radio hears an advertisement many times a
/// second, the node needs it once in a while.
#[derive(Debug, Default)]
pub(crate) struct Heard {
    reported: HashMap<(String, String), Instant>,
}

impl Heard {
    /// Whether `tag` at `address` is to be reported now (and so counts as reported).
    pub(crate) fn fresh(&mut self, tag: &str, address: &str) -> bool {
        let key = (tag.to_owned(), address.to_owned());
        if self
            .reported
            .get(&key)
            .is_some_and(|at| at.elapsed() < REPORT_AGAIN_AFTER)
        {
            return false;
        }
        // What is older than that is forgotten: a scan in a busy place holds only the last moments.
        self.reported
            .retain(|_, at| at.elapsed() < REPORT_AGAIN_AFTER);
        self.reported.insert(key, Instant::now());
        true
    }
}

/// The machine's radio where this build cannot drive one (built without `bluez` or `ble-central`): every BLE request is answered by the
/// transport's state, in one line, and nothing else in the node is affected.
pub struct NoRadio {
    sink: Sink,
}

impl NoRadio {
    /// The driver for a node whose transports are granted `ble`.
    pub fn new(cx: DriverContext) -> Self {
        NoRadio { sink: cx.sink }
    }
}

/// What a transport on [`NoRadio`] says.
pub const NO_RADIO: &str = "this build has no Bluetooth driver (built without the `bluez` or `ble-central` feature); Bluetooth runs only on the simulated radio, [bluetooth] medium = \"ble-sim\"";

impl Driver for NoRadio {
    fn name(&self) -> &'static str {
        "ble"
    }

    fn handles(&self, request: &IoRequest) -> bool {
        is_ble_request(request)
    }

    fn carry_out(
        &mut self,
        transport: TransportIndex,
        request: IoRequest,
        _tags: &[String],
    ) -> Result<(), DriverError> {
        if let IoRequest::BleConnect { channel, .. } = request {
            (self.sink)(DriverEvent::Failed {
                channel,
                reason: NO_RADIO.into(),
            });
        }
        (self.sink)(DriverEvent::Medium {
            transport,
            state: MediumState::Unreachable {
                reason: NO_RADIO.into(),
            },
        });
        Ok(())
    }

    fn write(&mut self, _channel: ChannelId, _data: Vec<u8>) -> bool {
        false
    }

    fn close(&mut self, _channel: ChannelId) {}

    fn shutdown(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_heard_at_an_address_is_reported_once_in_a_while_and_old_reports_are_forgotten() {
        let mut heard = Heard::default();
        assert!(heard.fresh("tag", "C1:00:00:00:00:01"));
        assert!(
            !heard.fresh("tag", "C1:00:00:00:00:01"),
            "heard again at once"
        );
        assert!(heard.fresh("tag", "C1:00:00:00:00:02"), "another address");
        assert!(heard.fresh("other", "C1:00:00:00:00:01"), "another tag");
        let long_ago = Instant::now() - REPORT_AGAIN_AFTER;
        for at in heard.reported.values_mut() {
            *at = long_ago;
        }
        assert!(
            heard.fresh("tag", "C1:00:00:00:00:01"),
            "reported again after a while"
        );
        assert_eq!(heard.reported.len(), 1, "what is older is forgotten");
    }
}
