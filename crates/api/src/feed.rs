//! The feed of live events: one thread that turns what the node reports and what changed in the
//! database into [`Event`]s, in order, for every subscriber (the API's WebSockets, `serve`'s
//! output, a desktop app embedding [`crate::Serving`]).

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use courier_service::ServiceError;
use courier_service::events::{Event, Watcher};
use courier_service::node::{NodeHandle, Notice};
use tokio::sync::broadcast;

use crate::state::{Core, SharedCore};

/// How often the database is looked at when the node reports nothing: a change made by another
/// process (`courier send`) shows within this.
pub const POLL: Duration = Duration::from_millis(100);

/// Sends every event to `events` until the node stops: at once when the node reports something, at
/// least every [`POLL`] otherwise.
pub(crate) fn run(
    core: SharedCore,
    node: NodeHandle,
    notices: Receiver<Notice>,
    events: broadcast::Sender<Event>,
) {
    let Some(transports) = node.transports() else {
        return;
    };
    let mut watcher = match Core::with_key(&core, |c| Watcher::new(&c.service, &transports)) {
        Ok(watcher) => watcher,
        Err(e) => {
            tracing::error!("live events are off: {e}");
            return;
        }
    };
    let mut failing = false;
    loop {
        let mut told = Vec::new();
        match notices.recv_timeout(POLL) {
            Ok(notice) => told.push(notice),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        told.extend(notices.try_iter());
        // Asked after the notices were taken, so a state a notice is about is the one told.
        let Some(transports) = node.transports() else {
            return;
        };
        let polled = Core::with_key(&core, |c: &mut Core| -> Result<_, ServiceError> {
            watcher.poll(&mut c.service, told, &transports)
        });
        match polled {
            Ok(batch) => {
                failing = false;
                for event in batch {
                    // No subscriber is fine: events are for whoever is listening.
                    let _ = events.send(event);
                }
            }
            // A busy database, say: said once, and looked at again on the next round.
            Err(e) if !failing => {
                failing = true;
                tracing::warn!("looking for live events failed: {e}");
            }
            Err(_) => {}
        }
    }
}
