//! Relations between a conversation's messages (#31): replies, reactions, edits and retractions,
//! kept beside the messages they name (`relates_to`, migration 28). A relation is checked against
//! the conversation before it is stored, ours as we send it and theirs as it arrives: the message
//! it names must be in this conversation and be no reaction, edit or retraction itself; an edit or
//! a retraction must name its sender's own message. A retraction makes its target, with its
//! reactions and edits (a reply stays, quoting a message that is gone), disappear now (the sweep erases them as it erases disappearing messages: rows,
//! chunks, packs), and a retraction of a message that has not arrived keeps it from ever being
//! stored.

use courier_proto::sync::record::{Message, MessageId};
use courier_proto::sync::relation::{EDIT_TYPE, REACTION_TYPE, RelationKind, relation_of};
use rusqlite::{Connection, OptionalExtension, params};

use super::database::Database;
use super::disappearing;
use super::entry::{Direction, Entry};
use super::message_row::message_id;
use super::window::{entry, listing};
use crate::error::RelationRefused;
use crate::{ContactId, StorageError};

/// A relation that may be stored: what it does, and to which message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checked {
    pub(crate) kind: RelationKind,
    pub(crate) target: MessageId,
}

/// Where message `id` of the conversation with `contact` is: ours or theirs, with its content type.
fn locate(
    conn: &Connection,
    contact: ContactId,
    id: &MessageId,
) -> rusqlite::Result<Option<(Direction, String)>> {
    for (direction, table) in [
        (Direction::Outgoing, "outgoing"),
        (Direction::Incoming, "incoming"),
    ] {
        let found: Option<String> = conn
            .prepare_cached(&format!(
                "SELECT content_type FROM {table} WHERE contact_id = ?1 AND id = ?2"
            ))?
            .query_row(params![contact, &id.0[..]], |r| r.get(0))
            .optional()?;
        if let Some(content_type) = found {
            return Ok(Some((direction, content_type)));
        }
    }
    Ok(None)
}

/// Checks `message`, going `direction` in the conversation with `contact`: `Ok(None)` if it is no
/// relation, the relation if it may be stored, or why not.
pub(crate) fn check(
    conn: &Connection,
    contact: ContactId,
    message: &Message,
    direction: Direction,
) -> rusqlite::Result<Result<Option<Checked>, RelationRefused>> {
    let relation = match relation_of(message) {
        None => return Ok(Ok(None)),
        Some(Err(malformed)) => return Ok(Err(malformed.into())),
        Some(Ok(relation)) => relation,
    };
    let checked = Checked {
        kind: relation.kind,
        target: relation.target,
    };
    let Some((sender, content_type)) = locate(conn, contact, &relation.target)? else {
        // Theirs, taking back what has not reached us: it never will be stored.
        if relation.kind == RelationKind::Delete && direction == Direction::Incoming {
            return Ok(Ok(Some(checked)));
        }
        return Ok(Err(RelationRefused::UnknownTarget));
    };
    if RelationKind::of(&content_type).is_some_and(|k| k != RelationKind::Reply) {
        return Ok(Err(RelationRefused::RelationTarget));
    }
    if relation.kind.own_only() && sender != direction {
        return Ok(Err(RelationRefused::NotTheSender(relation.kind.as_str())));
    }
    Ok(Ok(Some(checked)))
}

/// After the relation `checked` was stored as message `id` going `direction`: keeps what it
/// names; a retraction makes its target and what relates to it go at `now_ms`.
pub(crate) fn stored(
    conn: &Connection,
    contact: ContactId,
    id: &MessageId,
    direction: Direction,
    checked: Checked,
    now_ms: u64,
) -> rusqlite::Result<()> {
    let table = table(direction);
    conn.execute(
        &format!("UPDATE {table} SET relates_to = ?3 WHERE contact_id = ?1 AND id = ?2"),
        params![contact, &id.0[..], &checked.target.0[..]],
    )?;
    if checked.kind == RelationKind::Delete {
        let target = &checked.target.0[..];
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        for table in ["outgoing", "incoming"] {
            conn.execute(
                &format!(
                    "UPDATE {table} SET expires_ms = ?3 WHERE contact_id = ?1
                        AND (id = ?2 OR (relates_to = ?2
                            AND content_type IN ('{REACTION_TYPE}', '{EDIT_TYPE}')))"
                ),
                params![contact, target, now],
            )?;
        }
        // A copy that comes later is acked and not stored.
        disappearing::forget(conn, contact, &checked.target)?;
    }
    Ok(())
}

