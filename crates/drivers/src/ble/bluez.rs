//! The machine's Bluetooth through BlueZ (`bluer`, feature `bluez`): the peripheral role (the node's
//! tags advertised as manufacturer data, a GATT service whose two characteristics carry a
//! connection's packets, one each way) and the central role (a scan that reports the tags it hears,
//! connections to the same service). A channel is one connection: the central writes packets to
//! [`TO_PERIPHERAL`] and reads notifications of [`TO_CENTRAL`]; each write and each notification is
//! one packet of at most the ATT MTU less 3 (BlueZ's `AcquireWrite` / `AcquireNotify` sockets keep
//! packet boundaries). Not yet: L2CAP connection-oriented channels, and a random address of our
//! choosing (BlueZ's privacy setting decides the address).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bluer::adv::{Advertisement, Type as AdvertisementType};
use bluer::gatt::local::{
    Application, Characteristic, CharacteristicControlEvent, CharacteristicNotify,
    CharacteristicNotifyMethod, CharacteristicWrite, CharacteristicWriteMethod, Service,
    characteristic_control,
};
use bluer::gatt::{CharacteristicReader, CharacteristicWriter};
use bluer::{AdapterEvent, Address, DiscoveryFilter, DiscoveryTransport, Uuid};
use courier_io::{
    ChannelId, ChannelIds, Driver, DriverContext, DriverError, DriverEvent, IoRequest, MediumState,
    Sink, TransportIndex,
};
use futures::StreamExt;
use tokio::sync::{OnceCell, watch};
use tokio::task::JoinHandle;

use super::advertisement::{COMPANY_ID, rotation, tags_in};
use super::{Heard, is_ble_request};
use crate::pump::{Queue, Writers, WritersHandle};

/// Courier's GATT service.
pub const SERVICE: Uuid = Uuid::from_u128(0x7a1e_0001_5c0a_4c1e_9e0f_c0c0_0a11_e7c3);
/// The characteristic a central writes its packets to.
pub const TO_PERIPHERAL: Uuid = Uuid::from_u128(0x7a1e_0002_5c0a_4c1e_9e0f_c0c0_0a11_e7c3);
/// The characteristic whose notifications carry the peripheral's packets.
pub const TO_CENTRAL: Uuid = Uuid::from_u128(0x7a1e_0003_5c0a_4c1e_9e0f_c0c0_0a11_e7c3);
/// How long each advertisement of a rotation is on the air.
const ADVERTISE_SLOT: Duration = Duration::from_secs(1);
/// How long a stopping node waits for queued packets to leave.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

type Radio = Arc<OnceCell<Result<bluer::Adapter, String>>>;

/// The BlueZ driver of one node; it reaches BlueZ on the first Bluetooth request.
pub struct BluezDriver {
    runtime: tokio::runtime::Handle,
    sink: Sink,
    ids: ChannelIds,
    adapter_name: Option<String>,
    radio: Radio,
    writers: Writers,
    /// Per transport: its GATT service with the connections it accepts (kept while the node
    /// runs, so a central that connected before a rotation still finds it), and its advertising.
    serving: HashMap<TransportIndex, (JoinHandle<()>, watch::Receiver<bool>)>,
    advertising: HashMap<TransportIndex, JoinHandle<()>>,
    scanning: HashMap<TransportIndex, JoinHandle<()>>,
}

impl BluezDriver {
    /// A driver for the adapter named `adapter_name` (`hci0`, …; BlueZ's default if `None`).
    pub fn new(cx: DriverContext, adapter_name: Option<String>) -> Self {
        BluezDriver {
            runtime: cx.runtime,
            sink: cx.sink,
            ids: cx.ids,
            adapter_name,
            radio: Radio::default(),
            writers: Writers::default(),
            serving: HashMap::new(),
            advertising: HashMap::new(),
            scanning: HashMap::new(),
        }
    }

