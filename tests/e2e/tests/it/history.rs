//! A conversation with a long history, as the command line shows it.

use anyhow::Result;
use courier_e2e::{Person, Row};
use courier_proto::sync::timer::Timer;
use courier_storage::{Draft, Durability};

use super::{pair, scratch};

const HISTORY: usize = 120;

/// `messages bob ARGS… --json` as `alice` prints it: the summaries, oldest first, and the ids.
fn listed(alice: &Person, args: &[&str]) -> Result<(Vec<String>, Vec<String>)> {
    let rows: Vec<Row> =
        serde_json::from_str(&alice.cli(&[&["messages", "bob", "--json"], args].concat())?)?;
    Ok(rows.into_iter().map(|r| (r.summary, r.id)).unzip())
}

/// The summaries of texts `range` as alice queued them.
fn texts(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("text {i}")).collect()
}

/// Alice has 120 texts with bob. `messages bob` lists the newest 50 and then where the older
/// ones start; `--before` that id lists the 50 before them, and so back to the first; `--all`
/// lists all 120. The same with her node serving the API as without a node.
#[test]
fn alice_pages_back_through_a_long_conversation_fifty_at_a_time_or_lists_it_all() -> Result<()> {
    let root = scratch();
    let (mut alice, mut bob) = pair(root.path())?;
    alice.stop()?;
    bob.stop()?;
    {
        let mut db = alice.database()?;
        let to_bob = db.contact("bob")?;
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as u64;
        db.batch(Durability::Full, |db| {
            for i in 0..HISTORY {
                let text = format!("text {i}").into_bytes();
                let draft = Draft::new("courier/text", 1, text);
                db.send(to_bob, draft, start + i as u64, Timer::OFF)?;
            }
            Ok::<_, courier_storage::StorageError>(())
        })?;
    }

    let mut seen = Vec::new();
    for node in ["none", "serving the API"] {
        if node != "none" {
            alice.serve_api()?;
        }
        let (newest, ids) = listed(&alice, &[])?;
        assert_eq!(newest, texts(70..120), "with {node}");
        let text = alice.cli(&["messages", "bob"])?;
        let last = text.lines().last().unwrap_or_default();
        assert_eq!(
            last,
            format!("older messages: --before {} (or --all)", ids[0]),
            "with {node}: the line after the newest fifty says where the older start"
        );
        assert!(
            text.contains("text 70") && !text.contains("text 69"),
            "{text}"
        );

        let (before, ids) = listed(&alice, &["--before", &ids[0]])?;
        assert_eq!(before, texts(20..70), "with {node}");
        let (first, _) = listed(&alice, &["--before", &ids[0]])?;
        assert_eq!(first, texts(0..20), "with {node}");
        let text = alice.cli(&["messages", "bob", "--before", &ids[0]])?;
        assert!(
            text.contains("text 0") && !text.contains("older messages"),
            "with {node}: nothing is older than the first: {text}"
        );

        let (all, _) = listed(&alice, &["--all"])?;
        assert_eq!(all, texts(0..HISTORY), "with {node}");
        let (three, _) = listed(&alice, &["--limit", "3"])?;
        assert_eq!(three, texts(117..120), "with {node}");

        // Mistakes are told, as invalid input (4) or usage (2), the same either way.
        let (code, wrong_id) =
            alice.fails_with_code(&["messages", "bob", "--before", "70"], &[])?;
        assert_eq!(code, 4, "{wrong_id}");
        assert!(wrong_id.contains("64 hex digits"), "{wrong_id}");
        for args in [["--limit", "0"], ["--limit", "501"]] {
            let (code, said) =
                alice.fails_with_code(&[&["messages", "bob"], &args[..]].concat(), &[])?;
            assert_eq!(code, 2, "{args:?}: {said}");
        }
        seen.push(all);
    }
    assert_eq!(seen[0], seen[1], "the API lists what the database holds");
    alice.stop()?;
    Ok(())
}
