//! Feeding a transport plugin an event and carrying out, where they are returned, the I/O requests
//! and actions it answers with.

use courier_io::{IoRequest, TransportIndex};
use courier_plugin_host::bindings::transport_types::{Action, Chunk, Event, Property};

use crate::{Deferred, Node, now_ms};

impl Node {
    /// Feeds `event` to transport `index`'s plugin now, or, while another call's outcome is being
    /// carried out, as soon as that is done: a plugin is never re-entered.
    pub(crate) fn plugin_event(&mut self, index: TransportIndex, event: Event) {
        if self.feeding {
            self.deferred.push_back(Deferred::Plugin(index, event));
        } else {
            self.feed(index, event);
        }
    }

    /// Feeds one event to a transport plugin and carries out what it asks.
    pub(crate) fn feed(&mut self, index: TransportIndex, event: Event) {
        let outcome = match self.transports[index].plugin.handle(&event) {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::warn!("{error}");
                for channel in self.transports[index].plugin.take_orphaned() {
                    self.deferred.push_back(Deferred::Close {
                        channel,
                        tell: false,
                    });
                }
                // Wake it again soon: a restarted instance must set up its listener anew.
                self.transports[index].wake_by(now_ms() + 1_000);
                return;
            }
        };
        let nested = std::mem::replace(&mut self.feeding, true);
        for request in outcome.requests {
            self.carry_out(index, request);
        }
        for action in outcome.actions {
            self.act(index, action);
        }
        self.feeding = nested;
    }

    /// Hands an I/O request the plugin made to the driver that handles it.
    fn carry_out(&mut self, index: TransportIndex, mut request: IoRequest) {
        match self.fill_mailbox_request(index, &mut request) {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    "a transport plugin uploaded to a mailbox folder the node never named"
                );
                return;
            }
            Err(e) => {
                tracing::warn!("the mailboxes could not be read: {e}");
                return;
            }
        }
        if let Some(channel) = request.channel()
            && !self.slots.contains(channel)
        {
            tracing::warn!("a transport plugin connected a channel the host never opened");
            return;
        }
        // Only announcements carry tags; computing every contact's for each dial would be waste.
        let announces = request.announces();
        let tags = if announces {
            self.transports[index].keyring.announced_tags(now_ms())
        } else {
            Vec::new()
        };
        let receipt = match &request {
            IoRequest::MailboxUpload { receipt, .. } => *receipt,
            _ => None,
        };
        if let Err(e) = self.routes.carry_out(index, request, &tags) {
            tracing::warn!("{e}");
            // Not uploaded: what it carried is due again, for a later poll.
            if let Some(receipt) = receipt
                && let Err(e) = self.mailbox_uploaded(receipt, false)
            {
                tracing::warn!("{e}");
            }
        } else if announces {
            let meetings = self.meetings(index, now_ms());
            self.routes.meet(index, &meetings);
        }
    }

    /// Carries out one action the plugin returned.
    fn act(&mut self, index: TransportIndex, action: Action) {
        match action {
            Action::Write(Chunk { channel, data }) => self.write(channel, data),
            Action::Deliver(Chunk { channel, data }) => {
                self.step_link(channel, |link, cx| link.receive(cx, &data));
            }
            Action::Ready(channel) => self.step_link(channel, |link, cx| link.ready(cx)),
            Action::Close(channel) => self.deferred.push_back(Deferred::Close {
                channel,
                tell: false,
            }),
            Action::Publish(properties) => self.publish(index, properties),
            Action::WakeAt(at) => self.transports[index].wake_by(at),
            Action::Dial(properties) => self.dial(index, properties),
        }
    }

    /// Keeps what a transport published, to tell contacts in every sync session from now on.
    fn publish(&mut self, index: TransportIndex, properties: Vec<Property>) {
        if !self.transports[index].publish(properties) {
            return;
        }
        tracing::debug!(
            "transport published {} properties for contacts",
            self.transports[index].published.len()
        );
        self.advertised = self.transports.advertised();
        // Contacts in a session now hear it now, not at their next session.
        for channel in self.slots.channels() {
            self.step_link(channel, |link, cx| link.advertise(cx));
        }
    }
}
