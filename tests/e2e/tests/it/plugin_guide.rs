//! The plugin author's guide, `plugin-api/README.md`, followed to the letter: every shell block of
//! its walkthrough runs, in order, as one script, in an empty folder outside this workspace, with
//! only the built `courier` on the PATH and the shipped plugins in `COURIER_PLUGIN_DIR`, as its
//! "Before you start" leaves a reader. What the guide shows a command printing is checked too.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use courier_e2e::Tools;

/// The walkthrough's blocks: the shell ones to run and the text ones a command prints.
#[derive(Debug, Default)]
struct Walkthrough {
    script: String,
    shown: Vec<String>,
}

/// The fenced blocks between the guide's `<!-- walkthrough -->` markers.
fn walkthrough(guide: &str) -> Result<Walkthrough> {
    let start = guide
        .find("<!-- walkthrough -->")
        .context("the guide has no <!-- walkthrough --> marker")?;
    let end = guide
        .find("<!-- /walkthrough -->")
        .context("the guide has no <!-- /walkthrough --> marker")?;
    let mut found = Walkthrough::default();
    let mut block: Option<(&str, String)> = None;
    for line in guide[start..end].lines() {
        match (&mut block, line.strip_prefix("```")) {
            (None, Some(info)) => block = Some((info.trim(), String::new())),
            (Some((info, text)), Some("")) => {
                match *info {
                    "sh" => found.script.push_str(text),
                    "text" => found.shown.extend(text.lines().map(str::to_owned)),
                    other => bail!("the walkthrough has a ```{other} block; only sh and text run"),
                }
                block = None;
            }
            (Some((_, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    Ok(found)
}

/// A line with each word holding a digit as `#`: fuel figures, sizes, times and message ids
/// differ from run to run and machine to machine; the words around them do not.
fn shape(line: &str) -> String {
    line.split_whitespace()
        .map(|w| {
            if w.contains(|c: char| c.is_ascii_digit()) {
                "#"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_reader_makes_a_message_type_from_the_template_and_bob_sees_its_summary() -> Result<()> {
    let tools = Tools::locate()?;
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()?;
    let guide = std::fs::read_to_string(workspace.join("plugin-api/README.md"))?;
    let steps = walkthrough(&guide)?;
    assert!(steps.script.contains("courier plugins new message-type"));

    let folder = tempfile::tempdir()?;
    let outside = folder.path().canonicalize()?;
    assert!(!outside.starts_with(&workspace), "{}", outside.display());
    let bin = tools
        .courier
        .parent()
        .context("the courier binary's folder")?;
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new("bash");
    command
        .args(["-c", &format!("set -euo pipefail\n{}", steps.script)])
        .current_dir(&outside)
        .env("PATH", path)
        .env("COURIER_PLUGIN_DIR", &tools.plugin_dir)
        .env("COURIER_LOG", "off")
        .env_remove("COURIER_DATA_DIR")
        .env_remove("COURIER_PASSPHRASE");
    // The reader's cargo, not this test's: nothing of the workspace's build leaks into theirs.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" || key.starts_with("RUSTFLAGS") {
            command.env_remove(&*key);
        }
    }
    let output = command.output()?;
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the walkthrough failed:\n{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let printed_shapes: Vec<String> = printed.lines().map(shape).collect();
    for line in &steps.shown {
        let wanted = shape(line);
        assert!(
            printed_shapes.iter().any(|p| p.contains(&wanted)),
            "the guide shows {line:?}, which no command printed:\n{printed}"
        );
    }
    // What the walkthrough is for, whatever its text blocks show.
    assert!(
        printed.contains("summary: List: milk, eggs, bread and 1 more"),
        "{printed}"
    );
    assert!(printed.contains("List: milk, eggs"), "{printed}");
    let installed = outside.join("plugins/shopping-list.wasm");
    assert!(
        installed.is_file(),
        "plugins install put nothing in ../plugins"
    );
    let bob = Command::new(&tools.courier)
        .args(["--data-dir", "bob", "messages", "alice", "--json"])
        .current_dir(&outside)
        .env("COURIER_PLUGIN_DIR", &tools.plugin_dir)
        .env("COURIER_PASSPHRASE", "a long passphrase for trying things")
        .output()?;
    let rows: serde_json::Value = serde_json::from_slice(&bob.stdout)?;
    let row = &rows[0];
    assert_eq!(row["direction"], "in", "{rows}");
    assert_eq!(row["type"], "example/shopping-list", "{rows}");
    assert_eq!(row["summary"], "List: milk, eggs", "{rows}");
    Ok(())
}

#[test]
fn the_guide_s_text_blocks_are_matched_by_shape_not_by_figures() {
    assert_eq!(
        shape("prepare  fuel  61424 (0.00% of the budget)  memory 1.1 MiB"),
        shape("prepare fuel 70001 (0.01% of the budget) memory 12.0 MiB")
    );
    assert_ne!(shape("summary: List: milk"), shape("summary: List: eggs"));
    assert_eq!(
        shape("in  received 4f1c2a9e0b7d3c55 List: milk"),
        shape("in received b7d3c554f1c2a9e0 List: milk")
    );
}
