//! Stories of a desktop app driving nodes through their local API only: contacts, every message
//! type, downloads, live events; and what the API refuses.

use std::net::TcpStream;
use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use courier_api_client::client::Client;
use courier_api_client::json::{
    Contact, ContactStateJson, Event, Identity, Messages, Plugins, Queued, SendText, Transport,
};
use courier_e2e::{Person, Tools, noise_png};
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

use crate::scratch;

/// A node's live events, read on a thread of their own.
pub struct Live {
    events: Receiver<Event>,
    seen: Vec<Event>,
}

impl Live {
    /// Logs in to `client`'s `/v1/ws` with `token` and reads events until the socket closes.
    pub fn connect(client: &Client, token: &str) -> Result<Live> {
        let mut socket = open_socket(client)?;
        socket.send(Message::text(token))?;
        match socket.read()? {
            Message::Text(t) if t.as_str() == r#"{"type":"ready"}"# => {}
            other => bail!("the socket answered the token with {other:?}"),
        }
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            while let Ok(message) = socket.read() {
                if let Message::Text(text) = message
                    && let Ok(event) = serde_json::from_str::<Event>(text.as_str())
                    && tx.send(event).is_err()
                {
                    return;
                }
            }
        });
        Ok(Live {
            events,
            seen: Vec::new(),
        })
    }

    /// Waits until the events seen so far satisfy `check`; all of them.
    pub fn until(&mut self, what: &str, check: impl Fn(&[Event]) -> bool) -> Result<&[Event]> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !check(&self.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => self.seen.push(event),
                Err(_) => bail!(
                    "no live events showed {what} in 60 s; seen: {:#?}",
                    self.seen
                ),
            }
        }
        Ok(&self.seen)
    }
}

fn open_socket(client: &Client) -> Result<WebSocket<MaybeTlsStream<TcpStream>>> {
    let url = client.base().replace("http://", "ws://") + "/v1/ws";
    let (socket, _) = tungstenite::connect(url.as_str()).context("opening /v1/ws")?;
    Ok(socket)
}

/// The position of the first event matching `f`.
fn position(events: &[Event], f: impl Fn(&Event) -> bool) -> Option<usize> {
    events.iter().position(f)
}

fn token_of(person: &Person) -> Result<String> {
    person.api_token()
}

/// Two people whose nodes run with the API, configured to dial each other, with no contact yet.
fn two_api_nodes(root: &Path) -> Result<(Person, Client, Person, Client)> {
    courier_e2e::api_pair(&Tools::locate()?, root, false)
}

/// Alice alone, serving the API with no one to dial.
fn lone_api_node(root: &Path) -> Result<(Person, Client)> {
    let mut alice = Person::init(&Tools::locate()?, root, "alice")?;
    alice.configure(&[], false, "loopback")?;
    let client = alice.serve_api()?;
    Ok((alice, client))
}

