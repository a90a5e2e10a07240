//! Bluetooth on the simulated radio (`ble-sim`), measured with real `courier` processes (the
//! release build): a noise image of about 1 MB (600×600) from alice to bob, and texts one at a time, against what the radio
//! can carry at its settings (ATT MTU 247, six packets per 15 ms connection event, no drops). The
//! image's figure is its bytes over the time from the send until bob holds it whole (what a person
//! waits for), so every header, padding, ack and credit counts against it.
//!
//! Needs `cargo xtask build-plugins` and `cargo build --release -p courier-host` first (`cargo
//! xtask bench` does both).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use courier_api_client::client::Client;
use courier_api_client::json::{DirectionJson, Message, SendText};
use courier_e2e::bluetooth::{INTERVAL_MS, PACKETS_PER_INTERVAL, capacity, carried, on_the_radio};
use courier_e2e::{Person, Tools, introduce, noise_png, wait_until};

const TEXTS: usize = 20;

fn main() -> Result<()> {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let tools = Tools::in_target(&target, "release")?;
    let root = tempfile::tempdir()?;
    let air = root.path().join("air");
    let mut alice = Person::init(&tools, root.path(), "alice")?;
    let mut bob = Person::init(&tools, root.path(), "bob")?;
    for person in [&mut alice, &mut bob] {
        let log = root.path().join(format!("{}.log", person.name));
        on_the_radio(person, &air, 0.0, &log)?;
    }
    introduce(&alice, &bob)?;
    let a = alice.serve_api()?;
    let b = bob.serve_api()?;
    let started = Instant::now();
    wait_until(
        Duration::from_secs(60),
        "alice and bob are contacts",
        || {
            Ok(alice
                .contacts()?
                .iter()
                .any(|c| c.alias == "bob" && c.state == "contact"))
        },
    )?;
    let met = started.elapsed();

    // Texts one at a time: from the API's answer to the send until bob's API shows it.
    let mut latencies = Vec::new();
    for i in 0..TEXTS {
        let text = format!("over the air {i}");
        a.send_text(
            "bob",
            &SendText {
                content_type: "courier/text".into(),
                text: text.clone(),
                options: Default::default(),
            },
        )?;
        let sent = Instant::now();
        while !holds(&b, |m| m.summary == text)? {
            std::thread::sleep(Duration::from_millis(1));
        }
        latencies.push(sent.elapsed());
    }
    latencies.sort();

    // The image.
    let photo = root.path().join("photo.png");
    std::fs::write(&photo, noise_png(600, 600, 3))?;
    let photo = photo.to_str().context("a UTF-8 path")?;
    let started = Instant::now();
    alice.cli(&[
        "send",
        "bob",
        "--type",
        "courier/image",
        "--input",
        photo,
        "--option",
        "quality=100",
    ])?;
    let size = loop {
        let whole = b
            .conversation("alice")?
            .into_iter()
            .find(|m| m.content_type == "courier/image" && m.bytes.is_some());
        if let Some(image) = whole {
            // What the image plugin made of the file, as it travelled.
            break image.bytes.unwrap_or(0);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = started.elapsed();
    alice.stop()?;
    bob.stop()?;
    let on_air: usize = carried(&bob)?.iter().sum();

    let ceiling = capacity();
    let goodput = size as f64 / took.as_secs_f64();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let floor = INTERVAL_MS as f64;
    println!(
        "bluetooth on the simulated radio (MTU 247, {PACKETS_PER_INTERVAL} packets / {INTERVAL_MS} ms: {:.1} KB/s each way), release build:",
        ceiling / 1e3
    );
    println!(
        "  a {:.2} MB image whole at bob in {:.1} s: {:.1} KB/s, {:.0}% of the radio ({:.2} MB went over the air to bob in all)",
        size as f64 / 1e6,
        took.as_secs_f64(),
        goodput / 1e3,
        100.0 * goodput / ceiling,
        on_air as f64 / 1e6
    );
    println!(
        "  a text, send to shown at bob ({TEXTS}, one at a time): p50 {:.1} ms, max {:.1} ms; the radio's floor: one connection event, {floor:.0} ms",
        ms(latencies[TEXTS / 2]),
        ms(latencies[TEXTS - 1])
    );
    println!(
        "  found each other and completed the handshake in {:.1} s",
        met.as_secs_f64()
    );
    Ok(())
}

/// Whether bob's conversation with alice holds an incoming message `matches` picks.
fn holds(b: &Client, matches: impl Fn(&Message) -> bool) -> Result<bool> {
    Ok(b.conversation("alice")?
        .iter()
        .any(|m| m.direction == DirectionJson::Incoming && matches(m)))
}
