//! Plugin host figures: cold start (compile) vs warm start (cache) with N plugins, and one event
//! round-trip into a wasm transport next to a native call of the same logic.
//!
//! Run with `cargo xtask bench` (which builds the plugins first). Prints medians; asserts nothing.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use courier_config::Config;
use courier_plugin_host::PluginHost;
use courier_plugin_host::bindings::transport_types::{Chunk, Event};

const PLUGINS: [&str; 6] = [
    "text",
    "framed-echo",
    "endless-loop",
    "panicky",
    "malformed-output",
    "memory-bomb",
];

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// A plugin directory with `PLUGINS` and a config listing them.
fn setup(dir: &Path) -> PathBuf {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let mut config = String::from("[plugins]\ndir = \"plugins\"\n\n");
    for name in PLUGINS {
        let source = [
            target_dir().join("plugins"),
            target_dir().join("test-plugins"),
        ]
        .into_iter()
        .find(|d| d.join(format!("{name}.wasm")).exists())
        .unwrap_or_else(|| panic!("{name} is not built; run `cargo xtask bench`"));
        for ext in ["wasm", "toml"] {
            std::fs::copy(
                source.join(format!("{name}.{ext}")),
                plugins.join(format!("{name}.{ext}")),
            )
            .unwrap();
        }
        let manifest = std::fs::read_to_string(plugins.join(format!("{name}.toml"))).unwrap();
        let world = if manifest.contains("\"transport\"") {
            "transports"
        } else {
            "message_types"
        };
        let grant = if name == "framed-echo" {
            "\"tcp\", \"log\", \"clock\""
        } else {
            "\"log\""
        };
        config.push_str(&format!(
            "[{world}.{name}]\nplugin = \"{name}\"\ngrant = [{grant}]\n\n"
        ));
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time_per_call(iterations: u32, mut f: impl FnMut()) -> Duration {
    let samples = (0..15)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed() / iterations
        })
        .collect();
    median(samples)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing and must stay quick.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config_path = setup(dir.path());
    let warm = Config::read(&config_path).unwrap();
    let mut cold = warm.clone();
    cold.cache_dir = None;

    let load = |config: &Config| {
        let start = Instant::now();
        let host = PluginHost::load(config).unwrap();
        assert!(host.failures.is_empty(), "{:?}", host.failures);
        (start.elapsed(), host)
    };
    let cold_start = median((0..5).map(|_| load(&cold).0).collect());
    load(&warm); // fills the cache
    let warm_start = median((0..15).map(|_| load(&warm).0).collect());

    let (_, mut host) = load(&warm);
    let framed = host.transport("test-framed").unwrap();
    framed.handle(&Event::ChannelAccepted(1)).unwrap();
    let event = Event::Outgoing(Chunk {
        channel: 1,
        data: vec![0xAB; 1024],
    });
    let wasm_call = time_per_call(2_000, || {
        black_box(framed.handle(black_box(&event)).unwrap());
    });

    use courier_plugin::transport::courier::plugin::transport_types as guest;
    use test_plugin_framed_echo::Framed;
    let native = Framed::new(64 * 1024);
    native.step(guest::Event::ChannelAccepted(1));
    let native_call = time_per_call(20_000, || {
        let event = guest::Event::Outgoing(guest::Chunk {
            channel: 1,
            data: vec![0xAB; 1024],
        });
        black_box(native.step(black_box(event)));
    });

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "plugin host, {} plugins ({})",
        PLUGINS.len(),
        PLUGINS.join(", ")
    );
    println!(
        "  cold start (compile, no cache)      {:>9.2} ms",
        ms(cold_start)
    );
    println!(
        "  warm start (compiled-component cache){:>8.2} ms   ({:.0}x faster)",
        ms(warm_start),
        cold_start.as_secs_f64() / warm_start.as_secs_f64()
    );
    println!("event round-trip, 1 KiB `outgoing` -> framed `write`");
    println!(
        "  into the wasm plugin (checked)      {:>9.2} µs",
        us(wasm_call)
    );
    println!(
        "  same logic, native call             {:>9.2} µs   (wasm/native = {:.1}x)",
        us(native_call),
        wasm_call.as_secs_f64() / native_call.as_secs_f64()
    );
}
