//! Private groups between real nodes: alice knows bob, carol and dave, who do not know each
//! other; dave is reachable only through a drive folder. Posts relay through alice; a hostile
//! member's forgeries are refused; a removed member gets nothing new and reaches no one.

use std::path::Path;
use std::time::Duration;

use courier_e2e::{
    Person, Tools, form_group, group_standing, introduce, noise_png, wait_for_contact, wait_until,
};
use courier_proto::group::GroupId;
use serde_json::Value;

use crate::scratch;
use crate::second_language::POLL;

const GROUP: &str = "Newsroom";
const WAIT: Duration = Duration::from_secs(60);

/// What `person` shows of the group: each post as (author, content type, summary), oldest
/// first.
fn posts(person: &Person) -> Vec<(String, String, String)> {
    let out = person
        .cli(&["group", "read", GROUP, "--limit", "500", "--json"])
        .unwrap();
    let entries: Vec<Value> = serde_json::from_str(&out).unwrap();
    entries
        .iter()
        .filter(|e| e["kind"] == "post")
        .map(|e| {
            (
                e["author"].as_str().unwrap().to_owned(),
                e["content_type"].as_str().unwrap().to_owned(),
                e["summary"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// How many of `person`'s posts say `text`, by `author`.
fn shown(person: &Person, author: &str, text: &str) -> usize {
    posts(person)
        .iter()
        .filter(|(a, _, s)| a == author && s == text)
        .count()
}

/// Where `person` stands in the group, if they know it.
fn standing(person: &Person) -> Option<String> {
    group_standing(person, GROUP).unwrap()
}

/// Waits until each of `people` shows `text` by `author`.
fn wait_shown(people: &[&Person], author: &str, text: &str) {
    for person in people {
        wait_until(
            WAIT,
            &format!("{} shows {author}'s {text:?}", person.name),
            || Ok(shown(person, author, text) > 0),
        )
        .unwrap();
    }
}

/// The postcard length prefix at the start of `bytes`: the length, and where what it counts
/// begins.
fn varint(bytes: &[u8]) -> (usize, usize) {
    let (mut value, mut at) = (0usize, 0);
    loop {
        let byte = bytes[at];
        value |= usize::from(byte & 0x7f) << (7 * at);
        at += 1;
        if byte & 0x80 == 0 {
            return (value, at);
        }
    }
}

/// A record's envelope as the wire has it: the body, then a 64-byte signature, each behind its
/// length.
fn envelope(body: &[u8], signature: &[u8; 64]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut len = body.len();
    while len >= 0x80 {
        out.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(body);
    out.push(64);
    out.extend_from_slice(signature);
    out
}

/// `body` signed by the secret `key` as the protocol signs a record (its domain label is public).
fn sign(key: &[u8; 32], body: &[u8]) -> [u8; 64] {
    use ed25519_dalek::Signer;
    let key = ed25519_dalek::SigningKey::from_bytes(key);
    key.sign(&[b"courier/v1/group-record".as_slice(), body].concat())
        .to_bytes()
}

/// `bytes` with the byte at `at` changed.
fn flipped(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at] ^= 1;
    out
}

/// Replaces the first `from` in `bytes` by `to`, of the same length.
fn replaced(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("the text is in the record");
    let mut out = bytes.to_vec();
    out[at..at + from.len()].copy_from_slice(to);
    out
}

#[test]
fn four_people_one_group_posts_relay_through_alice_to_people_who_never_met_and_a_drive_carries_dave_s()
 {
    let root = scratch();
    let tools = Tools::locate().unwrap();
    let [mut alice, mut bob, mut carol, mut dave] =
        ["alice", "bob", "carol", "dave"].map(|n| Person::init(&tools, root.path(), n).unwrap());
    // Alice meets each of them on the LAN; they never meet each other.
    alice
        .configure(&[bob.port, carol.port, dave.port], false, "loopback")
        .unwrap();
    for person in [&bob, &carol, &dave] {
        person.configure(&[alice.port], false, "loopback").unwrap();
        introduce(&alice, person).unwrap();
    }
    for person in [&mut alice, &mut bob, &mut carol, &mut dave] {
        person.serve().unwrap();
    }
    for person in [&bob, &carol, &dave] {
        wait_for_contact(&alice, person).unwrap();
    }
    // Then dave's network goes: from now on a drive folder that both their nodes read and
    // write every second is all that joins him to alice.
    let drive = root.path().join("drive");
    std::fs::create_dir_all(&drive).unwrap();
    alice.stop().unwrap();
    dave.stop().unwrap();
    alice.drive = Some(drive.clone());
    alice
        .configure(&[bob.port, carol.port], false, "loopback")
        .unwrap();
    dave.lan = false;
    dave.drive = Some(drive.clone());
    dave.write_config("", "loopback").unwrap();
    alice.serve().unwrap();
    dave.serve().unwrap();

    // Alice makes the group and invites all three; each accepts under a name of their own.
    form_group(&alice, &[&bob, &carol, &dave], GROUP).unwrap();
    for person in [&bob, &carol, &dave] {
        // The invitation shows in the conversation too, with its fallback line.
        let invitation = person.messages("alice").unwrap();
        assert!(
            invitation
                .iter()
                .any(|m| m.summary.contains(GROUP) && m.direction == "in"),
            "{invitation:?}"
        );
    }
    wait_until(WAIT, "alice's group has four members", || {
        let out = alice.cli(&["group", "members", GROUP, "--json"])?;
        let members: Vec<Value> = serde_json::from_str(&out)?;
        Ok(members.iter().filter(|m| m["state"] == "member").count() == 4)
    })
    .unwrap();

    // Each posts a text, bob an image too.
    let texts = [
        (&alice, "the meeting moves to the library"),
        (&bob, "bob: I will bring the documents"),
        (&carol, "carol: I can be there at nine"),
        (&dave, "dave: I am only on the drive"),
    ];
    for (person, text) in texts {
        person
            .cli(&["group", "post", GROUP, "--text", text])
            .unwrap();
    }
    let photo = root.path().join("photo.png");
    std::fs::write(&photo, noise_png(96, 96, 7)).unwrap();
    bob.cli(&["group", "post", GROUP, "--image", photo.to_str().unwrap()])
        .unwrap();
    let everyone = [&alice, &bob, &carol, &dave];
    for (author, text) in texts {
        wait_shown(&everyone, &author.name, text);
    }
    for person in everyone {
        wait_until(WAIT, &format!("{} shows bob's image", person.name), || {
            Ok(posts(person)
                .iter()
                .any(|(a, t, _)| a == "bob" && t == "courier/image"))
        })
        .unwrap();
    }
    // Exactly once each, with its author, at every member (they synced with alice alone).
    for person in everyone {
        let posts = posts(person);
        assert_eq!(posts.len(), 5, "{}: {posts:?}", person.name);
        for (author, text) in texts {
            assert_eq!(shown(person, &author.name, text), 1, "{}", person.name);
        }
    }
    // Group traffic rides the 1:1 links but shows in the group alone: alice's conversation with
    // bob holds the invitation and nothing else, either way.
    let rows = alice.messages("bob").unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].content_type, "courier/group-invite");
    let rows = bob.messages("alice").unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0].content_type.as_str(), rows[0].direction.as_str()),
        ("courier/group-invite", "in")
    );
    // The image opens as the file bob posted it (its plugin made it a JPEG).
    let out = carol.cli(&["group", "read", GROUP, "--json"]).unwrap();
    let entries: Vec<Value> = serde_json::from_str(&out).unwrap();
    let image = entries
        .iter()
        .find(|e| e["content_type"] == "courier/image")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let saved = root.path().join("carol-saw.jpg");
    carol
        .cli(&[
            "group",
            "save",
            GROUP,
            &image[..16],
            saved.to_str().unwrap(),
        ])
        .unwrap();
    assert!(std::fs::read(&saved).unwrap().starts_with(b"\xff\xd8"));

    // Alice goes offline: bob's post waits for her, since she is his only way to the others.
    alice.stop().unwrap();
    let waiting = "bob: posted while alice was away";
    bob.cli(&["group", "post", GROUP, "--text", waiting])
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(shown(&carol, "bob", waiting), 0);
    assert_eq!(shown(&alice, "bob", waiting), 0);
    alice.serve().unwrap();
    wait_shown(&[&alice, &bob, &carol, &dave], "bob", waiting);

    hostile_carol_forges_and_replays(&mut carol, &alice, &bob, &dave);
    alice_removes_dave(&alice, &bob, &carol, &mut dave);
}

