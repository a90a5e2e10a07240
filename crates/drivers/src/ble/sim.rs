//! `ble-sim`: a radio-faithful link between nodes on one machine, for tests and benchmarks, never
//! the default. The "air" is a directory both nodes name in `[bluetooth.sim]`: an advertiser keeps
//! its current advertisement in `ADDRESS.adv` (the manufacturer data a real one would carry, within
//! a legacy payload) and takes connections on `ADDRESS.sock`; a scanner reads the directory as a
//! radio hears advertisements. A connection carries one packet per write, each at most the ATT MTU
//! less 3; a connection event every `interval_ms` carries at most `packets_per_interval` packets
//! each way (so its capacity is BLE's at those settings); setting a connection up takes `setup_ms`;
//! and with `drop_every_secs`, each connection drops after a random time of that mean (between half
//! and one and a half of it), as people walk out of range.
//!
//! What it does not model: radio loss inside a connection (BLE's link layer retransmits, so a live
//! connection delivers every packet), interference between devices, or the time a scan takes to
//! hear an advertisement on one of three channels.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use courier_config::bluetooth::BleSimConfig;
use courier_io::{
    ChannelId, ChannelIds, Driver, DriverContext, DriverError, DriverEvent, IoRequest, Sink,
    TransportIndex,
};
use futures::{SinkExt, StreamExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use super::advertisement::{LEGACY_PAYLOAD, payload_len, random_address, rotation, tags_in};
use super::{Began, open_channel};
use crate::lock;
use crate::pump::{Queue, Writers};

/// How long each advertisement of a rotation is on the air before the next.
const ADVERTISE_SLOT: Duration = Duration::from_millis(250);
/// How often a scan reads the air.
const SCAN_EVERY: Duration = Duration::from_millis(200);
/// How long a stopping node waits for queued packets to leave.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// The simulated radio's behaviour, from `[bluetooth.sim]`.
#[derive(Debug, Clone)]
pub struct Radio {
    /// Bytes one packet carries: the ATT MTU less 3.
    pub packet: usize,
    /// Time between connection events.
    pub interval: Duration,
    /// Packets one connection event carries each way.
    pub per_interval: u32,
    /// Time to set a connection up.
    pub setup: Duration,
    /// Mean time before a connection drops; `None`: never.
    pub drop_every: Option<Duration>,
}

impl Radio {
    /// The radio `config` describes.
    pub fn new(config: &BleSimConfig) -> Self {
        Radio {
            packet: usize::from(config.mtu) - 3,
            interval: Duration::from_millis(config.interval_ms),
            per_interval: config.packets_per_interval,
            setup: Duration::from_millis(config.setup_ms),
            drop_every: (config.drop_every_secs > 0.0)
                .then(|| Duration::from_secs_f64(config.drop_every_secs)),
        }
    }

    /// Bytes a second one direction carries at most (packets' payloads, headers not counted).
    pub fn capacity(&self) -> f64 {
        (self.packet as f64 * f64::from(self.per_interval)) / self.interval.as_secs_f64()
    }

    /// How long the next connection lives: uniformly between half and one and a half times the
    /// configured mean, so none outlives one and a half (a story can rely on that bound).
    fn lifetime(&self) -> Option<Duration> {
        let mean = self.drop_every?;
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).expect("the OS random number generator is available");
        let uniform = (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64;
        Some(mean.mul_f64(0.5 + uniform))
    }
}

/// One transport's advertising: its address on the air and the tasks that keep it there.
struct Advertiser {
    address: String,
    tasks: Vec<JoinHandle<()>>,
}

/// The `ble-sim` driver of one node.
pub struct SimDriver {
    runtime: tokio::runtime::Handle,
    sink: Sink,
    ids: ChannelIds,
    air: PathBuf,
    radio: Arc<Radio>,
    writers: Writers,
    advertising: HashMap<TransportIndex, Advertiser>,
    scanning: HashMap<TransportIndex, JoinHandle<()>>,
    /// Our own addresses, which our scans do not report.
    own: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for SimDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDriver").finish_non_exhaustive()
    }
}

impl SimDriver {
    /// A driver whose air is `config.air`.
    pub fn new(cx: DriverContext, config: &BleSimConfig) -> Self {
        SimDriver {
            runtime: cx.runtime,
            sink: cx.sink,
            ids: cx.ids,
            air: config.air.clone(),
            radio: Arc::new(Radio::new(config)),
            writers: Writers::default(),
            advertising: HashMap::new(),
            scanning: HashMap::new(),
            own: Arc::default(),
        }
    }

