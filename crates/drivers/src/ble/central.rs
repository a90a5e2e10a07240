//! The central role through btleplug (BlueZ on Linux, CoreBluetooth on macOS, WinRT on Windows):
//! a scan that reports the tags it hears, and connections to a contact's Courier service whose
//! packets go out as writes without response and come back as notifications.

use std::collections::HashMap;

use btleplug::api::{
    BDAddr, Central as _, CentralEvent, Characteristic, Manager as _, Peripheral as _, ScanFilter,
    ValueNotification, WriteType,
};
use btleplug::platform::{Adapter, Manager, Peripheral};
use courier_io::{ChannelId, DriverContext, DriverEvent, Sink, TransportIndex};
use futures::{Stream, StreamExt};
use tokio::task::JoinHandle;

use super::adapter::OnDemand;
use super::advertisement::{COMPANY_ID, tags_in};
use super::gatt::{SERVICE, TO_CENTRAL, TO_PERIPHERAL};
use super::{Began, Heard, open_channel};
use crate::pump::{Queue, WritersHandle};

/// What an ATT write or notification takes of the MTU.
const ATT_HEADER: usize = 3;

/// The central role of one node.
pub(super) struct Central {
    adapter: OnDemand<Adapter>,
    sink: Sink,
    scanning: HashMap<TransportIndex, JoinHandle<()>>,
}

impl Central {
    pub(super) fn new(cx: &DriverContext, adapter: Option<String>) -> Self {
        Central {
            adapter: OnDemand::new(cx, adapter, |name| Box::pin(open(name))),
            sink: cx.sink.clone(),
            scanning: HashMap::new(),
        }
    }

    /// Starts or stops `transport`'s scan.
    pub(super) fn scan(&mut self, transport: TransportIndex, enabled: bool) {
        if let Some(task) = self.scanning.remove(&transport) {
            task.abort();
        }
        if !enabled {
            return;
        }
        let sink = self.sink.clone();
        let task = self.adapter.run(
            transport,
            move |adapter| scan(adapter, transport, sink),
            |_| {},
        );
        self.scanning.insert(transport, task);
    }

    /// Connects `channel` to the device at `address`.
    pub(super) fn connect(
        &mut self,
        transport: TransportIndex,
        channel: ChannelId,
        address: String,
        writers: WritersHandle,
    ) {
        let (sink, failed_sink) = (self.sink.clone(), self.sink.clone());
        self.adapter.run(
            transport,
            move |adapter| async move {
                match dial(&adapter, &address).await {
                    Ok(link) => {
                        let queue =
                            open_channel(&writers, &sink, channel, Began::Dialed, link.packet);
                        tokio::spawn(carry(channel, link, queue, sink, writers.alive()));
                    }
                    Err(e) => sink(DriverEvent::Failed {
                        channel,
                        reason: format!("the device did not connect: {e}"),
                    }),
                }
                Ok::<_, btleplug::Error>(())
            },
            move |reason| {
                failed_sink(DriverEvent::Failed {
                    channel,
                    reason: reason.to_owned(),
                });
            },
        );
    }

    pub(super) fn shutdown(&mut self) {
        for (_, task) in self.scanning.drain() {
            task.abort();
        }
    }
}

/// The adapter named `name` (the first one if `None`).
async fn open(name: Option<String>) -> Result<Adapter, String> {
    let manager = Manager::new().await.map_err(|e| {
        format!("the Bluetooth stack does not answer ({e}); is bluetoothd running? Bluetooth is off, everything else runs")
    })?;
    let adapters = manager
        .adapters()
        .await
        .map_err(|e| format!("the Bluetooth adapters cannot be listed ({e})"))?;
    let mut found = None;
    for adapter in adapters {
        // btleplug names an adapter "hci0 (usb:…)" on Linux.
        let info = adapter.adapter_info().await.unwrap_or_default();
        let id = info.split(' ').next().unwrap_or_default();
        if name.as_deref().is_none_or(|name| name == id) {
            found = Some(adapter);
            break;
        }
    }
    found.ok_or_else(|| match name {
        Some(name) => {
            format!("no Bluetooth adapter named {name}; Bluetooth is off, everything else runs")
        }
        None => "no Bluetooth adapter; Bluetooth is off, everything else runs".into(),
    })
}

