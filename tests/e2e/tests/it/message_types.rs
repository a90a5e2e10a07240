//! Message types other than text, between two nodes over the LAN plugin.

use std::path::{Path, PathBuf};
use std::time::Duration;

use courier_e2e::{
    MESSAGE_TYPES, Person, Tools, introduce, wait_for_contact, wait_for_delivery, wait_until,
};

use crate::{pair, scratch};

#[test]
fn alice_shares_a_coarsened_location_and_bob_reads_it_without_any_map_service() {
    let root = scratch();
    let (alice, bob) = pair(root.path()).unwrap();
    alice
        .cli(&[
            "send",
            "bob",
            "--location",
            "48.208176,16.373819",
            "--label",
            "the usual cafe",
            "--precision",
            "1000",
        ])
        .unwrap();
    wait_for_delivery(&alice, &bob, 1, Duration::from_secs(30)).unwrap();
    let got = &bob.messages("alice").unwrap()[0];
    assert_eq!(got.content_type, "courier/location");
    assert!(
        got.summary.starts_with("Location: the usual cafe (48.21"),
        "{}",
        got.summary
    );
    assert!(got.summary.ends_with("within 1000 m"), "{}", got.summary);
    // What travelled is the coarse point: the exact coordinates are nowhere in bob's store.
    let stored = String::from_utf8(
        bob.database()
            .unwrap()
            .received(bob.database().unwrap().contact("alice").unwrap())
            .unwrap()[0]
            .body
            .clone(),
    )
    .unwrap();
    assert!(
        stored.starts_with("geo:48.21") && !stored.contains("208176"),
        "{stored}"
    );

    let refused = alice
        .cli(&["send", "bob", "--location", "95,10"])
        .unwrap_err();
    assert!(refused.to_string().contains("latitude"), "{refused}");
}

#[test]
fn bob_asks_alice_for_bitcoin_and_a_request_for_the_wrong_network_never_leaves() {
    let root = scratch();
    let (alice, bob) = pair(root.path()).unwrap();
    let uri =
        "bitcoin:BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4?amount=0.0005&label=Bob&message=rent";
    bob.cli(&["send", "alice", "--payment", uri]).unwrap();
    wait_for_delivery(&bob, &alice, 1, Duration::from_secs(30)).unwrap();
    let got = &alice.messages("bob").unwrap()[0];
    assert_eq!(got.content_type, "courier/payment");
    assert_eq!(
        got.summary,
        "Payment request: 0.0005 BTC to bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4 from Bob for rent"
    );
    let testnet = "bitcoin:tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7";
    let refused = bob
        .cli(&["send", "alice", "--payment", testnet])
        .unwrap_err();
    assert!(refused.to_string().contains("net"), "{refused}");
    let typo = "bitcoin:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5";
    assert!(bob.cli(&["send", "alice", "--payment", typo]).is_err());
    assert_eq!(
        bob.messages("alice").unwrap().len(),
        1,
        "nothing invalid was queued"
    );
}

/// A fixture of another crate of this workspace.
fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn exif(bytes: &[u8]) -> Result<exif::Exif, exif::Error> {
    exif::Reader::new().read_from_container(&mut std::io::Cursor::new(bytes))
}

#[test]
fn alice_sends_bob_a_photo_while_he_is_offline_and_it_arrives_once_without_its_gps_exif() {
    let root = scratch();
    let (alice, mut bob) = pair(root.path()).unwrap();
    let photo = fixture("tests/fixtures/street.jpg");
    let original = std::fs::read(&photo).unwrap();
    assert!(
        exif(&original)
            .unwrap()
            .get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
            .is_some(),
        "the photo carries GPS EXIF (and a camera serial, an artist, XMP)"
    );

    bob.stop().unwrap();
    alice
        .cli(&["send", "bob", "--image", photo.to_str().unwrap()])
        .unwrap();
    bob.serve().unwrap();
    wait_for_delivery(&alice, &bob, 1, Duration::from_secs(60)).unwrap();

    let rows = bob.messages("alice").unwrap();
    assert_eq!(rows.len(), 1, "once: {rows:?}");
    let got = &rows[0];
    assert_eq!(got.content_type, "courier/image");
    assert!(
        got.summary.starts_with("image 1600×1200, "),
        "{}",
        got.summary
    );
    assert!(
        got.bytes.unwrap() > 64 * 1024,
        "large enough to travel as an attachment in chunks"
    );

    let saved = root.path().join("from-alice.jpg");
    bob.cli(&["attachment", "save", &got.id[..16], saved.to_str().unwrap()])
        .unwrap();
    let arrived = std::fs::read(&saved).unwrap();
    assert_eq!(arrived.len(), got.bytes.unwrap());
    assert!(
        matches!(exif(&arrived), Err(exif::Error::NotFound(_))),
        "no EXIF at all on arrival"
    );
    let again = bob
        .cli(&["attachment", "save", &got.id[..16], saved.to_str().unwrap()])
        .unwrap_err();
    assert!(again.to_string().contains("never overwritten"), "{again}");

    let corrupt = root.path().join("corrupt.jpg");
    std::fs::write(&corrupt, &original[..300]).unwrap();
    let refused = alice
        .cli(&["send", "bob", "--image", corrupt.to_str().unwrap()])
        .unwrap_err();
    assert!(refused.to_string().contains("corrupt"), "{refused}");
}

