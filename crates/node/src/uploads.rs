//! Streams written for a mailbox, waiting for the mailbox's word: what each carried counts as sent
//! only once the mailbox took it (the driver's `MailboxUploaded`), and is due again at once if it
//! refused it. A stream is known by its tag from when the link writes it until the plugin uploads
//! it, then by the receipt the node put on the upload request.

use std::collections::HashMap;

use courier_io::TransportIndex;
use courier_proto::transport_security::TAG_LEN;
use courier_storage::HeldSends;

/// One stream's held sends, and the transport whose latency times their retransmission.
#[derive(Debug)]
struct Waiting {
    transport: TransportIndex,
    held: HeldSends,
}

/// The streams written for mailboxes whose upload the node has not yet heard of.
#[derive(Debug, Default)]
pub(crate) struct Uploads {
    written: HashMap<[u8; TAG_LEN], Waiting>,
    uploading: HashMap<u64, Waiting>,
    next_receipt: u64,
}

impl Uploads {
    /// A link wrote `wire` (a whole stream) for `transport`, holding `held`.
    pub(crate) fn written(&mut self, transport: TransportIndex, wire: &[u8], held: HeldSends) {
        // Those never answered are due again by now anyway (the node stopped an upload, a plugin
        // dropped a stream): forgotten, so this map stays as small as what is under way.
        let now = held.written_ms;
        self.written.retain(|_, w| w.held.until_ms > now);
        self.uploading.retain(|_, w| w.held.until_ms > now);
        if let Some(tag) = wire.first_chunk::<TAG_LEN>() {
            self.written.insert(*tag, Waiting { transport, held });
        }
    }

    /// The plugin uploads `stream`: the receipt the driver is to answer with, if the node waits
    /// for word of it.
    pub(crate) fn uploading(&mut self, stream: &[u8]) -> Option<u64> {
        let waiting = self.written.remove(stream.first_chunk::<TAG_LEN>()?)?;
        self.next_receipt += 1;
        self.uploading.insert(self.next_receipt, waiting);
        Some(self.next_receipt)
    }

    /// The driver's word on `receipt`: the held sends to settle, and the transport they went by.
    pub(crate) fn answered(&mut self, receipt: u64) -> Option<(TransportIndex, HeldSends)> {
        self.uploading
            .remove(&receipt)
            .map(|w| (w.transport, w.held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::HOLD_MS;
    use courier_proto::sync::record::MessageId;

    fn held(written_ms: u64) -> HeldSends {
        HeldSends {
            contact: 1,
            written_ms,
            until_ms: written_ms + HOLD_MS,
            sent: vec![MessageId([7; 32])],
            acks: Vec::new(),
        }
    }

    fn stream(tag: u8) -> Vec<u8> {
        let mut wire = vec![tag; TAG_LEN];
        wire.extend_from_slice(b"header and frames");
        wire
    }

    #[test]
    fn a_written_stream_is_known_by_its_tag_until_uploaded_then_by_its_receipt_once() {
        let mut uploads = Uploads::default();
        uploads.written(TransportIndex(2), &stream(1), held(100));
        assert_eq!(uploads.uploading(&stream(9)), None, "a stream not held");
        assert_eq!(uploads.uploading(b"short"), None, "no tag at all");
        let receipt = uploads.uploading(&stream(1)).expect("held");
        assert_eq!(uploads.uploading(&stream(1)), None, "uploaded once");
        assert_eq!(
            uploads.answered(receipt),
            Some((TransportIndex(2), held(100)))
        );
        assert_eq!(uploads.answered(receipt), None, "answered once");
    }

    #[test]
    fn a_stream_never_answered_is_forgotten_once_its_messages_are_due_again() {
        let mut uploads = Uploads::default();
        uploads.written(TransportIndex(0), &stream(1), held(100));
        uploads.written(TransportIndex(0), &stream(2), held(200));
        let receipt = uploads.uploading(&stream(2)).unwrap();
        uploads.written(TransportIndex(0), &stream(3), held(200 + HOLD_MS));
        assert_eq!(uploads.uploading(&stream(1)), None);
        assert_eq!(uploads.answered(receipt), None);
        assert!(uploads.uploading(&stream(3)).is_some());
    }
}
