//! Moving one channel's bytes, whatever carries them (a TCP socket, a Tor stream): a reader that
//! always drains into the node's queue, so two nodes writing to each other at once cannot deadlock on
//! full buffers, and a writer fed by a queue the node never waits on.
//!
//! What a stalled peer costs: its queue holds what the node wrote and the peer has not read. Past
//! [`BACKLOG_HIGH`] the channel is [backlogged](Writers::backlogged) and the node offers it nothing
//! new (answers still go) until the writer brings it under [`BACKLOG_LOW`] and reports
//! [`DriverEvent::Drained`]. Past [`BACKLOG_CAP`] (a peer that asks and never reads), or after
//! [`WRITE_TIMEOUT`] without taking a byte, the channel is cut; what it did not ack goes again on the
//! next connection. So a stalled peer holds at most [`BACKLOG_CAP`] bytes and never the node's thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use courier_io::{ChannelId, DriverEvent, Sink};

use crate::lock;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};

/// How long one write may wait for the peer to take bytes before the channel counts as dead.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Unwritten bytes past which a channel is backlogged: the node offers it nothing new.
pub const BACKLOG_HIGH: usize = 1 << 20;
/// Unwritten bytes under which a backlogged channel is drained again.
pub const BACKLOG_LOW: usize = 256 * 1024;
/// Unwritten bytes past which the channel is cut: its peer asks for more than it reads.
pub const BACKLOG_CAP: usize = 8 << 20;
/// Bytes one read may return once a channel carries a contact's streams.
pub const READ_BUFFER: usize = 256 * 1024;

/// How much of one channel's writes is still queued, shared by the node's side and its writer task.
#[derive(Debug, Default)]
struct Backlog {
    bytes: AtomicUsize,
    /// Set when the node was told the channel is backlogged; the writer reports `Drained` once.
    told: AtomicBool,
}

/// The node's side of one channel's queue.
#[derive(Clone)]
struct Entry {
    writes: mpsc::UnboundedSender<Vec<u8>>,
    backlog: Arc<Backlog>,
}

/// Where each open channel's writes go; the task that opens a channel adds it before reporting it.
type Channels = Arc<Mutex<HashMap<ChannelId, Entry>>>;

/// One channel's queue of writes, as its writer task reads it.
pub struct Queue {
    channel: ChannelId,
    writes: mpsc::UnboundedReceiver<Vec<u8>>,
    backlog: Arc<Backlog>,
}

impl Queue {
    /// The next write, or `None` once the node closed the channel and everything queued was taken.
    pub async fn recv(&mut self) -> Option<Vec<u8>> {
        self.writes.recv().await
    }

    /// The next write if one is queued now, without waiting.
    pub fn try_recv(&mut self) -> Option<Vec<u8>> {
        self.writes.try_recv().ok()
    }

    /// `len` bytes left for the peer; tells the node when a backlogged channel has drained.
    pub(crate) fn wrote(&self, len: usize, sink: &Sink) {
        let left = self.backlog.bytes.fetch_sub(len, Ordering::AcqRel) - len;
        if left <= BACKLOG_LOW && self.backlog.told.swap(false, Ordering::AcqRel) {
            sink(DriverEvent::Drained {
                channel: self.channel,
            });
        }
    }
}

/// The writing side of every channel a driver carries: where each one's writes go, and a way to
/// wait, at shutdown, until what was queued has left.
pub struct Writers {
    handle: WritersHandle,
    done: mpsc::Receiver<()>,
}

/// What a task that opens a channel needs of [`Writers`]; cheap to clone.
#[derive(Clone)]
pub struct WritersHandle {
    channels: Channels,
    /// Every writer task holds a clone; when all are gone, every queued write has left.
    alive: Option<mpsc::Sender<()>>,
}

impl WritersHandle {
    /// Registers `channel`; returns the queue its writer task reads.
    pub fn open(&self, channel: ChannelId) -> Queue {
        let (writes, queue) = mpsc::unbounded_channel();
        let backlog = Arc::new(Backlog::default());
        let entry = Entry {
            writes,
            backlog: backlog.clone(),
        };
        lock(&self.channels).insert(channel, entry);
        Queue {
            channel,
            writes: queue,
            backlog,
        }
    }

    /// What a writer task holds while it runs.
    pub fn alive(&self) -> Option<mpsc::Sender<()>> {
        self.alive.clone()
    }
}

impl Default for Writers {
    fn default() -> Self {
        let (alive, done) = mpsc::channel(1);
        Writers {
            handle: WritersHandle {
                channels: Channels::default(),
                alive: Some(alive),
            },
            done,
        }
    }
}

impl Writers {
    /// A handle for the tasks that open channels.
    pub fn handle(&self) -> WritersHandle {
        self.handle.clone()
    }

