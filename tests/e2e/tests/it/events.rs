//! One event vocabulary: alice runs `serve --api --events json` and watches her node on the API's
//! WebSocket too. She and bob add each other, she sends him a text and a photo, he answers. Every
//! event of her node reaches the socket and her terminal alike: the same events, each once, in the
//! same order. Bob's terminal, in its default text, tells the same story without naming alice or
//! quoting a word of it.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result};
use courier_api_client::json::{Event, Identity, SendText};
use courier_e2e::{Tools, dialing_pair, noise_png, wait_until};

use crate::api::Live;
use crate::scratch;

/// The events among `printed` lines (the JSON ones).
fn events_in(printed: &[String]) -> Vec<Event> {
    printed
        .iter()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).expect("serve prints events as the API's JSON"))
        .collect()
}

/// A key for an event a person would count: what happened to which message or contact.
fn story_key(event: &Event) -> Option<String> {
    match event {
        Event::MessageReceived { message, .. } => Some(format!("received {}", message.id)),
        Event::MessageSent { id, .. } => Some(format!("sent {id}")),
        Event::MessageAcked { id, .. } => Some(format!("acked {id}")),
        Event::ContactAdded { alias } => Some(format!("added {alias}")),
        _ => None,
    }
}

#[test]
fn every_event_of_alice_s_node_reaches_her_websocket_and_her_terminal_once_and_in_order()
-> Result<()> {
    let root = scratch();
    let (mut alice, mut bob) = dialing_pair(&Tools::locate()?, root.path(), root.path())?;
    alice.serve_with(&["--api", "--events", "json"])?;
    let a = courier_api_client::client::Client::of_data_dir(&alice.dir)
        .context("serve --api wrote no address and token files")?;
    let b = bob.serve_api()?;
    let mut live = Live::connect(&a, &alice.api_token()?)?;

    let alice_id: Identity = a.get("/v1/identity")?;
    let bob_id: Identity = b.get("/v1/identity")?;
    let _: serde_json::Value = a.post(
        "/v1/contacts",
        &serde_json::json!({"link": bob_id.link, "alias": "bob"}),
    )?;
    let _: serde_json::Value = b.post(
        "/v1/contacts",
        &serde_json::json!({"link": alice_id.link, "alias": "alice"}),
    )?;
    live.until("bob added", |e| {
        e.contains(&Event::ContactAdded {
            alias: "bob".into(),
        })
    })?;
    let text = |body: &str| SendText {
        content_type: "courier/text".into(),
        text: body.into(),
        options: Default::default(),
        relates_to: None,
    };
    let hello = a.send_text("bob", &text("the printing press is ready"))?.id;
    let photo = a
        .send_file("bob", "courier/image", &noise_png(320, 240, 5), &[])?
        .id;
    let answer = b.send_text("alice", &text("see you at the bakery"))?.id;
    let ours = [hello.clone(), photo.clone()];
    let seen = live.until(
        "bob connected, both of alice's acked, his answer",
        |events| {
            let keys: Vec<String> = events.iter().filter_map(story_key).collect();
            ours.iter().all(|id| keys.contains(&format!("acked {id}")))
                && keys.contains(&format!("received {answer}"))
                && events
                    .iter()
                    .any(|e| matches!(e, Event::ContactConnected { alias, .. } if alias == "bob"))
        },
    )?;
    let socket = seen.to_vec();
    // Her terminal prints the same feed a moment after the socket sends it (the terminal's lines
    // before the login make counting them no sign of having caught up): wait until it holds the
    // socket's run, or until the time is up and the comparison below says what differs.
    let mut printed = Vec::new();
    let _caught_up = wait_until(
        Duration::from_secs(10),
        "alice's terminal to catch up",
        || {
            printed = events_in(&alice.printed());
            Ok(printed.windows(socket.len()).any(|run| run == socket))
        },
    );

    // The socket's events are one run of the terminal's, the same ones in the same order.
    let start = printed
        .windows(socket.len())
        .position(|run| run == socket)
        .with_context(|| {
            format!("the socket's events are not a run of the terminal's:\nsocket {socket:#?}\nterminal {printed:#?}")
        })?;
    // What only the terminal saw came before the socket logged in: the node starting, no story.
    for before in &printed[..start] {
        assert!(
            matches!(
                before,
                Event::Listening { .. } | Event::TransportState { .. }
            ),
            "the socket missed {before:?}"
        );
    }
    assert!(
        printed[..start]
            .iter()
            .chain(&socket)
            .any(|e| matches!(e, Event::Listening { port: Some(p), .. } if *p == alice.port)),
        "the LAN listening on alice's port is an event too: {printed:#?}"
    );
    // Each thing that happened, once.
    let mut counts: HashMap<String, usize> = HashMap::new();
    for key in socket.iter().filter_map(story_key) {
        *counts.entry(key).or_default() += 1;
    }
    let expected = [
        "added bob".to_owned(),
        format!("sent {hello}"),
        format!("acked {hello}"),
        format!("sent {photo}"),
        format!("acked {photo}"),
        format!("received {answer}"),
    ];
    for key in &expected {
        assert_eq!(counts.get(key), Some(&1), "{key}: {counts:#?}");
    }
    let at = |key: &str| {
        socket
            .iter()
            .position(|e| story_key(e).as_deref() == Some(key))
    };
    assert!(
        at(&format!("sent {hello}")) < at(&format!("acked {hello}")),
        "sent comes before acked"
    );
    assert!(
        socket
            .iter()
            .any(|e| matches!(e, Event::ContactConnected { alias, transport } if alias == "bob" && transport == "lan")),
        "bob connecting is an event too"
    );

    // Bob's terminal, in text, tells of alice's text arriving by its id, and names no one.
    let line = format!("[scrubbed]: received courier/text message {}", &hello[..8]);
    wait_until(Duration::from_secs(10), "bob's terminal to tell", || {
        Ok(bob.printed().contains(&line))
    })?;
    let bob_printed = bob.printed().join("\n");
    for needle in ["alice", "printing press", "bakery"] {
        assert!(
            !bob_printed.contains(needle),
            "bob's terminal says {needle:?}:\n{bob_printed}"
        );
    }
    println!(
        "alice's node: {} events on the terminal, {} on the socket from its login",
        printed.len(),
        socket.len()
    );
    alice.stop()?;
    bob.stop()?;
    Ok(())
}
