//! The peripheral role through BlueZ (`bluer`, Linux): the node's tags advertised as
//! manufacturer data, and a GATT service whose two characteristics carry each central's packets,
//! one each way. BlueZ's `AcquireWrite` / `AcquireNotify` sockets keep packet boundaries, so each
//! write and each notification is one packet.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bluer::Address;
use bluer::adv::{Advertisement, Type as AdvertisementType};
use bluer::gatt::local::{
    Application, Characteristic, CharacteristicControlEvent, CharacteristicNotify,
    CharacteristicNotifyMethod, CharacteristicWrite, CharacteristicWriteMethod, Service,
    characteristic_control,
};
use bluer::gatt::{CharacteristicReader, CharacteristicWriter};
use courier_io::{ChannelId, ChannelIds, DriverContext, DriverEvent, Sink, TransportIndex};
use futures::StreamExt;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::adapter::OnDemand;
use super::advertisement::{COMPANY_ID, rotation};
use super::gatt::{SERVICE, TO_CENTRAL, TO_PERIPHERAL};
use super::{Began, open_channel};
use crate::pump::{Queue, WritersHandle};

/// How long each advertisement of a rotation is on the air.
const ADVERTISE_SLOT: Duration = Duration::from_secs(1);

/// The peripheral role of one node.
pub(super) struct Peripheral {
    adapter: OnDemand<bluer::Adapter>,
    sink: Sink,
    ids: ChannelIds,
    /// Per transport: its GATT service with the connections it accepts (kept while the node
    /// runs, so a central that connected before a rotation still finds it), and its advertising.
    serving: HashMap<TransportIndex, (JoinHandle<()>, watch::Receiver<bool>)>,
    advertising: HashMap<TransportIndex, JoinHandle<()>>,
}

impl Peripheral {
    pub(super) fn new(cx: &DriverContext, adapter: Option<String>) -> Self {
        Peripheral {
            adapter: OnDemand::new(cx, adapter, |name| Box::pin(open(name))),
            sink: cx.sink.clone(),
            ids: cx.ids.clone(),
            serving: HashMap::new(),
            advertising: HashMap::new(),
        }
    }

    /// Serves the GATT service (once) and puts `tags` on the air, in turn.
    pub(super) fn advertise(
        &mut self,
        transport: TransportIndex,
        tags: &[String],
        writers: WritersHandle,
    ) {
        self.withdraw(transport);
        let adverts = rotation(tags);
        if adverts.is_empty() {
            return;
        }
        if !self.serving.contains_key(&transport) {
            let (sink, ids) = (self.sink.clone(), self.ids.clone());
            let (served, serving) = watch::channel(false);
            let task = self.adapter.run(
                transport,
                move |adapter| serve(adapter, transport, served, sink, ids, writers),
                |_| {},
            );
            self.serving.insert(transport, (task, serving));
        }
        let mut served = self.serving[&transport].1.clone();
        let task = self.adapter.run(
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

    /// Takes `transport`'s advertisements off the air (its service stays, for who is connected).
    pub(super) fn withdraw(&mut self, transport: TransportIndex) {
        if let Some(task) = self.advertising.remove(&transport) {
            task.abort();
        }
    }

    /// The keys rotated: an advertising transport goes on the air with its new `tags`.
    pub(super) fn retag(
        &mut self,
        transport: TransportIndex,
        tags: &[String],
        writers: WritersHandle,
    ) {
        if self.advertising.contains_key(&transport) {
            self.advertise(transport, tags, writers);
        }
    }

    pub(super) fn shutdown(&mut self) {
        let serving = self.serving.drain().map(|(t, (task, _))| (t, task));
        for (_, task) in self.advertising.drain().chain(serving) {
            task.abort();
        }
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

/// Accepts a channel for each central that subscribes to [`TO_CENTRAL`]; its writes to
/// [`TO_PERIPHERAL`] join that channel once BlueZ acquires them (at the central's first write,
/// which may come before or after the subscription).
async fn accept(
    transport: TransportIndex,
    to_us: bluer::gatt::local::CharacteristicControl,
    to_them: bluer::gatt::local::CharacteristicControl,
    sink: Sink,
    ids: ChannelIds,
    writers: WritersHandle,
) {
    futures::pin_mut!(to_us, to_them);
    let mut early: HashMap<Address, CharacteristicReader> = HashMap::new();
    let mut waiting: HashMap<Address, oneshot::Sender<CharacteristicReader>> = HashMap::new();
    loop {
        tokio::select! {
            Some(event) = to_us.next() => {
                let CharacteristicControlEvent::Write(request) = event else { continue };
                let device = request.device_address();
                let Ok(reader) = request.accept() else { continue };
                match waiting.remove(&device) {
                    Some(channel) if !channel.is_closed() => {
                        let _ = channel.send(reader);
                    }
                    _ => {
                        early.insert(device, reader);
                    }
                }
            },
            Some(event) = to_them.next() => {
                let CharacteristicControlEvent::Notify(writer) = event else { continue };
                let device = writer.device_address();
                let (reader_to, reader) = oneshot::channel();
                match early.remove(&device) {
                    Some(early) => {
                        let _ = reader_to.send(early);
                    }
                    None => {
                        waiting.insert(device, reader_to);
                    }
                }
                let channel = ids.next();
                let queue = open_channel(
                    &writers,
                    &sink,
                    channel,
                    Began::Accepted(transport),
                    writer.mtu(),
                );
                tokio::spawn(carry(
                    channel,
                    reader,
                    writer,
                    queue,
                    sink.clone(),
                    writers.alive(),
                ));
            },
            else => return,
        }
    }
}

/// Carries one connection's packets both ways until either side ends it.
async fn carry(
    channel: ChannelId,
    reader: oneshot::Receiver<CharacteristicReader>,
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
    let reader = tokio::select! {
        reader = reader => reader.ok(),
        _ = &mut sending => None,
    };
    if let Some(reader) = reader {
        loop {
            tokio::select! {
                read = reader.recv() => match read {
                    Ok(packet) if !packet.is_empty() => sink(DriverEvent::Received { channel, data: packet }),
                    _ => break,
                },
                _ = &mut sending => break,
            }
        }
    }
    sending.abort();
    sink(DriverEvent::Closed { channel });
}
