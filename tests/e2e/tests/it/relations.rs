//! Replies, reactions, edits and delete for everyone between real nodes: bob replies to alice's
//! text, alice reacts to the reply and changes her reaction, bob edits his reply, alice takes one
//! of her texts back; both sides list the same state, the refused ones change nothing, the text
//! taken back is in neither data directory, and a node without the kinds' plugins shows the
//! sender's fallback lines. Read receipts: off until
//! a side turns them on, for that side; the other's window shows read; every change reaches the
//! WebSocket as an event of its own.

use std::time::Duration;

use anyhow::Result;
use courier_api_client::json::{
    DirectionJson, Event, MarkedRead, Messages, ReadReceipts, ReceiptsChoice, StateJson,
};
use courier_e2e::{
    Person, RELATION_TYPES, Tools, api_pair, introduce, wait_for_contact, wait_for_delivery,
    wait_until,
};
use courier_proto::sync::relation::{EDIT_TYPE, REACTION_TYPE, payload};
use courier_storage::Draft;
use serde_json::Value;

use super::api::Live;
use super::disappearing::assert_no_trace;
use super::{pair, scratch, send_text};

const WAIT: Duration = Duration::from_secs(30);

/// The conversation with `alias` as `person`'s `messages --json` prints it (through the node's
/// API while it runs).
fn listed(person: &Person, alias: &str) -> Result<Vec<Value>> {
    Ok(serde_json::from_str(
        &person.cli(&["messages", alias, "--json", "--all"])?,
    )?)
}

/// The listed message whose summary is `summary`.
fn find(rows: &[Value], summary: &str) -> Option<Value> {
    rows.iter().find(|r| r["summary"] == summary).cloned()
}

/// Its id's first 16 hex digits.
fn short(row: &Value) -> String {
    row["id"].as_str().unwrap_or_default()[..16].to_owned()
}

