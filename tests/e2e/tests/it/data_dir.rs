//! A data directory's own files: what a new, a damaged and a locked one says, and who may read it.

use courier_e2e::{Person, Tools};
use courier_host::storage::Draft;

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
        db.send(bob, Draft::new("courier/image", 1, photo), 1_000)
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
            "courier: the database {} is {state} but this data directory holds other Courier files (courier.db.chunks/); it was truncated or replaced; restore it from a backup (`init` will not write over it)\n",
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
