//! Stories of threat-model profiles: the shipped ones pass `courier profile check`, and an edit that
//! breaks a profile's policy is refused, naming the profile's line and the rule, and never started.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use courier_e2e::{Person, Tools};

use super::scratch;

/// The repository's `config/` folder.
fn profiles() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

/// `courier profile check FILE`: whether it passed, and what it printed on stdout and stderr.
fn check(tools: &Tools, file: &Path) -> Result<(bool, String)> {
    let output = Command::new(&tools.courier)
        .args(["profile", "check"])
        .arg(file)
        .output()
        .context("running courier profile check")?;
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status.success(), printed))
}

/// A copy of shipped profile `name` in `dir` with `edit` applied, its plugins found where this
/// build put them.
fn edited(
    tools: &Tools,
    dir: &Path,
    name: &str,
    edit: impl Fn(String) -> String,
) -> Result<PathBuf> {
    let text = std::fs::read_to_string(profiles().join(format!("{name}.toml")))?;
    let text = text.replace(
        "dir = \"../target/plugins\"",
        &format!("dir = {:?}", tools.plugin_dir.display().to_string()),
    );
    let path = dir.join(format!("{name}-edited.toml"));
    std::fs::write(&path, edit(text))?;
    Ok(path)
}

/// The 1-based line of the first line of `file` that starts with `start`.
fn line_of(file: &Path, start: &str) -> Result<usize> {
    let text = std::fs::read_to_string(file)?;
    text.lines()
        .position(|l| l.starts_with(start))
        .map(|i| i + 1)
        .with_context(|| format!("no line starting {start:?} in {}", file.display()))
}

#[test]
fn each_shipped_profile_passes_its_check_and_says_what_each_transport_reveals() -> Result<()> {
    let tools = Tools::locate()?;
    let expected: [(&str, &[&str]); 3] = [
        ("high-risk", &["transports.tor", "reveals  nothing"]),
        (
            "everyday",
            &[
                "transports.lan",
                "reveals  ip-address, presence",
                "transports.tor",
            ],
        ),
        (
            "offline",
            &[
                "transports.drive",
                "transports.lan",
                "granted  tcp(lan), mdns",
            ],
        ),
    ];
    for (name, lines) in expected {
        let (passed, printed) = check(&tools, &profiles().join(format!("{name}.toml")))?;
        assert!(passed, "{name} should pass:\n{printed}");
        assert!(printed.contains("every plugin may run"), "{printed}");
        assert!(!printed.contains("REFUSED"), "{printed}");
        for line in lines {
            assert!(
                printed.contains(line),
                "{name} should show {line:?}:\n{printed}"
            );
        }
        assert_eq!(
            printed.matches(" runs\n").count(),
            printed.matches("\n    granted").count()
        );
    }
    Ok(())
}