/// Carol's node turns hostile: it sends alice a post signed by carol as bob, a post by a key
/// nobody added, bob's post altered, and bob's post again. Alice shows none of the forgeries,
/// bob's post once, and relays nothing new to anyone.
fn hostile_carol_forges_and_replays(
    carol: &mut Person,
    alice: &Person,
    bob: &Person,
    dave: &Person,
) {
    carol.stop().unwrap();
    let before: Vec<_> = [alice, bob, dave].map(posts).to_vec();
    let mut db = carol.database().unwrap();
    let group = db
        .groups()
        .unwrap()
        .into_iter()
        .find(|g| g.descriptor.name == GROUP)
        .unwrap();
    let id: GroupId = group.descriptor.id();
    let carol_key = group.key.unwrap().secret();
    let original = "bob: I will bring the documents";
    let bobs = db
        .group_records(&id, 0, 100)
        .unwrap()
        .into_iter()
        .map(|(_, r)| r)
        .find(|r| {
            // Posts are sealed: what one says is read through its key.
            let said = db.group_post(r).unwrap().map(|p| p.content.payload);
            said == Some(courier_storage::Payload::Complete(
                original.as_bytes().to_vec(),
            ))
        })
        .unwrap();
    let (len, at) = varint(&bobs.bytes);
    let body = &bobs.bytes[at..at + len];
    assert_eq!(
        &body[32..64],
        &bobs.body.author.0,
        "the author follows the group id"
    );
    // Carol signs, as bob, a post bob never wrote (his, one byte of its sealed content changed).
    let as_bob = flipped(body, body.len() - 1);
    let signed_as_bob = envelope(&as_bob, &sign(&carol_key, &as_bob));
    // A key nobody added signs a post of its own.
    let stranger = [9u8; 32];
    let stranger_public = ed25519_dalek::SigningKey::from_bytes(&stranger)
        .verifying_key()
        .to_bytes();
    let by_stranger = flipped(
        &replaced(body, &bobs.body.author.0, &stranger_public),
        body.len() - 1,
    );
    let injected = envelope(&by_stranger, &sign(&stranger, &by_stranger));
    // Bob's post altered in flight, his signature kept.
    let altered = flipped(&bobs.bytes, at + len - 1);
    let alice_at_carol = db.contact("alice").unwrap();
    for bytes in [signed_as_bob, injected, altered, bobs.bytes.clone()] {
        let message = courier_proto::group::Record::decode(&bobs.bytes)
            .unwrap()
            .to_message();
        db.queue(
            alice_at_carol,
            &courier_proto::sync::record::Message {
                body: bytes,
                ..message
            },
        )
        .unwrap();
    }
    drop(db);
    carol.serve().unwrap();
    wait_until(WAIT, "alice took all of carol's records", || {
        Ok(carol.database()?.unacked()?.is_empty())
    })
    .unwrap();
    // A moment for anything alice might relay to reach bob and, by the drive, dave.
    std::thread::sleep(Duration::from_secs(4));
    for (person, before) in [alice, bob, dave].into_iter().zip(before) {
        let now = posts(person);
        assert_eq!(now, before, "{} shows nothing new", person.name);
        assert_eq!(shown(person, "bob", original), 1);
    }
}

