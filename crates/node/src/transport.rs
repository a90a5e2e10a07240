//! The loaded transport plugins, each with what the node keeps beside it, numbered by
//! [`TransportIndex`].

use courier_io::{MailboxFolder, TransportIndex};
use courier_plugin_host::PluginHost;
use courier_plugin_host::bindings::transport_types::{Mode, Property};
use courier_plugin_host::transport_plugin::TransportPlugin;
use courier_proto::identity::Identity;
use courier_proto::sync::record::TransportProperties;
use courier_proto::transport_security::stream::MAX_FRAME_LEN;
use courier_proto::transport_security::transport_keys::{LATENCY_CLASSES_MS, latency_class};
use courier_storage::{ContactId, Database};

use crate::NodeError;
use crate::dialer::Dialer;
use crate::keyring::Keyring;

/// One transport plugin with what the node keeps beside it.
pub(crate) struct Transport {
    pub plugin: TransportPlugin,
    pub keyring: Keyring,
    /// One-way streams (a drive, a mailbox): nobody answers, so a link writes or reads one stream.
    pub simplex: bool,
    /// The plugin passes stream bytes unchanged: the node writes and reads them itself.
    pub pass_through: bool,
    pub frame_len: usize,
    pub max_latency_ms: u64,
    /// When the plugin asked to be ticked next (Unix ms).
    pub wake_at: Option<u64>,
    /// What the plugin published for contacts to reach us.
    pub published: Vec<(String, String)>,
    /// Where its medium stands, if the medium says.
    pub medium: Option<courier_io::MediumState>,
    /// Where its peers are and when to dial them.
    pub dialer: Dialer,
    /// A transport over mailboxes (its plugin fetches from them): the folder each contact's
    /// streams go to, as storage said at its last fetch.
    pub mailbox_uploads: Option<Vec<(ContactId, MailboxFolder)>>,
    /// The mailboxes that did not answer its last fetch (`None`: no fetch is over yet); nothing is
    /// written for a contact whose folder is in one (its stream would only be refused).
    pub mailboxes_unreachable: Option<Vec<String>>,
}

impl Transport {
    /// The transport's id (`lan`).
    pub fn id(&self) -> &str {
        self.keyring.transport()
    }

    /// Asks for a tick at `at` (Unix ms), or earlier if one is asked for already.
    pub fn wake_by(&mut self, at: u64) {
        self.wake_at = Some(self.wake_at.map_or(at, |old| old.min(at)));
    }

    /// Keeps what the plugin published; false if it is what was published before.
    pub fn publish(&mut self, properties: Vec<Property>) -> bool {
        let published: Vec<(String, String)> =
            properties.into_iter().map(|p| (p.key, p.value)).collect();
        if published == self.published {
            return false;
        }
        self.published = published;
        true
    }
}

/// Every transport the node runs.
pub(crate) struct Transports(Vec<Transport>);

impl Transports {
    /// The transports `plugins` loaded, each with its keys for `identity`'s contacts; fails when none
    /// can run, saying why each could not.
    pub fn load(
        plugins: &mut PluginHost,
        db: &mut Database,
        identity: &Identity,
        now: u64,
    ) -> Result<Transports, NodeError> {
        let mut transports = Vec::new();
        for plugin in std::mem::take(&mut plugins.transports) {
            let description = plugin.description().clone();
            if latency_class(description.max_latency_ms).is_none() {
                tracing::error!(
                    "transport {:?} declares a max latency of {} days, longer than any key period \
                     lasts ({} days); it is not started",
                    description.id,
                    description.max_latency_ms / 86_400_000,
                    LATENCY_CLASSES_MS[LATENCY_CLASSES_MS.len() - 1] / 86_400_000
                );
                continue;
            }
            let mut keyring = Keyring::new(&description.id, description.max_latency_ms);
            keyring.refresh(db, identity, now)?;
            transports.push(Transport {
                plugin,
                keyring,
                simplex: description.mode == Mode::Simplex,
                pass_through: description.pass_through,
                frame_len: (description.frame_size as usize).min(MAX_FRAME_LEN),
                max_latency_ms: description.max_latency_ms,
                wake_at: Some(now),
                published: Vec::new(),
                medium: None,
                dialer: Dialer::default(),
                mailbox_uploads: None,
                mailboxes_unreachable: None,
            });
        }
        if transports.is_empty() {
            let reasons = plugins
                .failures
                .iter()
                .filter(|f| f.at.key.starts_with("transports."))
                .map(ToString::to_string)
                .collect();
            return Err(NodeError::NoTransport(reasons));
        }
        Ok(Transports(transports))
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Each with its index.
    pub fn iter(&self) -> impl Iterator<Item = (TransportIndex, &Transport)> {
        self.0
            .iter()
            .enumerate()
            .map(|(i, t)| (TransportIndex(i), t))
    }

    /// Every index.
    pub fn indices(&self) -> impl Iterator<Item = TransportIndex> + use<> {
        (0..self.0.len()).map(TransportIndex)
    }

    /// The simplex transport with id `id`.
    pub fn simplex_named(&self, id: &str) -> Option<TransportIndex> {
        self.iter()
            .find(|(_, t)| t.simplex && t.id() == id)
            .map(|(index, _)| index)
    }

    /// The earliest tick any plugin asked for.
    pub fn next_wake(&self) -> Option<u64> {
        self.0.iter().filter_map(|t| t.wake_at).min()
    }

    /// How contacts can reach us, over every transport that published.
    pub fn advertised(&self) -> Vec<TransportProperties> {
        self.0
            .iter()
            .filter(|t| !t.published.is_empty())
            .map(|t| TransportProperties {
                transport: t.id().to_owned(),
                properties: t.published.clone(),
            })
            .collect()
    }

    /// Each transport, to change.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Transport> {
        self.0.iter_mut()
    }
}

impl std::ops::Index<TransportIndex> for Transports {
    type Output = Transport;

    fn index(&self, index: TransportIndex) -> &Transport {
        &self.0[index.0]
    }
}

impl std::ops::IndexMut<TransportIndex> for Transports {
    fn index_mut(&mut self, index: TransportIndex) -> &mut Transport {
        &mut self.0[index.0]
    }
}
