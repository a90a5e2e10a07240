//! What the node tells whoever embeds it: notices as things happen, and each transport's state on
//! request.

use courier_io::{ChannelId, MediumState};
use courier_plugin_host::supervisor::Health;
use courier_plugin_host::transport_plugin::reveal_names;
use courier_storage::ContactId;

use crate::{Node, NodeError};

/// Something the node tells whoever embeds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Messages arrived from a contact.
    Received {
        /// From whom.
        contact: ContactId,
        /// How many (resent duplicates included).
        count: usize,
    },
    /// A handshake completed.
    Introduced {
        /// The new contact.
        contact: ContactId,
    },
    /// A transport is listening.
    Listening {
        /// Transport id.
        transport: String,
        /// Where it is bound, as its driver says it (`127.0.0.1:7001`).
        address: String,
    },
    /// A one-way stream was written for a contact (a file for a drive).
    Wrote {
        /// Transport id.
        transport: String,
        /// For whom.
        contact: ContactId,
    },
    /// A one-way stream was read (a file from a drive), or refused.
    Read {
        /// Transport id.
        transport: String,
        /// Where it came from, as its driver names it (a file's name), if it does.
        name: Option<String>,
        /// Whose it was, or why it was refused.
        outcome: ReadOutcome,
    },
    /// The medium a transport uses moved on (Tor bootstrapping, connected, unreachable).
    Medium {
        /// Transport id.
        transport: String,
        /// Where it stands now.
        state: MediumState,
    },
    /// What a watcher reads may have changed: the node wrote to the database, another connection
    /// did (an API request, a command), or a transport's state moved. Sent once per step of the
    /// node that changed something, so a watcher can sleep until it comes.
    Changed,
    /// A look through a transport's folder is over: every file it found has been read or refused.
    Scanned {
        /// Transport id.
        transport: String,
        /// Files read this time.
        files: usize,
        /// Why the folder could not be listed, if it could not.
        error: Option<String>,
    },
}

/// What reading one one-way stream came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOutcome {
    /// A contact's stream, read to its end; `messages` counts what it carried (acks carry none).
    From {
        /// Whose.
        contact: ContactId,
        /// Messages in it, a duplicate included (it is stored once).
        messages: usize,
    },
    /// Not a stream for us: a stranger's, one already read, or no stream at all. It is left alone.
    NotOurs,
    /// A contact's stream that could not be read whole (cut short or tampered with). What came
    /// before the damage is kept, as authentic as ever; the rest comes again when the contact
    /// writes it again.
    Damaged {
        /// What was wrong.
        reason: String,
    },
}

/// What one transport is doing now, as the service layer (and the desktop API) shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportState {
    /// The transport's id (`lan`).
    pub transport: String,
    /// The plugin that runs it.
    pub plugin: String,
    /// Whether it carries one-way streams.
    pub simplex: bool,
    /// Channels open now.
    pub links: usize,
    /// Contacts a sync session runs with now, each once, in id order.
    pub contacts_linked: Vec<ContactId>,
    /// Whether it published how contacts can reach us.
    pub published: bool,
    /// Where its plugin stands (up, backing off after a fault, disabled).
    pub health: Health,
    /// Where the medium it uses stands, for one that must reach a network first (Tor).
    pub medium: Option<MediumState>,
    /// What using it reveals to an observer, as its plugin declares: `ip-address`, `presence`,
    /// `location`.
    pub reveals: Vec<&'static str>,
}

/// What the embedder was last told the node's state was, to tell it again only when it moved.
#[derive(Debug, Default)]
pub(crate) struct Told {
    own_changes: u64,
    /// The database's `data_version`: moves with other connections' commits.
    version: i64,
    states: Vec<TransportState>,
}

impl Node {
    /// What each transport is doing now.
    pub(crate) fn transport_states(&self) -> Vec<TransportState> {
        self.transports
            .iter()
            .map(|(index, t)| {
                let slots = self.slots.of(index);
                TransportState {
                    transport: t.id().to_owned(),
                    plugin: t.plugin.name().to_owned(),
                    simplex: t.simplex,
                    links: slots.clone().count(),
                    contacts_linked: slots
                        .filter_map(|s| s.link.syncing_with())
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect(),
                    published: !t.published.is_empty(),
                    health: t.plugin.instance().health().clone(),
                    medium: t.medium.clone(),
                    reveals: reveal_names(t.plugin.description().reveals),
                }
            })
            .collect()
    }

    /// Tells the embedder [`Notice::Changed`] if this step changed anything it could read: the
    /// node's own writes, a transport's state, a write of the API's (it wakes the node: `woken`),
    /// or another connection's commit, which a housekeeping `round` looks for.
    pub(crate) fn tell_changes(&mut self, woken: bool, round: bool) -> Result<(), NodeError> {
        let own_changes = self.db.own_changes();
        // Read on a wake too, so that the round after it does not tell the same commit again.
        let version = if woken || round {
            self.db.data_version()?
        } else {
            self.told.version
        };
        let states = self.transport_states();
        let told = &self.told;
        let moved =
            own_changes != told.own_changes || version != told.version || states != told.states;
        if woken || moved {
            self.told = Told {
                own_changes,
                version,
                states,
            };
            self.notice(Notice::Changed);
        }
        Ok(())
    }

    /// Tells the embedder, if it listens.
    pub(crate) fn notice(&self, notice: Notice) {
        if let Some(tx) = &self.notices {
            let _ = tx.send(notice);
        }
    }

    /// Tells what reading the one-way stream on `channel` came to, once.
    pub(crate) fn report_read(&mut self, channel: ChannelId, outcome: ReadOutcome) {
        let Some(slot) = self.slots.get_mut(channel) else {
            return;
        };
        if std::mem::replace(&mut slot.reported, true) {
            return;
        }
        let notice = Notice::Read {
            transport: self.transports[slot.transport].id().to_owned(),
            name: slot.name.clone(),
            outcome,
        };
        self.notice(notice);
    }
}