#[test]
fn alice_and_bob_driven_only_through_their_apis_exchange_every_message_type_and_watch_it_live()
-> Result<()> {
    let root = scratch();
    let (alice, a, bob, b) = two_api_nodes(root.path())?;
    let mut alice_live = Live::connect(&a, &token_of(&alice)?)?;
    let mut bob_live = Live::connect(&b, &token_of(&bob)?)?;

    // They swap links and add each other; the nodes meet on their own.
    let alice_id: Identity = a.get("/v1/identity")?;
    let bob_id: Identity = b.get("/v1/identity")?;
    assert_eq!(
        (alice_id.name.as_str(), bob_id.name.as_str()),
        ("alice", "bob")
    );
    let added: Contact = a.post(
        "/v1/contacts",
        &serde_json::json!({"link": bob_id.link, "alias": "bob"}),
    )?;
    assert_eq!(added.state, ContactStateJson::Pending);
    let _: Contact = b.post(
        "/v1/contacts",
        &serde_json::json!({"link": alice_id.link, "alias": "alice"}),
    )?;
    alice_live.until("bob added", |e| {
        e.contains(&Event::ContactAdded {
            alias: "bob".into(),
        })
    })?;
    bob_live.until("alice added", |e| {
        e.contains(&Event::ContactAdded {
            alias: "alice".into(),
        })
    })?;
    let contacts: Vec<Contact> = a.get("/v1/contacts")?;
    assert_eq!(contacts[0].state, ContactStateJson::Contact);
    // Their nodes are connected on the LAN, and both say so: the socket, and the transport's state.
    alice_live.until("bob connected", |e| {
        e.contains(&Event::ContactConnected {
            alias: "bob".into(),
            transport: "lan".into(),
        })
    })?;
    // The first connection was the handshake's; the sync session follows it, so wait for it.
    courier_e2e::wait_until(Duration::from_secs(30), "bob linked on the LAN", || {
        let transports: Vec<Transport> = a.get("/v1/transports")?;
        let contacts: Vec<Contact> = a.get("/v1/contacts")?;
        Ok(transports.iter().any(|t| t.contacts == ["bob"]) && contacts[0].online == ["lan"])
    })?;
    let transports: Vec<Transport> = a.get("/v1/transports")?;
    let lan = transports
        .iter()
        .find(|t| t.id == "lan")
        .context("the LAN transport")?;
    assert_eq!(
        (
            lan.plugin.as_str(),
            lan.health.as_str(),
            lan.contacts.as_slice(),
            lan.simplex
        ),
        ("transport-lan", "up", &["bob".to_owned()][..], false)
    );
    assert!(lan.reveals.contains(&"ip-address".to_owned()), "{lan:?}");
    let contacts: Vec<Contact> = a.get("/v1/contacts")?;
    assert_eq!(
        contacts[0].online,
        ["lan"],
        "the list says who is connected now"
    );
    let plugins: Plugins = a.get("/v1/plugins")?;
    let kinds: Vec<(&str, &str, Option<&str>)> = plugins
        .loaded
        .iter()
        .map(|p| (p.name.as_str(), p.world.as_str(), p.content_type.as_deref()))
        .collect();
    assert!(
        kinds.contains(&("transport-lan", "transport", None)),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("image", "message-type", Some("courier/image"))),
        "{kinds:?}"
    );
    assert!(
        plugins.loaded.iter().all(|p| p.health == "up"),
        "{:?}",
        plugins.loaded
    );

    // Every message type: text-like input as JSON, files as forms.
    let text = |content_type: &str, text: &str, options: &[(&str, &str)]| -> Result<Queued> {
        Ok(a.send_text(
            "bob",
            &SendText {
                content_type: content_type.into(),
                text: text.into(),
                options: options
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
                relates_to: None,
            },
        )?)
    };
    // Noise does not compress: large enough to travel as an attachment, in chunks.
    let png = noise_png(900, 700, 7);
    let wav = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../plugins/message-voice/tests/fixtures/espeak.wav"),
    )?;
    let sent = [
        (
            "courier/text",
            text("courier/text", "the meeting moved to thursday", &[])?,
        ),
        (
            "courier/location",
            text("courier/location", "52.52,13.40", &[("label", "the cafe")])?,
        ),
        (
            "courier/payment",
            text(
                "courier/payment",
                "bitcoin:BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4?amount=0.0005&label=Bob",
                &[],
            )?,
        ),
        (
            "courier/image",
            a.send_file("bob", "courier/image", &png, &[])?,
        ),
        (
            "courier/voice",
            a.send_file("bob", "courier/voice", &wav, &[])?,
        ),
    ];

    // Alice's socket shows each sent, then acked; bob's shows each received.
    for (content_type, queued) in &sent {
        let id = queued.id.clone();
        let events = alice_live.until(&format!("{content_type} acked"), |e| {
            e.iter()
                .any(|e| matches!(e, Event::MessageAcked { id: i, .. } if *i == id))
        })?;
        let sent_at = position(
            events,
            |e| matches!(e, Event::MessageSent { id: i, contact } if *i == id && contact == "bob"),
        );
        let acked_at = position(
            events,
            |e| matches!(e, Event::MessageAcked { id: i, contact } if *i == id && contact == "bob"),
        );
        assert!(
            matches!((sent_at, acked_at), (Some(s), Some(k)) if s < k),
            "{content_type}: sent then acked, once each: {sent_at:?} {acked_at:?}"
        );
        let events = bob_live.until(&format!("{content_type} received"), |e| {
            e.iter()
                .any(|e| matches!(e, Event::MessageReceived { message, .. } if message.id == id))
        })?;
        let received = events.iter().find_map(|e| match e {
            Event::MessageReceived { contact, message } if message.id == id => {
                Some((contact, message))
            }
            _ => None,
        });
        let (from, message) = received.expect("found above");
        assert_eq!(
            (from.as_str(), message.content_type.as_str()),
            ("alice", *content_type)
        );
    }
    let received: Vec<_> = bob_live
        .until("all", |_| true)?
        .iter()
        .filter(|e| matches!(e, Event::MessageReceived { .. }))
        .cloned()
        .collect();
    assert_eq!(
        received.len(),
        sent.len(),
        "each received once: {received:#?}"
    );

    // Bob's conversation lists them with their summaries; the image downloads whole.
    let window: Messages = b.get("/v1/conversations/alice/messages?limit=50")?;
    let summaries: Vec<&str> = window.messages.iter().map(|m| m.summary.as_str()).collect();
    assert_eq!(
        summaries[0], "the meeting moved to thursday",
        "{summaries:?}"
    );
    assert!(summaries[1].contains("the cafe"), "{summaries:?}");
    assert!(summaries[2].contains("0.0005"), "{summaries:?}");
    assert!(summaries[3].starts_with("image 900×700"), "{summaries:?}");
    assert!(summaries[4].starts_with("voice"), "{summaries:?}");
    let image_id = &sent[3].1.id;
    let (media, downloaded) = b.get_bytes(&format!("/v1/messages/{image_id}/content"))?;
    assert_eq!(media, "image/jpeg");
    let (_, alices_copy) = a.get_bytes(&format!("/v1/messages/{image_id}/content"))?;
    assert_eq!(
        downloaded, alices_copy,
        "bob has what alice's node sent, byte for byte"
    );
    assert!(downloaded.starts_with(b"\xff\xd8"), "a JPEG");
    let (media, _) = b.get_bytes(&format!("/v1/messages/{}/content", sent[4].1.id))?;
    assert_eq!(media, "audio/ogg", "an Ogg Opus voice note");
    // Alice watched the image's chunks go, up to all of them stored at bob's.
    let progress: Vec<(u64, u64, u64)> = alice_live
        .until("the image's progress", |_| true)?
        .iter()
        .filter_map(|e| match e {
            Event::AttachmentProgress {
                id,
                sent,
                acked,
                total,
                ..
            } if id == image_id => Some((*sent, *acked, *total)),
            _ => None,
        })
        .collect();
    let (_, _, total) = *progress.last().context("progress events for the image")?;
    assert!(total > 1, "{progress:?}");
    assert!(
        progress
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1),
        "never backwards: {progress:?}"
    );
    assert!(
        progress.iter().all(|p| p.1 <= p.0 && p.0 <= p.2),
        "{progress:?}"
    );

    // He replies; alice's socket shows it arrive; windows by cursor neither skip nor repeat.
    let reply = b.send_text(
        "alice",
        &SendText {
            content_type: "courier/text".into(),
            text: "thursday works".into(),
            options: Default::default(),
            relates_to: None,
        },
    )?;
    alice_live.until("the reply", |e| {
        e.iter().any(|e| matches!(e, Event::MessageReceived { message, .. } if message.id == reply.id && message.summary == "thursday works"))
    })?;
    let mut paged = Vec::new();
    let mut window: Messages = a.get("/v1/conversations/bob/messages?limit=2")?;
    loop {
        paged.splice(0..0, window.messages.iter().map(|m| m.id.clone()));
        let Some(older) = window.older.clone() else {
            break;
        };
        window = a.get(&format!(
            "/v1/conversations/bob/messages?limit=2&before={older}"
        ))?;
    }
    let all: Messages = a.get("/v1/conversations/bob/messages?limit=500")?;
    let all: Vec<String> = all.messages.iter().map(|m| m.id.clone()).collect();
    assert_eq!(
        paged, all,
        "pages of two, oldest last, make the whole conversation"
    );
    assert_eq!(all.len(), 6);
    // A text over its plugin's limit (32 KiB) is 413 naming the input, and queues nothing.
    let long = format!(
        r#"{{"content_type": "courier/text", "text": "{}"}}"#,
        "x".repeat(33 << 10)
    );
    let (status, answer) = raw(
        &a,
        Some(&token_of(&alice)?),
        "POST",
        "/v1/conversations/bob/messages",
        &[],
        long.as_bytes(),
    )?;
    assert_eq!(
        error_of(&answer),
        ("too-large".into(), Some("input".into())),
        "{answer}"
    );
    assert_eq!(status, 413);

    // A retried send with the same Idempotency-Key answers as the first and queues nothing more.
    let body = br#"{"content_type": "courier/text", "text": "sent once, asked twice"}"#;
    let token = token_of(&alice)?;
    let key = [("Idempotency-Key", "3f1c-retry")];
    let (first, one) = raw(
        &a,
        Some(&token),
        "POST",
        "/v1/conversations/bob/messages",
        &key,
        body,
    )?;
    let (second, two) = raw(
        &a,
        Some(&token),
        "POST",
        "/v1/conversations/bob/messages",
        &key,
        body,
    )?;
    assert_eq!((first, second), (201, 201), "{one} {two}");
    let id = |body: &str| serde_json::from_str::<Queued>(body).map(|q| q.id);
    assert_eq!(id(&one)?, id(&two)?, "the same message");
    bob_live.until("the retried send, once", |e| {
        e.iter().any(|e| matches!(e, Event::MessageReceived { message, .. } if message.summary == "sent once, asked twice"))
    })?;
    let all: Messages = a.get("/v1/conversations/bob/messages?limit=500")?;
    let copies = all
        .messages
        .iter()
        .filter(|m| m.summary == "sent once, asked twice")
        .count();
    assert_eq!(copies, 1);

    let unread: Vec<courier_api_client::json::Conversation> = a.get("/v1/conversations")?;
    assert_eq!(unread[0].unread, 1);
    let marked: courier_api_client::json::MarkedRead = a.post("/v1/conversations/bob/read", &())?;
    assert_eq!((marked.seen, marked.receipts), (1, 0), "receipts are off");
    let unread: Vec<courier_api_client::json::Conversation> = a.get("/v1/conversations")?;
    assert_eq!(
        (
            unread[0].unread,
            unread[0].newest.as_ref().map(|m| m.id.clone())
        ),
        (0, Some(id(&one)?)),
        "the newest is the last sent"
    );

    // Deleting a message takes it off this device only; deleting it again is 404.
    let doomed = id(&one)?;
    let delete = || -> Result<u16> {
        let path = format!("/v1/messages/{doomed}");
        Ok(raw(&a, Some(&token), "DELETE", &path, &[], b"")?.0)
    };
    assert_eq!(delete()?, 204);
    let left: Messages = a.get("/v1/conversations/bob/messages?limit=500")?;
    assert!(left.messages.iter().all(|m| m.id != doomed));
    assert_eq!(
        left.messages.len(),
        all.messages.len() - 1,
        "the others stay"
    );
    assert_eq!(delete()?, 404, "deleting it again");
    let bobs: Messages = b.get("/v1/conversations/alice/messages?limit=500")?;
    assert!(
        bobs.messages.iter().any(|m| m.id == doomed),
        "bob's copy stays"
    );
    drop((alice, bob));
    Ok(())
}