#[test]
fn bob_replies_alice_reacts_and_changes_it_bob_edits_alice_deletes_one_for_everyone() -> Result<()>
{
    let root = scratch();
    // Both nodes serve their API, so each side's `messages --json` is read through it; the API's
    // own window is compared with it at the end.
    let (alice, a, bob, b) = api_pair(&Tools::locate()?, root.path(), true)?;
    alice.cli(&["send", "bob", "--text", "north gate at nine"])?;
    alice.cli(&["send", "bob", "--text", "bring the blue folder"])?;
    wait_for_delivery(&alice, &bob, 2, WAIT)?;
    let at_bob = listed(&bob, "alice")?;
    let gate = short(&find(&at_bob, "north gate at nine").expect("bob has the text"));
    let folder = short(&find(&at_bob, "bring the blue folder").expect("bob has it"));

    // Bob replies, quoting the first; alice reacts 👍 to the reply, then ❤; bob edits it.
    bob.cli(&[
        "send",
        "alice",
        "--reply-to",
        &gate,
        "--text",
        "which north gate?",
    ])?;
    let mut reply = None;
    wait_until(WAIT, "alice has the reply", || {
        reply = find(&listed(&alice, "bob")?, "↩ which north gate?");
        Ok(reply.is_some())
    })?;
    let reply = short(&reply.unwrap_or_default());
    alice.cli(&["react", "bob", &reply, "👍"])?;
    alice.cli(&["react", "bob", &reply, "❤"])?;
    bob.cli(&[
        "edit",
        "alice",
        &reply,
        "--text",
        "which north gate, the old one?",
    ])?;
    // Alice takes the second text back, for both sides.
    alice.cli(&["delete", "bob", &folder, "--for-everyone"])?;

    // Both sides converge on the same state.
    let state = |person: &Person, alias: &str, theirs: &str| -> Result<bool> {
        let rows = listed(person, alias)?;
        let Some(reply) = find(&rows, "↩ which north gate?") else {
            return Ok(false);
        };
        let reacted = reply["reactions"].as_array().cloned().unwrap_or_default();
        Ok(reply["relation"] == "reply"
            && reply["relates_to"]
                .as_str()
                .unwrap_or_default()
                .starts_with(&gate)
            && reacted.len() == 1
            && reacted[0]["reaction"] == "❤"
            && reacted[0]["from"] == theirs
            && reply["edits"] == serde_json::json!(["which north gate, the old one?"])
            && find(&rows, "bring the blue folder").is_none()
            && rows.iter().any(|r| r["relation"] == "delete")
            && rows
                .iter()
                .all(|r| r["type"] != "courier/reaction" && r["type"] != "courier/edit"))
    };
    wait_until(
        WAIT,
        "both sides show the same reply, reaction, edit and deletion",
        || Ok(state(&alice, "bob", "outgoing")? && state(&bob, "alice", "incoming")?),
    )?;

    // The CLI's window and the API's are the same on each side.
    for (person, client, alias) in [(&alice, &a, "bob"), (&bob, &b, "alice")] {
        let cli = listed(person, alias)?;
        let api: Messages = client.get(&format!("/v1/conversations/{alias}/messages"))?;
        assert_eq!(cli.len(), api.messages.len(), "{alias}'s window");
        for (row, message) in cli.iter().zip(&api.messages) {
            let message = serde_json::to_value(message)?;
            // The API leaves out what is empty; the CLI prints it as empty.
            let or_none = |v: &Value| match v {
                Value::Array(a) if a.is_empty() => Value::Null,
                v => v.clone(),
            };
            for field in [
                "id",
                "summary",
                "relation",
                "relates_to",
                "reactions",
                "edits",
            ] {
                assert_eq!(
                    or_none(&row[field]),
                    or_none(&message[field]),
                    "{field} of {row}"
                );
            }
        }
    }

    // Refused, each with a clear error, and nothing stored on either side: after a text sent
    // behind them has arrived, both windows are what they were, every reaction and edit too.
    // (A row's delivery state may still move on as acks come: it is left out.)
    let stored = |rows: Vec<Value>| -> Vec<Value> {
        rows.into_iter()
            .filter(|r| r["summary"] != "that is all")
            .map(|mut r| {
                r["state"] = Value::Null;
                r
            })
            .collect()
    };
    let before = (
        stored(listed(&alice, "bob")?),
        stored(listed(&bob, "alice")?),
    );
    for (args, says) in [
        (vec!["react", "bob", "deadbeefdeadbeef", "👍"], "no message"),
        (
            vec!["edit", "bob", &reply, "--text", "not mine"],
            "only the sender",
        ),
        (vec!["react", "bob", &reply, "👍👍"], "one emoji"),
    ] {
        let refused = alice.fails(&args)?;
        assert!(refused.contains(says), "{args:?}: {refused}");
    }
    let refused = bob.fails(&["delete", "alice", &gate, "--for-everyone"])?;
    assert!(refused.contains("only the sender"), "{refused}");
    alice.cli(&["send", "bob", "--text", "that is all"])?;
    wait_until(WAIT, "bob has the text sent behind the refusals", || {
        Ok(find(&listed(&bob, "alice")?, "that is all").is_some())
    })?;
    assert_eq!(stored(listed(&alice, "bob")?), before.0);
    assert_eq!(stored(listed(&bob, "alice")?), before.1);

    // What was taken back is in neither data directory, raw or decrypted.
    let traces = [b"bring the blue folder".to_vec()];
    for person in [&alice, &bob] {
        assert_no_trace(person, root.path(), &traces, b"north gate at nine")?;
    }
    Ok(())
}

#[test]
fn carol_without_the_kinds_plugins_sees_alice_s_reply_reaction_edit_and_deletion_by_their_fallback_lines()
-> Result<()> {
    let root = scratch();
    let tools = Tools::locate()?;
    let mut alice = Person::init(&tools, root.path(), "alice")?;
    let mut carol = Person::init(&tools, root.path(), "carol")?;
    carol.missing_plugins = RELATION_TYPES.to_vec();
    alice.configure(&[carol.port], false, "loopback")?;
    carol.configure(&[alice.port], false, "loopback")?;
    introduce(&alice, &carol)?;
    alice.serve()?;
    carol.serve()?;
    wait_for_contact(&alice, &carol)?;
    carol.cli(&["send", "alice", "--text", "are we still on?"])?;
    wait_for_delivery(&carol, &alice, 1, WAIT)?;
    let asked = short(&find(&listed(&alice, "carol")?, "are we still on?").expect("alice has it"));
    alice.cli(&["send", "carol", "--text", "the van is blue"])?;
    alice.cli(&[
        "send",
        "carol",
        "--reply-to",
        &asked,
        "--text",
        "yes, at nine",
    ])?;
    let ours = listed(&alice, "carol")?;
    let van = short(&find(&ours, "the van is blue").expect("alice has her text"));
    let reply = short(&find(&ours, "↩ yes, at nine").expect("alice has her reply"));
    alice.cli(&["react", "carol", &asked, "👍"])?;
    alice.cli(&["edit", "carol", &reply, "--text", "yes, at ten"])?;
    alice.cli(&["delete", "carol", &van, "--for-everyone"])?;
    // Without the kinds' plugins carol's node shows each of alice's relations by the line alice's
    // plugin wrote for such a reader: the reply as its own line, the reaction and the edit on
    // what they name (the host reads which message that is, not what the body means), the
    // deletion as its line, with the text it took back gone all the same.
    let mut seen = Vec::new();
    let done = wait_until(
        WAIT,
        "carol has the reply, reaction, edit and deletion",
        || {
            seen = listed(&carol, "alice")?;
            let question = find(&seen, "are we still on?").unwrap_or_default();
            let answer = find(&seen, "↩ yes, at nine").unwrap_or_default();
            Ok(question["reactions"]
                == serde_json::json!([{"from": "incoming", "reaction": "reacted 👍 to a message"}])
                && answer["edits"] == serde_json::json!(["edited: yes, at ten"])
                && find(&seen, "deleted a message").is_some()
                && find(&seen, "the van is blue").is_none())
        },
    );
    assert!(done.is_ok(), "carol's window: {seen:#?}");
    // Alice's own node, which has the plugins, shows the bodies themselves.
    let ours = listed(&alice, "carol")?;
    let question = find(&ours, "are we still on?").expect("alice still has it");
    assert_eq!(
        question["reactions"],
        serde_json::json!([{"from": "outgoing", "reaction": "👍"}])
    );
    Ok(())
}

