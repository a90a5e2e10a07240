//! `cargo xtask …`: the project's tasks, in Rust so they run wherever cargo does.

mod layers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const WASM_TARGET: &str = "wasm32-wasip2";

const USAGE: &str = "usage: cargo xtask <build-plugins | test | layers | demo | bench | fuzz [SECONDS] | mutants [ARGS…]>
  build-plugins  build every plugin for wasm32-wasip2 into target/plugins (test plugins: target/test-plugins)
  test           build plugins, check formatting, layering and clippy, run the whole test suite
  layers         check ARCHITECTURE.md's dependency invariants against the crate graph
  demo           build everything and run the demo on the embedded defaults
  bench          build plugins and run the benchmarks, printing their figures
  fuzz           run every fuzz target for SECONDS each (default 10), installing nightly and cargo-fuzz if missing
  mutants        mutation-test courier-proto with cargo-mutants (installed if missing) and print the score;
                 ARGS go to cargo mutants, e.g. `--file proto/src/identity.rs` or `--jobs 2`";

fn main() -> Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    let root = workspace_root();
    match task.as_str() {
        "build-plugins" => build_plugins(&root),
        "test" => test(&root),
        "layers" => check_layers(&root),
        "demo" => demo(&root),
        "bench" => bench(&root),
        "fuzz" => {
            let seconds = match std::env::args().nth(2) {
                Some(s) => s
                    .parse()
                    .with_context(|| format!("fuzz takes a number of seconds, not {s:?}"))?,
                None => 10,
            };
            fuzz(&root, seconds)
        }
        "mutants" => mutants(&root, &std::env::args().skip(2).collect::<Vec<_>>()),
        _ => {
            eprintln!("{USAGE}");
            bail!("unknown task {task:?}")
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Where cargo builds: `CARGO_TARGET_DIR` (relative to the workspace) if set, else `target/`; the
/// host's tests look for built plugins in the same place.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |d| root.join(d))
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(command: &mut Command) -> Result<()> {
    eprintln!("$ {}", describe(command));
    let status = command
        .status()
        .with_context(|| format!("could not start {}", describe(command)))?;
    if !status.success() {
        bail!("{} failed with {status}", describe(command));
    }
    Ok(())
}

fn describe(command: &Command) -> String {
    let args: Vec<_> = command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    format!(
        "{} {}",
        command.get_program().to_string_lossy(),
        args.join(" ")
    )
}

/// Adds the wasm target with rustup when it is missing, so a fresh machine needs no manual step.
fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match installed {
        Ok(out)
            if String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == WASM_TARGET) =>
        {
            Ok(())
        }
        Ok(_) => run(Command::new("rustup").args(["target", "add", WASM_TARGET])),
        Err(_) => {
            eprintln!(
                "rustup not found; assuming the {WASM_TARGET} target is installed some other way"
            );
            Ok(())
        }
    }
}

#[derive(serde::Deserialize)]
struct Manifest {
    name: String,
    world: String,
}

#[derive(serde::Deserialize)]
struct CargoToml {
    package: Package,
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
}

#[derive(serde::Deserialize)]
struct Package {
    name: String,
}

/// Which plugins to build: the shipped ones (all the demo runs), or those and the test plugins.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PluginSet {
    Shipped,
    WithTestPlugins,
}

fn build_plugins(root: &Path) -> Result<()> {
    build_plugin_set(root, PluginSet::WithTestPlugins)
}

