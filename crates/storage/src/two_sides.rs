//! Two databases that talk to each other in a unit test: what one queues, the other stores, as a
//! sync session would carry it.

use courier_proto::sync::record::{Message, MessageId};
use courier_proto::sync::session::SyncStore;
use courier_proto::sync::timer::Timer;

use crate::{ContactId, ConversationStore, Database, Draft, Passphrase, StorageError};

/// One side: a database and the other side as its contact.
pub(crate) struct Side {
    pub(crate) db: Database,
    pub(crate) peer: ContactId,
}

/// `name`'s database, in `dir`, with `peer` as its one contact.
pub(crate) fn side(dir: &std::path::Path, name: &str, peer: &str) -> Side {
    let passphrase = Passphrase::for_new_database(format!("{name}'s long passphrase")).unwrap();
    let mut db = Database::open(&dir.join(format!("{name}.db")), &passphrase).unwrap();
    let peer = db.add_contact(peer).unwrap();
    Side { db, peer }
}

/// `name`'s database in `dir` opened again, with `peer` as its contact.
pub(crate) fn side_again(dir: &std::path::Path, name: &str, peer: &str) -> Side {
    let passphrase = Passphrase::new(format!("{name}'s long passphrase")).unwrap();
    let db = Database::open(&dir.join(format!("{name}.db")), &passphrase).unwrap();
    let peer = db.contact(peer).unwrap();
    Side { db, peer }
}

/// Alice's and bob's databases, in `dir`, each the other's one contact.
pub(crate) fn alice_and_bob(dir: &std::path::Path) -> (Side, Side) {
    (side(dir, "alice", "bob"), side(dir, "bob", "alice"))
}

/// The wall clock, Unix ms.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Sends `content_type` with `body` from `from`; its id, or why it was refused.
pub(crate) fn send(
    from: &mut Side,
    content_type: &str,
    body: Vec<u8>,
) -> Result<MessageId, StorageError> {
    let draft = Draft {
        content_type: content_type.into(),
        version: 1,
        fallback: format!("[{content_type}]"),
        payload: body,
    };
    let peer = from.peer;
    from.db
        .send(peer, draft, now(), Timer::OFF)
        .map(|(id, _)| id)
}

/// Carries what `from` queued to `to`, acked at `from`, stored at `to` as a session would.
pub(crate) fn carry(from: &mut Side, to: &mut Side) {
    let mut outbox = ConversationStore::new(&mut from.db, from.peer, 60_000, Timer::OFF);
    let due = outbox.due(now() + 1_000_000, 1_000).unwrap();
    let messages: Vec<Message> = due
        .iter()
        .map(|id| outbox.outgoing(id).unwrap().unwrap())
        .collect();
    for id in &due {
        outbox.mark_acked(id).unwrap();
    }
    let mut inbox = ConversationStore::new(&mut to.db, to.peer, 60_000, Timer::OFF);
    for message in messages {
        if !inbox.has_incoming(&message.id()).unwrap() {
            inbox.store_incoming(&message.id(), message).unwrap();
        }
    }
}
