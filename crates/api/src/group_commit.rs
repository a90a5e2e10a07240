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
    /// Which of the waiting sends this is (see [`Answer::sent`]).
    number: u64,
    request: SendRequest,
    answer: oneshot::Sender<Result<Sent, ServiceError>>,
}

/// The sends waiting for the next commit, and the next one's number; shared by every handler.
#[derive(Clone, Default)]
pub(crate) struct Sends(Arc<Mutex<(Vec<Waiting>, u64)>>);

impl Sends {
    /// Puts `request` among the waiting sends; its answer comes once a holder of the service ran
    /// [`commit_waiting`](Self::commit_waiting) (the caller does, after this).
    pub fn enqueue(&self, request: SendRequest) -> Answer {
        let (answer, answered) = oneshot::channel();
        let mut waiting = self.waiting();
        let number = waiting.1;
        waiting.1 += 1;
        waiting.0.push(Waiting {
            number,
            request,
            answer,
        });
        Answer {
            number,
            sends: self.clone(),
            answered,
        }
    }

    /// Queues every send waiting now in one transaction and answers each. Whoever holds the
    /// service calls it; the holder may be an earlier request that takes later ones along, and a
    /// later one then finds none.
    pub fn commit_waiting(&self, service: &mut Service) {
        let waiting = std::mem::take(&mut self.waiting().0);
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

    fn waiting(&self) -> std::sync::MutexGuard<'_, (Vec<Waiting>, u64)> {
        // Only pushes and takes happen under this lock: a panic elsewhere cannot leave it torn.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Where a waiting send's answer comes.
pub(crate) struct Answer {
    number: u64,
    sends: Sends,
    answered: oneshot::Receiver<Result<Sent, ServiceError>>,
}

impl Answer {
    /// The send's result, once the service was asked to commit what waits (`committed`, its own
    /// outcome); the message is on disk if it is `Ok`. If that ask failed (the service could not be
    /// held) and nobody took this send along, it is withdrawn and the failure is the answer: a
    /// client told "no" must not find the message queued later.
    pub async fn sent(self, committed: Result<(), ApiError>) -> Result<Sent, ApiError> {
        if let Err(e) = committed {
            let mut waiting = self.sends.waiting();
            let before = waiting.0.len();
            waiting.0.retain(|w| w.number != self.number);
            if waiting.0.len() < before {
                return Err(e);
            }
        }
        self.answered
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
