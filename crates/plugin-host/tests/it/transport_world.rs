//! A well-behaved transport through the whole event/action cycle, with its capability scoped by the grant.

use std::net::SocketAddr;

use courier_io::IoRequest;
use courier_plugin_host::bindings::transport_types::{
    Action, Chunk, ConnectRequest, Event, Listening, Medium, Property,
};

use crate::fixture::{Fixture, capture_logs};

const FRAMED: &str = "[transports.framed]\nplugin = \"framed-echo\"\ngrant = [\"tcp\", \"log\", \"clock\"]\ntcp_scope = \"lan\"\nsettings = { frame-limit = 4096 }\n";

fn connect(channel: u64, addr: &str) -> Event {
    Event::Connect(ConnectRequest {
        channel,
        properties: vec![Property {
            key: "addr".into(),
            value: addr.into(),
        }],
    })
}

#[test]
fn a_lan_transport_connects_frames_and_delivers_within_its_grant() {
    let fixture = Fixture::with_plugins(&["framed-echo"]);
    let mut host = fixture.load(FRAMED);
    assert!(host.failures.is_empty(), "{:?}", host.failures);
    let framed = host.transport("test-framed").unwrap();

    let listening = framed
        .handle(&Event::Listening(Listening {
            medium: Medium::Tcp,
            address: "192.168.1.4:7001".into(),
        }))
        .unwrap();
    assert_eq!(
        listening.actions,
        vec![Action::Publish(vec![Property {
            key: "addr".into(),
            value: "192.168.1.4:7001".into()
        }])]
    );

    let outcome = framed.handle(&connect(1, "192.168.1.9:7001")).unwrap();
    let address: SocketAddr = "192.168.1.9:7001".parse().unwrap();
    assert_eq!(
        outcome.requests,
        vec![IoRequest::TcpConnect {
            channel: 1,
            address
        }]
    );

    assert_eq!(
        framed.handle(&Event::ChannelOpened(1)).unwrap().actions,
        vec![Action::Ready(1)]
    );
    let written = framed
        .handle(&Event::Outgoing(Chunk {
            channel: 1,
            data: b"ciphertext".to_vec(),
        }))
        .unwrap();
    let Action::Write(Chunk { data: wire, .. }) = &written.actions[0] else {
        panic!("{written:?}")
    };
    assert_eq!(&wire[4..], b"ciphertext");

    // The same bytes coming back in two pieces are delivered once, whole.
    let first = framed
        .handle(&Event::Received(Chunk {
            channel: 1,
            data: wire[..6].to_vec(),
        }))
        .unwrap();
    assert!(first.actions.is_empty());
    let second = framed
        .handle(&Event::Received(Chunk {
            channel: 1,
            data: wire[6..].to_vec(),
        }))
        .unwrap();
    assert_eq!(
        second.actions,
        vec![Action::Deliver(Chunk {
            channel: 1,
            data: b"ciphertext".to_vec()
        })]
    );
    assert!(framed.channels().contains(&1));
}

#[test]
fn a_lan_grant_keeps_the_transport_off_the_internet() {
    let fixture = Fixture::with_plugins(&["framed-echo"]);
    let mut host = fixture.load(FRAMED);
    let framed = host.transport("test-framed").unwrap();
    let (outcome, log) = capture_logs(|| framed.handle(&connect(2, "203.0.113.7:443")).unwrap());
    assert!(
        outcome.requests.is_empty(),
        "no driver request for an address outside the grant"
    );
    assert!(
        matches!(outcome.actions[..], [Action::WakeAt(_)]),
        "{:?}",
        outcome.actions
    );
    assert!(log.contains("OutOfScope"), "the plugin was told why: {log}");
}

#[test]
fn a_frame_over_the_limit_closes_the_channel_instead_of_buffering() {
    let fixture = Fixture::with_plugins(&["framed-echo"]);
    let mut host = fixture.load(FRAMED);
    let framed = host.transport("test-framed").unwrap();
    framed.handle(&Event::ChannelAccepted(3)).unwrap();
    let hostile = 1_000_000u32.to_be_bytes().to_vec();
    let outcome = framed
        .handle(&Event::Received(Chunk {
            channel: 3,
            data: hostile,
        }))
        .unwrap();
    assert_eq!(outcome.actions, vec![Action::Close(3)]);
    assert!(!framed.channels().contains(&3));
}

#[test]
fn a_transport_refused_a_capability_it_requests_does_not_load() {
    let fixture = Fixture::with_plugins(&["framed-echo", "text"]);
    let body = "[transports.framed]\nplugin = \"framed-echo\"\ngrant = [\"log\", \"clock\"]\n\n[message_types.text]\nplugin = \"text\"\ngrant = [\"log\"]\n";
    let host = fixture.load(body);
    assert_eq!(host.failures.len(), 1);
    let message = host.failures[0].to_string();
    assert!(
        message.contains("requests the `tcp` capability, which the config does not grant"),
        "{message}"
    );
    assert!(
        message.contains("`transports.framed.grant` (line 6)"),
        "{message}"
    );
    assert_eq!(host.message_types.len(), 1, "text loads anyway");
}