/// Runs `program` with `args`, or fails saying what to install (`.ci/run` installs it).
fn tool(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} is needed (apt-get install espeak-ng sox ffmpeg): {e}")
        });
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What ffprobe says of `file`: its format, codec, channels, rate and duration in seconds.
fn probe(file: &Path) -> (String, String, String, String, f64) {
    let out = tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "format=format_name,duration:stream=codec_name,channels,sample_rate",
            "-of",
            "default=noprint_wrappers=1",
            file.to_str().unwrap(),
        ],
    );
    let field = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_default()
            .to_owned()
    };
    (
        field("format_name"),
        field("codec_name"),
        field("channels"),
        field("sample_rate"),
        field("duration").parse().unwrap_or(0.0),
    )
}

#[test]
fn alice_records_thirty_seconds_as_wav_mp3_and_m4a_and_bob_saves_ogg_opus_notes_a_quarter_the_old_size()
 {
    let root = scratch();
    let (alice, bob) = pair(root.path()).unwrap();
    // Thirty seconds of speech: espeak-ng reads a paragraph, sox makes it exactly 30 s; ffmpeg
    // makes the same recording an MP3 and an M4A, as phones record.
    let spoken = root.path().join("spoken.wav");
    tool(
        "espeak-ng",
        &[
            "-v",
            "en",
            "-s",
            "140",
            "-w",
            spoken.to_str().unwrap(),
            "The market on the square closes at noon tomorrow. Bring the press cards, two \
             bottles of water each, and the spare batteries for the radio. If the north gate is \
             blocked we meet behind the library instead, on the side with the bicycle racks. \
             Nobody goes alone. Keep your phone in flight mode until we are inside, and do not \
             post anything until we are all back home. Repeat: noon, the square, water, \
             batteries, the library if the gate is closed.",
        ],
    );
    let wav = root.path().join("speech.wav");
    tool(
        "sox",
        &[
            spoken.to_str().unwrap(),
            wav.to_str().unwrap(),
            "pad",
            "0",
            "30",
            "trim",
            "0",
            "30",
        ],
    );
    let (mp3, m4a) = (
        root.path().join("speech.mp3"),
        root.path().join("speech.m4a"),
    );
    for (out, codec) in [(&mp3, "libmp3lame"), (&m4a, "aac")] {
        tool(
            "ffmpeg",
            &[
                "-v",
                "error",
                "-y",
                "-i",
                wav.to_str().unwrap(),
                "-c:a",
                codec,
                "-b:a",
                "64k",
                out.to_str().unwrap(),
            ],
        );
    }
    for recording in [&wav, &mp3, &m4a] {
        alice
            .cli(&["send", "bob", "--voice", recording.to_str().unwrap()])
            .unwrap();
    }
    // And a disguised one, as a profile may require.
    alice
        .cli(&["send", "bob", "--voice", wav.to_str().unwrap(), "--distort"])
        .unwrap();
    wait_for_delivery(&alice, &bob, 4, Duration::from_secs(60)).unwrap();
    let got = bob.messages("alice").unwrap();
    // Today's notes were 4-bit ADPCM at 16 kHz: 486,656 bytes a minute.
    let adpcm = 486_656 / 2;
    for (i, note) in got.iter().enumerate() {
        // MP3 and AAC encoders pad a recording by a few dozen milliseconds, which the summary
        // counts up.
        assert_eq!(note.content_type, "courier/voice");
        assert!(
            ["voice message, 0:30", "voice message, 0:31"].contains(&note.summary.as_str()),
            "{}",
            note.summary
        );
        let saved = root.path().join(format!("note-{i}.ogg"));
        bob.cli(&[
            "attachment",
            "save",
            &note.id[..16],
            saved.to_str().unwrap(),
        ])
        .unwrap();
        let bytes = std::fs::read(&saved).unwrap();
        assert_eq!(&bytes[..4], b"OggS");
        // Another program plays it: ffprobe reads an Ogg Opus stream of 30 seconds, and
        // ffmpeg (libopus) decodes every packet of it.
        let (format, codec, channels, rate, seconds) = probe(&saved);
        assert_eq!(
            (format.as_str(), codec.as_str(), channels.as_str()),
            ("ogg", "opus", "1")
        );
        assert_eq!(rate, "48000", "Opus always plays at 48 kHz");
        assert!((seconds - 30.0).abs() < 0.2, "{seconds} s");
        tool(
            "ffmpeg",
            &[
                "-v",
                "error",
                "-xerror",
                "-i",
                saved.to_str().unwrap(),
                "-f",
                "null",
                "-",
            ],
        );
        eprintln!(
            "note {i}: {} bytes, {:.0} bytes a second of speech ({:.1}% of an ADPCM note)",
            bytes.len(),
            bytes.len() as f64 / 30.0,
            bytes.len() as f64 * 100.0 / adpcm as f64
        );
        assert!(bytes.len() * 3 <= adpcm, "{} bytes", bytes.len());
    }
}

