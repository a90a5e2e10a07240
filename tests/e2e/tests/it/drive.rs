//! A USB stick carried between people who share no network: one-shot `drive export` and `drive
//! import`, a drive configured only after the contact was made, and a drive beside the LAN.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use courier_e2e::{
    Person, Tools, assert_received_once_in_order, introduce, noise_png, wait_for_contact,
    wait_until,
};

use crate::{pair, scratch};

/// The files a folder holds, oldest first.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| (e.metadata().unwrap().modified().unwrap(), e.path()))
        .collect();
    files.sort();
    files.into_iter().map(|(_, p)| p).collect()
}

/// Copies every file of `from` into `to`, made if missing: the stick carried across.
fn carry(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for file in files_in(from) {
        std::fs::copy(&file, to.join(file.file_name().unwrap())).unwrap();
    }
}

/// What `person` shows from (`in`) or to (`out`) `alias`: each message's summary.
fn shown(person: &Person, alias: &str, direction: &str) -> Vec<String> {
    person
        .messages(alias)
        .unwrap()
        .into_iter()
        .filter(|r| r.direction == direction)
        .map(|r| r.summary)
        .collect()
}

/// Every 16-byte run of every file in `dir`.
fn runs(dir: &Path) -> HashSet<[u8; 16]> {
    files_in(dir)
        .iter()
        .flat_map(|f| {
            let bytes = std::fs::read(f).unwrap();
            let runs: Vec<[u8; 16]> = bytes.windows(16).map(|w| w.try_into().unwrap()).collect();
            runs
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn alice_and_bob_who_met_on_the_lan_talk_by_usb_stick_once_the_network_is_gone() {
    let root = scratch();
    let tools = Tools::locate().unwrap();
    let (mut alice, mut bob) = pair(root.path()).unwrap();
    // Carol is alice's contact too, met the same way; bob does not know her.
    let mut carol = Person::init(&tools, root.path(), "carol").unwrap();
    carol.configure(&[alice.port], false, "loopback").unwrap();
    introduce(&alice, &carol).unwrap();
    carol.serve().unwrap();
    wait_for_contact(&alice, &carol).unwrap();
    // Now there is no network between any of them.
    for person in [&mut alice, &mut bob, &mut carol] {
        person.stop().unwrap();
    }

    let texts = [
        "the first of three notes about thursday's meeting",
        "bring the second set of documents, not the first",
        "the third: we meet at the old library at nine",
    ];
    let photo = root.path().join("noise.png");
    std::fs::write(&photo, noise_png(1300, 1300, 42)).unwrap();
    assert!(std::fs::metadata(&photo).unwrap().len() > 5_000_000);
    alice.cli(&["send", "bob", "--text", texts[0]]).unwrap();
    let photo_arg = photo.to_str().unwrap();
    alice
        .cli(&[
            "send",
            "bob",
            "--type",
            "courier/image",
            "--input",
            photo_arg,
            "--option",
            "quality=100",
        ])
        .unwrap();
    alice.cli(&["send", "bob", "--text", texts[1]]).unwrap();
    alice.cli(&["send", "bob", "--text", texts[2]]).unwrap();
    alice
        .cli(&["send", "carol", "--text", "for carol's eyes only"])
        .unwrap();

    let alices_stick = root.path().join("alices-stick");
    let wrote = alice
        .cli(&["drive", "export", alices_stick.to_str().unwrap()])
        .unwrap();
    assert!(
        wrote.trim().ends_with("files for bob; 1 file for carol"),
        "{wrote}"
    );
    let written = files_in(&alices_stick);
    assert!(
        written.len() >= 4,
        "the photo alone spans several files: {written:?}"
    );
    for file in &written {
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(
            name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit()),
            "{name}"
        );
        let len = std::fs::metadata(file).unwrap().len();
        assert!(len <= 1 << 20, "{name} is {len} bytes");
    }

    // The stick is copied to bob's computer; he imports it.
    let bobs_copy = root.path().join("bobs-copy");
    carry(&alices_stick, &bobs_copy);
    let read = bob
        .cli(&["drive", "import", bobs_copy.to_str().unwrap()])
        .unwrap();
    assert_eq!(
        read.trim(),
        "4 messages from alice; 1 file not for us or already read"
    );
    let from_alice = shown(&bob, "alice", "in");
    assert_eq!(from_alice.len(), 4, "{from_alice:?}");
    let in_order = [&from_alice[0], &from_alice[2], &from_alice[3]].map(String::as_str);
    assert_eq!(in_order, texts, "each once, in order");
    assert!(
        from_alice[1].starts_with("image 1300×1300"),
        "{}",
        from_alice[1]
    );
    let rows = bob.messages("alice").unwrap();
    assert!(
        rows.iter().all(|r| r.complete),
        "the photo arrived whole: {rows:?}"
    );
    let saved = root.path().join("from-alice.jpg");
    bob.cli(&[
        "attachment",
        "save",
        &rows[1].id[..16],
        saved.to_str().unwrap(),
    ])
    .unwrap();
    let jpeg = std::fs::read(&saved).unwrap();
    assert!(
        jpeg.len() > 1 << 20,
        "a photo larger than one file: {}",
        jpeg.len()
    );

    // Importing the same files again stores nothing: not a message, not a part of the photo.
    let stored = bob.arrivals("alice").unwrap().len();
    let again = bob
        .cli(&["drive", "import", bobs_copy.to_str().unwrap()])
        .unwrap();
    let every = files_in(&bobs_copy).len();
    assert_eq!(
        again.trim(),
        format!("{every} files not for us or already read")
    );
    assert_eq!(shown(&bob, "alice", "in"), from_alice);
    assert_eq!(bob.arrivals("alice").unwrap().len(), stored);

    // Bob answers on his own stick: his acks and a reply.
    bob.cli(&["send", "alice", "--text", "got all of it, see you at nine"])
        .unwrap();
    let bobs_stick = root.path().join("bobs-stick");
    let wrote = bob
        .cli(&["drive", "export", bobs_stick.to_str().unwrap()])
        .unwrap();
    assert_eq!(wrote.trim(), "wrote 1 file for alice");
    let nothing = bob
        .cli(&["drive", "export", bobs_stick.to_str().unwrap()])
        .unwrap();
    assert_eq!(
        nothing.trim(),
        "nothing to write: no contact is owed a message or an ack"
    );
    assert_eq!(
        files_in(&bobs_stick).len(),
        1,
        "no empty file for nothing owed"
    );
    let alices_copy = root.path().join("alices-copy");
    carry(&bobs_stick, &alices_copy);
    let read = alice
        .cli(&["drive", "import", alices_copy.to_str().unwrap()])
        .unwrap();
    assert_eq!(read.trim(), "1 message from bob");
    let states: Vec<String> = alice
        .messages("bob")
        .unwrap()
        .into_iter()
        .filter(|r| r.direction == "out")
        .map(|r| r.state)
        .collect();
    assert_eq!(states, ["acked"; 4], "her messages show delivered");
    assert_eq!(
        shown(&alice, "bob", "in"),
        ["got all of it, see you at nine"]
    );

    // What the sticks hold: no plaintext, no names, nothing of the photo.
    for dir in [&alices_stick, &bobs_stick] {
        for file in files_in(dir) {
            let bytes = std::fs::read(&file).unwrap();
            for needle in texts.iter().map(|t| t.as_bytes()).chain([
                "alice".as_bytes(),
                b"bob",
                b"carol",
                b"courier",
                b"got all of it",
                &jpeg[jpeg.len() / 2..jpeg.len() / 2 + 32],
            ]) {
                if needle.len() > 3 {
                    assert!(!contains(&bytes, needle), "{file:?} holds {needle:?}");
                }
            }
        }
    }

    // Two more texts on a third stick; one of its files gets a flipped byte on the way.
    alice
        .cli(&[
            "send",
            "bob",
            "--text",
            "a fourth note, which the stick damages",
        ])
        .unwrap();
    let third = root.path().join("third-stick");
    alice
        .cli(&["drive", "export", third.to_str().unwrap()])
        .unwrap();
    alice
        .cli(&["send", "bob", "--text", "a fifth note, which arrives"])
        .unwrap();
    alice
        .cli(&["drive", "export", third.to_str().unwrap()])
        .unwrap();
    let files = files_in(&third);
    assert_eq!(files.len(), 2, "{files:?}");
    let mut damaged = std::fs::read(&files[0]).unwrap();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x01;
    std::fs::write(&files[0], damaged).unwrap();
    let read = bob
        .cli(&["drive", "import", third.to_str().unwrap()])
        .unwrap();
    let damaged_name = files[0].file_name().unwrap().to_str().unwrap();
    assert_eq!(
        read.trim(),
        format!("1 message from alice; 1 damaged file skipped: {damaged_name}")
    );
    let from_alice = shown(&bob, "alice", "in");
    assert_eq!(from_alice.last().unwrap(), "a fifth note, which arrives");
    assert!(
        !from_alice.iter().any(|t| t.contains("fourth")),
        "{from_alice:?}"
    );

    // Two exports to bob share nothing an observer could follow: no 16 bytes in common.
    let later = runs(&third);
    for file in files_in(&alices_stick) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes
                .windows(16)
                .any(|w| later.contains(<&[u8; 16]>::try_from(w).unwrap())),
            "two exports share a 16-byte run"
        );
    }
}