    /// Runs `job` on the adapter, once BlueZ answered; if it cannot, `transport` says why in one
    /// line and `failed` runs instead.
    fn with_adapter<F, Fut>(
        &self,
        transport: TransportIndex,
        job: F,
        failed: impl FnOnce(&str) + Send + 'static,
    ) -> JoinHandle<()>
    where
        F: FnOnce(bluer::Adapter) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = bluer::Result<()>> + Send,
    {
        let (radio, name, sink) = (
            self.radio.clone(),
            self.adapter_name.clone(),
            self.sink.clone(),
        );
        self.runtime.spawn(async move {
            let adapter = radio.get_or_init(|| open(name)).await.clone();
            let outcome = match adapter {
                Ok(adapter) => job(adapter).await.map_err(|e| e.to_string()),
                Err(reason) => Err(reason),
            };
            if let Err(reason) = outcome {
                tracing::warn!("Bluetooth: {reason}");
                sink(DriverEvent::Medium {
                    transport,
                    state: MediumState::Unreachable {
                        reason: format!("Bluetooth: {reason}"),
                    },
                });
                failed(&reason);
            }
        })
    }

    fn advertise(&mut self, transport: TransportIndex, tags: &[String]) {
        if let Some(task) = self.advertising.remove(&transport) {
            task.abort();
        }
        let adverts = rotation(tags);
        if adverts.is_empty() {
            return;
        }
        if !self.serving.contains_key(&transport) {
            let (sink, ids, writers) = (self.sink.clone(), self.ids.clone(), self.writers.handle());
            let (served, serving) = watch::channel(false);
            let task = self.with_adapter(
                transport,
                move |adapter| serve(adapter, transport, served, sink, ids, writers),
                |_| {},
            );
            self.serving.insert(transport, (task, serving));
        }
        let mut served = self.serving[&transport].1.clone();
        let task = self.with_adapter(
            transport,
            move |adapter| async move {
                // A central that hears us must find the service: it is served before we advertise.
                if served.wait_for(|up| *up).await.is_err() {
                    return Ok(());
                }
                announce(adapter, adverts).await
            },
            |_| {},
        );
        self.advertising.insert(transport, task);
    }

    fn scan(&mut self, transport: TransportIndex, enabled: bool) {
        if let Some(task) = self.scanning.remove(&transport) {
            task.abort();
        }
        if !enabled {
            return;
        }
        let sink = self.sink.clone();
        let task = self.with_adapter(
            transport,
            move |adapter| scan(adapter, transport, sink),
            |_| {},
        );
        self.scanning.insert(transport, task);
    }

    fn connect(&mut self, transport: TransportIndex, channel: ChannelId, address: String) {
        let (sink, writers) = (self.sink.clone(), self.writers.handle());
        let failed_sink = self.sink.clone();
        self.with_adapter(
            transport,
            move |adapter| async move {
                match dial(&adapter, &address).await {
                    Ok((device, writer, reader)) => {
                        let queue = writers.open(channel);
                        sink(DriverEvent::Opened { channel });
                        sink(DriverEvent::PacketSize {
                            channel,
                            bytes: writer.mtu() as u32,
                        });
                        tokio::spawn(async move {
                            carry(channel, reader, writer, queue, sink, writers.alive()).await;
                            // The next connection starts afresh, with the peer's service as it is then.
                            let _ = device.disconnect().await;
                        });
                    }
                    Err(e) => sink(DriverEvent::Failed {
                        channel,
                        reason: format!("the device did not connect: {e}"),
                    }),
                }
                Ok(())
            },
            move |reason| {
                failed_sink(DriverEvent::Failed {
                    channel,
                    reason: reason.to_owned(),
                });
            },
        );
    }
}

/// BlueZ's adapter `name` (its default if `None`), powered on.
async fn open(name: Option<String>) -> Result<bluer::Adapter, String> {
    let session = bluer::Session::new().await.map_err(|e| {
        format!("BlueZ does not answer on D-Bus ({e}); is bluetoothd running? Bluetooth is off, everything else runs")
    })?;
    let adapter = match &name {
        Some(name) => session.adapter(name),
        None => session.default_adapter().await,
    }
    .map_err(|e| format!("no Bluetooth adapter ({e}); Bluetooth is off, everything else runs"))?;
    adapter
        .set_powered(true)
        .await
        .map_err(|e| format!("the Bluetooth adapter cannot be powered on ({e})"))?;
    Ok(adapter)
}