#[test]
fn bob_without_plugins_sees_alice_s_fallback_texts_and_the_real_thing_once_he_installs_them() {
    let root = scratch();
    let tools = Tools::locate().unwrap();
    let mut alice = Person::init(&tools, root.path(), "alice").unwrap();
    let mut bob = Person::init(&tools, root.path(), "bob").unwrap();
    bob.missing_plugins = MESSAGE_TYPES.to_vec();
    alice.configure(&[bob.port], false, "loopback").unwrap();
    bob.configure(&[alice.port], false, "loopback").unwrap();
    introduce(&alice, &bob).unwrap();
    alice.serve().unwrap();
    bob.serve().unwrap();
    wait_for_contact(&alice, &bob).unwrap();
    // A first sync session tells alice which types bob reads.
    alice.cli(&["send", "bob", "--text", "hi"]).unwrap();
    wait_for_delivery(&alice, &bob, 1, Duration::from_secs(30)).unwrap();

    let photo = fixture("../../plugins/message-image/tests/fixtures/gps.jpg");
    let voice = fixture("../../plugins/message-voice/tests/fixtures/espeak.wav");
    let sends: [&[&str]; 4] = [
        &["--location", "52.52,13.405"],
        &[
            "--payment",
            "bitcoin:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa?amount=0.01",
        ],
        &["--image", photo.to_str().unwrap()],
        &["--voice", voice.to_str().unwrap()],
    ];
    for args in sends {
        alice.cli(&[&["send", "bob"][..], args].concat()).unwrap();
    }
    wait_for_delivery(&alice, &bob, 5, Duration::from_secs(30)).unwrap();
    let expected = [
        "Location: 52.5",
        "Payment request: 0.01 BTC to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        "image 240×320, ",
        "voice message, 0:05",
    ];
    let shown: Vec<String> = bob.messages("alice").unwrap()[1..]
        .iter()
        .map(|r| r.summary.clone())
        .collect();
    for (summary, prefix) in shown.iter().zip(expected) {
        assert!(
            summary.starts_with(prefix),
            "fallback {summary:?}, expected {prefix:?}"
        );
    }
    // The fallback is the sender's word; once bob has the plugins, his own read the kept payloads.
    bob.missing_plugins.clear();
    bob.configure(&[alice.port], false, "loopback").unwrap();
    let rows = bob.messages("alice").unwrap();
    for (row, prefix) in rows[1..].iter().zip(expected) {
        assert!(row.complete && row.summary.starts_with(prefix), "{row:?}");
    }
    let db = bob.database().unwrap();
    let contact = db.contact("alice").unwrap();
    let stored = db.received(contact).unwrap();
    assert_eq!(stored.len(), 5);
    assert!(
        stored[1..].iter().all(|m| !m.fallback.is_empty()),
        "each non-text message carried its fallback text"
    );
}

#[test]
fn send_refuses_a_device_a_fifo_a_folder_and_an_oversized_file_before_reading_any_of_it() {
    let root = scratch();
    let (alice, _bob) = pair(root.path()).unwrap();
    let fifo = root.path().join("pipe.wav");
    courier_e2e::mkfifo(&fifo).unwrap();
    let sparse = root.path().join("huge.jpg");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let not_a_file = |what: &str, path: &str, kind: &str| {
        format!("the {what} {path}: it is {kind}, not a regular file; give the path of a file")
    };
    let (fifo, sparse) = (fifo.display().to_string(), sparse.display().to_string());
    let folder = root.path().display().to_string();
    let cases = [
        (
            "--image",
            "/dev/zero".to_owned(),
            not_a_file("image", "/dev/zero", "a character device"),
        ),
        (
            "--voice",
            fifo.clone(),
            not_a_file("voice note", &fifo, "a FIFO (named pipe)"),
        ),
        (
            "--image",
            folder.clone(),
            not_a_file("image", &folder, "a directory"),
        ),
        (
            "--image",
            sparse.clone(),
            format!(
                "the image {sparse}: it is 1024.0 MiB, over the limit of 64.0 MiB; use a smaller file"
            ),
        ),
    ];
    for (flag, path, error) in cases {
        let started = std::time::Instant::now();
        let stderr = alice.fails(&["send", "bob", flag, &path]).unwrap();
        assert_eq!(stderr, format!("courier: {error}\n"));
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{path} was refused without being read"
        );
    }
    assert!(
        alice
            .messages("bob")
            .unwrap()
            .iter()
            .all(|m| m.direction != "out"),
        "nothing was queued"
    );
}