#[test]
fn a_drive_configured_after_alice_and_bob_met_on_the_lan_carries_their_messages_without_re_adding()
{
    let root = scratch();
    let (mut alice, mut bob) = pair(root.path()).unwrap();
    alice.stop().unwrap();
    bob.stop().unwrap();
    // The network goes; each configures a drive folder instead, and runs the node on it.
    let (alices_drive, bobs_drive) = (root.path().join("a-drive"), root.path().join("b-drive"));
    for (person, dir) in [(&mut alice, &alices_drive), (&mut bob, &bobs_drive)] {
        std::fs::create_dir_all(dir).unwrap();
        person.drive = Some(dir.clone());
        person.lan = false;
        person.write_config("", "loopback").unwrap();
        person.serve().unwrap();
    }
    alice
        .cli(&["send", "bob", "--text", "are you there?"])
        .unwrap();
    wait_until(
        Duration::from_secs(30),
        "alice's node writes a file",
        || Ok(!files_in(&alices_drive).is_empty()),
    )
    .unwrap();
    carry(&alices_drive, &bobs_drive);
    wait_until(Duration::from_secs(30), "bob's node reads it", || {
        Ok(shown(&bob, "alice", "in") == ["are you there?"])
    })
    .unwrap();
    bob.cli(&["send", "alice", "--text", "yes, by stick"])
        .unwrap();
    wait_until(
        Duration::from_secs(30),
        "bob's node writes his answer",
        || Ok(files_in(&bobs_drive).len() >= 2),
    )
    .unwrap();
    carry(&bobs_drive, &alices_drive);
    wait_until(
        Duration::from_secs(30),
        "alice reads his answer and her ack",
        || {
            let acked = alice
                .messages("bob")?
                .iter()
                .any(|r| r.direction == "out" && r.state == "acked");
            Ok(acked && shown(&alice, "bob", "in") == ["yes, by stick"])
        },
    )
    .unwrap();

    // The stick is pulled out: nothing is written, and nothing marked sent that no file holds.
    std::fs::remove_dir_all(&alices_drive).unwrap();
    alice
        .cli(&["send", "bob", "--text", "when the stick is back"])
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let newest = alice.messages("bob").unwrap().pop().unwrap();
    assert_eq!(
        (newest.summary.as_str(), newest.state.as_str()),
        ("when the stick is back", "queued")
    );
    std::fs::create_dir_all(&alices_drive).unwrap();
    wait_until(
        Duration::from_secs(30),
        "it is written once the stick is back",
        || Ok(!files_in(&alices_drive).is_empty()),
    )
    .unwrap();
}

