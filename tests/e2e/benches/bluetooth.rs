//! Bluetooth measured with real `courier` processes (the release build), twice: on the simulated
//! radio (`ble-sim`: ATT MTU 247, six packets per 15 ms connection event, no drops), against what
//! that radio can carry; and through BlueZ's D-Bus API as BlueZoo serves it (GATT, no radio and no
//! rate model: the software path's own cost). Each run sends texts one at a time and then a noise
//! image of about 1 MB (600×600); the image's figure is the bytes that travelled over the time from
//! the send until bob holds it whole (what a person waits for), so every header, padding, ack and
//! credit counts against it.
//!
//! Needs `cargo xtask build-plugins` and `cargo build --release -p courier-host` first (`cargo
//! xtask bench` does both).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use courier_api_client::client::Client;
use courier_api_client::json::{DirectionJson, Message, SendText};
use courier_e2e::bluetooth::{INTERVAL_MS, PACKETS_PER_INTERVAL, capacity, carried, on_the_radio};
use courier_e2e::{Person, Tools, introduce, noise_png, wait_for_contact_within};

const TEXTS: usize = 20;

fn main() -> Result<()> {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let tools = Tools::in_target(&target, "release")?;

    let root = tempfile::tempdir()?;
    let air = root.path().join("air");
    let (mut alice, mut bob) = pair(&tools, root.path())?;
    for person in [&mut alice, &mut bob] {
        let log = root.path().join(format!("{}.log", person.name));
        on_the_radio(person, &air, 0.0, &log)?;
    }
    let sim = measure(&mut alice, &mut bob, root.path())?;
    let on_air: usize = carried(&bob)?.iter().sum();
    let ceiling = capacity();
    println!(
        "bluetooth on the simulated radio (MTU 247, {PACKETS_PER_INTERVAL} packets / {INTERVAL_MS} ms: {:.1} KB/s each way), release build:",
        ceiling / 1e3
    );
    sim.print(Some(ceiling));
    println!(
        "  {:.2} MB went over the air to bob in all; the radio's floor for a text: one connection event, {INTERVAL_MS} ms",
        on_air as f64 / 1e6
    );

    let root = tempfile::tempdir()?;
    let Some(zoo) = courier_tor_net::bluezoo::Zoo::start(root.path())? else {
        return Ok(());
    };
    let (mut alice, mut bob) = pair(&tools, root.path())?;
    for (person, (adapter, _)) in [&mut alice, &mut bob]
        .into_iter()
        .zip(courier_tor_net::bluezoo::ADAPTERS)
    {
        person.lan = false;
        person.system_bus = Some(zoo.address().to_owned());
        person.bluetooth = Some(format!("[bluetooth]\nadapter = \"{adapter}\"\n"));
        person.write_config("", "loopback")?;
    }
    let bluez = measure(&mut alice, &mut bob, root.path())?;
    println!("bluetooth through BlueZ's D-Bus API (BlueZoo, GATT, no radio), release build:");
    bluez.print(None);
    Ok(())
}

/// Alice and bob, initialised under `root`, not yet configured.
fn pair(tools: &Tools, root: &Path) -> Result<(Person, Person)> {
    Ok((
        Person::init(tools, root, "alice")?,
        Person::init(tools, root, "bob")?,
    ))
}

/// What one run measured.
struct Figures {
    met: Duration,
    latencies: Vec<Duration>,
    image_bytes: u64,
    image_took: Duration,
}

impl Figures {
    /// Prints them, the image's rate also as a share of `ceiling` (bytes a second) if there is one.
    fn print(&self, ceiling: Option<f64>) {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let rate = self.image_bytes as f64 / self.image_took.as_secs_f64();
        let share = ceiling.map_or(String::new(), |c| {
            format!(", {:.0}% of the radio", 100.0 * rate / c)
        });
        println!(
            "  a {:.2} MB image whole at bob in {:.1} s: {:.1} KB/s{share}",
            self.image_bytes as f64 / 1e6,
            self.image_took.as_secs_f64(),
            rate / 1e3
        );
        println!(
            "  a text, send to shown at bob ({TEXTS}, one at a time): p50 {:.1} ms, max {:.1} ms",
            ms(self.latencies[TEXTS / 2]),
            ms(self.latencies[TEXTS - 1])
        );
        println!(
            "  found each other and completed the handshake in {:.1} s",
            self.met.as_secs_f64()
        );
    }
}

/// Makes alice and bob contacts over their configured Bluetooth, then times texts and an image.
fn measure(alice: &mut Person, bob: &mut Person, root: &Path) -> Result<Figures> {
    introduce(alice, bob)?;
    let a = alice.serve_api()?;
    let b = bob.serve_api()?;
    let started = Instant::now();
    wait_for_contact_within(alice, bob, Duration::from_secs(90))?;
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
                relates_to: None,
            },
        )?;
        let sent = Instant::now();
        while !holds(&b, |m| m.summary == text)? {
            std::thread::sleep(Duration::from_millis(1));
        }
        latencies.push(sent.elapsed());
    }
    latencies.sort();

    let photo = root.join("photo.png");
    std::fs::write(&photo, noise_png(600, 600, 3))?;
    let started = Instant::now();
    alice.send_full_quality_image("bob", &photo)?;
    let image_bytes = loop {
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
    let image_took = started.elapsed();
    alice.stop()?;
    bob.stop()?;
    Ok(Figures {
        met,
        latencies,
        image_bytes,
        image_took,
    })
}

/// Whether bob's conversation with alice holds an incoming message `matches` picks.
fn holds(b: &Client, matches: impl Fn(&Message) -> bool) -> Result<bool> {
    Ok(b.conversation("alice")?
        .iter()
        .any(|m| m.direction == DirectionJson::Incoming && matches(m)))
}
