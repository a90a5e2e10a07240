//! The mailboxes a transport moves streams through: the node fills in what only it knows (where a
//! folder is, the token that opens it) on the plugin's requests, and dials each contact with the
//! opaque folder id their streams go to. Read from storage at each fetch, so a pairing or a
//! contact's news is in use by the next poll.

use courier_io::{IoRequest, MailboxFolder, MailboxRegistration, MediumState, TransportIndex};
use courier_plugin_host::bindings::transport_types::Property;
use courier_storage::{ContactId, MailboxRoute, Peer};

use crate::{Node, NodeError, Notice, now_ms};

/// The property a mailbox transport's `connect` request names the upload folder by.
pub const FOLDER_PROPERTY: &str = "folder";

fn folder(route: &MailboxRoute, id: [u8; 16]) -> MailboxFolder {
    MailboxFolder {
        address: route.address.clone(),
        token: route.token,
        folder: id,
    }
}

/// Where each contact's streams go: their own mailbox where they told us of one (they fetch
/// there whenever they are online), else ours.
fn uploads(routes: &[MailboxRoute]) -> Vec<(ContactId, MailboxFolder)> {
    let mut uploads: Vec<(ContactId, MailboxFolder)> = Vec::new();
    // Sorted by contact, theirs (owned = false) first.
    for route in routes {
        if uploads.last().is_none_or(|(c, _)| *c != route.contact) {
            uploads.push((route.contact, folder(route, route.upload)));
        }
    }
    uploads
}

impl Node {
    /// Fills in a mailbox request's folders; false if it names a folder this node does not use.
    pub(crate) fn fill_mailbox_request(
        &mut self,
        index: TransportIndex,
        request: &mut IoRequest,
    ) -> Result<bool, NodeError> {
        match request {
            IoRequest::MailboxFetch { from, register, .. } => {
                *register = self
                    .db
                    .routes_to_register()?
                    .into_iter()
                    .map(|(r, owner)| MailboxRegistration {
                        key: r.contact,
                        address: r.address,
                        owner,
                        token: r.token,
                        // The contact uploads into what we download, and fetches what we upload.
                        inbox: r.download,
                        outbox: r.upload,
                    })
                    .collect();
                let routes = self.db.mailbox_routes()?;
                *from = routes.iter().map(|r| folder(r, r.download)).collect();
                from.dedup();
                self.transports[index].mailbox_uploads = Some(uploads(&routes));
                Ok(true)
            }
            IoRequest::MailboxUpload {
                folder,
                to,
                data,
                receipt,
                ..
            } => {
                let uploads = self.transports[index].mailbox_uploads.as_deref();
                *to = uploads
                    .unwrap_or_default()
                    .iter()
                    .find(|(_, f)| hex::encode(f.folder) == *folder)
                    .map(|(_, f)| f.clone());
                if to.is_some() {
                    *receipt = self.uploads.uploading(data);
                }
                Ok(to.is_some())
            }
            _ => Ok(true),
        }
    }

    /// A mailbox transport's dial: a channel to every contact with a folder in a mailbox that
    /// answered the last fetch, each to write what it is owed; false if transport `index` moves no
    /// streams through mailboxes.
    pub(crate) fn dial_mailboxes(&mut self, index: TransportIndex) -> bool {
        let t = &self.transports[index];
        let Some(uploads) = t.mailbox_uploads.clone() else {
            return false;
        };
        // Until a fetch says which answer, nothing is written: it would only be refused.
        let Some(unreachable) = t.mailboxes_unreachable.clone() else {
            return true;
        };
        let now = now_ms();
        let answering = uploads
            .into_iter()
            .filter(|(_, f)| !unreachable.contains(&f.address));
        for (contact, folder) in answering {
            let property = Property {
                key: FOLDER_PROPERTY.to_owned(),
                value: hex::encode(folder.folder),
            };
            self.open_dial(index, Peer::Contact(contact), vec![property], now);
        }
        true
    }
}

impl Node {
    /// The mailbox took the upload `receipt` (it is on its disk: what it carried counts as sent),
    /// or did not (it is due again now, for a later poll).
    pub(crate) fn mailbox_uploaded(&mut self, receipt: u64, taken: bool) -> Result<(), NodeError> {
        if let Some((index, held)) = self.uploads.answered(receipt) {
            let latency = self.transports[index].max_latency_ms;
            self.db.settle_held(&held, taken, latency)?;
        }
        Ok(())
    }

    /// A fetch is over: which mailboxes answered, for the dials that follow and for the person
    /// (the transport's state, as Tor's is shown).
    pub(crate) fn mailboxes_polled(
        &mut self,
        index: TransportIndex,
        unreachable: Vec<String>,
        registered: Vec<ContactId>,
    ) -> Result<(), NodeError> {
        for contact in &registered {
            self.db.mark_registered(*contact)?;
        }
        // Told now where a session with them runs, else at their next.
        if !registered.is_empty() {
            for channel in self.slots.channels() {
                self.step_link(channel, |link, cx| link.tell_mailbox(cx, &registered));
            }
        }
        let state = match unreachable.len() {
            0 => MediumState::Ready,
            n => MediumState::Unreachable {
                reason: format!(
                    "{n} mailbox(es) did not answer; streams for contacts there wait until one does"
                ),
            },
        };
        let t = &mut self.transports[index];
        // A mailbox that answers now and did not before (or the first fetch of a run) takes what
        // is owed at once, not a poll later.
        let newly = match &t.mailboxes_unreachable {
            None => true,
            Some(before) => before.iter().any(|a| !unreachable.contains(a)),
        };
        t.mailboxes_unreachable = Some(unreachable);
        if t.medium.as_ref() != Some(&state) {
            t.medium = Some(state.clone());
            let transport = t.id().to_owned();
            self.notice(Notice::Medium { transport, state });
        }
        if newly {
            self.dial_mailboxes(index);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(contact: ContactId, owned: bool, upload: u8) -> MailboxRoute {
        MailboxRoute {
            contact,
            owned,
            address: "127.0.0.1:9".into(),
            token: [0; 32],
            upload: [upload; 16],
            download: [0; 16],
        }
    }

    #[test]
    fn a_contact_s_own_mailbox_is_preferred_to_ours() {
        let routes = [
            route(1, false, 0xa),
            route(1, true, 0xb),
            route(2, true, 0xc),
        ];
        let chosen: Vec<(ContactId, [u8; 16])> = uploads(&routes)
            .into_iter()
            .map(|(c, f)| (c, f.folder))
            .collect();
        assert_eq!(chosen, [(1, [0xa; 16]), (2, [0xc; 16])]);
    }
}