/// Alice removes dave. Dave, who has not heard yet, posts; nobody shows it. Bob posts after the
/// removal; dave never gets it. What dave had before stays with him.
fn alice_removes_dave(alice: &Person, bob: &Person, carol: &Person, dave: &mut Person) {
    dave.stop().unwrap();
    let dave_had = posts(dave);
    alice.cli(&["group", "remove", GROUP, "dave"]).unwrap();
    let late = "dave: written after alice removed me";
    dave.cli(&["group", "post", GROUP, "--text", late]).unwrap();
    let after = "bob: written after dave was removed";
    bob.cli(&["group", "post", GROUP, "--text", after]).unwrap();
    wait_shown(&[alice, carol], "bob", after);
    dave.serve().unwrap();
    wait_until(WAIT, "dave hears he was removed", || {
        Ok(standing(dave).as_deref() == Some("removed"))
    })
    .unwrap();
    // Dave's drive file reached alice (her node read everything it holds for her) and she
    // refused his post; nobody else could have had it but through her.
    wait_until(WAIT, "alice took dave's files", || {
        Ok(dave.database()?.unacked()?.is_empty())
    })
    .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    for person in [alice, bob, carol] {
        assert_eq!(shown(person, "dave", late), 0, "{}", person.name);
        assert_eq!(shown(person, "dave", "dave: I am only on the drive"), 1);
    }
    assert_eq!(shown(dave, "bob", after), 0, "nothing after the removal");
    // What he had stays with him; his own late post is taken back at his end too (it comes
    // after the removal's cut), so every copy of the group agrees.
    let now = posts(dave);
    for post in &dave_had {
        assert!(now.contains(post), "dave keeps {post:?}");
    }
    assert_eq!(shown(dave, "dave", late), 0);
    let refused = dave
        .fails(&["group", "post", GROUP, "--text", "one more"])
        .unwrap();
    assert!(refused.contains("not a member"), "{refused}");
    let members = alice.cli(&["group", "members", GROUP, "--json"]).unwrap();
    let members: Vec<Value> = serde_json::from_str(&members).unwrap();
    assert!(
        members
            .iter()
            .any(|m| m["name"] == "dave" && m["state"] == "removed")
    );
}

