//! Bluetooth stories, on the simulated radio (`[bluetooth] medium = "ble-sim"`): two nodes on one
//! machine, a shared directory for air, BLE's packet size, connection interval and setup time, and
//! connections that drop as people walk out of range. Nothing here runs on a real radio.

use std::time::Duration;

use courier_e2e::bluetooth::{carried, on_the_radio};
use courier_e2e::{
    Person, Tools, introduce, noise_png, wait_for_contact_within, wait_for_delivery,
};

use crate::scratch;

#[test]
fn alice_and_bob_meet_by_bluetooth_alone_and_a_1_mb_image_resumes_across_drops_every_few_seconds()
-> anyhow::Result<()> {
    let root = scratch();
    let air = root.path().join("air");
    let tools = Tools::locate()?;
    let mut alice = Person::init(&tools, root.path(), "alice")?;
    let mut bob = Person::init(&tools, root.path(), "bob")?;
    for person in [&mut alice, &mut bob] {
        // Bluetooth only: no network between them at all; links drop every 2 to 6 s.
        let log = root.path().join(format!("{}.log", person.name));
        on_the_radio(person, &air, 4.0, &log)?;
    }
    introduce(&alice, &bob)?;
    alice.serve()?;
    bob.serve()?;
    wait_for_contact_within(&alice, &bob, Duration::from_secs(60))?;

    let texts: Vec<String> = (1..=3)
        .map(|i| format!("no network here; note {i} by radio"))
        .collect();
    for text in &texts {
        alice.cli(&["send", "bob", "--text", text])?;
    }
    let photo = root.path().join("photo.png");
    std::fs::write(&photo, noise_png(600, 600, 11))?;
    let size = std::fs::metadata(&photo)?.len() as usize;
    assert!(size > 1_000_000, "{size} bytes");
    alice.send_full_quality_image("bob", &photo)?;
    alice.cli(&[
        "send",
        "bob",
        "--text",
        "and the picture, before the last note",
    ])?;
    wait_for_delivery(&alice, &bob, 5, Duration::from_secs(300))?;
    bob.cli(&["send", "alice", "--text", "all five here, over the air"])?;
    wait_for_delivery(&bob, &alice, 1, Duration::from_secs(120))?;

    // Every message once, in order.
    let shown: Vec<String> = bob
        .messages("alice")?
        .into_iter()
        .filter(|r| r.direction == "in")
        .map(|r| r.summary)
        .collect();
    assert_eq!(shown.len(), 5, "{shown:?}");
    assert_eq!(shown[..3], texts[..]);
    assert!(shown[3].starts_with("image 600×600"), "{}", shown[3]);
    let arrivals = bob.arrivals("alice")?;
    let distinct: std::collections::HashSet<&String> = arrivals.iter().collect();
    assert_eq!(distinct.len(), arrivals.len(), "nothing stored twice");

    // No connection lived long enough to carry the image (each drops within 6 s, about 590 KB at
    // this radio's pace), so it arrived whole only by resuming at each new connection where the
    // last one left off (each chunk is acked on its own), not by starting over.
    alice.stop()?;
    bob.stop()?;
    let to_bob = carried(&bob)?;
    let (most, total) = (
        to_bob.iter().max().copied().unwrap_or(0),
        to_bob.iter().sum::<usize>(),
    );
    assert!(
        to_bob.len() >= 4 && most < size,
        "{} connections, the longest carrying {most} bytes, for a {size}-byte image",
        to_bob.len()
    );
    // What a drop costs is the chunk under way and what was in flight, not the image.
    assert!(
        total < 3 * size,
        "{total} bytes reached bob over {} connections for a {size}-byte image",
        to_bob.len()
    );
    Ok(())
}

#[test]
fn through_bluez_without_a_radio_alice_and_bob_find_each_other_s_tags_connect_over_gatt_and_talk()
-> anyhow::Result<()> {
    let root = scratch();
    let Some(zoo) = courier_tor_net::bluezoo::Zoo::start(root.path())? else {
        return Ok(());
    };
    let tools = Tools::locate()?;
    let mut alice = Person::init(&tools, root.path(), "alice")?;
    let mut bob = Person::init(&tools, root.path(), "bob")?;
    for (person, (adapter, _)) in [&mut alice, &mut bob]
        .into_iter()
        .zip(courier_tor_net::bluezoo::ADAPTERS)
    {
        // The machine's Bluetooth, as BlueZ offers it on D-Bus (BlueZoo's adapters), and nothing else.
        person.lan = false;
        person.system_bus = Some(zoo.address().to_owned());
        person.bluetooth = Some(format!("[bluetooth]\nadapter = \"{adapter}\"\n"));
        person.log = Some("info".into());
        person.log_file = Some(std::path::PathBuf::from(format!(
            "/tmp/bzlog-{}.log",
            person.name
        )));
        person.write_config("", "loopback")?;
    }
    introduce(&alice, &bob)?;
    alice.serve()?;
    bob.serve()?;
    wait_for_contact_within(&alice, &bob, Duration::from_secs(90))?;
    alice.cli(&[
        "send",
        "bob",
        "--text",
        "through BlueZ, no radio in the room",
    ])?;
    wait_for_delivery(&alice, &bob, 1, Duration::from_secs(90))?;
    bob.cli(&["send", "alice", "--text", "heard you"])?;
    wait_for_delivery(&bob, &alice, 1, Duration::from_secs(90))?;
    alice.stop()?;
    bob.stop()?;
    Ok(())
}

#[test]
fn with_no_bluetooth_adapter_the_transport_says_so_in_one_line_and_the_lan_still_delivers()
-> anyhow::Result<()> {
    let root = scratch();
    let tools = Tools::locate()?;
    let (mut alice, mut bob) = courier_e2e::dialing_pair(&tools, root.path(), root.path())?;
    // A system bus with no BlueZ on it: no Bluetooth at all on this machine.
    alice.system_bus = Some(format!(
        "unix:path={}",
        root.path().join("no-bus").display()
    ));
    alice.bluetooth = Some("[bluetooth]\n".into());
    alice.configure(&[bob.port], false, "loopback")?;
    introduce(&alice, &bob)?;
    let api = alice.serve_api()?;
    bob.serve()?;
    courier_e2e::wait_for_contact(&alice, &bob)?;
    alice.cli(&["send", "bob", "--text", "over the LAN, Bluetooth or not"])?;
    wait_for_delivery(&alice, &bob, 1, Duration::from_secs(60))?;
    let transports: Vec<serde_json::Value> = api.get("/v1/transports")?;
    let state = transports
        .iter()
        .find(|t| t["id"] == "bluetooth")
        .and_then(|t| t["medium"].as_str())
        .map(str::to_owned);
    let state = state.unwrap_or_default();
    assert!(
        state.starts_with("unreachable: Bluetooth: BlueZ does not answer on D-Bus")
            && !state.contains('\n'),
        "{state:?}"
    );
    alice.stop()?;
    bob.stop()?;
    Ok(())
}