/// The state (`acked`, `read`, …) of message `id` in `person`'s conversation with `alias`.
fn state_of(person: &Person, alias: &str, id: &str) -> Result<String> {
    let rows = listed(person, alias)?;
    let row = rows.iter().find(|r| r["id"] == id);
    Ok(row.map_or("absent".into(), |r| {
        r["state"].as_str().unwrap_or("").to_owned()
    }))
}

#[test]
fn alice_turns_read_receipts_on_for_bob_his_window_shows_read_his_stay_off_and_each_change_is_an_event()
-> Result<()> {
    let root = scratch();
    let (alice, a, bob, b) = api_pair(&Tools::locate()?, root.path(), true)?;
    let mut live = Live::connect(&b, &bob.api_token()?)?;
    let first = send_text(&b, "alice", "courier/text", "are you safe?", None)?;
    let second = send_text(&b, "alice", "courier/text", "call me when you can", None)?;
    wait_for_delivery(&bob, &alice, 2, WAIT)?;

    // Off by default: alice reads, and bob is told nothing.
    let receipts: ReadReceipts = a.get("/v1/contacts/bob/receipts")?;
    assert_eq!(
        (receipts.chosen, receipts.on),
        (ReceiptsChoice::Default, false)
    );
    let marked: MarkedRead = a.post("/v1/conversations/bob/read", &())?;
    assert_eq!((marked.seen, marked.receipts), (2, 0));

    // Alice turns them on for bob (her choice, for her side); the next text she reads, he sees read.
    let on = alice.cli(&["contacts", "receipts", "bob", "on"])?;
    assert!(on.contains("on: reading their messages tells them"), "{on}");
    let third = send_text(&b, "alice", "courier/text", "the usual place?", None)?;
    wait_until(WAIT, "alice has the third text", || {
        Ok(state_of(&alice, "bob", &third)? == "received")
    })?;
    let read = alice.cli(&["messages", "bob", "--mark-read"])?;
    assert!(read.contains("the usual place?"), "{read}");
    live.until("bob is told alice read the third text", |events| {
        events.iter().any(|e| matches!(e, Event::MessageRead { id, contact } if *id == third && contact == "alice"))
    })?;
    assert_eq!(state_of(&bob, "alice", &third)?, "read");
    for earlier in [&first, &second] {
        assert_eq!(
            state_of(&bob, "alice", earlier)?,
            "acked",
            "read before receipts were on"
        );
    }
    let window: Messages = b.get("/v1/conversations/alice/messages")?;
    let in_api = window
        .messages
        .iter()
        .find(|m| m.id == third)
        .map(|m| m.state);
    assert_eq!(in_api, Some(StateJson::Read));

    // Bob's stay off: he reads alice's text and she is never told. His next text reaches her
    // after anything he queued before it, a receipt among it, so its arrival proves there was none.
    let hers = send_text(&a, "bob", "courier/text", "yes, at nine", None)?;
    wait_until(WAIT, "bob has alice's text", || {
        Ok(state_of(&bob, "alice", &hers)? == "received")
    })?;
    let marked: MarkedRead = b.post("/v1/conversations/alice/read", &())?;
    assert_eq!((marked.seen, marked.receipts), (1, 0));
    let after = send_text(&b, "alice", "courier/text", "see you", None)?;
    wait_until(WAIT, "alice has bob's next text", || {
        Ok(state_of(&alice, "bob", &after)? == "received")
    })?;
    assert_eq!(state_of(&alice, "bob", &hers)?, "acked");

    // Each relation reaches bob's socket as what it does to the message it names.
    send_text(&a, "bob", "courier/reaction", "👍", Some(&third))?;
    send_text(&a, "bob", "courier/edit", "yes, at nine sharp", Some(&hers))?;
    bob.cli(&["react", "alice", &third[..16], "❤"])?;
    // The edit is told before the deletion is sent: a message edited and deleted between two
    // looks is told only as deleted.
    live.until("alice's edit", |events| {
        events
            .iter()
            .any(|e| matches!(e, Event::MessageEdited { message, .. } if message.id == hers))
    })?;
    send_text(&a, "bob", "courier/delete", "", Some(&hers))?;
    live.until(
        "a reaction each way, alice's edit and her deletion",
        |events| {
            let reacted = |from: DirectionJson, emoji: &str| {
                events.iter().any(|e| {
                    matches!(e, Event::MessageReacted { message, .. }
                if message.id == third
                    && message.reactions.iter().any(|r| r.from == from && r.reaction == emoji))
                })
            };
            reacted(DirectionJson::Incoming, "👍")
                && reacted(DirectionJson::Outgoing, "❤")
                && events.iter().any(|e| {
                    matches!(e, Event::MessageEdited { message, .. }
                if message.id == hers && message.edits == ["yes, at nine sharp"])
                })
                && events
                    .iter()
                    .any(|e| matches!(e, Event::MessageDeleted { id, .. } if *id == hers))
        },
    )?;
    // No reaction, edit or receipt is told as a message of its own.
    let received = live.until("", |_| true)?.iter().filter(|e| {
        matches!(e, Event::MessageReceived { message, .. }
            if message.content_type == "courier/reaction" || message.content_type == "courier/edit")
    });
    assert_eq!(received.count(), 0);
    Ok(())
}

