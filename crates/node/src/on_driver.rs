//! What the drivers report: listeners, channels opened, accepted, fed, drained and ended, media
//! moving on, folders scanned, peers found. Each is handled at once; a plugin hears of it in the
//! same turn.

use courier_io::{ChannelId, DriverEvent, Medium};
use courier_plugin_host::bindings::transport_types::{
    ChannelFailure, Chunk, Event, Listening, PacketSize,
};

use crate::link::Link;
use crate::routes::DriverIndex;
use crate::slot::Slot;
use crate::{Node, NodeError, Notice, now_ms};
use courier_io::TransportIndex;

impl Node {
    /// Handles one driver event.
    pub(crate) fn on_driver(
        &mut self,
        driver: DriverIndex,
        event: DriverEvent,
    ) -> Result<(), NodeError> {
        match event {
            DriverEvent::Listening {
                transport,
                medium,
                bound,
                reachable,
            } => self.on_listening(transport, medium, bound, reachable),
            DriverEvent::Opened { channel } => match self.slots.get(channel) {
                Some(slot) => self.plugin_event(slot.transport, Event::ChannelOpened(channel)),
                None => self.routes.close(channel),
            },
            DriverEvent::Accepted {
                transport,
                channel,
                name,
            } => self.on_accepted(driver, transport, channel, name),
            DriverEvent::Received { channel, data } => self.on_received(channel, data),
            DriverEvent::Drained { channel } => {
                self.step_link(channel, |link, cx| link.poll(cx));
            }
            DriverEvent::Closed { channel } => {
                self.on_ended(channel, Event::ChannelClosed(channel))
            }
            DriverEvent::Failed { channel, reason } => {
                let failure = ChannelFailure { channel, reason };
                self.on_ended(channel, Event::ChannelFailed(failure));
            }
            DriverEvent::MailboxesPolled {
                transport,
                unreachable,
                registered,
            } => self.mailboxes_polled(transport, unreachable, registered)?,
            DriverEvent::PacketSize { channel, bytes } => {
                if let Some(slot) = self.slots.get_mut(channel) {
                    slot.packets = true;
                    let size = PacketSize { channel, bytes };
                    let transport = slot.transport;
                    self.plugin_event(transport, Event::PacketSize(size));
                }
            }
            DriverEvent::MailboxUploaded { receipt, taken } => {
                self.mailbox_uploaded(receipt, taken)?;
            }
            DriverEvent::Medium { transport, state } => {
                let t = &mut self.transports[transport];
                t.medium = Some(state.clone());
                let transport = t.id().to_owned();
                self.notice(Notice::Medium { transport, state });
            }
            DriverEvent::Scanned {
                transport,
                files,
                error,
            } => self.notice(Notice::Scanned {
                transport: self.transports[transport].id().to_owned(),
                files,
                error,
            }),
            DriverEvent::Found {
                transport,
                tag,
                address,
            } => {
                let now = now_ms();
                let t = &mut self.transports[transport];
                if let Some(peer) = t.keyring.peer_for_tag(&tag, now) {
                    t.dialer.seen(peer, address);
                    self.dial_found(now);
                }
            }
        }
        self.run_deferred()
    }

    fn on_listening(
        &mut self,
        transport: TransportIndex,
        medium: Medium,
        bound: String,
        reachable: Option<String>,
    ) {
        self.notice(Notice::Listening {
            transport: self.transports[transport].id().to_owned(),
            address: bound.clone(),
        });
        let listening = Listening {
            medium: medium.into(),
            address: reachable.unwrap_or(bound),
        };
        self.plugin_event(transport, Event::Listening(listening));
    }

    fn on_accepted(
        &mut self,
        driver: DriverIndex,
        transport: TransportIndex,
        channel: ChannelId,
        name: Option<String>,
    ) {
        self.routes.accepted(driver, channel);
        let t = &self.transports[transport];
        let link = if t.simplex {
            Link::read_simplex(t.frame_len, t.max_latency_ms)
        } else {
            Link::accept(t.frame_len, t.max_latency_ms)
        };
        let slot = Slot {
            name,
            ..Slot::new(transport, link)
        };
        self.slots.insert(channel, slot);
        self.plugin_event(transport, Event::ChannelAccepted(channel));
    }

    /// Bytes from the peer: straight to the link where the plugin passes them unchanged, else
    /// through the plugin, which delivers them.
    fn on_received(&mut self, channel: ChannelId, data: Vec<u8>) {
        let Some(slot) = self.slots.get(channel) else {
            return;
        };
        let index = slot.transport;
        if self.transports[index].pass_through {
            self.step_link(channel, |link, cx| link.receive(cx, &data));
        } else {
            self.plugin_event(index, Event::Received(Chunk { channel, data }));
        }
    }

    /// The channel ended at the driver: the plugin hears `event`, and the node forgets it.
    fn on_ended(&mut self, channel: ChannelId, event: Event) {
        if let Some(slot) = self.slots.get(channel) {
            self.plugin_event(slot.transport, event);
            self.deferred.push_back(crate::Deferred::Close {
                channel,
                tell: false,
            });
        }
    }
}
