//! Each hostile plugin misbehaves beside the well-behaved text plugin; each is contained, the reason is
//! in the log, and text keeps answering.

use courier_plugin_host::CallError;
use courier_plugin_host::bindings::transport_types::Event;
use courier_plugin_host::fault::Fault;
use courier_plugin_host::supervisor::Health;

use crate::fixture::{Fixture, capture_logs, message_type, text};

fn text_still_answers(host: &mut courier_plugin_host::PluginHost) {
    let text = host.message_type("courier/text").expect("text loaded");
    let payload = text
        .prepare("still here \u{202E}".as_bytes(), &[], 1)
        .expect("text answers");
    assert_eq!(payload, b"still here");
}

#[test]
fn an_endless_loop_runs_out_of_budget_is_restarted_and_text_keeps_working() {
    let fixture = Fixture::with_plugins(&["endless-loop", "text"]);
    let limits = "fuel_per_call = 20_000_000, restart_backoff_ms = 0";
    let mut host = fixture.load(&(message_type("endless-loop", "\"log\"", limits) + &text()));
    assert!(host.failures.is_empty(), "{:?}", host.failures);

    let (result, log) = capture_logs(|| {
        host.message_type("test/endless-loop")
            .unwrap()
            .prepare(b"go", &[], 1)
    });
    assert_eq!(
        result,
        Err(CallError::Faulted {
            plugin: "endless-loop".into(),
            fault: Fault::Budget { fuel: 20_000_000 }
        })
    );
    assert!(
        log.contains("starting an endless loop"),
        "the plugin's own line is logged: {log}"
    );
    assert!(
        log.contains("endless-loop") && log.contains("per-call budget"),
        "the fault is logged: {log}"
    );
    text_still_answers(&mut host);

    // With no backoff configured the next call restarts it; its other functions work.
    let looping = host.message_type("test/endless-loop").unwrap();
    assert_eq!(looping.summary(b"x", 1).unwrap(), "endless loop");
    assert_eq!(looping.instance().restarts(), 1);
}

#[test]
fn a_memory_bomb_hits_its_cap_and_nothing_else_notices() {
    let fixture = Fixture::with_plugins(&["memory-bomb", "text"]);
    let mut host = fixture.load(&(message_type("memory-bomb", "", "memory_mib = 24") + &text()));
    let (result, log) = capture_logs(|| {
        host.message_type("test/memory-bomb")
            .unwrap()
            .prepare(b"", &[], 1)
    });
    match result {
        Err(CallError::Faulted {
            fault:
                Fault::Memory {
                    requested,
                    cap_mib: 24,
                },
            ..
        }) => assert!(requested > 24 << 20),
        other => panic!("expected a memory fault, got {other:?}"),
    }
    assert!(
        log.contains("memory-bomb") && log.contains("24 MiB cap"),
        "{log}"
    );
    text_still_answers(&mut host);
}

#[test]
fn a_panic_is_logged_with_its_message_and_the_plugin_comes_back() {
    let fixture = Fixture::with_plugins(&["panicky", "text"]);
    let mut host = fixture.load(&(message_type("panicky", "", "restart_backoff_ms = 0") + &text()));
    let (result, log) = capture_logs(|| {
        host.message_type("test/panicky")
            .unwrap()
            .prepare(b"", &[], 1)
    });
    match result {
        Err(CallError::Faulted {
            fault: Fault::Panic { message },
            ..
        }) => {
            assert!(message.contains("gives up on purpose"), "{message}");
        }
        other => panic!("expected a panic fault, got {other:?}"),
    }
    assert!(
        log.contains("panicked") && log.contains("gives up on purpose"),
        "{log}"
    );
    text_still_answers(&mut host);
    assert_eq!(
        host.message_type("test/panicky")
            .unwrap()
            .summary(b"abc", 1)
            .unwrap(),
        "3 bytes"
    );
}

#[test]
fn malformed_output_is_refused_and_repeat_offenders_are_disabled() {
    let fixture = Fixture::with_plugins(&["malformed-output", "text"]);
    let limits = "restart_backoff_ms = 0, max_failures = 2";
    let mut host = fixture.load(&(message_type("malformed-output", "", limits) + &text()));
    let plugin = host.message_type("test/malformed-output").unwrap();

    let err = plugin.prepare(b"hi", &[], 1).unwrap_err();
    assert!(
        err.to_string()
            .contains("returned 65536 bytes; its own limit is 16"),
        "{err}"
    );

    let (err, log) = capture_logs(|| plugin.summary(b"", 1).unwrap_err());
    assert!(err.to_string().contains("limit is 1024"), "{err}");
    assert!(log.contains("disabled after repeated faults"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "the plugin's escape codes never reach the log"
    );
    assert!(matches!(
        plugin.instance().health(),
        Health::Disabled { .. }
    ));
    assert!(matches!(
        plugin.summary(b"", 1),
        Err(CallError::Disabled { .. })
    ));
    text_still_answers(&mut host);
}

#[test]
fn a_flood_of_actions_is_cut_off_and_its_channels_are_handed_back() {
    let fixture = Fixture::with_plugins(&["action-flood", "text"]);
    let body = "[transports.flood]\nplugin = \"action-flood\"\ngrant = [\"log\"]\n\n".to_string()
        + &text();
    let mut host = fixture.load(&body);
    assert!(host.failures.is_empty(), "{:?}", host.failures);
    let flood = host.transport("test-flood").unwrap();
    let (result, log) = capture_logs(|| flood.handle(&Event::ChannelAccepted(7)));
    let err = result.unwrap_err();
    assert!(
        err.to_string()
            .contains("100000 actions for one event; the limit is 256"),
        "{err}"
    );
    assert!(log.contains("action-flood"), "{log}");
    assert_eq!(
        flood.take_orphaned(),
        vec![7],
        "the host learns which channels to close"
    );
    text_still_answers(&mut host);
}

#[test]
fn a_plugin_that_imports_more_than_its_manifest_declares_is_refused_at_load() {
    let fixture = Fixture::with_plugins(&["undeclared-import", "text"]);
    // Even a grant that includes tcp does not help: the manifest must say what the plugin uses.
    let body = "[transports.sneaky]\nplugin = \"undeclared-import\"\ngrant = [\"tcp\", \"log\"]\n\n"
        .to_string() + &text();
    let (mut host, log) = capture_logs(|| fixture.load(&body));
    assert_eq!(host.failures.len(), 1);
    let message = host.failures[0].to_string();
    assert!(
        message.contains("imports `courier:plugin/tcp` although its manifest does not request it"),
        "{message}"
    );
    assert!(
        message.contains("`transports.sneaky.plugin` (line 5)"),
        "{message}"
    );
    assert!(log.contains("undeclared-import"), "{log}");
    assert!(host.transports.is_empty());
    text_still_answers(&mut host);
}