    fn withdraw(&mut self, transport: TransportIndex) {
        let Some(advertiser) = self.advertising.remove(&transport) else {
            return;
        };
        for task in advertiser.tasks {
            task.abort();
        }
        lock(&self.own).remove(&advertiser.address);
        for ext in ["adv", "sock"] {
            let _ = std::fs::remove_file(self.air.join(format!("{}.{ext}", advertiser.address)));
        }
    }

    /// Advertises `tags` for `transport` under a new address, and takes connections there.
    fn advertise(&mut self, transport: TransportIndex, tags: &[String]) -> Result<(), DriverError> {
        self.withdraw(transport);
        let adverts = rotation(tags);
        if adverts.is_empty() {
            // Nobody to be found by.
            return Ok(());
        }
        debug_assert!(adverts.iter().all(|a| payload_len(a) <= LEGACY_PAYLOAD));
        std::fs::create_dir_all(&self.air).map_err(|e| air_error(&self.air, &e))?;
        let address = random_address();
        let socket = self.air.join(format!("{address}.sock"));
        let listener = std::os::unix::net::UnixListener::bind(&socket)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| air_error(&self.air, &e))?;
        lock(&self.own).insert(address.clone());
        let accept = self.runtime.spawn(accept(
            listener,
            transport,
            self.sink.clone(),
            self.ids.clone(),
            self.writers.handle(),
            self.radio.clone(),
        ));
        let adv = self.air.join(format!("{address}.adv"));
        let rotate = self.runtime.spawn(async move {
            let alone = adverts.len() == 1;
            for data in adverts.iter().cycle() {
                let staged = adv.with_extension("adv.new");
                // Renamed into place: a scanner never reads half an advertisement.
                if std::fs::write(&staged, data)
                    .and_then(|()| std::fs::rename(&staged, &adv))
                    .is_err()
                {
                    return;
                }
                if alone {
                    // Nothing to rotate until the tags change.
                    return;
                }
                tokio::time::sleep(ADVERTISE_SLOT).await;
            }
        });
        self.advertising.insert(
            transport,
            Advertiser {
                address,
                tasks: vec![accept, rotate],
            },
        );
        Ok(())
    }

    fn scan(&mut self, transport: TransportIndex, enabled: bool) {
        if let Some(task) = self.scanning.remove(&transport) {
            task.abort();
        }
        if !enabled {
            return;
        }
        let (air, own, sink) = (self.air.clone(), self.own.clone(), self.sink.clone());
        let task = self.runtime.spawn(async move {
            let mut reported = super::Heard::default();
            loop {
                for (address, data) in heard(&air, &lock(&own)) {
                    for tag in tags_in(&data) {
                        if reported.fresh(&tag, &address) {
                            sink(DriverEvent::Found {
                                transport,
                                tag,
                                address: address.clone(),
                            });
                        }
                    }
                }
                tokio::time::sleep(SCAN_EVERY).await;
            }
        });
        self.scanning.insert(transport, task);
    }

    fn connect(&mut self, channel: ChannelId, address: String) {
        let socket = self.air.join(format!("{address}.sock"));
        let (sink, writers, radio) = (self.sink.clone(), self.writers.handle(), self.radio.clone());
        self.runtime.spawn(async move {
            tokio::time::sleep(radio.setup).await;
            match UnixStream::connect(&socket).await {
                Ok(stream) => {
                    let queue = open_channel(&writers, &sink, channel, Began::Dialed, radio.packet);
                    carry(stream, channel, queue, sink, radio, writers.alive()).await;
                }
                Err(_) => sink(DriverEvent::Failed {
                    channel,
                    reason: "the device is out of range".into(),
                }),
            }
        });
    }
}

fn air_error(air: &Path, e: &std::io::Error) -> DriverError {
    DriverError(format!(
        "the simulated radio's air ({}) cannot be used: {e}; check [bluetooth.sim] air",
        air.display()
    ))
}

/// Every advertisement on the air but ours: (address, manufacturer data).
fn heard(air: &Path, own: &HashSet<String>) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(air) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let address = name.strip_suffix(".adv")?.to_owned();
            if own.contains(&address) {
                return None;
            }
            let data = std::fs::read(e.path()).ok()?;
            // A radio hears no more than one legacy payload holds.
            (payload_len(&data) <= LEGACY_PAYLOAD).then_some((address, data))
        })
        .collect()
}

