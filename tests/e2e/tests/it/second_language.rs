//! A message type written in Python (`plugins/message-poll-py`, built by componentize-py into a
//! component that holds a whole interpreter) loaded by the same host as the Rust ones: checked,
//! tried, sent and summarised between two nodes.

use std::process::Command;
use std::time::Duration;

use anyhow::{Result, bail};
use courier_e2e::{Person, Tools, introduce, wait_for_contact, wait_until};

use super::scratch;

/// The poll's section, with a tighter memory cap than the default: the interpreter needs 13 MiB.
pub(crate) const POLL: &str = "\n[message_types.poll]\nplugin = \"poll\"\ngrant = [\"log\", \"clock\", \"random\"]\n\
                    limits = { memory_mib = 32 }\n";

#[test]
fn alice_sends_bob_a_poll_whose_plugin_is_python_and_his_node_summarises_it() -> Result<()> {
    let tools = Tools::locate()?;
    let wasm = tools.plugin_dir.join("poll.wasm");
    if !wasm.exists() {
        bail!(
            "{} is missing: `cargo xtask build-plugins` builds it with componentize-py",
            wasm.display()
        );
    }
    let check = Command::new(&tools.courier)
        .args(["plugins", "check"])
        .arg(&wasm)
        .env("COURIER_LOG", "off")
        .output()?;
    let described = String::from_utf8(check.stdout)?;
    assert!(check.status.success(), "{described}");
    let line = described
        .lines()
        .find(|l| l.starts_with("message-type poll "))
        .unwrap_or_default();
    assert!(line.contains(" example/poll v1..=v1 "), "{described}");

    let root = scratch();
    let mut alice = Person::init(&tools, root.path(), "alice")?;
    let mut bob = Person::init(&tools, root.path(), "bob")?;
    for (person, peer) in [(&alice, bob.port), (&bob, alice.port)] {
        person.configure(&[peer], false, "loopback")?;
        person.add_to_config(POLL)?;
    }
    let poll = br#"{"question": "  Lunch at one? ", "answers": ["Noodles", "Soup", "Not today"]}"#;
    let input = root.path().join("poll.json");
    std::fs::write(&input, poll)?;
    let config = alice.dir.join("config.toml");
    let tried = Command::new(&tools.courier)
        .args(["plugins", "try"])
        .arg(&wasm)
        .arg("--input")
        .arg(&input)
        .arg("--config")
        .arg(&config)
        .env("COURIER_LOG", "off")
        .output()?;
    let tried_out = String::from_utf8(tried.stdout)?;
    assert!(
        tried.status.success(),
        "{tried_out}{}",
        String::from_utf8_lossy(&tried.stderr)
    );
    assert!(
        tried_out.contains("summary: Poll: Lunch at one? (Noodles / Soup / Not today)"),
        "{tried_out}"
    );
    assert!(
        tried_out.contains("memory 32 MiB (from [message_types.poll])"),
        "{tried_out}"
    );

    introduce(&alice, &bob)?;
    alice.serve()?;
    bob.serve()?;
    wait_for_contact(&alice, &bob)?;
    let queued = alice.cli_with_stdin(
        &["send", "bob", "--type", "example/poll", "--input", "-"],
        poll,
    )?;
    assert!(queued.starts_with("queued "), "{queued}");
    let (code, refused) = alice.fails_with_code(
        &["send", "bob", "--type", "example/poll", "--input", "-"],
        br#"{"question": "Lunch?", "answers": ["Noodles"]}"#,
    )?;
    assert_ne!(code, 0);
    assert!(
        refused.contains("`answers` lists 2 to 8 answers"),
        "{refused}"
    );

    wait_until(Duration::from_secs(60), "bob has alice's poll", || {
        Ok(bob.messages("alice")?.iter().any(|r| r.direction == "in"))
    })?;
    let rows = bob.messages("alice")?;
    assert_eq!(rows.len(), 1, "only the valid poll was sent: {rows:?}");
    assert_eq!(rows[0].content_type, "example/poll");
    assert_eq!(
        rows[0].summary,
        "Poll: Lunch at one? (Noodles / Soup / Not today)"
    );
    assert!(rows[0].complete);
    alice.stop()?;
    bob.stop()
}