/// Builds the plugin crates under `plugins/` (and `tests/plugins/`), then copies each component and
/// its manifest out as `NAME.wasm` + `NAME.toml` (into `target/plugins` and `target/test-plugins`).
///
/// One cargo call per world: building plugins of both worlds together would unify the SDK's world
/// features, and a component generated for both would have to export both. Within a world one call
/// lets cargo build the plugins side by side (a fresh clone's demo waited on one at a time); a
/// plugin on another plugin's crate is built alone.
fn build_plugin_set(root: &Path, set: PluginSet) -> Result<()> {
    ensure_wasm_target()?;
    let target = target_dir(root);
    let sources: &[(&str, &str)] = match set {
        PluginSet::Shipped => &[("plugins", "plugins")],
        PluginSet::WithTestPlugins => &[("plugins", "plugins"), ("tests/plugins", "test-plugins")],
    };
    // Each world's plugins: (crate, manifest name, manifest text, where its component goes), and
    // the plugin crates each depends on.
    let mut worlds: BTreeMap<String, Vec<(String, String, String, PathBuf)>> = BTreeMap::new();
    let mut uses: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for &(source, out) in sources {
        let out = target.join(out);
        std::fs::create_dir_all(&out)?;
        let mut crates: Vec<PathBuf> = std::fs::read_dir(root.join(source))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("plugin.toml").exists() && p.join("Cargo.toml").exists())
            .collect();
        crates.sort();
        for dir in crates {
            let manifest_text = std::fs::read_to_string(dir.join("plugin.toml"))?;
            let manifest: Manifest = toml::from_str(&manifest_text)
                .with_context(|| format!("{}/plugin.toml", dir.display()))?;
            let cargo_toml: CargoToml =
                toml::from_str(&std::fs::read_to_string(dir.join("Cargo.toml"))?)?;
            uses.insert(
                cargo_toml.package.name.clone(),
                cargo_toml.dependencies.into_keys().collect(),
            );
            worlds.entry(manifest.world).or_default().push((
                cargo_toml.package.name,
                manifest.name,
                manifest_text,
                out.clone(),
            ));
        }
    }
    // A plugin built on another plugin's crate (a test plugin wrapping a shipped state machine, with
    // its exports off) goes in a call of its own: beside that crate, features would unify and both
    // would export the world.
    let mut calls: Vec<Vec<(String, String, String, PathBuf)>> = Vec::new();
    for plugins in worlds.into_values() {
        let (alone, together): (Vec<_>, Vec<_>) = plugins
            .into_iter()
            .partition(|(krate, ..)| uses[krate].iter().any(|dep| uses.contains_key(dep)));
        calls.push(together);
        calls.extend(alone.into_iter().map(|plugin| vec![plugin]));
    }
    for plugins in &calls {
        let mut build = cargo();
        build
            .current_dir(root)
            .args(["build", "--quiet", "--release", "--target", WASM_TARGET]);
        for (krate, ..) in plugins {
            build.args(["-p", krate]);
        }
        run(&mut build)?;
        for (krate, name, manifest_text, out) in plugins {
            let built = target
                .join(WASM_TARGET)
                .join("release")
                .join(format!("{}.wasm", krate.replace('-', "_")));
            std::fs::copy(&built, out.join(format!("{name}.wasm")))
                .with_context(|| format!("copying {}", built.display()))?;
            std::fs::write(out.join(format!("{name}.toml")), manifest_text)?;
        }
    }
    for &(source, out) in sources {
        build_python_plugins(root, &root.join(source), &target.join(out))?;
        eprintln!(
            "plugins from {source}/ are in {}",
            target.join(out).display()
        );
    }
    Ok(())
}

/// The componentize-py the Python plugins are built with (installed with pip when missing).
const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// Builds every folder of `source` holding a `plugin.toml` and an `app.py` (a plugin written in
/// Python) into `out/NAME.wasm` with componentize-py, against the WIT package.
fn build_python_plugins(root: &Path, source: &Path, out: &Path) -> Result<()> {
    let mut apps: Vec<PathBuf> = std::fs::read_dir(source)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("plugin.toml").exists() && p.join("app.py").exists())
        .collect();
    apps.sort();
    if apps.is_empty() {
        return Ok(());
    }
    let installed = Command::new("componentize-py")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.ends_with(b"0.25.1\n"));
    if !installed {
        run(Command::new("python3").args(["-m", "pip", "install", "--quiet", COMPONENTIZE_PY]))?;
    }
    for dir in apps {
        let manifest_text = std::fs::read_to_string(dir.join("plugin.toml"))?;
        let manifest: Manifest = toml::from_str(&manifest_text)
            .with_context(|| format!("{}/plugin.toml", dir.display()))?;
        let wasm = out.join(format!("{}.wasm", manifest.name));
        let wit = std::fs::read_dir(root.join("plugin-api/wit"))?
            .filter_map(|e| e.ok().map(|e| e.path()));
        let newest_source = [dir.join("app.py"), dir.join("plugin.toml")]
            .into_iter()
            .chain(wit)
            .filter_map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
            .max();
        let built_at = std::fs::metadata(&wasm).and_then(|m| m.modified()).ok();
        // An interpreter takes ten seconds to pack: only when the app or the WIT changed.
        if built_at.is_none() || newest_source > built_at {
            run(Command::new("componentize-py")
                .current_dir(root)
                .arg("-d")
                .arg(root.join("plugin-api/wit"))
                .args(["-w", &manifest.world, "componentize", "-p"])
                .arg(&dir)
                .args(["app", "-o"])
                .arg(&wasm))?;
        }
        std::fs::write(out.join(format!("{}.toml", manifest.name)), manifest_text)?;
    }
    Ok(())
}