    /// Queues all of `data` for `channel` without waiting; false if the channel is gone, broke, or
    /// holds more than [`BACKLOG_CAP`] unread (it is then closed).
    pub fn write(&self, channel: ChannelId, data: Vec<u8>) -> bool {
        let Some(entry) = lock(&self.handle.channels).get(&channel).cloned() else {
            return false;
        };
        let queued = entry.backlog.bytes.fetch_add(data.len(), Ordering::AcqRel) + data.len();
        if queued > BACKLOG_CAP {
            tracing::info!(
                "cut a channel whose peer left {} MiB unread; what it did not ack goes again on the \
                 next connection",
                queued >> 20
            );
            self.close(channel);
            return false;
        }
        if queued > BACKLOG_HIGH {
            entry.backlog.told.store(true, Ordering::Release);
        }
        if entry.writes.send(data).is_ok() {
            return true;
        }
        self.close(channel);
        false
    }

    /// Whether `channel` holds more than [`BACKLOG_HIGH`] unwritten bytes.
    pub fn backlogged(&self, channel: ChannelId) -> bool {
        lock(&self.handle.channels)
            .get(&channel)
            .is_some_and(|e| e.backlog.bytes.load(Ordering::Acquire) > BACKLOG_HIGH)
    }

    /// Closes `channel` once what was queued for it is written; its reader then reports `Closed`.
    pub fn close(&self, channel: ChannelId) {
        lock(&self.handle.channels).remove(&channel);
    }

    /// Closes every channel, waiting at most `grace` (on `runtime`) for queued writes to leave.
    pub fn shutdown(&mut self, runtime: &tokio::runtime::Handle, grace: Duration) {
        lock(&self.handle.channels).clear();
        if self.handle.alive.take().is_some() {
            let done = &mut self.done;
            // The timer must be made inside the runtime: hence the async block.
            let _ = runtime.block_on(async { tokio::time::timeout(grace, done.recv()).await });
        }
    }
}

/// Bytes gathered into one `Received` from reads that are ready at once.
const GATHER: usize = 64 * 1024;

/// Reads on into `buffer` (holding `filled` bytes) while more is ready without waiting, up to
/// [`GATHER`]: a Tor stream returns one cell's data (498 bytes) a read, and one event per cell
/// cost the node a wake-up each. How much it holds then, and whether the stream ended.
fn read_ready<R: AsyncRead + Unpin>(
    reader: &mut R,
    buffer: &mut [u8],
    mut filled: usize,
) -> (usize, bool) {
    use futures::FutureExt;
    while filled < GATHER.min(buffer.len()) {
        match reader.read(&mut buffer[filled..]).now_or_never() {
            Some(Ok(0)) | Some(Err(_)) => return (filled, true),
            Some(Ok(n)) => filled += n,
            // Nothing more now; what was read goes to the node at once.
            None => break,
        }
    }
    (filled, false)
}

/// Carries `channel` over `stream` until either side ends it: what the node queues goes out (after
/// `first_write`), what arrives goes to `sink`, then `Closed`. `held` (a descriptor slot, say) is
/// released when the channel ends; `writers_alive` lets a shutdown wait for queued writes.
pub async fn carry<S, H>(
    stream: S,
    channel: ChannelId,
    first_write: Option<Vec<u8>>,
    mut queue: Queue,
    sink: Sink,
    writers_alive: Option<mpsc::Sender<()>>,
    held: H,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
    H: Send,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let writer_gone = Arc::new(Notify::new());
    let gone = writer_gone.clone();
    let writer_sink = sink.clone();
    tokio::spawn(async move {
        let _alive = writers_alive;
        let mut next = first_write;
        if next.is_none() {
            next = queue.recv().await;
        }
        while let Some(data) = next {
            match tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(&data)).await {
                Ok(Ok(())) => queue.wrote(data.len(), &writer_sink),
                _ => break,
            }
            next = queue.try_recv();
            // A Tor stream holds back a part-filled cell: pushed out once nothing more is queued,
            // so that writes queued together fill whole cells.
            if next.is_none() {
                if writer.flush().await.is_err() {
                    break;
                }
                next = queue.recv().await;
            }
        }
        let _ = writer.shutdown().await;
        // `notify_one` keeps the wake-up for a reader not waiting yet.
        gone.notify_one();
    });
    let mut buffer = vec![0u8; READ_BUFFER];
    loop {
        tokio::select! {
            read = reader.read(&mut buffer) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let (filled, ended) = read_ready(&mut reader, &mut buffer, n);
                    sink(DriverEvent::Received { channel, data: buffer[..filled].to_vec() });
                    if ended {
                        break;
                    }
                }
            },
            // The node closed the channel or a write failed: stop reading, so the stream closes.
            () = writer_gone.notified() => break,
        }
    }
    drop(held);
    sink(DriverEvent::Closed { channel });
}
