//! The demo `cargo xtask demo` runs: alice and bob on this machine become contacts by link, exchange
//! one message of each type (text, location, payment request, disguised voice note, photo), bob goes
//! offline while alice writes and attaches a photo, comes back, and both conversations are printed,
//! each message once; the photo's GPS EXIF is gone on arrival.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use courier_e2e::{Person, Tools, introduce, wait_for_contact, wait_for_delivery};

fn step(text: &str) {
    println!("\n== {text}");
}

fn show(person: &Person, with: &str) -> Result<()> {
    println!("-- {}'s conversation with {with}:", person.name);
    print!("{}", person.cli(&["messages", with])?);
    Ok(())
}

/// Where a JPEG's EXIF says it was taken, if it says.
fn gps(jpeg: &[u8]) -> Option<String> {
    let exif = exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(jpeg))
        .ok()?;
    let field = |tag: exif::Tag| {
        exif.get_field(tag, exif::In::PRIMARY)
            .map(|f| f.display_value().with_unit(&exif).to_string())
    };
    Some(format!(
        "GPS {} {}, camera serial {}",
        field(exif::Tag::GPSLatitude)?,
        field(exif::Tag::GPSLongitude)?,
        field(exif::Tag::BodySerialNumber).unwrap_or_else(|| "none".into())
    ))
}

fn main() -> Result<()> {
    let started = Instant::now();
    let target = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let tools = Tools::in_target(&target, "debug")?;
    let root = tempfile::tempdir()?;
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");

    step("alice and bob each create an identity in a temporary data directory");
    let mut alice = Person::init(&tools, root.path(), "alice")?;
    let mut bob = Person::init(&tools, root.path(), "bob")?;
    alice.configure(&[bob.port], false, "loopback")?;
    bob.configure(&[alice.port], false, "loopback")?;
    println!("alice's link: {}", alice.link()?);
    println!("bob's link:   {}", bob.link()?);

    step("they add each other's links and start their nodes (LAN plugin on loopback)");
    introduce(&alice, &bob)?;
    alice.serve()?;
    bob.serve()?;
    wait_for_contact(&alice, &bob)?;
    print!("{}", alice.cli(&["contacts", "list"])?);
    print!("{}", alice.cli(&["contacts", "verify", "bob"])?);

    step("they exchange texts while both are online");
    alice.cli(&[
        "send",
        "bob",
        "--text",
        "Hi Bob, it's Alice. Is this channel safe?",
    ])?;
    bob.cli(&[
        "send",
        "alice",
        "--text",
        "Hi Alice! Only our two keys can read it.",
    ])?;
    bob.cli(&[
        "send",
        "alice",
        "--location",
        "48.208176,16.373819",
        "--label",
        "the usual cafe",
        "--precision",
        "1000",
    ])?;
    alice.cli(&[
        "send",
        "bob",
        "--payment",
        "bitcoin:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4?amount=0.0005&label=Alice&message=coffee",
    ])?;
    let voice = fixtures.join("../../../../plugins/message-voice/tests/fixtures/espeak.wav");
    bob.cli(&[
        "send",
        "alice",
        "--voice",
        &voice.display().to_string(),
        "--distort",
    ])?;
    wait_for_delivery(&alice, &bob, 2, Duration::from_secs(30))?;
    wait_for_delivery(&bob, &alice, 3, Duration::from_secs(30))?;
    println!(
        "(bob's location left his device snapped to a 1 km grid; his voice note went disguised)"
    );

    step("bob's node stops; alice keeps writing, and her messages wait, encrypted on disk");
    bob.stop()?;
    for text in [
        "Are you still there?",
        "The meeting moved to Thursday.",
        "Bring the documents, not the laptop.",
    ] {
        alice.cli(&["send", "bob", "--text", text])?;
    }
    let photo = fixtures.join("street.jpg");
    let original = std::fs::read(&photo)?;
    println!(
        "alice attaches a photo whose EXIF says where it was taken: {}",
        gps(&original).unwrap_or_else(|| "no GPS".into())
    );
    alice.cli(&["send", "bob", "--image", &photo.display().to_string()])?;
    show(&alice, "bob")?;

    step("bob's node comes back; the queued messages go out by themselves");
    bob.serve()?;
    wait_for_delivery(&alice, &bob, 6, Duration::from_secs(30))?;
    show(&alice, "bob")?;
    show(&bob, "alice")?;

    step("bob saves the photo; what arrived has pixels and nothing else");
    let image = bob
        .messages("alice")?
        .into_iter()
        .find(|r| r.content_type == "courier/image")
        .ok_or_else(|| anyhow::anyhow!("the photo did not arrive"))?;
    let saved = root.path().join("photo-from-alice.jpg");
    print!(
        "{}",
        bob.cli(&[
            "attachment",
            "save",
            &image.id[..16],
            &saved.display().to_string()
        ])?
    );
    let arrived = std::fs::read(&saved)?;
    match exif::Reader::new().read_from_container(&mut std::io::Cursor::new(&arrived)) {
        Err(exif::Error::NotFound(_)) => println!("EXIF in the received photo: none"),
        Ok(exif) => bail!(
            "the received photo still has {} EXIF fields",
            exif.fields().count()
        ),
        Err(e) => bail!("the received photo's EXIF could not be read: {e}"),
    }

    let (sent, got) = (alice.messages("bob")?, bob.messages("alice")?);
    let ids = |rows: &[courier_e2e::Row], direction: &str| -> Vec<String> {
        rows.iter()
            .filter(|r| r.direction == direction)
            .map(|r| r.id.clone())
            .collect()
    };
    let (alice_out, bob_in) = (ids(&sent, "out"), ids(&got, "in"));
    let unique: HashSet<&String> = bob_in.iter().collect();
    if alice_out != bob_in
        || unique.len() != bob_in.len()
        || sent.iter().any(|r| r.state == "queued")
    {
        bail!("delivery was not exactly once: alice sent {alice_out:?}, bob has {bob_in:?}");
    }
    alice.stop()?;
    bob.stop()?;
    step(&format!(
        "done in {:.1} s: all {} of alice's messages reached bob exactly once, in order, and were acked; both nodes stopped cleanly",
        started.elapsed().as_secs_f64(),
        alice_out.len()
    ));
    Ok(())
}
