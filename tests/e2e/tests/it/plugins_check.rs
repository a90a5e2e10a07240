//! `courier plugins check`, as a plugin author runs it on a component just built: what it
//! describes, or in one line what is wrong with it.

use std::path::Path;
use std::process::Command;

use anyhow::Result;
use courier_e2e::Tools;

use super::scratch;

fn check(tools: &Tools, args: &[&Path]) -> Result<(bool, String, String)> {
    let output = Command::new(&tools.courier)
        .args(["plugins", "check"])
        .args(args)
        .env("COURIER_LOG", "off")
        .output()?;
    Ok((
        output.status.success(),
        String::from_utf8(output.stdout)?,
        String::from_utf8(output.stderr)?,
    ))
}

#[test]
fn a_built_plugin_is_described_and_a_lying_or_missing_one_is_refused_in_one_line() -> Result<()> {
    let tools = Tools::locate()?;
    for (name, line) in [
        (
            "text",
            "message-type text               courier/text v1..=v1",
        ),
        ("transport-lan", "reveals=ip-address,presence"),
    ] {
        let wasm = tools.plugin_dir.join(format!("{name}.wasm"));
        let (passed, out, err) = check(&tools, &[&wasm])?;
        assert!(passed, "{err}");
        assert!(out.contains(line), "{out}");
    }
    // The hostile plugin whose component imports what its manifest hides.
    let hostile = tools
        .plugin_dir
        .join("../test-plugins/undeclared-import.wasm");
    let (passed, out, _) = check(&tools, &[&hostile])?;
    assert!(!passed);
    let refused: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("not loaded"))
        .collect();
    assert_eq!(refused.len(), 1, "{out}");
    assert!(
        refused[0].ends_with(
            "undeclared-import.wasm: its component imports `courier:plugin/tcp` although its \
             manifest does not request it; the plugin is lying about what it does"
        ),
        "{out}"
    );

    let root = scratch();
    let missing = root.path().join("nothing.wasm");
    let (passed, _, err) = check(&tools, &[&missing])?;
    assert!(!passed);
    assert!(
        err.contains("cannot read plugin file") && err.contains("nothing.wasm"),
        "{err}"
    );
    // A manifest asking a message type for the network.
    let text = tools.plugin_dir.join("text.wasm");
    let manifest = root.path().join("text.toml");
    std::fs::write(
        &manifest,
        "name = \"text\"\nversion = \"0.1.0\"\nworld = \"message-type\"\napi = \"0.1.0\"\ncapabilities = [\"tcp\"]\n",
    )?;
    let (passed, _, err) = check(&tools, &[&text, Path::new("--manifest"), &manifest])?;
    assert!(!passed);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot have the `tcp` capability"), "{err}");
    Ok(())
}
