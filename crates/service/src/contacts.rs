//! Contacts: added by link (pending until both handshake), listed, verified in person, removed.

use courier_node::keyring::MEETING_LIFETIME_MS;
use courier_proto::contact_link::ContactLink;
use courier_proto::identity::safety_number;
use courier_storage::StorageError;

use crate::Service;
use crate::error::ServiceError;
use crate::service::now_ms;

/// A contact or pending contact, as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactSummary {
    /// What the user calls them.
    pub alias: String,
    /// Whether the handshake completed.
    pub state: ContactState,
    /// Whether the user compared safety numbers and confirmed (never, while pending).
    pub verified: bool,
}

/// How far a contact got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactState {
    /// The handshake completed: messages can flow.
    Contact,
    /// Added by link; the handshake has not run yet.
    Pending,
    /// Added by link two days ago or more, and still not met: no meeting point over Tor is kept for
    /// them any more. They become a contact when both nodes meet on a LAN; removing and adding them
    /// again tries Tor for two more days.
    Unmet,
}

impl Service {
    /// Adds a pending contact from their `link` text under `alias`.
    pub fn add_contact(&mut self, link: &str, alias: &str) -> Result<(), ServiceError> {
        let link: ContactLink = link.parse()?;
        self.db.add_pending_contact(&link, alias, now_ms())?;
        Ok(())
    }

    /// Every contact, then every pending contact.
    pub fn contacts(&self) -> Result<Vec<ContactSummary>, ServiceError> {
        let contacts = self.db.contacts()?.into_iter().map(|c| ContactSummary {
            alias: c.alias,
            state: ContactState::Contact,
            verified: c.verified,
        });
        let pending = self
            .db
            .pending_contacts()?
            .into_iter()
            .map(|p| ContactSummary {
                alias: p.alias,
                state: if now_ms().saturating_sub(p.added_ms) < MEETING_LIFETIME_MS {
                    ContactState::Pending
                } else {
                    ContactState::Unmet
                },
                verified: false,
            });
        Ok(contacts.chain(pending).collect())
    }

    /// The safety number to compare with `alias` in person.
    pub fn safety_number(&self, alias: &str) -> Result<String, ServiceError> {
        let ours = self.identity()?.handshake_public();
        match self.db.met_contact(alias)? {
            Some(contact) => Ok(safety_number(&ours, &contact.public)),
            None if self.is_pending(alias)? => Err(ServiceError::PendingVerify(alias.to_owned())),
            None => Err(StorageError::UnknownContact(alias.to_owned()).into()),
        }
    }

    /// Marks `alias` verified: only after the safety numbers matched.
    pub fn mark_verified(&mut self, alias: &str) -> Result<(), ServiceError> {
        Ok(self.db.mark_verified(alias)?)
    }

    /// Calls a contact or pending contact by another alias; their keys and messages stay theirs.
    pub fn rename_contact(&mut self, alias: &str, new_alias: &str) -> Result<(), ServiceError> {
        Ok(self.db.rename_contact(alias, new_alias)?)
    }

    /// Removes a contact or pending contact with their keys and messages.
    pub fn remove_contact(&mut self, alias: &str) -> Result<(), ServiceError> {
        Ok(self.db.remove_contact(alias)?)
    }
}
