//! Bluetooth Low Energy: what goes on the air ([`advertisement`]) and the radios that carry it.
//! `[bluetooth] medium` picks one: the machine's own through BlueZ, or `ble-sim` ([`sim`]), a
//! simulated radio between nodes on one machine for tests and benchmarks.

pub mod advertisement;
pub mod sim;

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
        _ => Box::new(|cx| Ok(Box::new(NoRadio::new(cx)) as Box<dyn Driver>)),
    }
}

/// The machine's radio where this build cannot drive one: every BLE request is answered by the
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
pub const NO_RADIO: &str = "this build drives no Bluetooth adapter yet (BlueZ support is coming); Bluetooth runs only on the simulated radio, [bluetooth] medium = \"ble-sim\"";

impl Driver for NoRadio {
    fn name(&self) -> &'static str {
        "ble"
    }

    fn handles(&self, request: &IoRequest) -> bool {
        matches!(
            request,
            IoRequest::BleAdvertise
                | IoRequest::BleWithdraw
                | IoRequest::BleScan { .. }
                | IoRequest::BleConnect { .. }
        )
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
