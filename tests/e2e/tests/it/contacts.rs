//! Becoming contacts by link, over the LAN, and the mistakes a user can make on the way.

use std::time::Duration;

use courier_e2e::{Person, Tools, introduce, wait_for_contact, wait_until};

use crate::scratch;

#[test]
fn alice_and_bob_add_each_others_links_and_become_contacts_with_the_same_safety_number() {
    let root = scratch();
    let tools = Tools::locate().unwrap();
    let mut alice = Person::init(&tools, root.path(), "alice").unwrap();
    let mut bob = Person::init(&tools, root.path(), "bob").unwrap();
    alice.configure(&[bob.port], false, "loopback").unwrap();
    bob.configure(&[alice.port], false, "loopback").unwrap();
    introduce(&alice, &bob).unwrap();
    let pending = alice.contacts().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].alias.as_str(), pending[0].state.as_str()),
        ("bob", "pending")
    );
    let early = alice
        .cli(&["send", "bob", "--text", "too early"])
        .unwrap_err();
    assert!(early.to_string().contains("still pending"), "{early}");

    alice.serve().unwrap();
    bob.serve().unwrap();
    wait_for_contact(&alice, &bob).unwrap();

    let number = |p: &Person, alias: &str| {
        let out = p.cli(&["contacts", "verify", alias]).unwrap();
        out.lines().nth(1).unwrap().to_owned()
    };
    let (seen_by_alice, seen_by_bob) = (number(&alice, "bob"), number(&bob, "alice"));
    assert_eq!(seen_by_alice, seen_by_bob);
    assert_eq!(
        seen_by_alice.chars().filter(char::is_ascii_digit).count(),
        60
    );
    alice
        .cli(&["contacts", "verify", "bob", "--confirm"])
        .unwrap();
    assert!(alice.contacts().unwrap()[0].verified);
    assert!(
        !bob.contacts().unwrap()[0].verified,
        "verification is each side's own"
    );

    // Alice calls bob by another name: he stays verified, and a message to the new name reaches him.
    alice.cli(&["contacts", "alias", "bob", "robert"]).unwrap();
    let renamed = alice.contacts().unwrap();
    assert_eq!(
        (renamed[0].alias.as_str(), renamed[0].verified),
        ("robert", true)
    );
    let unfit = alice
        .fails(&["contacts", "alias", "robert", "robert\u{202e}"])
        .unwrap();
    assert!(unfit.contains("alias"), "{unfit}");
    alice
        .cli(&["send", "robert", "--text", "still you"])
        .unwrap();
    wait_until(Duration::from_secs(30), "bob has the text", || {
        Ok(bob.arrivals("alice")? == ["still you"])
    })
    .unwrap();
    alice.stop().unwrap();
    bob.stop().unwrap();
}

#[test]
fn bad_links_own_links_and_repeated_links_are_one_clear_line_each() {
    let root = scratch();
    let tools = Tools::locate().unwrap();
    let alice = Person::init(&tools, root.path(), "alice").unwrap();
    let bob = Person::init(&tools, root.path(), "bob").unwrap();
    let own = alice.link().unwrap();
    let bobs = bob.link().unwrap();
    for (link, alias, expected) in [
        ("courier://nonsense!", "x", "link"),
        ("https://example.org", "x", "courier://"),
        (own.as_str(), "me", "your own link"),
    ] {
        let error = alice
            .cli(&["contacts", "add", link, "--alias", alias])
            .unwrap_err();
        let text = error.to_string();
        assert!(text.contains(expected), "{link}: {text}");
        assert_eq!(text.lines().count(), 1, "one line: {text}");
    }
    alice
        .cli(&["contacts", "add", &bobs, "--alias", "bob"])
        .unwrap();
    let again = alice
        .cli(&["contacts", "add", &bobs, "--alias", "bobby"])
        .unwrap_err();
    assert!(again.to_string().contains("already added"), "{again}");
    let unknown = alice.cli(&["messages", "carol"]).unwrap_err();
    assert!(
        unknown.to_string().contains("no contact is called"),
        "{unknown}"
    );
    let nobody = Person::init(&tools, root.path(), "nobody").unwrap();
    std::fs::remove_dir_all(&nobody.dir).unwrap();
    let fresh = nobody.cli(&["link"]).unwrap_err();
    assert!(fresh.to_string().contains("init"), "{fresh}");
}
