//! The second start loads compiled components from the cache instead of compiling again.

use courier_plugin_host::component_cache::Origin;

use crate::fixture::{Fixture, text};

#[test]
fn a_second_start_uses_the_cache_and_a_corrupt_entry_is_rebuilt() {
    let fixture = Fixture::with_plugins(&["text"]);
    let origin = |host: &courier_plugin_host::PluginHost| {
        host.reports.iter().map(|r| r.origin).collect::<Vec<_>>()
    };

    let first = fixture.load(&text());
    assert_eq!(origin(&first), vec![Origin::Compiled]);
    let second = fixture.load(&text());
    assert_eq!(origin(&second), vec![Origin::Cached]);

    let cache = fixture.plugin_dir().join(".cache");
    let entry = std::fs::read_dir(&cache)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&entry, b"not an artifact").unwrap();
    let mut third = fixture.load(&text());
    assert_eq!(
        origin(&third),
        vec![Origin::Compiled],
        "a corrupt entry is compiled again, not trusted"
    );
    assert!(
        third
            .message_type("courier/text")
            .unwrap()
            .prepare(b"hello", &[], 1)
            .is_ok()
    );
    assert_eq!(origin(&fixture.load(&text())), vec![Origin::Cached]);
}
