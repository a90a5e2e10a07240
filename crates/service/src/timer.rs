//! A conversation's disappearing-messages timer: set by either side as a message of the
//! conversation, and held to the profile's `disappear-within`.

use courier_proto::sync::timer::Timer;
use courier_storage::{ContactId, Draft};

use crate::Service;
use crate::content::PeerSupport;
use crate::conversation::Sent;
use crate::error::ServiceError;
use crate::service::now_ms;

impl Service {
    /// The timer of the conversation with `alias`, as both sides agree on it.
    pub fn timer(&self, alias: &str) -> Result<Timer, ServiceError> {
        let contact = self.conversation_contact(alias)?;
        Ok(self.db.timer(contact)?)
    }

    /// Sets the timer of the conversation with `alias` for both sides: it goes to the contact as a
    /// message, and holds for every message sent or received after it.
    pub fn set_timer(&mut self, alias: &str, timer: Timer) -> Result<Sent, ServiceError> {
        let contact = self.conversation_contact(alias)?;
        let policy = self.plugins()?.policy();
        policy.admit_timer(timer)?;
        let longest = policy.longest_timer();
        self.queue_timer(contact, timer, longest)
    }

    /// Before a message to `contact`: when the profile keeps messages no longer than a timer the
    /// conversation does not have yet, the conversation gets that timer first, so both sides delete.
    /// Returns that longest, for the message's own bound.
    pub(crate) fn hold_to_policy(&mut self, contact: ContactId) -> Result<Timer, ServiceError> {
        let longest = self.plugins()?.policy().longest_timer();
        if !self.db.timer(contact)?.within(longest) {
            self.queue_timer(contact, longest, longest)?;
        }
        Ok(longest)
    }

    fn queue_timer(
        &mut self,
        contact: ContactId,
        timer: Timer,
        longest: Timer,
    ) -> Result<Sent, ServiceError> {
        let now = now_ms();
        let message = timer.message(now);
        let fallback = message.fallback.clone();
        let (id, _) = self.db.send(contact, Draft::from(message), now, longest)?;
        Ok(Sent {
            id,
            support: PeerSupport::Unknown,
            fallback,
        })
    }
}