#[test]
fn a_bent_alice_s_double_reaction_and_spoofing_edit_reach_bob_and_are_not_shown() -> Result<()> {
    let root = scratch();
    let (alice, bob) = pair(root.path())?;
    alice.cli(&["send", "bob", "--text", "north gate at nine"])?;
    wait_for_delivery(&alice, &bob, 1, WAIT)?;
    let text = find(&listed(&alice, "bob")?, "north gate at nine").expect("alice lists it");
    alice.cli(&["react", "bob", &short(&text), "❤"])?;
    // Past her own plugins, straight into her outbox, as a modified client would: a reaction of
    // two emoji and an edit whose text turns right to left. The host's own checks pass both (they
    // name her own message, the reaction is short); the kinds' rules do not.
    let target = alice
        .database()?
        .conversation(contact_id(&alice, "bob")?)?
        .into_iter()
        .find(|e| e.message.body == b"north gate at nine")
        .map(|e| e.id)
        .expect("alice's database holds her text");
    alice.queue(
        "bob",
        [
            Draft::new(REACTION_TYPE, 1, payload(&target, "👍👍".as_bytes())),
            Draft::new(
                EDIT_TYPE,
                1,
                payload(&target, "pay \u{202E}gnp.exe".as_bytes()),
            ),
        ],
    )?;
    // Her next text comes after both in her outbox: once bob has it, he has them.
    alice.cli(&["send", "bob", "--text", "see you there"])?;
    wait_until(WAIT, "bob has alice's next text", || {
        Ok(find(&listed(&bob, "alice")?, "see you there").is_some())
    })?;
    let held = bob
        .database()?
        .relations_to(contact_id(&bob, "alice")?, &target)?;
    assert_eq!(
        held.len(),
        3,
        "bob's node stored the heart and both bent relations"
    );
    let shown = find(&listed(&bob, "alice")?, "north gate at nine").expect("bob lists it");
    assert_eq!(
        shown["reactions"],
        serde_json::json!([{"from": "incoming", "reaction": "❤"}]),
        "the two-emoji reaction does not replace the heart"
    );
    assert_eq!(
        shown["edits"],
        serde_json::json!([]),
        "no edit shown: {shown}"
    );
    Ok(())
}

/// The id `person`'s database gives the contact called `alias`.
fn contact_id(person: &Person, alias: &str) -> Result<i64> {
    let contacts = person.database()?.contacts()?;
    let found = contacts.iter().find(|c| c.alias == alias);
    Ok(found.map(|c| c.id).unwrap_or_default())
}