#[test]
fn lan_added_to_the_high_risk_profile_is_refused_by_its_rule_and_serve_will_not_run_it()
-> Result<()> {
    let tools = Tools::locate()?;
    let root = scratch();
    let lan = "\n[transports.lan]\nplugin = \"transport-lan\"\n\
               grant = [\"tcp\", \"mdns\", \"log\", \"clock\", \"random\"]\ntcp_scope = \"lan\"\n";
    let file = edited(&tools, root.path(), "high-risk", |t| format!("{t}{lan}"))?;
    let (passed, printed) = check(&tools, &file)?;
    assert!(!passed, "{printed}");
    let rule = line_of(&file, "transports = ")?;
    assert!(
        printed.contains(&format!(
            "why      refused by the profile's policy: `policy.transports` (line {rule}) lets only \
             transport-tor run as transports; remove [transports.lan]"
        )),
        "{printed}"
    );
    assert!(
        printed.contains("transports.lan             transport-lan        REFUSED"),
        "{printed}"
    );
    assert!(printed.contains("1 section(s) refused"), "{printed}");

    // With Tor gone as well, nothing could carry a message: serve says why and does not start.
    let only_lan = edited(&tools, root.path(), "high-risk", |t| {
        t.replace(
            "[transports.tor]\nplugin = \"transport-tor\"\ngrant = [\"tor-stream\", \"log\", \"clock\"]\n",
            lan,
        )
    })?;
    let alice = Person::init(&tools, root.path(), "alice")?;
    let config = only_lan.display().to_string();
    let (_, stderr) = alice.fails_with_code(&["serve", "--config", &config], &[])?;
    let plugin_line = line_of(&only_lan, "plugin = \"transport-lan\"")?;
    assert!(
        stderr.contains("no transport can run, so nothing would ever be sent; not starting"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("plugin `transport-lan` (`transports.lan.plugin` (line {plugin_line})) was not loaded: refused by the profile's policy: `policy.transports`")),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn a_transport_that_declares_no_reveals_but_is_granted_lan_tcp_is_refused() -> Result<()> {
    let tools = Tools::locate()?;
    let root = scratch();
    // The drive transport declares it reveals nothing; given TCP on the LAN it could show our IP.
    let file = edited(&tools, root.path(), "offline", |t| {
        t.replace(
            "grant = [\"files\", \"log\", \"clock\", \"random\"]",
            "grant = [\"files\", \"tcp\", \"log\", \"clock\", \"random\"]\ntcp_scope = \"lan\"",
        )
    })?;
    let (passed, printed) = check(&tools, &file)?;
    assert!(!passed, "{printed}");
    assert!(
        printed.contains("transports.drive           transport-drive      REFUSED"),
        "{printed}"
    );
    assert!(printed.contains("granted  files("), "{printed}");
    assert!(
        printed.contains(
            "why      its grants make it possible to reveal ip-address, which it does not declare"
        ),
        "{printed}"
    );
    // The LAN transport declares what its grant makes possible, and still runs.
    assert!(
        printed.contains("transports.lan             transport-lan        runs"),
        "{printed}"
    );
    Ok(())
}

#[test]
fn a_message_type_given_the_network_is_refused_with_its_line() -> Result<()> {
    let tools = Tools::locate()?;
    let root = scratch();
    let file = edited(&tools, root.path(), "everyday", |t| {
        t.replacen(
            "[message_types.text]\nplugin = \"text\"\ngrant = [\"log\"]",
            "[message_types.text]\nplugin = \"text\"\ngrant = [\"log\", \"tcp\"]",
            1,
        )
    })?;
    let (passed, printed) = check(&tools, &file)?;
    assert!(!passed, "{printed}");
    let line = line_of(&file, "grant = [\"log\", \"tcp\"]")?;
    assert!(
        printed.contains(&format!(
            "`message_types.text.grant[1]` (line {line}): message types never get `tcp`"
        )),
        "{printed}"
    );
    Ok(())
}

#[test]
fn voice_undistorted_under_a_profile_that_requires_distortion_is_refused() -> Result<()> {
    let tools = Tools::locate()?;
    let root = scratch();
    let file = edited(&tools, root.path(), "high-risk", |t| {
        t.replace(
            "settings = { distort = true }",
            "settings = { distort = false }",
        )
    })?;
    let (passed, printed) = check(&tools, &file)?;
    assert!(!passed, "{printed}");
    let rule = line_of(&file, "voice-distort = true")?;
    assert!(
        printed.contains("message_types.voice        voice                REFUSED"),
        "{printed}"
    );
    assert!(
        printed.contains(&format!(
            "`policy.voice-distort` (line {rule}) requires every voice note distorted; set settings = {{ distort = true }}"
        )),
        "{printed}"
    );

    // And the API of a high-risk node stays on loopback, whatever the flags say.
    let alice = Person::init(&tools, root.path(), "alice")?;
    let profile = profiles().join("high-risk.toml").display().to_string();
    let (_, stderr) = alice.fails_with_code(
        &[
            "serve",
            "--config",
            &profile,
            "--api",
            "--api-bind",
            "0.0.0.0:0",
            "--api-allow-remote",
        ],
        &[],
    )?;
    let rule = line_of(&profiles().join("high-risk.toml"), "api-loopback-only")?;
    assert!(
        stderr.contains(&format!(
            "`policy.api-loopback-only` (line {rule}) lets the API listen on loopback only"
        )),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn a_policy_that_pins_distortion_wins_over_the_sender_s_own_option() -> Result<()> {
    let root = scratch();
    let (alice, _bob) = super::pair(root.path())?;
    let recording = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../plugins/message-voice/tests/fixtures/espeak.wav")
        .display()
        .to_string();
    let config = alice.dir.join("config.toml");
    let plain = std::fs::read_to_string(&config)?;
    let pinned = plain.replace(
        "plugin = \"voice\"\n",
        "plugin = \"voice\"\nsettings = { distort = true }\n",
    ) + "\n[policy]\nvoice-distort = true\n";
    assert_ne!(pinned, plain.clone() + "\n[policy]\nvoice-distort = true\n");
    std::fs::write(&config, pinned)?;
    // The shortcut's --distort, an explicit option against it, and no word at all: all distorted.
    for args in [
        &["--voice", &recording, "--distort"][..],
        &[
            "--type",
            "courier/voice",
            "--input",
            &recording,
            "--option",
            "distort=false",
        ],
        &["--voice", &recording],
    ] {
        alice.cli(&[&["send", "bob"][..], args].concat())?;
    }
    // The same note, sent under no policy with the config's own `distort = false`.
    std::fs::write(&config, &plain)?;
    alice.cli(&["send", "bob", "--voice", &recording])?;

    let sent: Vec<Vec<u8>> = alice
        .messages("bob")?
        .iter()
        .filter(|r| r.direction == "out" && r.content_type == "courier/voice")
        .enumerate()
        .map(|(i, row)| -> Result<Vec<u8>> {
            let file = root.path().join(format!("sent-{i}.wav"));
            alice.cli(&[
                "attachment",
                "save",
                &row.id[..16],
                &file.display().to_string(),
            ])?;
            Ok(std::fs::read(&file)?)
        })
        .collect::<Result<_>>()?;
    assert_eq!(sent.len(), 4);
    assert_eq!(sent[0], sent[1], "an option of distort=false was obeyed");
    assert_eq!(sent[0], sent[2]);
    assert_ne!(
        sent[0], sent[3],
        "the note sent without the policy is the undisguised voice"
    );
    Ok(())
}