fn test(root: &Path) -> Result<()> {
    build_plugins(root)?;
    install_test_tools(root)?;
    run(cargo()
        .current_dir(root)
        .args(["fmt", "--all", "--", "--check"]))?;
    check_layers(root)?;
    run(cargo().current_dir(root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--quiet",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The demo's build, without Tor: its own code paths are linted too.
    run(cargo().current_dir(root).args([
        "clippy",
        "--quiet",
        "--no-default-features",
        "-p",
        "courier-host",
        "--",
        "-D",
        "warnings",
    ]))?;
    // Bluetooth where BlueZ is not (macOS, Windows): the central role alone, through btleplug,
    // with no bluer in the build.
    run(cargo().current_dir(root).args([
        "clippy",
        "--quiet",
        "--no-default-features",
        "--features",
        "ble-central",
        "-p",
        "courier-drivers",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The stories in tests/e2e run the `courier` binary as a person would. `cargo test` builds a
    // package's binaries only for that package's own integration tests, and the host has none, so
    // nothing else builds it on a fresh checkout.
    run(cargo()
        .current_dir(root)
        .args(["build", "--quiet", "-p", "courier-host"]))?;
    let mut skip = vec!["test", "--workspace", "--"];
    for story in ALONE {
        skip.extend(["--skip", story]);
    }
    let (mut passed, mut failed) = run_counting_tests(cargo().current_dir(root).args(skip))?;
    for story in ALONE {
        let (p, f) = run_counting_tests(cargo().current_dir(root).args([
            "test",
            "-p",
            "courier-e2e",
            "--test",
            "it",
            "--",
            story,
        ]))?;
        passed += p;
        failed += f;
    }
    // One closing line for the whole suite, not just the last crate's.
    println!("summary: {passed} passed, {failed} failed");
    if failed > 0 {
        bail!("{failed} test(s) failed");
    }
    Ok(())
}

/// Stories whose promise is a figure under a load they make themselves (the API flood's p99): run
/// after the suite, alone on the machine, not beside other stories' nodes on the same two cores.
const ALONE: &[&str] = &["api_flood::"];

/// What the API's tests drive the node with, installed when missing: Playwright's library for the
/// page test (from the lock file; it uses the system's Chromium, never downloads one) and
/// schemathesis for the OpenAPI run; and BlueZoo, BlueZ without a radio, for the BlueZ driver.
fn install_test_tools(root: &Path) -> Result<()> {
    let browser = root.join("tests/browser");
    if !browser.join("node_modules/playwright-core").exists() {
        run(Command::new("npm").current_dir(&browser).args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]))?;
    }
    let schemathesis = Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !schemathesis {
        run(Command::new("python3").args(["-m", "pip", "install", "--quiet", "schemathesis"]))?;
    }
    // BlueZoo: BlueZ's D-Bus API without a radio, for the BlueZ driver's tests (tests/bluez/; its
    // launcher patches this version's internals, hence the pin).
    let bluezoo = Command::new("python3")
        .args([
            "-c",
            "import bluezoo, importlib.metadata as m; assert m.version('bluezoo') == '1.0.2'",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !bluezoo {
        run(Command::new("python3").args(["-m", "pip", "install", "--quiet", "bluezoo==1.0.2"]))?;
    }
    Ok(())
}

/// Checks the crate graph and the node's sources against ARCHITECTURE.md's dependency invariants.
fn check_layers(root: &Path) -> Result<()> {
    let output = cargo()
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .context("could not run cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    layers::check(root, &output.stdout)
}

/// Runs `cargo test`, echoing its output, and adds up its `test result:` lines.
fn run_counting_tests(command: &mut Command) -> Result<(u64, u64)> {
    use std::io::{BufRead, BufReader};
    eprintln!("$ {}", describe(command));
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("could not start cargo test")?;
    let (mut passed, mut failed) = (0, 0);
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line?;
        println!("{line}");
        if let Some(result) = line.strip_prefix("test result: ") {
            passed += count_before(result, " passed");
            failed += count_before(result, " failed");
        }
    }
    let status = child.wait()?;
    if !status.success() && failed == 0 {
        bail!("cargo test failed with {status}");
    }
    Ok((passed, failed))
}

/// The number just before `label` in a `test result:` line, e.g. 16 in "ok. 16 passed; 0 failed".
fn count_before(result: &str, label: &str) -> u64 {
    result
        .split(';')
        .find_map(|part| {
            part.trim()
                .trim_start_matches("ok. ")
                .trim_start_matches("FAILED. ")
                .strip_suffix(label)?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn demo(root: &Path) -> Result<()> {
    // Only what the demo runs: the shipped plugins, the `courier` binary and the demo's driver.
    build_plugin_set(root, PluginSet::Shipped)?;
    // Without Tor: the demo runs on the LAN alone, and arti is about a third of a cold build. The
    // suite, the benches and every other build have it (a default feature).
    run(cargo().current_dir(root).args([
        "build",
        "--quiet",
        "--no-default-features",
        "-p",
        "courier-host",
        "--bin",
        "courier",
        "-p",
        "courier-e2e",
        "--bin",
        "courier-demo",
    ]))?;
    run(Command::new(root.join("target/debug/courier-demo")).arg(root.join("target")))
}

fn bench(root: &Path) -> Result<()> {
    build_plugins(root)?;
    run(cargo()
        .current_dir(root)
        .args(["bench", "-p", "courier-host"]))?;
    // The API bench drives `courier` processes: the release build, as a desktop app ships it.
    run(cargo().current_dir(root).args([
        "build",
        "--quiet",
        "--release",
        "-p",
        "courier-host",
        "--bin",
        "courier",
    ]))?;
    run(cargo()
        .current_dir(root)
        .args(["bench", "-p", "courier-e2e", "--bench", "api"]))?;
    run(cargo()
        .current_dir(root)
        .args(["bench", "-p", "courier-e2e", "--bench", "mailbox"]))?;
    run(cargo()
        .current_dir(root)
        .args(["bench", "-p", "courier-e2e", "--bench", "bluetooth"]))?;
    run(cargo()
        .current_dir(root)
        .args(["bench", "-p", "courier-e2e", "--bench", "groups"]))?;
    run(cargo()
        .current_dir(root)
        .args(["bench", "-p", "courier-e2e", "--bench", "scale"]))
}

/// A rustup-proxied `cargo +nightly`, without the variables the outer (stable) cargo set for us.
fn nightly_cargo() -> Command {
    let mut command = Command::new("cargo");
    command.arg("+nightly");
    for var in [
        "CARGO",
        "RUSTC",
        "RUSTDOC",
        "RUSTUP_TOOLCHAIN",
        "CARGO_MANIFEST_DIR",
    ] {
        command.env_remove(var);
    }
    command
}

/// Installs `krate` from crates.io unless `tool --version` already answers.
fn install_when_missing(tool: &mut Command, krate: &str) -> Result<()> {
    let present = tool
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        run(cargo().args(["install", krate, "--locked"]))?;
    }
    Ok(())
}

/// Runs each fuzz target in `fuzz/Cargo.toml` for `seconds`, installing nightly and cargo-fuzz first
/// when they are missing.
fn fuzz(root: &Path, seconds: u64) -> Result<()> {
    let has_nightly = nightly_cargo()
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_nightly {
        run(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))?;
    }
    install_when_missing(nightly_cargo().arg("fuzz"), "cargo-fuzz")?;
    #[derive(serde::Deserialize)]
    struct FuzzToml {
        bin: Vec<FuzzBin>,
    }
    #[derive(serde::Deserialize)]
    struct FuzzBin {
        name: String,
    }
    let targets: FuzzToml =
        toml::from_str(&std::fs::read_to_string(root.join("fuzz/Cargo.toml"))?)?;
    for target in targets.bin {
        run(nightly_cargo().current_dir(root).args([
            "fuzz",
            "run",
            &target.name,
            "--",
            &format!("-max_total_time={seconds}"),
        ]))?;
    }
    eprintln!("fuzzed every target for {seconds} s without a finding");
    Ok(())
}

/// Share of viable mutants that must be caught; the survivors are listed in the output.
const MUTANTS_TARGET_PERCENT: f64 = 95.0;

/// Runs cargo-mutants over `courier-proto` (installing it first when missing) and prints the score:
/// caught / viable, where viable means the mutant built. Fails below [`MUTANTS_TARGET_PERCENT`].
///
/// One job by default (cargo-mutants' own default), so a run leaves the machine's other cores free;
/// `--jobs N` in `args` asks for more.
fn mutants(root: &Path, args: &[String]) -> Result<()> {
    install_when_missing(cargo().arg("mutants"), "cargo-mutants")?;
    let mut command = cargo();
    command
        .current_dir(root)
        .args(["mutants", "-p", "courier-proto"])
        .args(args);
    // Every mutant runs the whole suite; the deterministic tests do the killing, so the property
    // tests run a few cases each instead of 256 (unless the caller chose a number).
    if std::env::var_os("PROPTEST_CASES").is_none() {
        command.env("PROPTEST_CASES", "32");
    }
    eprintln!("$ {}", describe(&command));
    // cargo-mutants exits non-zero when a mutant survives; the outcomes say how many, so read them.
    let status = command.status().context("could not start cargo mutants")?;
    let out_dir = args
        .iter()
        .position(|a| a == "--output" || a == "-o")
        .and_then(|i| args.get(i + 1))
        .map_or_else(|| root.to_path_buf(), PathBuf::from);
    let outcomes_path = out_dir.join("mutants.out/outcomes.json");
    let text = std::fs::read_to_string(&outcomes_path).with_context(|| {
        format!(
            "cargo mutants ({status}) left no {}; see its output above",
            outcomes_path.display()
        )
    })?;
    let score = MutantScore::parse(&text)
        .with_context(|| format!("{} is not cargo-mutants' outcomes", outcomes_path.display()))?;
    println!("{score}");
    if score.viable() > 0 && score.percent() < MUTANTS_TARGET_PERCENT {
        bail!(
            "{:.1}% of viable mutants caught, under the {MUTANTS_TARGET_PERCENT}% target; the survivors are in {}",
            score.percent(),
            out_dir.join("mutants.out/missed.txt").display()
        );
    }
    Ok(())
}

/// The counts in cargo-mutants' `outcomes.json`.
#[derive(Debug, serde::Deserialize, PartialEq)]
struct MutantScore {
    caught: u64,
    missed: u64,
    timeout: u64,
    unviable: u64,
}

impl MutantScore {
    fn parse(json: &str) -> Result<MutantScore> {
        Ok(serde_json::from_str(json)?)
    }

    /// Mutants that built: caught, missed, or hung the tests (a timeout is caught too: the tests did
    /// not pass).
    fn viable(&self) -> u64 {
        self.caught + self.missed + self.timeout
    }

    fn percent(&self) -> f64 {
        100.0 * (self.caught + self.timeout) as f64 / self.viable().max(1) as f64
    }
}

impl std::fmt::Display for MutantScore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "mutation score: {} / {} viable mutants caught ({:.1}%); {} missed, {} timed out (counted as caught), {} unviable",
            self.caught + self.timeout,
            self.viable(),
            self.percent(),
            self.missed,
            self.timeout,
            self.unviable
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_score_counts_timeouts_as_caught_and_leaves_unviable_mutants_out() {
        let score = MutantScore::parse(
            r#"{"outcomes": [], "total_mutants": 30, "caught": 18, "missed": 1, "timeout": 1, "unviable": 10, "success": 0, "failure": 0}"#,
        )
        .unwrap();
        assert_eq!(score.viable(), 20);
        assert_eq!(score.percent(), 95.0);
        assert_eq!(
            score.to_string(),
            "mutation score: 19 / 20 viable mutants caught (95.0%); 1 missed, 1 timed out (counted as caught), 10 unviable"
        );
    }
}