/// The peripheral role for `transport`: the GATT service, and connections to it as channels.
async fn serve(
    adapter: bluer::Adapter,
    transport: TransportIndex,
    served: watch::Sender<bool>,
    sink: Sink,
    ids: ChannelIds,
    writers: WritersHandle,
) -> bluer::Result<()> {
    let (to_us, to_us_handle) = characteristic_control();
    let (to_them, to_them_handle) = characteristic_control();
    let application = Application {
        services: vec![Service {
            uuid: SERVICE,
            primary: true,
            characteristics: vec![
                Characteristic {
                    uuid: TO_PERIPHERAL,
                    write: Some(CharacteristicWrite {
                        write_without_response: true,
                        method: CharacteristicWriteMethod::Io,
                        ..Default::default()
                    }),
                    control_handle: to_us_handle,
                    ..Default::default()
                },
                Characteristic {
                    uuid: TO_CENTRAL,
                    notify: Some(CharacteristicNotify {
                        notify: true,
                        method: CharacteristicNotifyMethod::Io,
                        ..Default::default()
                    }),
                    control_handle: to_them_handle,
                    ..Default::default()
                },
            ],
            ..Default::default()
        }],
        ..Default::default()
    };
    let _application = adapter.serve_gatt_application(application).await?;
    served.send_replace(true);
    accept(transport, to_us, to_them, sink, ids, writers).await;
    Ok(())
}

