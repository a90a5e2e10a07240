//! The mailboxes a transport moves streams through: the node fills in what only it knows (where a
//! folder is, the token that opens it) on the plugin's requests, and dials each contact with the
//! opaque folder id their streams go to. Read from storage at each fetch, so a pairing or a
//! contact's news is in use by the next poll.

use courier_io::{IoRequest, MailboxFolder, TransportIndex};
use courier_plugin_host::bindings::transport_types::Property;
use courier_storage::{ContactId, MailboxRoute, Peer};

use crate::{Node, NodeError, now_ms};

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
            IoRequest::MailboxFetch { from, .. } => {
                let routes = self.db.mailbox_routes()?;
                *from = routes.iter().map(|r| folder(r, r.download)).collect();
                from.dedup();
                self.transports[index].mailbox_uploads = Some(uploads(&routes));
                Ok(true)
            }
            IoRequest::MailboxUpload { folder, to, .. } => {
                let uploads = self.transports[index].mailbox_uploads.as_deref();
                *to = uploads
                    .unwrap_or_default()
                    .iter()
                    .find(|(_, f)| hex::encode(f.folder) == *folder)
                    .map(|(_, f)| f.clone());
                Ok(to.is_some())
            }
            _ => Ok(true),
        }
    }

    /// A mailbox transport's dial: a channel to every contact with a folder, each to write what
    /// it is owed; false if transport `index` moves no streams through mailboxes.
    pub(crate) fn dial_mailboxes(&mut self, index: TransportIndex) -> bool {
        let Some(uploads) = self.transports[index].mailbox_uploads.clone() else {
            return false;
        };
        let now = now_ms();
        for (contact, folder) in uploads {
            let property = Property {
                key: FOLDER_PROPERTY.to_owned(),
                value: hex::encode(folder.folder),
            };
            self.open_dial(index, Peer::Contact(contact), vec![property], now);
        }
        true
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
