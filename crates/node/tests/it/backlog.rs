//! What a receiver may ask for at once against what a channel may hold unwritten.

use courier_drivers::{BACKLOG_CAP, BACKLOG_HIGH};
use courier_proto::sync::record::{
    MAX_BODY_LEN, MAX_CONTENT_TYPE_LEN, MAX_FALLBACK_LEN, Message, Record,
};
use courier_proto::sync::session::REQUEST_WINDOW;
use courier_proto::transport_security::stream::{FRAME_OVERHEAD, MAX_FRAME_LEN};

/// Bob requests a full window of alice's largest messages just as her channel to him reaches the
/// mark where her node stops offering more; her answer, sealed in frames, still fits under the cap
/// past which a channel is cut. (A window of 128 chunks did not: every answer cut the channel, the
/// next connection asked again, and a 100 MB attachment never arrived.) A peer asking for more at
/// once is served a window at a time: the session's `a_peer_asking_for_a_whole_offer_at_once_…`.
#[test]
fn a_full_request_window_of_the_largest_messages_fits_in_what_a_channel_may_hold_unwritten() {
    let largest = Message {
        timestamp_ms: u64::MAX,
        content_type: "t".repeat(MAX_CONTENT_TYPE_LEN),
        type_version: u32::MAX,
        fallback: "f".repeat(MAX_FALLBACK_LEN),
        body: vec![0xA5; MAX_BODY_LEN],
    };
    assert_eq!(
        largest.check(),
        Ok(()),
        "the largest message a peer may be sent"
    );
    let answer = Record::encode_all(&vec![Record::Message(largest); REQUEST_WINDOW]);
    let frame_payload = MAX_FRAME_LEN - FRAME_OVERHEAD;
    let sealed = answer.len() + answer.len().div_ceil(frame_payload) * FRAME_OVERHEAD;
    assert!(
        BACKLOG_HIGH + sealed <= BACKLOG_CAP,
        "a window of {REQUEST_WINDOW} answers in {sealed} bytes; with {BACKLOG_HIGH} already \
         queued that is over the {BACKLOG_CAP}-byte cap"
    );
}
