//! Running one step of a channel's link and acting on what it produced: bytes for the peer,
//! messages delivered, a handshake completed, a stream read to its end; and closing a channel.

use courier_io::ChannelId;
use courier_plugin_host::bindings::transport_types::{Chunk, Event, Property};
use courier_plugin_host::transport_plugin::MAX_CHUNK_BYTES;
use courier_storage::{ContactId, Peer};

use crate::link::{self, Link, LinkContext, LinkError, Output};
use crate::{Deferred, Node, NodeError, Notice, ReadOutcome, now_ms};
use courier_io::TransportIndex;

/// What a link step's outcome is judged by, taken before the step's borrows end.
struct Stepped {
    channel: ChannelId,
    index: TransportIndex,
    peer: Option<Peer>,
    properties: Option<Vec<Property>>,
    reading: bool,
}

impl Node {
    /// Runs one link step and acts on what it produced; a failed link is closed.
    pub(crate) fn step_link(
        &mut self,
        channel: ChannelId,
        step: impl FnOnce(&mut Link, &mut LinkContext<'_>) -> Result<Output, LinkError>,
    ) {
        let dialing = self.slots.dialing_except(channel);
        let Some(slot) = self.slots.get_mut(channel) else {
            return;
        };
        let index = slot.transport;
        let t = &mut self.transports[index];
        let mut cx = LinkContext {
            db: &mut self.db,
            keyring: &mut t.keyring,
            identity: &self.identity,
            now_ms: now_ms(),
            dialing: &dialing,
            content_types: &self.content_types,
            advertised: &self.advertised,
            longest: self.longest,
        };
        let result = step(&mut slot.link, &mut cx);
        if self.db.take_relayed() {
            self.deferred
                .push_back(Deferred::PollOthers { except: channel });
        }
        let stepped = Stepped {
            channel,
            index,
            peer: slot.link.peer(),
            properties: slot.properties.clone(),
            reading: slot.reading(t.simplex),
        };
        if let Some(accepted) = slot.link.accepted() {
            // The other side's channel goes on (we are Bob, or we were not dialing): drop ours.
            for other in self.slots.dials_of(accepted, channel) {
                self.deferred.push_back(Deferred::Close {
                    channel: other,
                    tell: true,
                });
            }
        }
        match result {
            Ok(output) => self.on_output(stepped, output),
            Err(error) => self.on_link_error(&stepped, &error),
        }
    }

    /// Acts on what a link step produced.
    fn on_output(&mut self, stepped: Stepped, output: Output) {
        let Stepped {
            channel,
            index,
            peer,
            ..
        } = stepped;
        let Some(slot) = self.slots.get_mut(channel) else {
            return;
        };
        if let Some(peer) = peer.filter(|_| slot.link.answered()) {
            // The peer's own stream came back: this is them, not a stranger, not a black hole.
            self.routes.vouch(channel);
            self.dial_answered(index, peer);
        }
        self.report_output(&stepped, &output);
        if let Some(contact) = output.introduced {
            self.introduced(&stepped, contact);
        }
        if let Some(held) = output.held {
            self.uploads.written(index, &output.wire, held);
        }
        self.send_wire(index, channel, output.wire);
        if output.close {
            self.deferred.push_back(Deferred::Close {
                channel,
                tell: true,
            });
        }
        // After the close, so the peer has no live link and can be dialed again.
        if output.more
            && let (Some(peer), Some(properties)) = (peer, stepped.properties)
        {
            self.deferred.push_back(Deferred::Redial {
                transport: index,
                peer,
                properties,
            });
        }
    }

    /// Tells the embedder what arrived, what was read, and what was written for a contact.
    fn report_output(&mut self, stepped: &Stepped, output: &Output) {
        let Some(slot) = self.slots.get_mut(stepped.channel) else {
            return;
        };
        slot.delivered += output.delivered;
        let messages = slot.delivered;
        // The recognised peer, not the sync session: a simplex read delivers without one.
        let Some(Peer::Contact(contact)) = slot.link.peer() else {
            return;
        };
        let t = &self.transports[stepped.index];
        let wrote = !stepped.reading && t.simplex && !output.wire.is_empty();
        let transport = t.id().to_owned();
        if output.delivered > 0 {
            let count = output.delivered;
            self.notice(Notice::Received { contact, count });
        }
        if stepped.reading && output.close {
            self.report_read(stepped.channel, ReadOutcome::From { contact, messages });
        } else if wrote {
            self.notice(Notice::Wrote { transport, contact });
        }
    }

    /// A handshake on this channel made `contact`.
    fn introduced(&mut self, stepped: &Stepped, contact: ContactId) {
        tracing::info!("a handshake completed; a pending contact is now a contact");
        let now = now_ms();
        let t = &mut self.transports[stepped.index];
        let meeting = stepped.peer.and_then(|p| t.keyring.meeting(p, now));
        t.dialer
            .met(contact, stepped.properties.clone(), meeting, now);
        // The handshake's keys leave the keyrings and the contact's enter now, not at the next
        // housekeeping pass: a plugin's tick before it would dial the new contact's address with the
        // handshake's keys, spending a stream on a second handshake nobody answers.
        if let Err(e) = self.refresh_all_keys(now) {
            tracing::warn!("keys after a handshake: {e}");
        }
        self.notice(Notice::Introduced { contact });
    }

    /// A link failed: say why (quietly for strangers), report a read's outcome, close the channel.
    fn on_link_error(&mut self, stepped: &Stepped, error: &LinkError) {
        let unknown = matches!(error, link::LinkError::UnknownTag);
        if unknown {
            // Strangers and scanners: normal on a network, and a flood must not fill the log.
            tracing::debug!("dropped a link: {error}");
        } else {
            tracing::info!("dropped a link: {error}");
        }
        if stepped.reading {
            let outcome = if unknown {
                ReadOutcome::NotOurs
            } else {
                ReadOutcome::Damaged {
                    reason: error.to_string(),
                }
            };
            self.report_read(stepped.channel, outcome);
        }
        self.deferred.push_back(Deferred::Close {
            channel: stepped.channel,
            tell: true,
        });
    }

    /// Sends a link's bytes for the peer: to the driver where the plugin passes them unchanged, else
    /// through the plugin, a chunk at a time.
    pub(crate) fn send_wire(&mut self, index: TransportIndex, channel: ChannelId, wire: Vec<u8>) {
        if wire.is_empty() {
            return;
        }
        if self.transports[index].pass_through {
            self.write(channel, wire);
            return;
        }
        for piece in wire.chunks(MAX_CHUNK_BYTES) {
            let chunk = Chunk {
                channel,
                data: piece.to_vec(),
            };
            self.plugin_event(index, Event::Outgoing(chunk));
        }
    }

    /// Queues `data` on `channel` at its driver; a channel that broke is closed.
    pub(crate) fn write(&mut self, channel: ChannelId, data: Vec<u8>) {
        if !self.routes.write(channel, data) {
            self.deferred.push_back(Deferred::Close {
                channel,
                tell: true,
            });
        }
    }

    /// Forgets a channel: closes the socket, tells nobody twice, and lets unacked messages go out again.
    pub(crate) fn close(&mut self, channel: ChannelId, tell: bool) -> Result<(), NodeError> {
        self.routes.close(channel);
        if let Some(slot) = self.slots.get(channel)
            && slot.reading(self.transports[slot.transport].simplex)
            && !slot.reported
        {
            // Closed before its stream ended: a file cut short, or too short to be a stream at all.
            let outcome = match slot.link.peer() {
                Some(_) => ReadOutcome::Damaged {
                    reason: "it ends before its stream does (cut short)".into(),
                },
                None => ReadOutcome::NotOurs,
            };
            self.report_read(channel, outcome);
        }
        let Some(slot) = self.slots.remove(channel) else {
            return Ok(());
        };
        self.dial_ended(&slot, now_ms());
        if let Some(contact) = slot.link.syncing_with() {
            self.db.retry_unacked_now(contact)?;
            // The session may have told us where the contact listens; read it before dialing again.
            self.told_addresses_stale = true;
        }
        if tell {
            self.plugin_event(slot.transport, Event::ChannelClosed(channel));
        }
        Ok(())
    }
}