fn table(direction: Direction) -> &'static str {
    match direction {
        Direction::Outgoing => "outgoing",
        Direction::Incoming => "incoming",
    }
}

/// The relations of the conversation with `contact` to `target`, either way (a handful: they are
/// put in order after).
pub(crate) const RELATIONS_TO: &str = "SELECT {OUT} WHERE contact_id = ?1 AND relates_to = ?2
    UNION ALL
    SELECT {IN} WHERE contact_id = ?1 AND relates_to = ?2";

/// The message relation `?2` of contact `?1` names, either way.
pub(crate) const TARGET_OF: &str =
    "SELECT relates_to FROM outgoing WHERE contact_id = ?1 AND id = ?2 AND relates_to IS NOT NULL
    UNION ALL
    SELECT relates_to FROM incoming WHERE contact_id = ?1 AND id = ?2 AND relates_to IS NOT NULL";

impl Database {
    /// The message that the relation `id` of the conversation with `contact` names; `None` if
    /// `id` is no stored relation.
    pub fn relates_to(
        &self,
        contact: ContactId,
        id: &MessageId,
    ) -> Result<Option<MessageId>, StorageError> {
        let mut statement = self.conn.prepare_cached(TARGET_OF)?;
        let target = statement
            .query_row(params![contact, &id.0[..]], |r| message_id(r, 0))
            .optional()?;
        Ok(target)
    }

