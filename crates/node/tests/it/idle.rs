//! What a node tells its embedder while nothing happens, and when something does: an embedder (the
//! API's feed of live events) sleeps until told.

use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use courier_node::{HOUSEKEEPING, Notice, Pacing};
use courier_proto::identity::Identity;

use crate::two_nodes::{Side, free_port, now_ms, wait_for};

/// Longer than two of the node's rounds: a node that tells nothing for this long tells nothing.
const QUIET: Duration = Duration::from_secs(3);

/// Whatever `notices` holds now and brings until it has kept quiet for `QUIET`; empty when the
/// node kept quiet. Looked at for three times `QUIET` at most: a node that tells without end
/// fails the caller's count instead of never returning.
fn told_within_quiet(notices: &std::sync::mpsc::Receiver<Notice>) -> Vec<Notice> {
    let give_up = std::time::Instant::now() + QUIET * 3;
    let mut told = Vec::new();
    while std::time::Instant::now() < give_up {
        match notices.recv_timeout(QUIET) {
            Ok(notice) => told.push(notice),
            Err(RecvTimeoutError::Timeout) => return told,
            Err(RecvTimeoutError::Disconnected) => panic!("the node stopped"),
        }
    }
    told
}

#[test]
fn an_idle_node_tells_nothing_and_a_write_beside_it_is_told_as_changed_once() {
    assert!(QUIET > HOUSEKEEPING * 2);
    let root = tempfile::tempdir().unwrap();
    let alice = Side::new(root.path(), "alice", &["transport-lan"]);
    // The LAN transport with nobody to find or dial: nothing reaches or leaves her node.
    let config = alice.config(&format!(
        "[transports.lan]\nplugin = \"transport-lan\"\n\
         grant = [\"tcp\", \"mdns\", \"log\", \"clock\"]\ntcp_scope = \"loopback\"\n\
         settings = {{ port = {}, mdns = false, static-peers = [] }}\n",
        free_port()
    ));
    let a = alice.start(&config, Pacing::default());
    wait_for(&a.notices, "the LAN transport listening", |n| {
        matches!(n, Notice::Listening { .. })
    });
    // What the start itself told (its transport's state settling) is over within a round or two.
    let _ = told_within_quiet(&a.notices);

    // Idle, and asked how its transports are, as the feed asks: it tells nothing.
    assert!(a.handle.transports().is_some());
    assert_eq!(
        told_within_quiet(&a.notices),
        [],
        "an idle node tells nothing"
    );

    // Another connection writes (a contact added, as an API request or a command would) and wakes
    // it, as the API does after a write: told once, then quiet again.
    let mut beside = alice.db();
    let carol = Identity::generate("carol").link();
    beside
        .add_pending_contact(&carol, "carol", now_ms())
        .unwrap();
    a.handle.wake();
    let told = told_within_quiet(&a.notices);
    assert_eq!(told, [Notice::Changed], "a write beside it is told once");

    // A write with no wake (a command beside a `serve` without the API) is found by its round.
    beside.rename_contact("carol", "caroline").unwrap();
    assert_eq!(told_within_quiet(&a.notices), [Notice::Changed]);
    a.stop().unwrap();
}
