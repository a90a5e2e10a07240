//! Read receipts of a conversation: whether it sends them (the user's choice for it, else the
//! profile's `read-receipts`, off unless it says so), and marking it read, which sends them.

use courier_storage::MarkedRead;

use crate::Service;
use crate::error::ServiceError;
use crate::service::now_ms;

/// Whether a conversation sends read receipts, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipts {
    /// The user's choice for this conversation; `None`: the profile decides.
    pub chosen: Option<bool>,
    /// Whether it sends them now.
    pub on: bool,
}

impl Service {
    /// Whether the conversation with `alias` sends read receipts.
    pub fn receipts(&mut self, alias: &str) -> Result<Receipts, ServiceError> {
        let contact = self.conversation_contact(alias)?;
        let chosen = self.db.receipts_choice(contact)?;
        let by_default = self.plugins()?.policy().receipts_by_default();
        Ok(Receipts {
            chosen,
            on: chosen.unwrap_or(by_default),
        })
    }

    /// Turns read receipts on or off for the conversation with `alias` (`None`: as the profile
    /// says).
    pub fn set_receipts(
        &mut self,
        alias: &str,
        chosen: Option<bool>,
    ) -> Result<Receipts, ServiceError> {
        let contact = self.conversation_contact(alias)?;
        self.db.set_receipts(contact, chosen)?;
        self.receipts(alias)
    }

    /// Marks every message from `alias` seen: the user has read the conversation. When it sends
    /// read receipts, one goes to the contact naming what was not seen.
    pub fn mark_seen(&mut self, alias: &str) -> Result<MarkedRead, ServiceError> {
        let contact = self.conversation_contact(alias)?;
        let on = self.receipts(alias)?.on;
        let longest = self.plugins()?.policy().longest_timer();
        Ok(self.db.mark_read(contact, on, now_ms(), longest)?)
    }
}
