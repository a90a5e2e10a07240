//! Reactions, edits and delete for everyone in a private group, between real nodes: bob reacts to
//! alice's post, alice edits it, bob may neither edit nor delete it, alice deletes it for everyone;
//! both nodes list the same state at each step, and afterwards the post's text, in any of its
//! versions, is in neither data directory.

use std::time::Duration;

use anyhow::Result;
use courier_e2e::{form_group, wait_until};
use serde_json::Value;

use super::disappearing::assert_no_trace;
use super::{pair, scratch};

const GROUP: &str = "Newsroom";
const WAIT: Duration = Duration::from_secs(60);

/// The group's window as `person`'s `group read --json` prints it.
fn entries(person: &courier_e2e::Person) -> Result<Vec<Value>> {
    Ok(serde_json::from_str(
        &person.cli(&["group", "read", GROUP, "--json"])?,
    )?)
}

/// The post whose original summary is `summary`.
fn post(rows: &[Value], summary: &str) -> Option<Value> {
    rows.iter().find(|r| r["summary"] == summary).cloned()
}

#[test]
fn bob_reacts_to_alice_s_post_she_edits_it_and_deletes_it_for_every_member() -> Result<()> {
    let root = scratch();
    let (alice, bob) = pair(root.path())?;
    form_group(&alice, &[&bob], GROUP)?;
    alice.cli(&["group", "post", GROUP, "--text", "north gate at nine"])?;
    let mut id = String::new();
    wait_until(WAIT, "bob has alice's post", || {
        let found = post(&entries(&bob)?, "north gate at nine");
        id = found
            .map(|p| p["id"].as_str().unwrap_or_default()[..16].to_owned())
            .unwrap_or_default();
        Ok(!id.is_empty())
    })?;

    bob.cli(&["group", "react", GROUP, &id, "👍"])?;
    alice.cli(&["group", "edit", GROUP, &id, "--text", "north gate at ten"])?;
    // Not his post: refused with a clear error, nothing posted.
    let refused = bob.fails(&["group", "edit", GROUP, &id, "--text", "south gate"])?;
    assert!(refused.contains("only the sender"), "{refused}");
    let refused = bob.fails(&["group", "delete", GROUP, &id, "--for-everyone"])?;
    assert!(refused.contains("only the sender"), "{refused}");
    let refused = bob.fails(&["group", "react", GROUP, &id, "👍👍"])?;
    assert!(refused.contains("one emoji"), "{refused}");

    let agreed = |person: &courier_e2e::Person, ours: bool| -> Result<bool> {
        let rows = entries(person)?;
        let Some(p) = post(&rows, "north gate at nine") else {
            return Ok(false);
        };
        Ok(p["reactions"]
            == serde_json::json!([{"author": "bob", "ours": !ours, "reaction": "👍"}])
            && p["edits"] == serde_json::json!(["north gate at ten"])
            // Neither the reaction nor the edit is a post of its own.
            && rows.len() == 3)
    };
    wait_until(WAIT, "both show the reaction and the edit", || {
        Ok(agreed(&alice, true)? && agreed(&bob, false)?)
    })?;
    let line = alice.cli(&["group", "read", GROUP])?;
    assert!(
        line.contains("north gate at ten (edited) [👍 bob]"),
        "{line}"
    );

    alice.cli(&["group", "delete", GROUP, &id, "--for-everyone"])?;
    wait_until(WAIT, "neither shows the post", || {
        let gone = |person| -> Result<bool> {
            Ok(post(&entries(person)?, "north gate at nine").is_none())
        };
        Ok(gone(&alice)? && gone(&bob)?)
    })?;
    // What is gone takes no reaction.
    let refused = bob.fails(&["group", "react", GROUP, &id, "👍"])?;
    assert!(refused.contains("no message"), "{refused}");
    let traces = [b"north gate at".to_vec()];
    for person in [&alice, &bob] {
        assert_no_trace(person, root.path(), &traces, b"courier/group-sealed")?;
    }
    Ok(())
}
