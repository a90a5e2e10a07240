//! A role's Bluetooth adapter, reached on the first request that needs it; a failure to reach it
//! becomes the transport's state, in one line.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use courier_io::{DriverContext, DriverEvent, MediumState, Sink, TransportIndex};
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

/// What a role runs to reach its adapter: the adapter, or why not in one line.
pub(super) type Open<A> =
    fn(Option<String>) -> Pin<Box<dyn Future<Output = Result<A, String>> + Send>>;

/// One role's adapter, reached on the first request that needs it; a failure to reach it
/// becomes the transport's state, in one line.
pub(super) struct OnDemand<A> {
    runtime: tokio::runtime::Handle,
    sink: Sink,
    name: Option<String>,
    open: Open<A>,
    adapter: Arc<OnceCell<Result<A, String>>>,
}

impl<A: Clone + Send + Sync + 'static> OnDemand<A> {
    pub(super) fn new(cx: &DriverContext, name: Option<String>, open: Open<A>) -> Self {
        OnDemand {
            runtime: cx.runtime.clone(),
            sink: cx.sink.clone(),
            name,
            open,
            adapter: Arc::default(),
        }
    }

    /// Runs `job` on the adapter once it answered; if it cannot, or `job` fails, `transport`
    /// says why and `failed` runs.
    pub(super) fn run<F, Fut, E>(
        &self,
        transport: TransportIndex,
        job: F,
        failed: impl FnOnce(&str) + Send + 'static,
    ) -> JoinHandle<()>
    where
        F: FnOnce(A) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send,
        E: std::fmt::Display,
    {
        let (adapter, name, open, sink) = (
            self.adapter.clone(),
            self.name.clone(),
            self.open,
            self.sink.clone(),
        );
        self.runtime.spawn(async move {
            let adapter = adapter.get_or_init(|| open(name)).await.clone();
            let outcome = match adapter {
                Ok(adapter) => job(adapter).await.map_err(|e| e.to_string()),
                Err(reason) => Err(reason),
            };
            if let Err(reason) = outcome {
                unreachable(&sink, transport, &reason);
                failed(&reason);
            }
        })
    }
}

/// `transport` cannot use the radio, for `reason`.
pub(super) fn unreachable(sink: &Sink, transport: TransportIndex, reason: &str) {
    tracing::warn!("Bluetooth: {reason}");
    sink(DriverEvent::Medium {
        transport,
        state: MediumState::Unreachable {
            reason: format!("Bluetooth: {reason}"),
        },
    });
}
