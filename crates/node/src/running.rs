//! Running a node on its own thread and talking to it from others.

use std::sync::mpsc::{self, Receiver, Sender};

use courier_config::Config;
use courier_io::StartDriver;
use courier_storage::Database;

use crate::{Input, Node, NodeError, Notice, Pacing, TransportState};

/// Talks to a running node from another thread.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    tx: Sender<Input>,
}

impl NodeHandle {
    pub(crate) fn new(tx: Sender<Input>) -> Self {
        NodeHandle { tx }
    }

    /// Asks the node to look at the database now (after queueing a message through another connection).
    pub fn wake(&self) {
        let _ = self.tx.send(Input::Wake);
    }

    /// What each transport is doing; `None` if the node has stopped.
    pub fn transports(&self) -> Option<Vec<TransportState>> {
        let (tx, rx) = mpsc::channel();
        self.tx.send(Input::State(tx)).ok()?;
        rx.recv().ok()
    }

    /// Writes, on the simplex transport `transport`, a stream to every contact owed one, and waits
    /// until all are written; false if the node has no such transport or has stopped.
    pub fn flush(&self, transport: &str) -> bool {
        let (done, rx) = mpsc::channel();
        let transport = transport.to_owned();
        self.tx.send(Input::Flush { transport, done }).is_ok() && rx.recv().unwrap_or(false)
    }

    /// Asks the node to stop cleanly; `run` returns once it has.
    pub fn stop(&self) {
        let _ = self.tx.send(Input::Stop);
    }
}

/// A node running on its own thread, its drivers on a tokio runtime.
#[derive(Debug)]
pub struct RunningNode {
    /// Wakes or stops it.
    pub handle: NodeHandle,
    /// What it reports.
    pub notices: Receiver<Notice>,
    /// The thread; join it after stopping.
    pub thread: std::thread::JoinHandle<Result<(), NodeError>>,
    /// The runtime the node started for its drivers, if it was given none.
    runtime: Option<tokio::runtime::Runtime>,
}

impl RunningNode {
    /// The runtime its drivers run on, if the node started its own: an embedder's HTTP server can
    /// run there too.
    pub fn runtime(&self) -> Option<tokio::runtime::Handle> {
        self.runtime.as_ref().map(|r| r.handle().clone())
    }

    /// Stops the node and waits for it to finish cleanly.
    pub fn stop(self) -> Result<(), NodeError> {
        self.handle.stop();
        self.wait()
    }

    /// Waits until the node stops (after [`NodeHandle::stop`] from elsewhere, e.g. a signal).
    pub fn wait(self) -> Result<(), NodeError> {
        let result = self.thread.join().expect("the node thread does not panic");
        if let Some(runtime) = self.runtime {
            // Every driver has shut down with the node; what is left are tasks ending on their own.
            runtime.shutdown_background();
        }
        result
    }
}

impl Node {
    /// Starts a node on its own thread (the way a desktop backend embeds it), its `drivers` on a
    /// runtime of its own: returns its handle, its notices, and the thread, which ends with `run`'s
    /// result after [`NodeHandle::stop`].
    pub fn spawn(
        db: Database,
        config: &Config,
        drivers: Vec<StartDriver>,
    ) -> Result<RunningNode, NodeError> {
        Node::spawn_paced(db, config, drivers, Pacing::default())
    }

    /// [`spawn`](Self::spawn), dialing with `pacing`.
    pub fn spawn_paced(
        db: Database,
        config: &Config,
        drivers: Vec<StartDriver>,
        pacing: Pacing,
    ) -> Result<RunningNode, NodeError> {
        // One worker: sockets are I/O-bound, and the node's own thread does the crypto; on two cores a
        // second worker only competes with the node threads.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("courier-io")
            .enable_all()
            .build()
            .map_err(NodeError::Runtime)?;
        let mut running = Node::spawn_on(runtime.handle().clone(), db, config, drivers, pacing)?;
        running.runtime = Some(runtime);
        Ok(running)
    }

    /// [`spawn_paced`](Self::spawn_paced) on a runtime the caller owns (an embedder that runs an
    /// HTTP server beside the node).
    pub fn spawn_on(
        runtime: tokio::runtime::Handle,
        db: Database,
        config: &Config,
        drivers: Vec<StartDriver>,
        pacing: Pacing,
    ) -> Result<RunningNode, NodeError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let config = config.clone();
        let thread = std::thread::Builder::new()
            .name("courier-node".into())
            .spawn(move || {
                let mut node = match Node::new(db, &config, drivers, runtime) {
                    Ok(node) => node,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return Ok(());
                    }
                };
                let (tx, notices) = mpsc::channel();
                node.notify(tx);
                node.pace(pacing);
                let _ = ready_tx.send(Ok((node.handle(), notices)));
                node.run()
            })
            .expect("the OS can start a thread");
        let (handle, notices) = ready_rx
            .recv()
            .expect("the node thread reports whether it started")?;
        Ok(RunningNode {
            handle,
            notices,
            thread,
            runtime: None,
        })
    }
}