#[test]
fn every_installed_message_type_posts_into_a_group_and_reads_there_as_it_does_in_a_conversation() {
    let root = scratch();
    let tools = Tools::locate().unwrap();
    let [mut alice, mut bob] =
        ["alice", "bob"].map(|n| Person::init(&tools, root.path(), n).unwrap());
    for (person, peer) in [(&alice, bob.port), (&bob, alice.port)] {
        person.configure(&[peer], false, "loopback").unwrap();
        // A third party's message type, written in Python.
        person.add_to_config(POLL).unwrap();
    }
    introduce(&alice, &bob).unwrap();
    alice.serve().unwrap();
    bob.serve().unwrap();
    wait_for_contact(&alice, &bob).unwrap();
    form_group(&alice, &[&bob], GROUP).unwrap();

    // The same inputs, each sent to bob and posted in the group.
    let photo = root.path().join("photo.png");
    std::fs::write(&photo, noise_png(64, 48, 3)).unwrap();
    let voice = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../plugins/message-voice/tests/fixtures/espeak.wav");
    let payment =
        "bitcoin:BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4?amount=0.0005&label=Bob&message=rent";
    // A photo kept whole: too large for one record, it goes as an attachment in chunks.
    let large = root.path().join("large.png");
    std::fs::write(&large, noise_png(400, 300, 4)).unwrap();
    let inputs: [&[&str]; 6] = [
        &["--location", "52.52,13.405", "--label", "the square"],
        &["--payment", payment],
        &["--voice", voice.to_str().unwrap()],
        &["--image", photo.to_str().unwrap()],
        &["--type", "example/poll", "--input", "-"],
        &[
            "--type",
            "courier/image",
            "--input",
            large.to_str().unwrap(),
            "--option",
            "quality=100",
        ],
    ];
    let poll = br#"{"question": "Meet at one?", "answers": ["Yes", "No"]}"#;
    for input in inputs {
        let stdin: &[u8] = if input[0] == "--type" { poll } else { b"" };
        let mut send = vec!["send", "bob"];
        send.extend_from_slice(input);
        alice.cli_with_stdin(&send, stdin).unwrap();
        let mut post = vec!["group", "post", GROUP];
        post.extend_from_slice(input);
        alice.cli_with_stdin(&post, stdin).unwrap();
    }
    // A payment request for the wrong network is refused by its plugin, in a group as anywhere.
    let testnet = "bitcoin:tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7";
    let refused = alice
        .fails(&["group", "post", GROUP, "--payment", testnet])
        .unwrap();
    assert!(refused.contains("net"), "{refused}");

    wait_until(WAIT, "bob has all six, each way", || {
        let sent = bob
            .messages("alice")?
            .iter()
            .filter(|r| r.complete && r.content_type != "courier/group-invite")
            .count();
        let whole = posts(&bob)
            .iter()
            .filter(|(_, _, s)| !s.contains("receiving"))
            .count();
        Ok(sent == 6 && whole == 6)
    })
    .unwrap();
    let conversation: Vec<(String, String)> = bob
        .messages("alice")
        .unwrap()
        .into_iter()
        .filter(|r| r.content_type != "courier/group-invite")
        .map(|r| (r.content_type, r.summary))
        .collect();
    let group: Vec<(String, String)> = posts(&bob)
        .into_iter()
        .map(|(author, content_type, summary)| {
            assert_eq!(author, "alice");
            (content_type, summary)
        })
        .collect();
    assert_eq!(group, conversation, "each summarised by its plugin alike");
    let types: Vec<&str> = group.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "courier/location",
            "courier/payment",
            "courier/voice",
            "courier/image",
            "example/poll",
            "courier/image"
        ]
    );
    assert_eq!(group[2].1, "voice message, 0:05");
    assert_eq!(group[4].1, "Poll: Meet at one? (Yes / No)");
    // The voice note saves from the group as a file that plays.
    let out = bob.cli(&["group", "read", GROUP, "--json"]).unwrap();
    let entries: Vec<Value> = serde_json::from_str(&out).unwrap();
    let note = entries
        .iter()
        .find(|e| e["content_type"] == "courier/voice")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let saved = root.path().join("note.ogg");
    bob.cli(&["group", "save", GROUP, &note[..16], saved.to_str().unwrap()])
        .unwrap();
    let ogg = std::fs::read(&saved).unwrap();
    assert_eq!(&ogg[..4], b"OggS");
    assert!(ogg.windows(8).any(|w| w == b"OpusHead"));
    // The large photo came in chunks and saves whole, the same bytes as the one sent 1:1.
    let large_post = entries
        .iter()
        .rfind(|e| e["content_type"] == "courier/image")
        .unwrap();
    assert!(
        large_post["bytes"].as_u64().unwrap() > 100_000,
        "{large_post}"
    );
    let from_group = root.path().join("large-from-group.jpg");
    let id = large_post["id"].as_str().unwrap();
    bob.cli(&[
        "group",
        "save",
        GROUP,
        &id[..16],
        from_group.to_str().unwrap(),
    ])
    .unwrap();
    let sent = bob.messages("alice").unwrap();
    let one_to_one = sent
        .iter()
        .rfind(|r| r.content_type == "courier/image")
        .unwrap();
    let from_chat = root.path().join("large-from-chat.jpg");
    bob.cli(&[
        "attachment",
        "save",
        &one_to_one.id[..16],
        from_chat.to_str().unwrap(),
    ])
    .unwrap();
    assert_eq!(
        std::fs::read(&from_group).unwrap(),
        std::fs::read(&from_chat).unwrap()
    );
}
