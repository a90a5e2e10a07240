//! Sends wait together for the service: whichever request holds it next queues every send waiting
//! by then in one transaction (`Service::send_group`), so that concurrent clients share a commit
//! and its fsync instead of queueing one by one behind the disk.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use courier_service::conversation::Sent;
use courier_service::{SendRequest, Service, ServiceError};
use tokio::sync::oneshot;

use crate::error::ApiError;

/// A send waiting for the next commit, and where its answer goes.
struct Waiting {
    request: SendRequest,
    answer: oneshot::Sender<Result<Sent, ServiceError>>,
}

/// The sends waiting for the next commit; shared by every handler.
#[derive(Clone, Default)]
pub(crate) struct Sends(Arc<Mutex<Vec<Waiting>>>);

impl Sends {
    /// Puts `request` among the waiting sends; its answer comes once a holder of the service ran
    /// [`commit_waiting`](Self::commit_waiting) (the caller does, after this).
    pub fn enqueue(&self, request: SendRequest) -> Answer {
        let (answer, answered) = oneshot::channel();
        self.waiting().push(Waiting { request, answer });
        Answer(answered)
    }

    /// Queues every send waiting now in one transaction and answers each. Whoever holds the
    /// service calls it; the holder may be an earlier request that takes later ones along, and a
    /// later one then finds none.
    pub fn commit_waiting(&self, service: &mut Service) {
        let waiting = std::mem::take(&mut *self.waiting());
        if waiting.is_empty() {
            return;
        }
        let (requests, answers): (Vec<_>, Vec<_>) =
            waiting.into_iter().map(|w| (w.request, w.answer)).unzip();
        let results = service.send_group(&requests);
        for (result, answer) in results.into_iter().zip(answers) {
            // A client that went away meanwhile still has its message queued, as after a crash.
            let _ = answer.send(result);
        }
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
        // Only pushes and takes happen under this lock: a panic elsewhere cannot leave it torn.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Where a waiting send's answer comes.
pub(crate) struct Answer(oneshot::Receiver<Result<Sent, ServiceError>>);

impl Answer {
    /// The send's result; the message is on disk if it is `Ok`.
    pub async fn sent(self) -> Result<Sent, ApiError> {
        self.0
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "storage",
                    "the send was dropped inside the node; see its log",
                )
            })?
            .map_err(ApiError::from)
    }
}
