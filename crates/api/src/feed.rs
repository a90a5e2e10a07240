//! The feed of live events: one thread that turns what the node reports and what changed in the
//! database into [`Event`]s, in order, for every subscriber (the API's WebSockets, `serve`'s
//! output, a desktop app embedding [`crate::Serving`]).

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use courier_service::ServiceError;
use courier_service::events::{Event, Watcher};
use courier_service::node::{NodeHandle, Notice};
use tokio::sync::broadcast;

use crate::state::{Core, SharedCore};

/// How long the feed sleeps when the node reports nothing. The node reports every change it makes
/// or sees (its own writes, an API request's, another process's within its housekeeping round, a
/// transport's state), so this only bounds how late a change it failed to report would show.
pub const POLL: Duration = Duration::from_secs(5);

/// The least time between two looks: under load the node reports a change with almost every step,
/// and one look then covers all that came meanwhile.
const LOOK_GAP: Duration = Duration::from_millis(20);

/// Sends every event to `events` until the node stops: soon after the node reports something, at
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
    let mut looked = Instant::now();
    loop {
        let mut told = Vec::new();
        match notices.recv_timeout(POLL) {
            Ok(notice) => told.push(notice),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        std::thread::sleep(LOOK_GAP.saturating_sub(looked.elapsed()));
        told.extend(notices.try_iter());
        looked = Instant::now();
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
