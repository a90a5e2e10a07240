//! Replies, reactions, edits and delete for everyone between real nodes: bob replies to alice's
//! text, alice reacts to the reply and changes her reaction, bob edits his reply, alice takes one
//! of her texts back; both sides list the same state, the refused ones change nothing, the text
//! taken back is in neither data directory, and a node without the kinds' plugins shows the
//! sender's fallback line for a reply and the reaction on what it names.

use std::time::Duration;

use anyhow::Result;
use courier_e2e::{
    Person, RELATION_TYPES, Tools, introduce, wait_for_contact, wait_for_delivery, wait_until,
};
use serde_json::Value;

use super::disappearing::assert_no_trace;
use super::{pair, scratch};

const WAIT: Duration = Duration::from_secs(30);

/// The conversation with `alias` as `person`'s `messages --json` prints it (through the node's
/// API while it runs).
fn listed(person: &Person, alias: &str) -> Result<Vec<Value>> {
    Ok(serde_json::from_str(
        &person.cli(&["messages", alias, "--json"])?,
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
    let (alice, bob) = pair(root.path())?;
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

    // Refused, each with a clear error, and nothing stored.
    let before = listed(&alice, "bob")?.len();
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
    assert_eq!(listed(&alice, "bob")?.len(), before);

    // What was taken back is in neither data directory, raw or decrypted.
    let traces = [b"bring the blue folder".to_vec()];
    for person in [&alice, &bob] {
        assert_no_trace(person, root.path(), &traces, b"north gate at nine")?;
    }
    Ok(())
}

#[test]
fn carol_without_the_kinds_plugins_sees_alice_s_reply_by_its_fallback_line_and_her_reaction()
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
    alice.cli(&[
        "send",
        "carol",
        "--reply-to",
        &asked,
        "--text",
        "yes, at nine",
    ])?;
    alice.cli(&["react", "carol", &asked, "👍"])?;
    // Without the reply plugin carol's node shows alice's own line for the reply; the host
    // itself reads what a reaction names, so the 👍 shows on carol's question all the same.
    wait_until(WAIT, "carol has the reply and the reaction", || {
        let rows = listed(&carol, "alice")?;
        let question = find(&rows, "are we still on?").unwrap_or_default();
        Ok(find(&rows, "↩ yes, at nine").is_some()
            && question["reactions"] == serde_json::json!([{"from": "incoming", "reaction": "👍"}]))
    })?;
    Ok(())
}
