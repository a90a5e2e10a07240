//! Sends wait together for the service: one committer at a time holds it and queues every send
//! waiting by then in one transaction (`Service::send_group`), again and again until none waits, so
//! that concurrent clients share a commit and its fsync instead of queueing one by one behind the
//! disk, or one by one behind the service's lock.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use courier_service::conversation::Sent;
use courier_service::{SendRequest, Service};
use tokio::sync::oneshot;

use crate::error::ApiError;

/// A send waiting for the next commit, and where its answer goes.
struct Waiting {
    request: SendRequest,
    answer: oneshot::Sender<Result<Sent, ApiError>>,
}

/// The sends waiting for the next commit, and whether a committer is at work.
#[derive(Default)]
struct Line {
    waiting: Vec<Waiting>,
    committing: bool,
}

/// The sends waiting for the next commit; shared by every handler.
#[derive(Clone, Default)]
pub(crate) struct Sends(Arc<Mutex<Line>>);

/// A send put in line: its answer, and whether its handler must start the committer.
pub(crate) struct Enqueued {
    /// The send's result; the message is on disk if it is `Ok`.
    pub answer: Answer,
    /// No committer was at work: the caller starts one ([`Sends::commit_waiting`]).
    pub lead: bool,
}

impl Sends {
    /// How many commits a committer makes before it lets go of the service for a moment, so that
    /// reads are not held back for as long as sends keep coming.
    const TURN: usize = 8;

    /// Puts `request` in line. The first send while no committer works is told to lead.
    pub fn enqueue(&self, request: SendRequest) -> Enqueued {
        let (answer, answered) = oneshot::channel();
        let mut line = self.line();
        line.waiting.push(Waiting { request, answer });
        let lead = !std::mem::replace(&mut line.committing, true);
        Enqueued {
            answer: Answer(answered),
            lead,
        }
    }

    /// The committer's work, holding the service: queues what waits in one transaction and
    /// answers each, until nothing waits (false) or after [`Self::TURN`] commits (true: the
    /// committer lets other requests have the service, then comes back). The turn ends under the
    /// same lock that a new send takes, so a send either is taken here or starts the next committer.
    pub fn commit_waiting(&self, service: &mut Service) -> bool {
        for _ in 0..Self::TURN {
            let Some(group) = self.next_group() else {
                return false;
            };
            let (requests, answers): (Vec<_>, Vec<_>) =
                group.into_iter().map(|w| (w.request, w.answer)).unzip();
            let results = service.send_group(&requests);
            for (result, answer) in results.into_iter().zip(answers) {
                // A client that went away meanwhile still has its message queued, as after a crash.
                let _ = answer.send(result.map_err(ApiError::from));
            }
        }
        true
    }

    /// The committer could not hold the service: every send still waiting is withdrawn and told
    /// why (a client told "no" must not find the message queued later), and the turn ends.
    pub fn fail_waiting(&self, error: &ApiError) {
        let waiting = {
            let mut line = self.line();
            line.committing = false;
            std::mem::take(&mut line.waiting)
        };
        for w in waiting {
            let _ = w.answer.send(Err(error.clone()));
        }
    }

    /// What waits now, or `None` (ending the committer's turn) if nothing does.
    fn next_group(&self) -> Option<Vec<Waiting>> {
        let mut line = self.line();
        if line.waiting.is_empty() {
            line.committing = false;
            return None;
        }
        Some(std::mem::take(&mut line.waiting))
    }

    fn line(&self) -> std::sync::MutexGuard<'_, Line> {
        // Only pushes, takes and the flag happen under this lock: a panic elsewhere cannot leave it
        // torn.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Where a waiting send's answer comes.
pub(crate) struct Answer(oneshot::Receiver<Result<Sent, ApiError>>);

impl Answer {
    /// The send's result, once a committer took it.
    pub async fn sent(self) -> Result<Sent, ApiError> {
        self.0.await.map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "storage",
                "the send was dropped inside the node; see its log",
            )
        })?
    }
}
