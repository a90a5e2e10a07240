//! A data directory's own files: what a new, a damaged and a locked one says, and who may read it.

use courier_proto::sync::timer::Timer;
use std::path::Path;
use std::time::Duration;

use courier_e2e::{Person, Tools, introduce, wait_for_contact, wait_for_delivery};
use courier_storage::Draft;

use crate::scratch;

/// The chunk packs folder beside `person`'s database.
fn packs_folder(person: &Person) -> std::path::PathBuf {
    person.dir.join("courier.db.chunks")
}

#[test]
fn a_new_data_directory_says_it_is_not_initialised_until_init_runs() {
    let root = scratch();
    let tools = Tools::locate().unwrap();
    let alice = Person::new(&tools, root.path(), "alice").unwrap();
    let dir = alice.dir.display().to_string();
    let not_initialised = format!(
        "courier: {dir} is not initialised; run `courier --data-dir {dir} init --name NAME`\n"
    );
    assert_eq!(alice.fails(&["contacts", "list"]).unwrap(), not_initialised);

    // An empty database file alone, as a crash in the middle of `init` leaves, is still new.
    std::fs::create_dir(&alice.dir).unwrap();
    std::fs::File::create(alice.dir.join("courier.db")).unwrap();
    assert_eq!(alice.fails(&["link"]).unwrap(), not_initialised);
    alice.cli(&["init", "--name", "alice"]).unwrap();
    assert!(alice.link().unwrap().starts_with("courier://"));
    assert_eq!(
        alice.fails(&["init", "--name", "alice"]).unwrap(),
        "courier: this data directory already has an identity; use another --data-dir for a second one\n"
    );
}

#[test]
fn a_database_truncated_or_removed_beside_its_chunk_packs_is_refused_and_init_does_not_write_over_it()
 {
    let root = scratch();
    let tools = Tools::locate().unwrap();
    let alice = Person::init(&tools, root.path(), "alice").unwrap();
    {
        let mut db = alice.database().unwrap();
        let bob = db.add_contact("bob").unwrap();
        let photo = vec![7u8; 200_000];
        db.send(
            bob,
            Draft::new("courier/image", 1, photo),
            1_000,
            Timer::OFF,
        )
        .unwrap();
    }
    let packs_before = std::fs::read_dir(packs_folder(&alice)).unwrap().count();
    assert_eq!(packs_before, 1, "the photo's chunks are in a pack");

    let database = alice.dir.join("courier.db");
    for (state, damage) in [("empty", "truncated"), ("missing", "removed")] {
        match damage {
            "truncated" => std::fs::File::create(&database)
                .unwrap()
                .set_len(0)
                .unwrap(),
            _ => std::fs::remove_file(&database).unwrap(),
        }
        let refused = format!(
            "courier: the database {} is {state} but this data directory holds other Courier files (courier.db.chunks/, courier.keys); it was truncated or replaced; restore it from a backup (`init` will not write over it)\n",
            database.display()
        );
        assert_eq!(alice.fails(&["contacts", "list"]).unwrap(), refused);
        assert_eq!(alice.fails(&["init", "--name", "alice"]).unwrap(), refused);
        assert_eq!(
            std::fs::read_dir(packs_folder(&alice)).unwrap().count(),
            packs_before,
            "{damage}: the packs are left as they were"
        );
    }
    assert!(!database.exists(), "init made no new database");
}

#[test]
fn a_wrong_passphrase_is_one_line_of_ours_and_a_new_one_must_be_eight_characters() {
    let root = scratch();
    let tools = Tools::locate().unwrap();
    let mut alice = Person::new(&tools, root.path(), "alice").unwrap();
    alice.passphrase = "seven c".into();
    assert_eq!(
        alice.fails(&["init", "--name", "alice"]).unwrap(),
        "courier: the passphrase is shorter than 8 characters; choose a longer one (a few unrelated words are easy to remember)\n"
    );
    // Eight characters, though more bytes than that in UTF-8.
    alice.passphrase = "pässwört".into();
    alice.cli(&["init", "--name", "alice"]).unwrap();

    let wrong = format!(
        "courier: wrong passphrase for the database {} (or the file is not a Courier database); check COURIER_PASSPHRASE or what you typed\n",
        alice.dir.join("courier.db").display()
    );
    for attempt in ["passwort", "pw"] {
        alice.passphrase = attempt.into();
        assert_eq!(
            alice.fails(&["contacts", "list"]).unwrap(),
            wrong,
            "{attempt:?}: only our own line, none of SQLCipher's"
        );
    }
    alice.passphrase = "pässwört".into();
    alice.cli(&["contacts", "list"]).unwrap();
}

/// Every file and folder under `dir`, with its permission bits.
fn modes(dir: &Path) -> Vec<(std::path::PathBuf, bool, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
        found.push((path, meta.is_dir(), meta.permissions().mode() & 0o777));
    }
    found
}

#[test]
fn under_umask_000_every_file_courier_writes_is_for_its_owner_only() {
    let root = scratch();
    let tools = Tools::locate().unwrap();
    let mut people = Vec::new();
    for name in ["alice", "bob"] {
        let mut person = Person::new(&tools, root.path(), name).unwrap();
        person.wrap(&["sh", "-c", "umask 000; exec \"$0\" \"$@\""]);
        person.cli(&["init", "--name", name]).unwrap();
        people.push(person);
    }
    let mut bob = people.pop().unwrap();
    let mut alice = people.pop().unwrap();
    for (me, other) in [(&alice, &bob), (&bob, &alice)] {
        me.configure(&[other.port], false, "loopback").unwrap();
        // The compiled-component cache in the data directory too, to see the files it writes.
        let config = me.dir.join("config.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        let text = text.replacen("[plugins]\n", "[plugins]\ncache_dir = \"cache\"\n", 1);
        std::fs::write(&config, text).unwrap();
    }
    introduce(&alice, &bob).unwrap();
    alice.serve().unwrap();
    bob.serve().unwrap();
    wait_for_contact(&alice, &bob).unwrap();
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/street.jpg");
    alice
        .cli(&["send", "bob", "--image", photo.to_str().unwrap()])
        .unwrap();
    wait_for_delivery(&alice, &bob, 1, Duration::from_secs(60)).unwrap();
    let saved = bob.dir.join("saved.jpg");
    let id = bob.messages("alice").unwrap()[0].id.clone();
    bob.cli(&["attachment", "save", &id[..8], saved.to_str().unwrap()])
        .unwrap();
    alice.stop().unwrap();
    bob.stop().unwrap();

    for person in [&alice, &bob] {
        let found = modes(&person.dir);
        for wanted in ["courier.db", "courier.db.chunks", "cache"] {
            assert!(
                found.iter().any(|(p, _, _)| p.ends_with(wanted)),
                "{} has {wanted}",
                person.name
            );
        }
        for (path, is_dir, mode) in found {
            // The story wrote the config itself, not courier.
            if path.ends_with("config.toml") {
                continue;
            }
            let wanted = if is_dir { 0o700 } else { 0o600 };
            assert_eq!(mode, wanted, "{} is {mode:o}", path.display());
        }
    }
}
