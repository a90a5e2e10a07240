//! The owner's node and a contact's, as this client, against a real mailbox on loopback.

use std::path::Path;

use courier_mailbox_client::{MailboxClient, MailboxClientError, PairingLink};

/// A new mailbox serving `dir` on a loopback port, until dropped, and its pairing link.
fn serve(dir: &Path) -> (PairingLink, courier_mailbox::serving::Background) {
    let background =
        courier_mailbox::serving::in_background(dir, "127.0.0.1:0".parse().unwrap()).unwrap();
    let link = PairingLink {
        address: background.address.to_string(),
        setup: background.setup.as_ref().expect("a new mailbox").bytes(),
    };
    (link, background)
}

#[test]
fn alice_pairs_registers_bob_and_a_stream_goes_through_her_mailbox_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let (link, _served) = serve(dir.path());
    let address = &link.address;
    let owner = MailboxClient::new(address, &link.setup).set_up().unwrap();
    assert_eq!(
        MailboxClient::new(address, &link.setup).set_up().unwrap(),
        owner,
        "a setup asked again answers the same token"
    );
    let alice = MailboxClient::new(address, &owner);
    alice.status().unwrap();
    let (bob_token, inbox, outbox) = ([0xb0; 32], [0x1b; 16], [0x0b; 16]);
    alice.register(&bob_token, &inbox, &outbox).unwrap();
    alice.register(&bob_token, &inbox, &outbox).unwrap();

    let bob = MailboxClient::new(address, &bob_token);
    bob.upload(&inbox, b"a stream for alice".to_vec()).unwrap();
    let names = alice.list(&inbox).unwrap();
    assert_eq!(names.len(), 1);
    assert_eq!(
        alice.download(&inbox, &names[0]).unwrap(),
        b"a stream for alice"
    );
    alice.delete(&inbox, &names[0]).unwrap();
    assert!(alice.list(&inbox).unwrap().is_empty());

    alice.upload(&outbox, b"her reply".to_vec()).unwrap();
    let names = bob.list(&outbox).unwrap();
    assert_eq!(bob.download(&outbox, &names[0]).unwrap(), b"her reply");

    assert_eq!(bob.list(&[0x77; 16]), Err(MailboxClientError::NotFound));
    let stranger = MailboxClient::new(address, &[0x55; 32]);
    assert_eq!(stranger.status(), Err(MailboxClientError::Unauthorized));
    assert_eq!(
        bob.download(&outbox, "../registry.json"),
        Err(MailboxClientError::NotFound),
        "a name the mailbox never gave is not even sent"
    );
}

#[test]
fn a_mailbox_that_is_not_there_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let client = MailboxClient::new(&address, &[1; 32]);
    assert!(matches!(
        client.status(),
        Err(MailboxClientError::Unreachable(_))
    ));
}

#[test]
fn a_mailbox_at_an_onion_name_is_never_looked_up_over_tcp_and_the_error_says_tor_is_needed() {
    let onion = format!("{}.onion:80", "a".repeat(52) + "2345");
    let client = MailboxClient::new(&onion, &[1; 32]);
    let refused = client.status().unwrap_err();
    assert_eq!(refused, MailboxClientError::NeedsTor);
    assert!(refused.to_string().contains("tor-stream"), "{refused}");
    assert_eq!(
        client.upload(&[2; 16], b"x".to_vec()),
        Err(MailboxClientError::NeedsTor)
    );
}

#[test]
fn one_question_tells_the_owner_which_inboxes_hold_files_and_bob_whether_his_outbox_does() {
    let dir = tempfile::tempdir().unwrap();
    let (link, _mailbox) = serve(dir.path());
    let address = link.address.clone();
    let owner = MailboxClient::new(&address, &link.setup).set_up().unwrap();
    let alice = MailboxClient::new(&address, &owner);
    let (bob_token, carol_token) = ([0xb0; 32], [0xc0; 32]);
    alice
        .register(&bob_token, &[0x1b; 16], &[0x0b; 16])
        .unwrap();
    alice
        .register(&carol_token, &[0x1c; 16], &[0x0c; 16])
        .unwrap();
    let bob = MailboxClient::new(&address, &bob_token);
    assert_eq!(
        alice.waiting().unwrap(),
        Vec::<[u8; 16]>::new(),
        "nothing yet"
    );
    bob.upload(&[0x1b; 16], b"for alice".to_vec()).unwrap();
    assert_eq!(
        alice.waiting().unwrap(),
        [[0x1b; 16]],
        "bob's inbox, not carol's"
    );
    assert_eq!(
        bob.waiting().unwrap(),
        Vec::<[u8; 16]>::new(),
        "his outbox is empty"
    );
    alice.upload(&[0x0b; 16], b"for bob".to_vec()).unwrap();
    assert_eq!(bob.waiting().unwrap(), [[0x0b; 16]]);
    let carol = MailboxClient::new(&address, &carol_token);
    assert_eq!(
        carol.waiting().unwrap(),
        Vec::<[u8; 16]>::new(),
        "carol sees none of it"
    );
}
