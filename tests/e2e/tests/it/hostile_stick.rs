//! A stick a hostile person hands over: links to endless devices, a file swapped for one while it is
//! read, thousands of junk files, a damaged older copy of a real export, and a name made to rewrite
//! the terminal. Bob's import reads what is real once, stays small, and shows names escaped.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use courier_e2e::Person;

use crate::{pair, scratch};

const MIB: u64 = 1 << 20;

/// Alice and bob, contacts, with no network between them any more.
fn apart(root: &Path) -> (Person, Person) {
    let (mut alice, mut bob) = pair(root).unwrap();
    alice.stop().unwrap();
    bob.stop().unwrap();
    (alice, bob)
}

/// Alice sends `texts` and exports them; the one file her stick holds.
fn export(alice: &Person, texts: &[&str], stick: &Path) -> Vec<u8> {
    for text in texts {
        alice.cli(&["send", "bob", "--text", text]).unwrap();
    }
    alice
        .cli(&["drive", "export", stick.to_str().unwrap()])
        .unwrap();
    let files: Vec<_> = std::fs::read_dir(stick)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let bytes = std::fs::read(&files[0]).unwrap();
    std::fs::remove_file(&files[0]).unwrap();
    bytes
}

/// `bytes` with one byte of its first frame flipped (after the tag and header, which still show
/// whose stream it is): nothing in it opens.
fn damaged(bytes: &[u8]) -> Vec<u8> {
    let mut copy = bytes.to_vec();
    copy[200] ^= 0x40;
    copy
}

/// Writes `bytes` to `path` and dates it `age` ago, so a scan (oldest first) reads it before newer
/// files.
fn write_aged(path: &Path, bytes: &[u8], age: Duration) {
    let mut file = std::fs::File::create(path).unwrap();
    file.write_all(bytes).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

fn texts_from(bob: &Person, alias: &str) -> Vec<String> {
    let mut texts: Vec<String> = bob
        .messages(alias)
        .unwrap()
        .into_iter()
        .filter(|r| r.direction == "in")
        .map(|r| r.summary)
        .collect();
    texts.sort();
    texts
}

#[test]
fn bob_imports_a_stick_of_links_to_dev_zero_a_swapped_file_and_two_thousand_junk_files_and_stays_small()
 {
    let root = scratch();
    let (alice, bob) = apart(root.path());
    let stick = root.path().join("stick");
    std::fs::create_dir(&stick).unwrap();
    let real = export(&alice, &["the real one"], &stick);
    std::fs::write(stick.join("real"), &real).unwrap();
    std::os::unix::fs::symlink("/dev/zero", stick.join("zero")).unwrap();
    courier_e2e::mkfifo(&stick.join("pipe")).unwrap();
    // 2,000 files of 1 MiB each (sparse: reading them costs no disk).
    for i in 0..2_000 {
        std::fs::File::create(stick.join(format!("junk{i:04}")))
            .unwrap()
            .set_len(MIB)
            .unwrap();
    }
    // A file that turns into a link to /dev/zero and back while the stick is read: listed as a
    // regular file, it may be a link by the time it is opened.
    let swapping = Arc::new(AtomicBool::new(true));
    let swapper = {
        let (swapping, stick) = (swapping.clone(), stick.clone());
        std::thread::spawn(move || {
            let target = stick.join("swap");
            let mut flips = 0u64;
            while swapping.load(Ordering::Relaxed) {
                let tmp = stick.join(".swap.tmp");
                let _ = std::fs::remove_file(&tmp);
                if flips.is_multiple_of(2) {
                    std::fs::File::create(&tmp).unwrap().set_len(MIB).unwrap();
                } else {
                    std::os::unix::fs::symlink("/dev/zero", &tmp).unwrap();
                }
                std::fs::rename(&tmp, &target).unwrap();
                flips += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
            flips
        })
    };

    let (printed, peak_kib) = bob
        .cli_peak_memory(&["drive", "import", stick.to_str().unwrap()])
        .unwrap();
    swapping.store(false, Ordering::Relaxed);
    let flips = swapper.join().unwrap();
    println!(
        "import of 2,000 junk files and a swapping link: {printed:?}, peak {peak_kib} KiB, {flips} swaps"
    );
    assert!(printed.starts_with("1 message from alice; "), "{printed}");
    assert!(flips > 100, "the file was swapped while the stick was read");
    assert!(
        peak_kib * 1024 < 100_000_000,
        "the import held {peak_kib} KiB"
    );
    assert_eq!(texts_from(&bob, "alice"), ["the real one"]);
}

#[test]
fn a_damaged_older_copy_read_first_spends_nothing_and_its_name_reaches_the_terminal_escaped() {
    let root = scratch();
    let (alice, bob) = apart(root.path());
    let stick = root.path().join("alices-stick");
    std::fs::create_dir(&stick).unwrap();
    let texts = ["one of three", "two of three", "three of three"];
    let real = export(&alice, &texts, &stick);

    // Bob's folder: the damaged copy, older and under a name made to clear the screen and fake a
    // line; then the real file.
    let folder = root.path().join("bobs-folder");
    std::fs::create_dir(&folder).unwrap();
    let evil = "evil\n\u{1b}[2Jcourier: all fine";
    write_aged(
        &folder.join(evil),
        &damaged(&real),
        Duration::from_secs(3600),
    );
    write_aged(&folder.join("real"), &real, Duration::ZERO);
    let printed = bob
        .cli(&["drive", "import", folder.to_str().unwrap()])
        .unwrap();
    assert_eq!(printed.lines().count(), 1, "{printed:?}");
    assert!(
        !printed.contains('\u{1b}'),
        "an escape code reached the terminal: {printed:?}"
    );
    assert!(
        printed.contains(r"evil\n\u{1b}[2Jcourier: all fine"),
        "{printed:?}"
    );
    assert!(printed.starts_with("3 messages from alice; "), "{printed}");
    let mut expected = texts.map(String::from).to_vec();
    expected.sort();
    assert_eq!(texts_from(&bob, "alice"), expected, "each once");

    // Alone, a damaged copy first and the real file only later: nothing is lost.
    let more = ["four", "five"];
    let real = export(&alice, &more, &stick);
    let first = root.path().join("first");
    let later = root.path().join("later");
    std::fs::create_dir(&first).unwrap();
    std::fs::create_dir(&later).unwrap();
    std::fs::write(first.join("copy"), damaged(&real)).unwrap();
    std::fs::write(later.join("copy"), &real).unwrap();
    let printed = bob
        .cli(&["drive", "import", first.to_str().unwrap()])
        .unwrap();
    assert!(
        printed.contains("1 damaged file skipped: copy"),
        "{printed}"
    );
    let printed = bob
        .cli(&["drive", "import", later.to_str().unwrap()])
        .unwrap();
    assert!(printed.starts_with("2 messages from alice"), "{printed}");
    let mut expected: Vec<String> = texts.iter().chain(&more).map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(texts_from(&bob, "alice"), expected, "each once");
    // Read whole once, the stream is spent: a third copy stores nothing.
    let printed = bob
        .cli(&["drive", "import", later.to_str().unwrap()])
        .unwrap();
    assert_eq!(printed.trim(), "1 file not for us or already read");
}
