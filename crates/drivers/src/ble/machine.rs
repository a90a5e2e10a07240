//! The machine's own Bluetooth, one driver for both roles: the peripheral (advertising, the GATT
//! service, accepting) through BlueZ ([`super::peripheral`], bluer, Linux; feature `bluez`) and the
//! central (scanning, connecting) through btleplug ([`super::central`], which also runs on macOS and
//! Windows; feature `ble-central`). A channel is one GATT connection: the central writes its
//! packets to [`super::gatt::TO_PERIPHERAL`] and hears the peripheral's as notifications of [`super::gatt::TO_CENTRAL`], each
//! one packet of at most the ATT MTU less 3. Not yet: L2CAP connection-oriented channels, and a
//! random address of our choosing (BlueZ's privacy setting decides the address).

use std::time::Duration;

#[cfg(not(feature = "bluez"))]
use courier_io::Sink;
use courier_io::{ChannelId, Driver, DriverContext, DriverError, IoRequest, TransportIndex};

#[cfg(not(feature = "bluez"))]
use super::adapter::unreachable;
use super::is_ble_request;
use crate::pump::Writers;

/// How long a stopping node waits for queued packets to leave.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// The Bluetooth driver of one node on the machine's adapter.
pub struct MachineRadio {
    runtime: tokio::runtime::Handle,
    #[cfg(not(feature = "bluez"))]
    sink: Sink,
    writers: Writers,
    #[cfg(feature = "bluez")]
    peripheral: super::peripheral::Peripheral,
    central: super::central::Central,
}

/// What a transport says where this build has no peripheral role (btleplug is a central only).
#[cfg(not(feature = "bluez"))]
const NO_PERIPHERAL: &str = "this build cannot advertise (the peripheral role needs BlueZ, feature `bluez`); it finds and dials contacts that advertise";

impl MachineRadio {
    /// A driver for the adapter named `adapter` (`hci0`, …; the first one if `None`).
    pub fn new(cx: DriverContext, adapter: Option<String>) -> Self {
        MachineRadio {
            #[cfg(feature = "bluez")]
            peripheral: super::peripheral::Peripheral::new(&cx, adapter.clone()),
            central: super::central::Central::new(&cx, adapter),
            runtime: cx.runtime,
            #[cfg(not(feature = "bluez"))]
            sink: cx.sink,
            writers: Writers::default(),
        }
    }
}

impl Driver for MachineRadio {
    fn name(&self) -> &'static str {
        "bluetooth"
    }

    fn handles(&self, request: &IoRequest) -> bool {
        is_ble_request(request)
    }

    #[cfg_attr(not(feature = "bluez"), allow(unused_variables))]
    fn carry_out(
        &mut self,
        transport: TransportIndex,
        request: IoRequest,
        tags: &[String],
    ) -> Result<(), DriverError> {
        match request {
            #[cfg(feature = "bluez")]
            IoRequest::BleAdvertise => {
                self.peripheral
                    .advertise(transport, tags, self.writers.handle())
            }
            #[cfg(feature = "bluez")]
            IoRequest::BleWithdraw => self.peripheral.withdraw(transport),
            #[cfg(not(feature = "bluez"))]
            IoRequest::BleAdvertise => unreachable(&self.sink, transport, NO_PERIPHERAL),
            IoRequest::BleScan { enabled } => self.central.scan(transport, enabled),
            IoRequest::BleConnect { channel, address } => {
                self.central
                    .connect(transport, channel, address, self.writers.handle())
            }
            _ => {}
        }
        Ok(())
    }

    #[cfg_attr(not(feature = "bluez"), allow(unused_variables))]
    fn retag(&mut self, transport: TransportIndex, tags: &[String]) {
        #[cfg(feature = "bluez")]
        self.peripheral
            .retag(transport, tags, self.writers.handle());
    }

    fn write(&mut self, channel: ChannelId, data: Vec<u8>) -> bool {
        self.writers.write(channel, data)
    }

    fn backlogged(&self, channel: ChannelId) -> bool {
        self.writers.backlogged(channel)
    }

    fn close(&mut self, channel: ChannelId) {
        self.writers.close(channel);
    }

    fn shutdown(&mut self) {
        #[cfg(feature = "bluez")]
        self.peripheral.shutdown();
        self.central.shutdown();
        self.writers.shutdown(&self.runtime, SHUTDOWN_GRACE);
    }
}
