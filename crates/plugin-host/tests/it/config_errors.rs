//! Every kind of bad config gives one clear error naming the plugin, the key and the line.

use courier_config::Config;

use crate::fixture::{Fixture, text};

fn only_failure(fixture: &Fixture, body: &str) -> String {
    let host = fixture.load(body);
    assert_eq!(host.failures.len(), 1, "{:?}", host.failures);
    host.failures[0].to_string()
}

#[test]
fn an_unknown_plugin_names_the_key_line_and_the_fix() {
    let fixture = Fixture::with_plugins(&["text"]);
    let body = text() + "[message_types.poll]\nplugin = \"poll\"\ngrant = []\n";
    let message = only_failure(&fixture, &body);
    assert!(
        message.contains("plugin `poll` (`message_types.poll.plugin` (line 10))"),
        "{message}"
    );
    assert!(message.contains("poll.toml"), "{message}");
}

#[test]
fn a_plugin_missing_its_component_says_how_to_build_it() {
    let fixture = Fixture::with_plugins(&["text"]);
    std::fs::remove_file(fixture.plugin_dir().join("text.wasm")).unwrap();
    let message = only_failure(&fixture, &text());
    assert!(
        message.contains("text.wasm") && message.contains("cargo xtask build-plugins"),
        "{message}"
    );
}

#[test]
fn a_plugin_in_the_wrong_world_is_refused() {
    let fixture = Fixture::with_plugins(&["text"]);
    let message = only_failure(
        &fixture,
        "[transports.text]\nplugin = \"text\"\ngrant = [\"log\"]\n",
    );
    assert!(message.contains("it is a message-type plugin but is listed as a transport; move it to the [message_types.…] table"), "{message}");
}

#[test]
fn a_manifest_for_another_api_version_asks_for_a_rebuild() {
    let fixture = Fixture::with_plugins(&["text"]);
    let manifest = fixture.plugin_dir().join("text.toml");
    let text_manifest = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("api = \"0.1.0\"", "api = \"0.2.0\"");
    std::fs::write(&manifest, text_manifest).unwrap();
    let message = only_failure(&fixture, &text());
    assert!(
        message.contains("rebuild the plugin against this host's plugin-api"),
        "{message}"
    );
}

#[test]
fn a_file_that_is_not_a_component_is_refused_without_harm() {
    let fixture = Fixture::with_plugins(&["text"]);
    std::fs::write(fixture.plugin_dir().join("text.wasm"), b"\0asm garbage").unwrap();
    let message = only_failure(&fixture, &text());
    assert!(message.contains("is not a valid component"), "{message}");
}

#[test]
fn malformed_toml_and_network_grants_to_message_types_are_refused_whole() {
    let fixture = Fixture::with_plugins(&[]);
    let path = fixture.plugin_dir().join("../bad.toml");
    std::fs::write(
        &path,
        "[message_types.text]\nplugin = \"text\"\ngrant = [\"log\", \"mdns\"]\n",
    )
    .unwrap();
    let message = Config::read(&path).unwrap_err().to_string();
    assert!(
        message.contains("`message_types.text.grant[1]` (line 3)")
            && message.contains("never get `mdns`"),
        "{message}"
    );

    std::fs::write(&path, "[message_types.text\n").unwrap();
    let message = Config::read(&path).unwrap_err().to_string();
    assert!(
        message.contains("malformed") && message.contains("line 1"),
        "{message}"
    );
}

/// Each message type checks its config section's settings when it loads: a bad value or an unknown
/// key is refused there, naming the key and the `settings` line, instead of at the first send.
#[test]
fn bad_message_type_settings_are_refused_at_load_naming_the_key_and_line() {
    let fixture = Fixture::with_plugins(&["location", "payment", "image", "voice", "text"]);
    let section = |name: &str, settings: &str| {
        format!(
            "[message_types.{name}]\nplugin = \"{name}\"\ngrant = [\"log\", \"clock\"]\n\
             limits = {{ memory_mib = 512 }}\nsettings = {{ {settings} }}\n"
        )
    };
    for (name, settings, says) in [
        (
            "location",
            "precision = -5",
            "precision is 1 to 1,000,000 metres",
        ),
        (
            "image",
            "max-dimension = 0",
            "max-dimension is 16 to 4096 pixels",
        ),
        (
            "payment",
            "network = \"regtestfoo\"",
            "setting `network` is main or test, not \"regtestfoo\"",
        ),
        ("voice", "pitch = 3.0", "pitch"),
        (
            "location",
            "precison = 100",
            "unknown setting `precison`: this plugin reads `precision`",
        ),
        (
            "text",
            "colour = \"red\"",
            "unknown setting `colour`: this plugin takes no settings",
        ),
    ] {
        let message = only_failure(&fixture, &section(name, settings));
        assert!(
            message.contains(&format!("`message_types.{name}.settings` (line 8)")),
            "{message}"
        );
        assert!(
            message.contains("refused its settings") && message.contains(says),
            "{name} {settings}: {message}"
        );
    }
    // Good settings load.
    let host = fixture.load(&section("location", "precision = 1000"));
    assert!(host.failures.is_empty(), "{:?}", host.failures);
}

#[test]
fn a_config_path_that_is_a_device_or_too_large_is_refused_before_it_is_read() {
    let err = Config::read(std::path::Path::new("/dev/zero")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read config /dev/zero: it is a character device, not a regular file; give the path of a file"
    );
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("config.toml");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let err = Config::read(&huge).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot read config {}: it is 1024.0 MiB, over the limit of 1.0 MiB; use a smaller file",
            huge.display()
        )
    );
}

#[test]
fn a_directory_granted_to_a_transport_that_never_asked_for_one_is_refused() {
    let fixture = Fixture::with_plugins(&["framed-echo"]);
    let drive = tempfile::tempdir().unwrap();
    let body = format!(
        "[transports.framed]\nplugin = \"framed-echo\"\ngrant = [\"tcp\", \"log\", \"clock\", \"files\"]\nfiles_dir = {:?}\n",
        drive.path().display().to_string()
    );
    assert_eq!(
        only_failure(&fixture, &body),
        "plugin `framed-echo` (`transports.framed.grant` (line 6)) was not loaded: the config grants it `files` (a directory), which its manifest does not ask for; remove \"files\" and files_dir from its section"
    );
}
