//! Moving one channel's bytes, whatever carries them (a TCP socket, a Tor stream): a reader that
//! always drains into the node's queue, so two nodes writing to each other at once cannot deadlock on
//! full buffers, and a writer fed by a short queue, so a slow peer slows the node instead of filling
//! memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use courier_io::{ChannelId, DriverEvent, Sink};

use crate::lock;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};

/// How long one write may wait for the peer to take bytes before the channel counts as dead.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Writes queued per channel before the node waits for the medium.
pub const WRITE_QUEUE: usize = 4;
/// Bytes one read may return once a channel carries a contact's streams.
pub const READ_BUFFER: usize = 256 * 1024;

/// Where each open channel's writes go; the task that opens a channel adds it before reporting it.
pub type Channels = Arc<Mutex<HashMap<ChannelId, mpsc::Sender<Vec<u8>>>>>;

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
    pub fn open(&self, channel: ChannelId) -> mpsc::Receiver<Vec<u8>> {
        let (writes, queue) = mpsc::channel(WRITE_QUEUE);
        lock(&self.channels).insert(channel, writes);
        queue
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

    /// Queues all of `data` for `channel`; false if the channel is gone or broke (it is then
    /// closed). Waits while the channel's short queue is full, so a peer that reads slowly slows the
    /// node's writes to it instead of filling memory; one that stops reading for 30 s is cut.
    pub fn write(&self, channel: ChannelId, data: Vec<u8>) -> bool {
        let Some(writes) = lock(&self.handle.channels).get(&channel).cloned() else {
            return false;
        };
        // Not under the lock: the queue may be full, and accepting tasks add channels meanwhile.
        if writes.blocking_send(data).is_ok() {
            return true;
        }
        self.close(channel);
        false
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

/// Carries `channel` over `stream` until either side ends it: what the node queues goes out (after
/// `first_write`), what arrives goes to `sink`, then `Closed`. `held` (a descriptor slot, say) is
/// released when the channel ends; `writers_alive` lets a shutdown wait for queued writes.
pub async fn carry<S, H>(
    stream: S,
    channel: ChannelId,
    first_write: Option<Vec<u8>>,
    mut queue: mpsc::Receiver<Vec<u8>>,
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
    tokio::spawn(async move {
        let _alive = writers_alive;
        let mut next = first_write;
        if next.is_none() {
            next = queue.recv().await;
        }
        while let Some(data) = next {
            match tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(&data)).await {
                Ok(Ok(())) => {}
                _ => break,
            }
            // A Tor stream buffers a cell's worth: push each write out.
            if writer.flush().await.is_err() {
                break;
            }
            next = queue.recv().await;
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
                Ok(n) => sink(DriverEvent::Received { channel, data: buffer[..n].to_vec() }),
            },
            // The node closed the channel or a write failed: stop reading, so the stream closes.
            () = writer_gone.notified() => break,
        }
    }
    drop(held);
    sink(DriverEvent::Closed { channel });
}