/// Reports the tags heard in advertisements, at each device's address.
async fn scan(adapter: Adapter, transport: TransportIndex, sink: Sink) -> btleplug::Result<()> {
    let mut events = adapter.events().await?;
    adapter.start_scan(ScanFilter::default()).await?;
    let mut heard = Heard::default();
    while let Some(event) = events.next().await {
        let (id, data) = match event {
            CentralEvent::ManufacturerDataAdvertisement {
                id,
                mut manufacturer_data,
            } => (id, manufacturer_data.remove(&COMPANY_ID)),
            // A device known before this scan is announced without its data.
            CentralEvent::DeviceDiscovered(id) => {
                let data = match adapter.peripheral(&id).await?.properties().await? {
                    Some(mut properties) => properties.manufacturer_data.remove(&COMPANY_ID),
                    None => None,
                };
                (id, data)
            }
            _ => continue,
        };
        let Some(data) = data else {
            continue;
        };
        let address = adapter.peripheral(&id).await?.address().to_string();
        for tag in tags_in(&data) {
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

/// A connection to a contact's Courier service.
struct Link {
    device: Peripheral,
    to_them: Characteristic,
    heard: std::pin::Pin<Box<dyn Stream<Item = ValueNotification> + Send>>,
    /// The largest packet either side sends: the ATT MTU less its header.
    packet: usize,
}

/// Connects to the device at `address` and subscribes to Courier's characteristic.
async fn dial(adapter: &Adapter, address: &str) -> btleplug::Result<Link> {
    let wanted: BDAddr = address
        .parse()
        .map_err(|_| btleplug::Error::Other("not a Bluetooth address".into()))?;
    let mut device = None;
    for candidate in adapter.peripherals().await? {
        if candidate.address() == wanted {
            device = Some(candidate);
            break;
        }
    }
    let device = device.ok_or(btleplug::Error::DeviceNotFound)?;
    if !device.is_connected().await? {
        device.connect().await?;
    }
    device.discover_services().await?;
    let courier = |uuid| {
        device
            .characteristics()
            .into_iter()
            .find(|c| c.service_uuid == SERVICE && c.uuid == uuid)
    };
    let (Some(to_them), Some(to_us)) = (courier(TO_PERIPHERAL), courier(TO_CENTRAL)) else {
        let _ = device.disconnect().await;
        return Err(btleplug::Error::Other(
            "the device has no Courier service".into(),
        ));
    };
    // Subscribed before we write: the peripheral pairs our writes with our subscription.
    let heard = device.notifications().await?;
    device.subscribe(&to_us).await?;
    let packet = usize::from(device.mtu()).saturating_sub(ATT_HEADER);
    Ok(Link {
        device,
        to_them,
        heard,
        packet,
    })
}

/// Carries one connection's packets both ways until either side ends it, then disconnects (the
/// next connection starts afresh, with the peer's service as it is then).
async fn carry(
    channel: ChannelId,
    link: Link,
    mut queue: Queue,
    sink: Sink,
    alive: Option<tokio::sync::mpsc::Sender<()>>,
) {
    let Link {
        device,
        to_them,
        mut heard,
        packet,
    } = link;
    let (writer, writer_sink) = (device.clone(), sink.clone());
    let mut sending = tokio::spawn(async move {
        let _alive = alive;
        while let Some(data) = queue.recv().await {
            let len = data.len();
            if len > packet
                || writer
                    .write(&to_them, &data, WriteType::WithoutResponse)
                    .await
                    .is_err()
            {
                return;
            }
            queue.wrote(len, &writer_sink);
        }
    });
    loop {
        tokio::select! {
            heard = heard.next() => match heard {
                Some(n) if n.uuid == TO_CENTRAL && !n.value.is_empty() => {
                    sink(DriverEvent::Received { channel, data: n.value })
                }
                Some(_) => {}
                None => break,
            },
            _ = &mut sending => break,
        }
    }
    sending.abort();
    tracing::debug!(?channel, "a Bluetooth connection ended");
    let _ = device.disconnect().await;
    sink(DriverEvent::Closed { channel });
}