#[test]
fn with_the_drive_and_the_lan_both_on_a_message_goes_by_whichever_reaches_bob_first_and_arrives_once()
 {
    let root = scratch();
    let (mut alice, mut bob) = pair(root.path()).unwrap();
    alice.stop().unwrap();
    bob.stop().unwrap();
    let (alices_drive, bobs_drive) = (root.path().join("a-drive"), root.path().join("b-drive"));
    let (alice_port, bob_port) = (alice.port, bob.port);
    for (person, dir, peer) in [
        (&mut alice, &alices_drive, bob_port),
        (&mut bob, &bobs_drive, alice_port),
    ] {
        std::fs::create_dir_all(dir).unwrap();
        person.drive = Some(dir.clone());
        person.configure(&[peer], false, "loopback").unwrap();
    }
    // Bob is away: alice's message goes to her drive at once.
    alice.serve().unwrap();
    alice
        .cli(&["send", "bob", "--text", "whichever comes first"])
        .unwrap();
    wait_until(
        Duration::from_secs(30),
        "alice's node writes it to the drive",
        || Ok(!files_in(&alices_drive).is_empty()),
    )
    .unwrap();
    // Bob comes back on the LAN before the stick reaches him: the LAN carries it.
    bob.serve().unwrap();
    wait_until(Duration::from_secs(30), "the LAN delivers it", || {
        Ok(shown(&bob, "alice", "in") == ["whichever comes first"])
    })
    .unwrap();
    // Then the stick arrives too, and his node reads it: still once.
    carry(&alices_drive, &bobs_drive);
    // His node looks at the drive every second.
    std::thread::sleep(Duration::from_secs(4));
    assert_received_once_in_order(&bob, "alice", &["whichever comes first".to_owned()]).unwrap();
    let states: Vec<String> = alice
        .messages("bob")
        .unwrap()
        .into_iter()
        .map(|r| r.state)
        .collect();
    assert_eq!(states, ["acked"]);
}
