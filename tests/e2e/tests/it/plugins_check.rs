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
    // A message type whose manifest says it is a transport: the export the world needs is missing.
    std::fs::write(
        &manifest,
        "name = \"text\"\nversion = \"0.1.0\"\nworld = \"transport\"\napi = \"0.1.0\"\ncapabilities = [\"log\"]\n",
    )?;
    let (passed, out, _) = check(&tools, &[&text, Path::new("--manifest"), &manifest])?;
    assert!(!passed);
    assert!(
        out.contains(
            "text.wasm: it does not implement the transport world of courier:plugin: no exported \
             instance named `courier:plugin/driver@0.1.0`"
        ),
        "{out}"
    );
    Ok(())
}

#[test]
fn a_checked_plugin_is_installed_under_its_name_and_a_refused_one_is_not() -> Result<()> {
    let tools = Tools::locate()?;
    let root = scratch();
    let alice = courier_e2e::Person::init(&tools, root.path(), "alice")?;
    let plugins = root.path().join("alice-plugins");
    std::fs::write(
        alice.dir.join("config.toml"),
        format!("[plugins]\ndir = {:?}\n", plugins.display().to_string()),
    )?;
    // Built under another file name, as an author's build leaves it.
    let built = root.path().join("courier_text_build.wasm");
    std::fs::copy(tools.plugin_dir.join("text.wasm"), &built)?;
    let manifest = tools.plugin_dir.join("text.toml");
    let (built_s, manifest_s) = (built.display().to_string(), manifest.display().to_string());
    let said = alice.cli(&["plugins", "install", &built_s, "--manifest", &manifest_s])?;
    assert!(said.starts_with("installed text as "), "{said}");
    assert_eq!(
        std::fs::read(plugins.join("text.wasm"))?,
        std::fs::read(&built)?
    );
    assert_eq!(
        std::fs::read(plugins.join("text.toml"))?,
        std::fs::read(&manifest)?
    );
    let again = alice.cli(&["plugins", "install", &built_s, "--manifest", &manifest_s])?;
    assert!(again.starts_with("replaced text as "), "{again}");

    let hostile = tools
        .plugin_dir
        .join("../test-plugins/undeclared-import.wasm");
    let refused = alice.fails(&["plugins", "install", &hostile.display().to_string()])?;
    assert!(
        refused.contains("not installed: ") && refused.contains("lying"),
        "{refused}"
    );
    assert!(!plugins.join("undeclared-import.wasm").exists());
    let names: Vec<_> = std::fs::read_dir(&plugins)?
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    Ok(())
}

#[test]
fn each_hostile_test_plugin_is_refused_by_check_in_one_line_that_says_what_it_did() -> Result<()> {
    let tools = Tools::locate()?;
    let hostile = tools.plugin_dir.join("../test-plugins");
    for (name, what) in [
        (
            "undeclared-import",
            "imports `courier:plugin/tcp` although its manifest does not request it",
        ),
        ("panicky", "the panicky plugin gives up on purpose"),
        ("endless-loop", "fuel"),
        ("memory-bomb", "over its 64 MiB cap"),
        (
            "malformed-output",
            "prepare returned 65536 bytes; its own limit is 16",
        ),
        (
            "action-flood",
            "100000 actions for one event; the limit is 256",
        ),
    ] {
        let wasm = hostile.join(format!("{name}.wasm"));
        let (passed, out, err) = check(&tools, &[&wasm])?;
        assert!(!passed, "{name} passed: {out}");
        let refused: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("not loaded"))
            .collect();
        assert_eq!(refused.len(), 1, "{name}: {out}");
        assert!(
            refused[0].contains(&format!("{name}.wasm: ")) && refused[0].contains(what),
            "{name}: {out}"
        );
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
    }
    // The well-behaved ones pass, run once as a node first would.
    for name in ["framed-echo", "one-way", "tor-recorder"] {
        let (passed, out, err) = check(&tools, &[&hostile.join(format!("{name}.wasm"))])?;
        assert!(passed, "{name}: {out}{err}");
    }
    Ok(())
}

#[test]
fn try_runs_a_message_type_on_one_input_and_says_what_each_call_used() -> Result<()> {
    let tools = Tools::locate()?;
    let root = scratch();
    let input = root.path().join("hello.txt");
    std::fs::write(&input, "hello, bob")?;
    let output = Command::new(&tools.courier)
        .args(["plugins", "try"])
        .arg(tools.plugin_dir.join("text.wasm"))
        .arg("--input")
        .arg(&input)
        .env("COURIER_LOG", "off")
        .output()?;
    let out = String::from_utf8(output.stdout)?;
    assert!(output.status.success(), "{out}");
    assert!(
        out.contains("courier/text v1: 10 bytes in, a payload of 10 bytes"),
        "{out}"
    );
    assert!(out.contains("summary: hello, bob"), "{out}");
    assert!(
        out.contains("limits: fuel 2000000000 per call, memory 64 MiB (the host's defaults)"),
        "{out}"
    );
    for export in ["prepare", "validate", "summary"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{export} ")))
            .unwrap_or_else(|| panic!("no {export} line: {out}"));
        let fuel: u64 = line.split_whitespace().nth(2).unwrap().parse()?;
        assert!(fuel > 0, "{line}");
        assert!(line.ends_with("MiB"), "{line}");
    }

    // An endless loop is stopped by its fuel, and said so in one line.
    let looping = tools.plugin_dir.join("../test-plugins/endless-loop.wasm");
    let output = Command::new(&tools.courier)
        .args(["plugins", "try"])
        .arg(&looping)
        .args(["--input", "-"])
        .env("COURIER_LOG", "off")
        .output()?;
    let err = String::from_utf8(output.stderr)?;
    assert!(!output.status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("fuel"), "{err}");
    // A transport cannot be tried alone.
    let output = Command::new(&tools.courier)
        .args(["plugins", "try"])
        .arg(tools.plugin_dir.join("transport-lan.wasm"))
        .args(["--input", "-"])
        .output()?;
    let err = String::from_utf8(output.stderr)?;
    assert!(err.contains("`plugins try` runs message types"), "{err}");
    Ok(())
}