#[test]
fn a_photo_whose_chunks_bob_lost_shows_damaged_beside_readable_texts_until_alice_sends_it_again() {
    let root = scratch();
    let (alice, mut bob) = pair(root.path()).unwrap();
    let photo = fixture("tests/fixtures/street.jpg");
    let photo = photo.to_str().unwrap();
    alice.cli(&["send", "bob", "--text", "look"]).unwrap();
    alice.cli(&["send", "bob", "--image", photo]).unwrap();
    wait_for_delivery(&alice, &bob, 2, Duration::from_secs(60)).unwrap();

    let packs = bob.dir.join("courier.db.chunks");
    for pack in std::fs::read_dir(&packs).unwrap() {
        std::fs::remove_file(pack.unwrap().path()).unwrap();
    }
    let shown = bob.messages("alice").unwrap();
    assert_eq!(shown.len(), 2, "the conversation still lists");
    assert_eq!(
        (shown[0].summary.as_str(), shown[0].damaged),
        ("look", false)
    );
    assert!(shown[1].damaged && !shown[1].complete, "{:?}", shown[1]);
    assert!(
        shown[1]
            .summary
            .ends_with("(damaged, ask the contact to send it again)"),
        "{}",
        shown[1].summary
    );
    let saved = root.path().join("saved.jpg");
    assert_eq!(
        bob.fails(&[
            "attachment",
            "save",
            &shown[1].id[..8],
            saved.to_str().unwrap()
        ])
        .unwrap(),
        "courier: that attachment is damaged, ask the contact to send it again\n"
    );
    // Its log lines, with stderr not a terminal, carry no colour codes.
    bob.log = Some("debug".into());
    let logged = bob
        .fails(&[
            "attachment",
            "save",
            &shown[1].id[..8],
            saved.to_str().unwrap(),
        ])
        .unwrap();
    assert!(
        logged.contains("not saving a damaged attachment"),
        "{logged}"
    );
    assert!(!logged.contains('\u{1b}'), "{logged:?}");
    bob.log = None;

    // Alice sends it again: a new message, whole, that bob can save.
    alice.cli(&["send", "bob", "--image", photo]).unwrap();
    // Two of the three are whole on bob's side: the first photo stays damaged.
    wait_until(
        Duration::from_secs(60),
        "the photo sent again is whole",
        || Ok(bob.messages("alice")?.get(2).is_some_and(|m| m.complete)),
    )
    .unwrap();
    let again = bob.messages("alice").unwrap().remove(2);
    assert!(again.complete && !again.damaged, "{again:?}");
    bob.cli(&[
        "attachment",
        "save",
        &again.id[..8],
        saved.to_str().unwrap(),
    ])
    .unwrap();
}

#[test]
fn alice_sends_any_installed_type_by_its_name_from_stdin_and_an_unknown_one_lists_what_is_installed()
 {
    let root = scratch();
    let (alice, bob) = pair(root.path()).unwrap();
    let queued = alice
        .cli_with_stdin(
            &["send", "bob", "--type", "courier/text", "--input", "-"],
            "from a pipe, not a flag".as_bytes(),
        )
        .unwrap();
    assert!(queued.starts_with("queued "), "{queued}");
    wait_for_delivery(&alice, &bob, 1, Duration::from_secs(30)).unwrap();
    let got = &bob.messages("alice").unwrap()[0];
    assert_eq!(
        (got.content_type.as_str(), got.summary.as_str()),
        ("courier/text", "from a pipe, not a flag")
    );

    let (code, stderr) = alice
        .fails_with_code(
            &["send", "bob", "--type", "courier/poll", "--input", "-"],
            b"which day?",
        )
        .unwrap();
    assert_eq!(
        stderr,
        "courier: no message type \"courier/poll\" is installed; installed: courier/delete, courier/edit, courier/image, courier/location, courier/payment, courier/reaction, courier/reply, courier/text, courier/voice\n"
    );
    assert_eq!(code, 3, "not found, as `courier --help` lists it");
    assert_eq!(
        alice.messages("bob").unwrap().len(),
        1,
        "nothing was queued for the unknown type"
    );
}