/// The advertisements in turn, each for [`ADVERTISE_SLOT`]; one alone stays on the air with
/// nothing more to do until the tags change.
async fn announce(adapter: bluer::Adapter, adverts: Vec<Vec<u8>>) -> bluer::Result<()> {
    let alone = adverts.len() == 1;
    let mut groups = adverts.into_iter().cycle();
    loop {
        let data = groups.next().unwrap_or_default();
        let advertisement = Advertisement {
            advertisement_type: AdvertisementType::Peripheral,
            manufacturer_data: BTreeMap::from([(COMPANY_ID, data)]),
            discoverable: Some(true),
            ..Default::default()
        };
        let _on_the_air = adapter.advertise(advertisement).await?;
        if alone {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(ADVERTISE_SLOT).await;
    }
}

/// Pairs each central's write stream and notification subscription into one accepted channel.
async fn accept(
    transport: TransportIndex,
    to_us: bluer::gatt::local::CharacteristicControl,
    to_them: bluer::gatt::local::CharacteristicControl,
    sink: Sink,
    ids: ChannelIds,
    writers: WritersHandle,
) {
    futures::pin_mut!(to_us, to_them);
    let mut readers: HashMap<Address, CharacteristicReader> = HashMap::new();
    let mut notifiers: HashMap<Address, CharacteristicWriter> = HashMap::new();
    loop {
        let device = tokio::select! {
            Some(event) = to_us.next() => match event {
                CharacteristicControlEvent::Write(request) => {
                    let device = request.device_address();
                    match request.accept() {
                        Ok(reader) => {
                            readers.insert(device, reader);
                            device
                        }
                        Err(_) => continue,
                    }
                }
                CharacteristicControlEvent::Notify(_) => continue,
            },
            Some(event) = to_them.next() => match event {
                CharacteristicControlEvent::Notify(writer) => {
                    let device = writer.device_address();
                    notifiers.insert(device, writer);
                    device
                }
                CharacteristicControlEvent::Write(_) => continue,
            },
            else => return,
        };
        if !(readers.contains_key(&device) && notifiers.contains_key(&device)) {
            continue;
        }
        let (Some(reader), Some(writer)) = (readers.remove(&device), notifiers.remove(&device))
        else {
            continue;
        };
        let channel = ids.next();
        let queue = writers.open(channel);
        sink(DriverEvent::Accepted {
            transport,
            channel,
            name: None,
        });
        sink(DriverEvent::PacketSize {
            channel,
            bytes: writer.mtu() as u32,
        });
        tokio::spawn(carry(
            channel,
            reader,
            writer,
            queue,
            sink.clone(),
            writers.alive(),
        ));
    }
}

/// Reports the tags heard in advertisements, at each device's address.
async fn scan(adapter: bluer::Adapter, transport: TransportIndex, sink: Sink) -> bluer::Result<()> {
    adapter
        .set_discovery_filter(DiscoveryFilter {
            transport: DiscoveryTransport::Le,
            ..Default::default()
        })
        .await?;
    let events = adapter.discover_devices_with_changes().await?;
    futures::pin_mut!(events);
    let mut heard = Heard::default();
    while let Some(event) = events.next().await {
        let AdapterEvent::DeviceAdded(address) = event else {
            continue;
        };
        let Ok(device) = adapter.device(address) else {
            continue;
        };
        let data = device
            .manufacturer_data()
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let Some(ours) = data.get(&COMPANY_ID) else {
            continue;
        };
        let address = address.to_string();
        for tag in tags_in(ours) {
            if heard.fresh(&tag, &address) {
                sink(DriverEvent::Found {
                    transport,
                    tag,
                    address: address.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Connects to the device at `address` and opens Courier's two characteristics.
async fn dial(
    adapter: &bluer::Adapter,
    address: &str,
) -> bluer::Result<(bluer::Device, CharacteristicWriter, CharacteristicReader)> {
    let address: Address = address.parse().map_err(|_| bluer::Error {
        kind: bluer::ErrorKind::InvalidArguments,
        message: "not a Bluetooth address".into(),
    })?;
    let device = adapter.device(address)?;
    if !device.is_connected().await? {
        device.connect().await?;
    }
    let (mut to_them, mut to_us) = (None, None);
    for service in device.services().await? {
        if service.uuid().await? != SERVICE {
            continue;
        }
        for characteristic in service.characteristics().await? {
            match characteristic.uuid().await? {
                TO_PERIPHERAL => to_them = Some(characteristic),
                TO_CENTRAL => to_us = Some(characteristic),
                _ => {}
            }
        }
    }
    let (Some(to_them), Some(to_us)) = (to_them, to_us) else {
        return Err(bluer::Error {
            kind: bluer::ErrorKind::ServicesUnresolved,
            message: "the device has no Courier service".into(),
        });
    };
    let (writer, reader) = (to_them.write_io().await?, to_us.notify_io().await?);
    Ok((device, writer, reader))
}

/// Carries one connection's packets both ways until either side ends it.
async fn carry(
    channel: ChannelId,
    reader: CharacteristicReader,
    writer: CharacteristicWriter,
    mut queue: Queue,
    sink: Sink,
    alive: Option<tokio::sync::mpsc::Sender<()>>,
) {
    let writer_sink = sink.clone();
    let mut sending = tokio::spawn(async move {
        let _alive = alive;
        while let Some(packet) = queue.recv().await {
            let len = packet.len();
            if packet.len() > writer.mtu() || writer.send(&packet).await.is_err() {
                return;
            }
            queue.wrote(len, &writer_sink);
        }
    });
    loop {
        tokio::select! {
            read = reader.recv() => match read {
                Ok(packet) if !packet.is_empty() => sink(DriverEvent::Received { channel, data: packet }),
                _ => break,
            },
            _ = &mut sending => break,
        }
    }
    sending.abort();
    sink(DriverEvent::Closed { channel });
}

impl Driver for BluezDriver {
    fn name(&self) -> &'static str {
        "bluez"
    }

    fn handles(&self, request: &IoRequest) -> bool {
        is_ble_request(request)
    }

    fn carry_out(
        &mut self,
        transport: TransportIndex,
        request: IoRequest,
        tags: &[String],
    ) -> Result<(), DriverError> {
        match request {
            IoRequest::BleAdvertise => self.advertise(transport, tags),
            IoRequest::BleWithdraw => {
                if let Some(task) = self.advertising.remove(&transport) {
                    task.abort();
                }
            }
            IoRequest::BleScan { enabled } => self.scan(transport, enabled),
            IoRequest::BleConnect { channel, address } => self.connect(transport, channel, address),
            _ => {}
        }
        Ok(())
    }

    fn retag(&mut self, transport: TransportIndex, tags: &[String]) {
        if self.advertising.contains_key(&transport) {
            self.advertise(transport, tags);
        }
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
        let tasks = self.advertising.drain().chain(self.scanning.drain());
        let serving = self.serving.drain().map(|(t, (task, _))| (t, task));
        for (_, task) in tasks.chain(serving) {
            task.abort();
        }
        self.writers.shutdown(&self.runtime, SHUTDOWN_GRACE);
    }
}
