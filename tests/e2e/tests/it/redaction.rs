//! What a node writes to its log, even at trace level, names no one and nowhere: alice and bob meet
//! on the LAN, talk and send a photo; neither log holds an alias, an address or a
//! port of theirs, a data directory's path, a file's name, or a word of what they said.

use std::time::Duration;

use anyhow::Result;
use courier_e2e::{noise_png, wait_for_contact, wait_for_delivery};

use crate::{introduced, scratch};

/// Everything at trace level, but the compiler's own passes (which log code, not people).
const TRACE: &str = "trace,cranelift_codegen=info,cranelift_frontend=info,regalloc2=info,\
                     wasmtime_cranelift=info,wasmtime=info,wasmtime_environ=info";

#[test]
fn at_trace_level_alice_s_and_bob_s_logs_name_no_one_and_nowhere() -> Result<()> {
    let root = scratch();
    let (mut alice, mut bob) = introduced(root.path(), root.path())?;
    for person in [&mut alice, &mut bob] {
        person.log = Some(TRACE.to_owned());
        person.log_file = Some(root.path().join(format!("{}.log", person.name)));
    }
    alice.serve()?;
    bob.serve()?;
    wait_for_contact(&alice, &bob)?;

    let secret = "the printing press is in the basement of the bakery";
    alice.cli(&["send", "bob", "--text", secret])?;
    bob.cli(&[
        "send",
        "alice",
        "--text",
        "understood, see you at the bakery",
    ])?;
    let photo = root.path().join("leaflet-draft.png");
    std::fs::write(&photo, noise_png(320, 240, 3))?;
    alice.cli(&["send", "bob", "--image", photo.to_str().unwrap_or_default()])?;
    wait_for_delivery(&alice, &bob, 2, Duration::from_secs(60))?;
    wait_for_delivery(&bob, &alice, 1, Duration::from_secs(60))?;
    alice.stop()?;
    bob.stop()?;

    let mut needles = vec![
        ("an alias", "alice".to_owned()),
        ("an alias", "bob".to_owned()),
        ("an address", "127.0.0.1".to_owned()),
        ("a port", format!(":{}", alice.port)),
        ("a port", format!(":{}", bob.port)),
        ("a message", "printing press".to_owned()),
        ("a message", "bakery".to_owned()),
        ("a file's name", "leaflet".to_owned()),
    ];
    needles.push(("the data directory", root.path().display().to_string()));
    for who in ["alice", "bob"] {
        let log = std::fs::read_to_string(root.path().join(format!("{who}.log")))?;
        let lines = log.lines().count();
        println!("{who}'s log: {lines} lines, {} bytes", log.len());
        // The story logged at trace level: a log without trace lines would prove nothing.
        assert!(
            log.contains(" TRACE "),
            "{who}'s log has no trace line:\n{log}"
        );
        assert!(
            log.contains(" DEBUG "),
            "{who}'s log has no debug line:\n{log}"
        );
        for (what, needle) in &needles {
            let found: Vec<&str> = log
                .lines()
                .filter(|l| l.to_lowercase().contains(&needle.to_lowercase()))
                .take(3)
                .collect();
            assert!(
                found.is_empty(),
                "{who}'s log names {what} ({needle:?}):\n{}",
                found.join("\n")
            );
        }
    }
    Ok(())
}
