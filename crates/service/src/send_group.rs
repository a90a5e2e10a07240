//! Group commit: sends that arrive together (a desktop app's and a script's, sixteen API clients)
//! are queued in one transaction, so that they share one commit and one fsync instead of each
//! waiting behind the others' at the disk.

use courier_proto::sync::relation::RelationKind;
use courier_storage::{Durability, StorageError};

use crate::Service;
use crate::conversation::{Outgoing, Prepared, Sent};
use crate::error::ServiceError;
use crate::service::now_ms;

/// One send of a group: to whom, what, and the client's idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRequest {
    /// The contact's alias.
    pub alias: String,
    /// The message type.
    pub content_type: String,
    /// What its plugin makes the message of.
    pub input: Vec<u8>,
    /// Options for the plugin over the config's settings.
    pub options: Vec<(String, String)>,
    /// A send with a key given in the last week queues nothing more.
    pub key: Option<String>,
    /// The message a reply, reaction, edit or retraction names (8+ hex digits of its id).
    pub relates_to: Option<String>,
}

impl Service {
    /// Queues every request in one transaction; each result in the order asked. One refused (an
    /// unknown contact, an input over its limit) refuses only itself. All are on disk when this
    /// returns.
    pub fn send_group(&mut self, requests: &[SendRequest]) -> Vec<Result<Sent, ServiceError>> {
        let prepared: Vec<Result<Prepared, ServiceError>> = requests
            .iter()
            .map(|r| {
                self.start(r)?
                    .prepare(&r.input, &r.options, r.key.as_deref())
            })
            .collect();
        let now = now_ms();
        let grouped = self.db.batch(Durability::Full, |db| {
            // Each send is its own savepoint inside the batch: one that fails leaves nothing.
            Ok::<_, StorageError>(
                prepared
                    .into_iter()
                    .map(|p| p.and_then(|p| p.queue(db, now)))
                    .collect::<Vec<_>>(),
            )
        });
        match grouped {
            Ok(results) => {
                // What a retraction takes back goes now, not at the node's next sweep.
                let retracted = requests.iter().zip(&results).any(|(r, sent)| {
                    sent.is_ok() && RelationKind::of(&r.content_type) == Some(RelationKind::Delete)
                });
                if retracted && let Err(e) = self.db.sweep_expired(now) {
                    tracing::warn!("the sweep after a retraction failed: {e}");
                }
                results
            }
            // The commit failed, so none of them is queued: each alone, with its own answer.
            Err(_) => requests
                .iter()
                .map(|r| {
                    self.start(r)?
                        .send_once(&r.input, &r.options, r.key.as_deref())
                })
                .collect(),
        }
    }

    /// The send `r` asks for: to a contact, or relating to one of their conversation's messages.
    fn start(&mut self, r: &SendRequest) -> Result<Outgoing<'_>, ServiceError> {
        match &r.relates_to {
            Some(target) => self.relating(&r.alias, &r.content_type, target),
            None => self.outgoing(&r.alias, &r.content_type),
        }
    }
}