/// Takes connections to one advertisement, each a new channel of `transport`.
async fn accept(
    listener: std::os::unix::net::UnixListener,
    transport: TransportIndex,
    sink: Sink,
    ids: ChannelIds,
    writers: crate::pump::WritersHandle,
    radio: Arc<Radio>,
) {
    let Ok(listener) = UnixListener::from_std(listener) else {
        return;
    };
    while let Ok((stream, _)) = listener.accept().await {
        let channel = ids.next();
        let queue = open_channel(
            &writers,
            &sink,
            channel,
            Began::Accepted(transport),
            radio.packet,
        );
        tokio::spawn(carry(
            stream,
            channel,
            queue,
            sink.clone(),
            radio.clone(),
            writers.alive(),
        ));
    }
}

/// Carries one connection at the radio's pace until either side ends it or it drops.
async fn carry(
    stream: UnixStream,
    channel: ChannelId,
    mut queue: Queue,
    sink: Sink,
    radio: Arc<Radio>,
    alive: Option<tokio::sync::mpsc::Sender<()>>,
) {
    let codec = LengthDelimitedCodec::builder()
        .length_field_type::<u16>()
        .max_frame_length(radio.packet)
        .new_codec();
    let (mut tx, mut rx) = StreamExt::split::<tokio_util::bytes::Bytes>(Framed::new(stream, codec));
    let writer_sink = sink.clone();
    let packet = radio.packet;
    let (per_interval, interval) = (radio.per_interval, radio.interval);
    let mut writer = tokio::spawn(async move {
        let _alive = alive;
        // One connection event: up to `per_interval` packets, then the radio waits an interval.
        while let Some(first) = queue.recv().await {
            let mut next = Some(first);
            let mut sent = 0;
            while let Some(data) = next.take() {
                if data.len() > packet {
                    tracing::warn!(
                        "a transport wrote a {}-byte packet over the link's {packet}; the connection ends",
                        data.len()
                    );
                    return;
                }
                let len = data.len();
                if tx.send(tokio_util::bytes::Bytes::from(data)).await.is_err() {
                    return;
                }
                queue.wrote(len, &writer_sink);
                sent += 1;
                if sent < per_interval {
                    next = queue.try_recv();
                }
            }
            tokio::time::sleep(interval).await;
        }
    });
    let lifetime = radio.lifetime();
    let dropped = async {
        match lifetime {
            Some(after) => tokio::time::sleep(after).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(dropped);
    let mut read_bytes = 0usize;
    loop {
        tokio::select! {
            read = rx.next() => match read {
                Some(Ok(bytes)) => {
                    read_bytes += bytes.len();
                    sink(DriverEvent::Received { channel, data: bytes.to_vec() });
                }
                _ => break,
            },
            _ = &mut writer => break,
            () = &mut dropped => {
                tracing::info!("a simulated Bluetooth connection dropped (out of range)");
                break;
            }
        }
    }
    writer.abort();
    // What a connection carried, for a person (or a story) who wants to see a transfer resume.
    tracing::info!("a simulated Bluetooth connection ended; {read_bytes} bytes arrived on it");
    sink(DriverEvent::Closed { channel });
}

impl Driver for SimDriver {
    fn name(&self) -> &'static str {
        "ble-sim"
    }

    fn handles(&self, request: &IoRequest) -> bool {
        super::is_ble_request(request)
    }

    fn carry_out(
        &mut self,
        transport: TransportIndex,
        request: IoRequest,
        tags: &[String],
    ) -> Result<(), DriverError> {
        match request {
            IoRequest::BleAdvertise => self.advertise(transport, tags)?,
            IoRequest::BleWithdraw => self.withdraw(transport),
            IoRequest::BleScan { enabled } => self.scan(transport, enabled),
            IoRequest::BleConnect { channel, address } => self.connect(channel, address),
            _ => {}
        }
        Ok(())
    }

    fn retag(&mut self, transport: TransportIndex, tags: &[String]) {
        // New tags, new address: nothing links this period's advertisements to the last.
        if self.advertising.contains_key(&transport)
            && let Err(e) = self.advertise(transport, tags)
        {
            tracing::warn!("{e}");
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
        let transports: Vec<TransportIndex> = self.advertising.keys().copied().collect();
        for transport in transports {
            self.withdraw(transport);
        }
        for (_, task) in self.scanning.drain() {
            task.abort();
        }
        self.writers.shutdown(&self.runtime, SHUTDOWN_GRACE);
    }
}