/// One request by hand, with exactly these headers (and the token if given); its status and body.
fn raw(
    client: &Client,
    token: Option<&str>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, String)> {
    use std::io::{Read, Write};
    let addr = client.base().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr)?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        request.push_str(&format!("Host: {addr}\r\n"));
    }
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    // A server that refuses early may close before reading the whole body.
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("an HTTP status line in {text:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, body))
}

/// The JSON error in `body`: its kind and field.
fn error_of(body: &str) -> (String, Option<String>) {
    let value: serde_json::Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("not a JSON error body ({e}): {body:?}"));
    let error = &value["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    (
        error["kind"].as_str().unwrap_or_default().to_owned(),
        error["field"].as_str().map(str::to_owned),
    )
}

#[test]
fn every_endpoint_refuses_a_missing_token_a_malformed_body_and_an_unknown_id_in_json() -> Result<()>
{
    let root = scratch();
    let (alice, a) = lone_api_node(root.path())?;
    let token = token_of(&alice)?;
    let bob = courier_e2e::Person::init(&Tools::locate()?, root.path(), "bob")?;
    let bob_link = bob.link()?;
    let unknown_id = "ab".repeat(32);

    // Without the token, every /v1 endpoint is 401, and says what to do.
    let endpoints: &[(&str, String)] = &[
        ("GET", "/v1/identity".into()),
        ("GET", "/v1/identity/qr.svg".into()),
        ("GET", "/v1/contacts".into()),
        ("POST", "/v1/contacts".into()),
        ("PATCH", "/v1/contacts/bob".into()),
        ("DELETE", "/v1/contacts/bob".into()),
        ("GET", "/v1/contacts/bob/safety-number".into()),
        ("POST", "/v1/contacts/bob/verify".into()),
        ("GET", "/v1/contacts/bob/timer".into()),
        ("POST", "/v1/contacts/bob/timer".into()),
        ("GET", "/v1/conversations".into()),
        ("GET", "/v1/conversations/bob/messages".into()),
        ("POST", "/v1/conversations/bob/messages".into()),
        ("POST", "/v1/conversations/bob/read".into()),
        ("GET", format!("/v1/messages/{unknown_id}")),
        ("DELETE", format!("/v1/messages/{unknown_id}")),
        ("GET", format!("/v1/messages/{unknown_id}/content")),
        ("GET", "/v1/transports".into()),
        ("GET", "/v1/plugins".into()),
        ("GET", "/v1/mailbox".into()),
        ("POST", "/v1/mailbox".into()),
        ("DELETE", "/v1/mailbox".into()),
        ("GET", "/v1/openapi.json".into()),
    ];
    for (method, path) in endpoints {
        for headers in [
            &[][..],
            &[("Authorization", "Bearer not-the-token")][..],
            &[("Authorization", token.as_str())][..],
        ] {
            let (status, body) = raw(&a, None, method, path, headers, b"{}")?;
            assert_eq!(status, 401, "{method} {path} with {headers:?}: {body}");
            assert_eq!(error_of(&body).0, "unauthorized");
        }
    }

    // Malformed bodies are 400 naming the field; nothing is written.
    let bad_bodies: &[(&str, &str, &str, &str)] = &[
        (
            "POST",
            "/v1/contacts",
            r#"{"link": 5, "alias": "bob"}"#,
            "link",
        ),
        (
            "POST",
            "/v1/contacts",
            r#"{"link": "courier://nonsense", "alias": "bob"}"#,
            "link",
        ),
        ("POST", "/v1/contacts", r#"{"alias": "bob"}"#, "link"),
        (
            "POST",
            "/v1/contacts",
            r#"{"link": "LINK", "alias": ""}"#,
            "alias",
        ),
        (
            "POST",
            "/v1/contacts",
            r#"{"link": "LINK", "alias": "bob", "colour": "red"}"#,
            "colour",
        ),
        ("POST", "/v1/contacts", "not json", "body"),
        ("PATCH", "/v1/contacts/bob", r#"{"alias": ["x"]}"#, "alias"),
        (
            "POST",
            "/v1/conversations/bob/messages",
            r#"{"content_type": "courier/text"}"#,
            "text",
        ),
        (
            "POST",
            "/v1/conversations/bob/messages",
            r#"{"content_type": "courier/text", "text": 1}"#,
            "text",
        ),
    ];
    for (method, path, body, field) in bad_bodies {
        let body = body.replace("LINK", &bob_link);
        let (status, answer) = raw(&a, Some(&token), method, path, &[], body.as_bytes())?;
        assert_eq!(status, 400, "{method} {path} {body}: {answer}");
        assert_eq!(
            error_of(&answer),
            ("invalid-input".into(), Some((*field).into())),
            "{body}"
        );
    }
    let bad_queries = [
        ("/v1/conversations/bob/messages?limit=0", "limit"),
        ("/v1/conversations/bob/messages?limit=many", "limit"),
        ("/v1/conversations/bob/messages?before=xyz", "before"),
        ("/v1/messages/5b38/content", "id"),
    ];
    for (path, field) in bad_queries {
        let (status, answer) = raw(&a, Some(&token), "GET", path, &[], b"")?;
        assert_eq!(status, 400, "{path}: {answer}");
        assert_eq!(error_of(&answer).1.as_deref(), Some(field), "{path}");
    }
    let contacts: Vec<Contact> = a.get("/v1/contacts")?;
    assert!(
        contacts.is_empty(),
        "no bad request added anyone: {contacts:?}"
    );

    // Unknown contacts and messages are 404.
    let unknown: &[(&str, String, &str)] = &[
        (
            "PATCH",
            "/v1/contacts/nobody".into(),
            r#"{"alias": "somebody"}"#,
        ),
        ("DELETE", "/v1/contacts/nobody".into(), ""),
        ("GET", "/v1/contacts/nobody/safety-number".into(), ""),
        ("POST", "/v1/contacts/nobody/verify".into(), ""),
        ("GET", "/v1/contacts/nobody/timer".into(), ""),
        (
            "POST",
            "/v1/contacts/nobody/timer".into(),
            r#"{"timer": "1h"}"#,
        ),
        ("GET", "/v1/conversations/nobody/messages".into(), ""),
        (
            "POST",
            "/v1/conversations/nobody/messages".into(),
            r#"{"content_type": "courier/text", "text": "hi"}"#,
        ),
        ("POST", "/v1/conversations/nobody/read".into(), ""),
        ("GET", format!("/v1/messages/{unknown_id}"), ""),
        ("DELETE", format!("/v1/messages/{unknown_id}"), ""),
        ("GET", format!("/v1/messages/{unknown_id}/content"), ""),
        ("GET", "/v1/no-such-thing".into(), ""),
    ];
    for (method, path, body) in unknown {
        let (status, answer) = raw(&a, Some(&token), method, path, &[], body.as_bytes())?;
        assert_eq!(status, 404, "{method} {path}: {answer}");
        assert_eq!(error_of(&answer).0, "not-found", "{method} {path}");
    }

    // A duplicate contact is 409; a body over the limit 413.
    let post = |path: &str, body: &[u8]| raw(&a, Some(&token), "POST", path, &[], body);
    let add = serde_json::json!({"link": bob_link, "alias": "bob"}).to_string();
    assert_eq!(post("/v1/contacts", add.as_bytes())?.0, 201);
    let again = serde_json::json!({"link": bob_link, "alias": "bobby"}).to_string();
    let (status, answer) = post("/v1/contacts", again.as_bytes())?;
    assert_eq!(
        (status, error_of(&answer).0.as_str()),
        (409, "conflict"),
        "{answer}"
    );
    let (status, answer) = post("/v1/contacts", &vec![b' '; 100 << 10])?;
    assert_eq!(
        (status, error_of(&answer).0.as_str()),
        (413, "too-large"),
        "{answer}"
    );
    let (status, answer) = raw(
        &a,
        Some(&token),
        "PATCH",
        "/v1/contacts/bob",
        &[],
        br#"{"alias": "bob"}"#,
    )?;
    assert_eq!(status, 200, "renaming to the same alias is fine: {answer}");
    let contacts: Vec<Contact> = a.get("/v1/contacts")?;
    assert_eq!(contacts.len(), 1, "the refused duplicate added nobody");

    // A page elsewhere, or a name that rebinds to loopback, cannot use the API even with the token.
    for headers in [
        &[("Host", "evil.example")][..],
        &[("Origin", "http://evil.example")][..],
    ] {
        let (status, answer) = raw(&a, Some(&token), "GET", "/v1/contacts", headers, b"")?;
        assert_eq!(
            (status, error_of(&answer).0.as_str()),
            (403, "forbidden"),
            "{headers:?}"
        );
        let (status, _) = raw(&a, None, "GET", "/", headers, b"")?;
        assert_eq!(status, 403, "nor its page: {headers:?}");
    }
    // No CORS: a preflight gets no Access-Control header.
    let (_, answer) = raw(
        &a,
        None,
        "OPTIONS",
        "/v1/contacts",
        &[("Origin", "http://evil.example")],
        b"",
    )?;
    assert!(
        !answer.to_ascii_lowercase().contains("access-control-allow"),
        "{answer}"
    );
    drop(alice);
    Ok(())
}

#[test]
fn a_websocket_that_sends_anything_but_the_token_first_gets_no_event_and_is_closed() -> Result<()> {
    let root = scratch();
    let (alice, a) = lone_api_node(root.path())?;
    let token = token_of(&alice)?;
    let mut good = Live::connect(&a, &token)?;

    for first in [
        Message::text("let me in"),
        Message::text(format!("{token}x")),
        Message::binary(token.clone().into_bytes()),
    ] {
        let mut socket = open_socket(&a)?;
        socket.send(first.clone())?;
        // Something happens meanwhile that a logged-in socket hears of.
        let bob = courier_proto::identity::Identity::generate("x")
            .link()
            .to_string();
        let alias = format!("pending-{}", &bob[bob.len() - 6..]);
        let _: Contact = a.post(
            "/v1/contacts",
            &serde_json::json!({"link": bob, "alias": alias}),
        )?;
        good.until("the pending contact", |e| {
            e.contains(&Event::ContactPending {
                alias: alias.clone(),
                state: ContactStateJson::Pending,
            })
        })?;
        let mut got = Vec::new();
        loop {
            match socket.read() {
                Ok(Message::Close(frame)) => {
                    got.push(format!("close {:?}", frame.map(|f| u16::from(f.code))));
                }
                Ok(other) => got.push(format!("{other:?}")),
                Err(_) => break,
            }
        }
        assert_eq!(got, ["close Some(4401)"], "after {first:?}: only the close");
    }

    // One that says nothing is closed too, once its few seconds are up.
    let mut silent = open_socket(&a)?;
    let started = Instant::now();
    let closed = matches!(silent.read(), Ok(Message::Close(_)));
    assert!(
        closed && started.elapsed() < Duration::from_secs(10),
        "closed after {:?}",
        started.elapsed()
    );
    drop(alice);
    Ok(())
}

#[test]
fn an_api_beyond_loopback_is_refused_unless_asked_for_and_then_warned_about() -> Result<()> {
    let root = scratch();
    let tools = Tools::locate()?;
    let mut alice = Person::init(&tools, root.path(), "alice")?;
    alice.configure(&[], false, "loopback")?;
    let (code, stderr) =
        alice.fails_with_code(&["serve", "--api", "--api-bind", "0.0.0.0:7000"], &[])?;
    assert!(
        stderr.contains("refusing to serve the API on 0.0.0.0:7000"),
        "{stderr}"
    );
    assert!(stderr.contains("--api-allow-remote"), "{stderr}");
    assert_ne!(code, 0);
    assert!(
        !alice.dir.join(courier_api_client::TOKEN_FILE).exists(),
        "no token was written"
    );

    let printed = alice.serve_with(&["--api", "--api-bind", "0.0.0.0:0", "--api-allow-remote"])?;
    let client = Client::of_data_dir(&alice.dir).context("its files")?;
    let me: Identity = client.get("/v1/identity")?;
    assert_eq!(me.name, "alice");
    assert!(
        printed
            .iter()
            .any(|l| l.starts_with("api: listening on http://0.0.0.0:")),
        "{printed:?}"
    );
    assert!(
        printed.iter().any(
            |l| l.starts_with("stderr: warning: the API listens on 0.0.0.0:")
                && l.contains("beyond this machine")
        ),
        "{printed:?}"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(alice.dir.join(courier_api_client::TOKEN_FILE))?.permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the token file is its owner's only");
    // The same API on a Unix socket in the data directory, for programs of this user only.
    let socket = alice.dir.join(courier_api_client::SOCKET_FILE);
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&socket)?.permissions());
    assert_eq!(mode & 0o777, 0o600, "the socket is its owner's only");
    let over_socket = |auth: &str| -> Result<String> {
        use std::io::{Read, Write};
        let mut stream = std::os::unix::net::UnixStream::connect(&socket)?;
        write!(
            stream,
            "GET /v1/identity HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}\r\n"
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    };
    let token = token_of(&alice)?;
    let answer = over_socket(&format!("Authorization: Bearer {token}\r\n"))?;
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains(r#""name":"alice""#),
        "{answer}"
    );
    assert!(
        over_socket("")?.starts_with("HTTP/1.1 401"),
        "the token is asked for there too"
    );
    alice.stop()?;
    assert!(
        !alice.dir.join(courier_api_client::TOKEN_FILE).exists(),
        "a clean stop removes the token"
    );
    assert!(!socket.exists(), "and the socket");
    Ok(())
}

#[test]
fn with_a_node_serving_the_api_courier_send_needs_no_passphrase_and_without_one_it_opens_the_database()
-> Result<()> {
    let root = scratch();
    let (mut alice, _, bob, _) = courier_e2e::api_pair(&Tools::locate()?, root.path(), true)?;

    // She gives no passphrase: the commands go through her running node.
    let passphrase = std::mem::take(&mut alice.passphrase);
    let queued = alice.cli(&["send", "bob", "--text", "sent through the node"])?;
    assert!(queued.starts_with("queued "), "{queued}");
    let listed = alice.cli(&["contacts", "list", "--json"])?;
    assert!(
        listed.contains(r#""alias":"bob","state":"contact""#),
        "{listed}"
    );
    courier_e2e::wait_for_delivery(&alice, &bob, 1, Duration::from_secs(30))?;
    let rows = alice.messages("bob")?;
    assert_eq!(rows.len(), 1, "{rows:?}");

    // With her node stopped, the same command opens the database, which needs the passphrase.
    alice.stop()?;
    let stderr = alice.fails(&["contacts", "list"])?;
    assert!(stderr.contains("no passphrase"), "{stderr}");
    alice.passphrase = passphrase;
    assert!(alice.cli(&["contacts", "list"])?.contains("bob"));
    Ok(())
}

/// Whether `program --version` runs.
/// Runs schemathesis on the OpenAPI document at `document` with `token` (and `more` arguments), with
/// the checks every API of ours must pass: no 5xx, and no status, content type or body the document
/// does not allow. Its report if it found nothing, else a failure holding the report.
pub(crate) fn schemathesis(
    dir: &Path,
    document: &str,
    token: &str,
    more: &[&str],
) -> Result<String> {
    // Its cache of found failures goes in the story's folder, not the source tree.
    let output = std::process::Command::new("schemathesis")
        .current_dir(dir)
        .args(["run", document])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(more)
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--max-examples", "40", "--seed", "1"])
        .env("NO_COLOR", "1")
        .output()?;
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!("schemathesis found failures:\n{report}");
    }
    Ok(report)
}

pub(crate) fn installed(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn schemathesis_runs_the_openapi_document_against_a_live_node_and_finds_no_5xx_and_no_response_off_schema()
-> Result<()> {
    if !installed("schemathesis") {
        println!("SKIPPED: schemathesis is not installed (python3 -m pip install schemathesis)");
        return Ok(());
    }
    let root = scratch();
    let (alice, a, bob, b) = two_api_nodes(root.path())?;
    // A contact with a conversation, so the fuzzer's requests also reach real data.
    let bob_id: Identity = b.get("/v1/identity")?;
    let alice_id: Identity = a.get("/v1/identity")?;
    let _: Contact = a.post(
        "/v1/contacts",
        &serde_json::json!({"link": bob_id.link, "alias": "bob"}),
    )?;
    let _: Contact = b.post(
        "/v1/contacts",
        &serde_json::json!({"link": alice_id.link, "alias": "alice"}),
    )?;
    let token = token_of(&alice)?;
    let report = schemathesis(
        root.path(),
        &format!("{}/v1/openapi.json", a.base()),
        &token,
        &[],
    )?;
    assert!(
        report.contains("Tested: 38"),
        "every operation was run:\n{report}"
    );
    drop((alice, bob));
    Ok(())
}

#[test]
fn courier_link_qr_prints_the_link_as_a_block_of_modules_above_the_link_itself() -> Result<()> {
    let root = scratch();
    let alice = Person::init(&Tools::locate()?, root.path(), "alice")?;
    let link = alice.link()?;
    let printed = alice.cli(&["link", "--qr"])?;
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&link.as_str()),
        "the link last, as `link` prints it"
    );
    let code = &lines[..lines.len() - 1];
    assert!(code.len() > 10, "{printed}");
    assert!(
        code.iter()
            .all(|l| l.chars().count() == code[0].chars().count()),
        "a square block: {printed}"
    );
    assert!(
        code.iter().all(|l| l.chars().all(|c| " ▀▄█".contains(c))),
        "only half blocks: {printed}"
    );
    Ok(())
}

#[test]
fn a_desktop_app_sets_a_disappearing_timer_that_both_sides_hold_and_the_profile_bounds()
-> Result<()> {
    use courier_api_client::client::ClientError;
    use courier_api_client::json::{DisappearingTimer, SetTimer};

    let root = scratch();
    let (mut alice, mut bob) =
        courier_e2e::dialing_pair(&Tools::locate()?, root.path(), root.path())?;
    // Alice's device keeps nothing longer than a day.
    let config = alice.dir.join("config.toml");
    let text = std::fs::read_to_string(&config)? + "\n[policy]\ndisappear-within = \"1d\"\n";
    std::fs::write(&config, text)?;
    courier_e2e::introduce(&alice, &bob)?;
    let a = alice.serve_api()?;
    let b = bob.serve_api()?;
    courier_e2e::wait_for_contact(&alice, &bob)?;

    let off: DisappearingTimer = a.get("/v1/contacts/bob/timer")?;
    assert_eq!(off.seconds, None);
    assert_eq!(off.timer, "off");
    let set = |timer: &str| -> Result<DisappearingTimer, ClientError> {
        a.post(
            "/v1/contacts/bob/timer",
            &SetTimer {
                timer: timer.into(),
            },
        )
    };
    let hour = set("1h")?;
    assert_eq!(
        hour,
        DisappearingTimer {
            timer: "1 hour".into(),
            seconds: Some(3600)
        }
    );
    let mine: DisappearingTimer = a.get("/v1/contacts/bob/timer")?;
    assert_eq!(mine, hour);
    courier_e2e::wait_until(
        Duration::from_secs(30),
        "bob's node holds alice's timer",
        || {
            let his: DisappearingTimer = b.get("/v1/contacts/alice/timer")?;
            Ok(his == hour)
        },
    )?;

    // Longer than the profile allows, or off: refused by the policy, and nothing changes.
    for refused in ["8d", "off"] {
        match set(refused) {
            Err(ClientError::Api { status, detail }) => {
                assert_eq!(status, 422, "{refused}: {detail:?}");
                assert!(
                    detail.message.contains("disappear-within"),
                    "{refused}: {detail:?}"
                );
            }
            other => bail!("{refused} was not refused by the policy: {other:?}"),
        }
    }
    // Not a timer at all: 400, saying what one looks like.
    match set("soon") {
        Err(ClientError::Api {
            status: 400,
            detail,
        }) => {
            assert!(detail.message.contains("7d"), "{detail:?}")
        }
        other => bail!("`soon` was taken: {other:?}"),
    }
    let still: DisappearingTimer = a.get("/v1/contacts/bob/timer")?;
    assert_eq!(still, hour);
    Ok(())
}

#[test]
fn sixteen_of_alice_s_clients_send_at_once_some_to_nobody_and_each_good_send_is_queued_once_and_reaches_bob()
-> Result<()> {
    use courier_api_client::client::ClientError;
    use courier_api_client::json::SendText;
    use std::collections::HashMap;

    const CLIENTS: usize = 16;
    const EACH: usize = 25;
    let root = scratch();
    let (mut alice, a, mut bob, b) = courier_e2e::api_pair(&Tools::locate()?, root.path(), true)?;
    // Every client sends at once, so the node commits them in groups; every fifth send names a
    // contact alice does not have, and one a content type no plugin reads. Those fail alone.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (a, barrier) = (a.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                (0..EACH)
                    .map(|i| {
                        let (to, content_type) = match i % 5 {
                            0 => ("carol", "courier/text"),
                            1 if c == 0 => ("bob", "courier/no-such-type"),
                            _ => ("bob", "courier/text"),
                        };
                        let text = format!("burst {c}/{i}");
                        let sent = a.send_text(
                            to,
                            &SendText {
                                content_type: content_type.into(),
                                text: text.clone(),
                                options: Default::default(),
                                relates_to: None,
                            },
                        );
                        (text, sent)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut queued = HashMap::new();
    let mut refused = 0;
    for client in clients {
        for (text, sent) in client.join().expect("a client thread") {
            match sent {
                Ok(q) => {
                    assert!(queued.insert(text, q.id).is_none());
                }
                Err(ClientError::Api { status, detail }) => {
                    assert!(status == 404 || status == 400, "{status}: {detail:?}");
                    assert!(
                        text.ends_with("/0")
                            || text.ends_with("/5")
                            || text.ends_with("/10")
                            || text.ends_with("/15")
                            || text.ends_with("/20")
                            || text.starts_with("burst 0/"),
                        "{text} was refused: {detail:?}"
                    );
                    refused += 1;
                }
                Err(other) => bail!("{text}: {other}"),
            }
        }
    }
    // 5 of each client's 25 go to carol; client 0 also names a type nobody has, 5 times.
    assert_eq!(refused, CLIENTS * 5 + 5);
    assert_eq!(queued.len(), CLIENTS * EACH - refused);
    // Each queued send is in alice's conversation once, under the id its client was told.
    let listed: HashMap<String, String> = a
        .conversation("bob")?
        .into_iter()
        .filter(|m| m.summary.starts_with("burst "))
        .map(|m| (m.summary, m.id))
        .collect();
    assert_eq!(listed, queued);
    courier_e2e::wait_until(Duration::from_secs(60), "bob has every good send", || {
        let at_bob: Vec<String> = b
            .conversation("alice")?
            .into_iter()
            .map(|m| m.summary)
            .filter(|s| s.starts_with("burst "))
            .collect();
        let distinct: std::collections::HashSet<&String> = at_bob.iter().collect();
        assert_eq!(distinct.len(), at_bob.len(), "nothing arrives twice");
        Ok(at_bob.len() == queued.len())
    })?;
    alice.stop()?;
    bob.stop()?;
    Ok(())
}

#[test]
fn alice_pairs_her_mailbox_through_her_api_sees_when_it_stops_answering_and_unpairs() -> Result<()>
{
    use courier_api_client::json::{MailboxState, OwnMailboxState, PairMailbox};
    let root = scratch();
    let tools = Tools::locate()?;
    let (alice, a, bob, _b) = courier_e2e::api_pair(&tools, root.path(), true)?;
    let token = token_of(&alice)?;
    let state: MailboxState = a.get("/v1/mailbox")?;
    assert_eq!(
        state,
        MailboxState {
            own: None,
            theirs: 0
        }
    );
    let json = [("Content-Type", "application/json")];
    let (status, body) = raw(
        &a,
        Some(&token),
        "POST",
        "/v1/mailbox",
        &json,
        br#"{"link":"https://example.org/"}"#,
    )?;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("courier-mailbox://"),
        "says what a link looks like: {body}"
    );

    let (mailbox, link) = courier_e2e::mailbox::new_mailbox(&tools, &root.path().join("mailbox"))?;
    let state: MailboxState = a.post("/v1/mailbox", &PairMailbox { link })?;
    let answering = OwnMailboxState {
        reachable: true,
        problem: None,
        contacts: 1,
    };
    assert_eq!(state.own, Some(answering), "bob is registered");

    mailbox.kill()?;
    let state: MailboxState = a.get("/v1/mailbox")?;
    let own = state.own.context("still paired")?;
    assert!(!own.reachable);
    assert!(own.problem.is_some_and(|p| p.contains("did not answer")));

    assert_eq!(
        raw(&a, Some(&token), "DELETE", "/v1/mailbox", &[], b"")?.0,
        204
    );
    let (status, body) = raw(&a, Some(&token), "DELETE", "/v1/mailbox", &[], b"")?;
    assert_eq!(
        (status, error_of(&body).0.as_str()),
        (404, "not-found"),
        "{body}"
    );
    let state: MailboxState = a.get("/v1/mailbox")?;
    assert_eq!(state.own, None);
    drop((alice, bob));
    Ok(())
}