    /// The replies, reactions, edits and retractions of the conversation with `contact` that name
    /// `target`, either way, oldest first.
    pub fn relations_to(
        &self,
        contact: ContactId,
        target: &MessageId,
    ) -> Result<Vec<Entry>, StorageError> {
        let mut statement = self.conn.prepare_cached(listing!(RELATIONS_TO))?;
        let rows = statement.query_map(params![contact, &target.0[..]], entry)?;
        let mut found: Vec<Entry> = rows.collect::<Result<_, _>>()?;
        found.sort_by_key(|e| e.message.timestamp_ms);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use courier_proto::sync::relation::{DELETE_TYPE, REPLY_TYPE, payload};
    use courier_proto::sync::session::SyncStore;
    use courier_proto::sync::timer::Timer;

    use super::*;
    use crate::two_sides::{Side, alice_and_bob, carry, now, send};
    use crate::{ConversationStore, Draft};

    /// The content types and bodies `side` shows, oldest first.
    fn shown(side: &Side) -> Vec<(String, Vec<u8>)> {
        side.db
            .window(side.peer, crate::window::Around::Newest, 100)
            .unwrap()
            .unwrap()
            .entries
            .into_iter()
            .map(|e| (e.message.content_type, e.message.body))
            .collect()
    }

    fn kinds(side: &Side, target: &MessageId) -> Vec<(Direction, String, Vec<u8>)> {
        side.db
            .relations_to(side.peer, target)
            .unwrap()
            .into_iter()
            .map(|e| {
                (
                    e.direction,
                    e.message.content_type,
                    e.message.body[32..].to_vec(),
                )
            })
            .collect()
    }

    fn refused(result: Result<MessageId, StorageError>) -> RelationRefused {
        match result {
            Err(StorageError::Relation { refused, .. }) => refused,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn bob_replies_alice_reacts_twice_bob_edits_and_alice_takes_her_text_back_from_both_sides() {
        let dir = tempfile::tempdir().unwrap();
        let (mut alice, mut bob) = alice_and_bob(dir.path());
        let text = send(&mut alice, "courier/text", b"north gate at nine".to_vec()).unwrap();
        carry(&mut alice, &mut bob);
        // Bob replies to it; alice reacts to the reply, then changes her mind; bob edits it.
        let reply = send(&mut bob, REPLY_TYPE, payload(&text, b"which north gate?")).unwrap();
        carry(&mut bob, &mut alice);
        send(&mut alice, REACTION_TYPE, payload(&reply, "👍".as_bytes())).unwrap();
        send(&mut alice, REACTION_TYPE, payload(&reply, "❤".as_bytes())).unwrap();
        carry(&mut alice, &mut bob);
        send(
            &mut bob,
            EDIT_TYPE,
            payload(&reply, b"which north gate, the old one?"),
        )
        .unwrap();
        carry(&mut bob, &mut alice);
        for (at, theirs) in [(&alice, Direction::Incoming), (&bob, Direction::Outgoing)] {
            let reacted = if theirs == Direction::Incoming {
                Direction::Outgoing
            } else {
                Direction::Incoming
            };
            assert_eq!(
                kinds(at, &reply),
                [
                    (reacted, REACTION_TYPE.into(), "👍".as_bytes().to_vec()),
                    (reacted, REACTION_TYPE.into(), "❤".as_bytes().to_vec()),
                    (
                        theirs,
                        EDIT_TYPE.into(),
                        b"which north gate, the old one?".to_vec()
                    ),
                ]
            );
            assert_eq!(kinds(at, &text).len(), 1, "the reply names the text");
            // The conversation shows the text and the reply; reactions and edits show with them.
            let types: Vec<String> = shown(at).into_iter().map(|(t, _)| t).collect();
            assert_eq!(types, ["courier/text", REPLY_TYPE]);
        }

        // Refused, each with its reason, and nothing stored.
        let before = shown(&alice).len();
        assert_eq!(
            refused(send(
                &mut alice,
                REACTION_TYPE,
                payload(&MessageId([9; 32]), b"x")
            )),
            RelationRefused::UnknownTarget
        );
        assert_eq!(
            refused(send(
                &mut alice,
                EDIT_TYPE,
                payload(&reply, b"not mine to edit")
            )),
            RelationRefused::NotTheSender("edit")
        );
        assert_eq!(
            refused(send(&mut bob, DELETE_TYPE, payload(&text, b""))),
            RelationRefused::NotTheSender("delete")
        );
        assert!(matches!(
            refused(send(&mut alice, REACTION_TYPE, vec![1; 20])),
            RelationRefused::Malformed(_)
        ));
        let a_reaction = alice.db.relations_to(alice.peer, &reply).unwrap()[0].id;
        assert_eq!(
            refused(send(
                &mut alice,
                REACTION_TYPE,
                payload(&a_reaction, "👍".as_bytes())
            )),
            RelationRefused::RelationTarget
        );
        assert_eq!(shown(&alice).len(), before);
        assert_eq!(kinds(&alice, &reply).len(), 3);
        // Bob's node, bent, sends an edit of alice's text anyway: alice's node drops it.
        let forged = Message {
            timestamp_ms: now(),
            content_type: EDIT_TYPE.into(),
            type_version: 1,
            fallback: String::new(),
            body: payload(&text, b"south gate"),
        };
        let mut inbox = ConversationStore::new(&mut alice.db, alice.peer, 60_000, Timer::OFF);
        inbox.store_incoming(&forged.id(), forged.clone()).unwrap();
        assert!(!inbox.has_incoming(&forged.id()).unwrap());
        assert!(kinds(&alice, &text).iter().all(|(_, t, _)| t != EDIT_TYPE));

        // Alice takes her text back, for both sides: it goes, with what relates to it but the
        // retraction; a copy of it that comes again is acked and not stored.
        let original = bob.db.received(bob.peer).unwrap()[0].clone();
        assert_eq!(original.id(), text);
        send(&mut alice, DELETE_TYPE, payload(&text, b"")).unwrap();
        carry(&mut alice, &mut bob);
        for at in [&mut alice, &mut bob] {
            at.db.sweep_expired(now() + 1_000).unwrap();
            let left: Vec<(String, Vec<u8>)> = shown(at);
            assert!(left.iter().all(|(_, body)| body != b"north gate at nine"));
            assert_eq!(
                left.last().unwrap().0,
                DELETE_TYPE,
                "the retraction says so"
            );
        }
        let inbox = ConversationStore::new(&mut bob.db, bob.peer, 60_000, Timer::OFF);
        assert!(
            inbox.has_incoming(&original.id()).unwrap(),
            "known as taken back"
        );
        // The reply that quoted it stays, and now names a message that is gone.
        assert!(shown(&bob).iter().any(|(t, _)| t == REPLY_TYPE));
        assert!(
            bob.db
                .relations_to(bob.peer, &text)
                .unwrap()
                .iter()
                .all(|e| e.message.content_type == DELETE_TYPE
                    || e.message.content_type == REPLY_TYPE)
        );
    }

    #[test]
    fn alice_takes_back_a_photo_for_everyone_and_its_chunks_leave_both_sides_packs() {
        let dir = tempfile::tempdir().unwrap();
        let (mut alice, mut bob) = alice_and_bob(dir.path());
        let packs = |name: &str| -> Vec<std::path::PathBuf> {
            std::fs::read_dir(dir.path().join(format!("{name}.db.chunks")))
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default()
        };
        let photo: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let sent = send(&mut alice, "courier/image", photo).unwrap();
        send(&mut alice, "courier/text", b"that was the map".to_vec()).unwrap();
        carry(&mut alice, &mut bob);
        assert_eq!(
            (packs("alice").len(), packs("bob").len()),
            (1, 1),
            "the photo's chunks are in a pack at each end"
        );
        assert_eq!(shown(&bob).len(), 2);

        send(&mut alice, DELETE_TYPE, payload(&sent, b"")).unwrap();
        carry(&mut alice, &mut bob);
        for (at, name) in [(&mut alice, "alice"), (&mut bob, "bob")] {
            at.db.sweep_expired(now() + 1_000).unwrap();
            let types: Vec<String> = shown(at).into_iter().map(|(t, _)| t).collect();
            assert_eq!(types, ["courier/text", DELETE_TYPE], "{name}'s window");
            assert!(packs(name).is_empty(), "{name}'s pack of the photo is gone");
        }
    }

    #[test]
    fn a_relation_naming_a_message_of_another_conversation_is_refused_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let (mut alice, mut bob) = alice_and_bob(dir.path());
        let carol = alice.db.add_contact("carol").unwrap();
        let to_bob = send(&mut alice, "courier/text", b"for bob only".to_vec()).unwrap();
        carry(&mut alice, &mut bob);
        let from_bob = send(&mut bob, "courier/text", b"for alice only".to_vec()).unwrap();
        carry(&mut bob, &mut alice);

        // Alice's reaction to carol may not name a message of her conversation with bob, hers or
        // his: to carol, neither exists.
        for target in [to_bob, from_bob] {
            let draft = Draft::new(REACTION_TYPE, 1, payload(&target, "👍".as_bytes()));
            assert_eq!(
                refused(
                    alice
                        .db
                        .send(carol, draft, now(), Timer::OFF)
                        .map(|(id, _)| id)
                ),
                RelationRefused::UnknownTarget
            );
        }
        // Nor may one of carol's, as it arrives.
        let from_carol = Message {
            timestamp_ms: now(),
            content_type: REACTION_TYPE.into(),
            type_version: 1,
            fallback: String::new(),
            body: payload(&to_bob, "👍".as_bytes()),
        };
        let mut inbox = ConversationStore::new(&mut alice.db, carol, 60_000, Timer::OFF);
        inbox
            .store_incoming(&from_carol.id(), from_carol.clone())
            .unwrap();
        assert!(!inbox.has_incoming(&from_carol.id()).unwrap());
        assert!(alice.db.relations_to(carol, &to_bob).unwrap().is_empty());
        assert!(
            alice
                .db
                .relations_to(alice.peer, &to_bob)
                .unwrap()
                .is_empty()
        );
    }
}
