//! Contacts after the handshake: their keys' root, verification state, removal, and message states.

use rusqlite::{OptionalExtension, params};

use super::database::Database;

use super::key_file::SecretsKey;
use super::sealed_secrets::{SecretRow, open, plain_secret, seal, still_sealed_under};
use super::stream_state::Peer;
use crate::{ContactId, StorageError};
use courier_proto::handshake::Agreement;
use courier_proto::sync::record::MessageId;
use courier_proto::transport_security::transport_keys::{
    LATENCY_CLASSES_MS, Role, SecretKey, TransportKeys, chain_start, latency_class, period_at,
};
use zeroize::Zeroizing;

/// Contacts that completed the handshake, as [`Contact`]s; a condition follows (`AND …`).
pub(crate) const MET_CONTACTS: &str = "SELECT id, alias, handshake_public, verified FROM contacts
    WHERE is_alice IS NOT NULL";

/// Where [`Database::contacts_change`] stands: its one row.
pub(crate) const CONTACTS_CHANGE: &str = "SELECT n FROM contact_changes WHERE id = 1";

/// A contact that completed the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Row id.
    pub id: ContactId,
    /// The user's name for them.
    pub alias: String,
    /// Their handshake public key (from their link).
    pub public: [u8; 32],
    /// Whether the user compared safety numbers and confirmed.
    pub verified: bool,
}

/// Where an outgoing message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutgoingState {
    /// On disk, never sent.
    Queued,
    /// Sent at least once, not acked yet.
    Sent,
    /// The peer stored it.
    Acked,
    /// The peer's user read it (their read receipt came).
    Read,
}

impl OutgoingState {
    /// The state of a row sent `times_sent` times, `acked` or not, `read` or not (a receipt may
    /// overtake its message's ack: it says more).
    pub(crate) fn of(times_sent: u32, acked: bool, read: bool) -> OutgoingState {
        match (read, acked, times_sent) {
            (true, _, _) => OutgoingState::Read,
            (false, true, _) => OutgoingState::Acked,
            (false, false, 0) => OutgoingState::Queued,
            (false, false, _) => OutgoingState::Sent,
        }
    }
}

/// One period before the agreed start, so a peer whose clock is behind still finds keys.
fn start_period(start_ms: u64, max_latency_ms: u64) -> u64 {
    period_at(start_ms, max_latency_ms).saturating_sub(1)
}

/// Stores what restores `keys`: the step of its class's chain (never moving it back, since every
/// transport of the class shares it), or, for a contact from before class chains, the transport's
/// own secret.
fn save_keys(
    conn: &rusqlite::Connection,
    sealing: Option<&SecretsKey>,
    contact: ContactId,
    transport: &str,
    max_latency_ms: u64,
    keys: &TransportKeys,
) -> Result<(), StorageError> {
    let (period, secret) = keys.oldest_secret();
    if keys.on_chain_of().is_some() {
        let class =
            latency_class(max_latency_ms).ok_or(StorageError::NoKeysFor(transport.into()))?;
        save_chain_step(conn, sealing, contact, class, period, secret)?;
        return Ok(());
    }
    let sealed = seal(sealing, SecretRow::Transport(contact, transport), secret);
    // Only when the period moved: the same period's secret is the same, and each write owes a
    // re-seal.
    conn.execute(
        "INSERT INTO transport_secrets (contact_id, transport, period, secret) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (contact_id, transport) DO UPDATE SET period = ?3, secret = ?4
         WHERE excluded.period != transport_secrets.period",
        params![contact, transport, i64::try_from(period).unwrap_or(i64::MAX), sealed],
    )?;
    Ok(())
}

fn save_chain_step(
    conn: &rusqlite::Connection,
    sealing: Option<&SecretsKey>,
    contact: ContactId,
    class_ms: u64,
    period: u64,
    secret: &SecretKey,
) -> Result<(), StorageError> {
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    conn.execute(
        "INSERT INTO chain_secrets (contact_id, class_ms, period, secret) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (contact_id, class_ms) DO UPDATE SET period = ?3, secret = ?4
         WHERE excluded.period > chain_secrets.period",
        params![
            contact,
            as_i64(class_ms),
            as_i64(period),
            seal(sealing, SecretRow::Chain(contact, class_ms), secret)
        ],
    )?;
    Ok(())
}

/// An update that touched no row means no contact has that alias.
fn found(changed: usize, alias: &str) -> Result<(), StorageError> {
    if changed == 0 {
        Err(StorageError::UnknownContact(alias.to_owned()))
    } else {
        Ok(())
    }
}

impl Database {
    /// Turns the pending contact `alias` into a contact with the handshake's result; keys start at
    /// `start_ms` (the time both sides agreed). One key chain is started per latency class, from
    /// which every transport of the class, configured now or later, derives its keys; the root secret
    /// itself is not kept, so nothing can re-derive old keys.
    pub fn complete_handshake(
        &mut self,
        alias: &str,
        agreement: &Agreement,
        start_ms: u64,
    ) -> Result<ContactId, StorageError> {
        let sealing = self.secrets_key();
        let tx = self.write()?;
        still_sealed_under(&tx, sealing.as_ref())?;
        let (pending, public): (i64, Vec<u8>) = tx
            .query_row(
                "SELECT id, handshake_public FROM pending_contacts WHERE alias = ?1",
                [alias],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or_else(|| StorageError::UnknownContact(alias.to_owned()))?;
        tx.execute(
            "DELETE FROM stream_state WHERE peer = ?1",
            [Peer::Pending(pending).key()],
        )?;
        tx.execute(
            "INSERT INTO contacts (alias, handshake_public, is_alice, start_ms) VALUES (?1, ?2, ?3, ?4)",
            params![
                alias,
                public,
                agreement.role == Role::Alice,
                i64::try_from(start_ms).unwrap_or(i64::MAX)
            ],
        )?;
        let id = tx.last_insert_rowid();
        for class in LATENCY_CLASSES_MS {
            let start = start_period(start_ms, class);
            save_chain_step(
                &tx,
                sealing.as_ref(),
                id,
                class,
                start,
                &chain_start(&agreement.root, class),
            )?;
        }
        tx.execute("DELETE FROM pending_contacts WHERE alias = ?1", [alias])?;
        tx.commit()?;
        Ok(id)
    }

    /// `contact`'s keys on a transport with `max_latency_ms`, moved to the period of `now_ms`; the
    /// stored secret moves forward with them, so keys of periods now dropped are gone for good.
    pub fn transport_keys(
        &mut self,
        contact: ContactId,
        transport_id: &str,
        max_latency_ms: u64,
        now_ms: u64,
    ) -> Result<TransportKeys, StorageError> {
        let sealing = self.secrets_key();
        let tx = self.write()?;
        still_sealed_under(&tx, sealing.as_ref())?;
        let (root, is_alice, start): (Option<Zeroizing<Vec<u8>>>, Option<bool>, Option<i64>) = tx
            .query_row(
                "SELECT root_secret, is_alice, start_ms FROM contacts WHERE id = ?1",
                [contact],
                |r| {
                    Ok((
                        r.get::<_, Option<Vec<u8>>>(0)?.map(Zeroizing::new),
                        r.get(1)?,
                        r.get(2)?,
                    ))
                },
            )
            .optional()?
            .ok_or(StorageError::NoKeys)?;
        let (Some(is_alice), Some(start)) = (is_alice, start) else {
            return Err(StorageError::NoKeys);
        };
        let role = if is_alice { Role::Alice } else { Role::Bob };
        let stored: Option<(i64, Zeroizing<Vec<u8>>)> = tx
            .query_row(
                "SELECT period, secret FROM transport_secrets WHERE contact_id = ?1 AND transport = ?2",
                params![contact, transport_id],
                |r| Ok((r.get(0)?, Zeroizing::new(r.get(1)?))),
            )
            .optional()?;
        let now = period_at(now_ms, max_latency_ms);
        let keys = match (stored, root) {
            (Some((period, secret)), _) => {
                let period = period as u64;
                TransportKeys::from_period_secret(
                    open(
                        sealing.as_ref(),
                        SecretRow::Transport(contact, transport_id),
                        &secret,
                    )?,
                    period,
                    role,
                    now.max(period),
                )
            }
            // A contact from before migration 7 still has its root.
            (None, Some(root)) => {
                let start = start_period(start as u64, max_latency_ms);
                TransportKeys::new(
                    &plain_secret(&root)?,
                    transport_id,
                    role,
                    start,
                    now.max(start),
                )
            }
            // A contact made with class chains: the transport's keys come from its class's step.
            (None, None) => {
                let no_keys = || StorageError::NoKeysFor(transport_id.to_owned());
                let class = latency_class(max_latency_ms).ok_or_else(no_keys)?;
                let (step_period, step): (i64, Zeroizing<Vec<u8>>) = tx
                    .query_row(
                        "SELECT period, secret FROM chain_secrets WHERE contact_id = ?1 AND class_ms = ?2",
                        params![contact, i64::try_from(class).unwrap_or(i64::MAX)],
                        |r| Ok((r.get(0)?, Zeroizing::new(r.get(1)?))),
                    )
                    .optional()?
                    // Made before class chains, and this transport was not configured then.
                    .ok_or_else(no_keys)?;
                let step_period = step_period as u64;
                TransportKeys::on_chain(
                    open(sealing.as_ref(), SecretRow::Chain(contact, class), &step)?,
                    step_period,
                    transport_id,
                    role,
                    period_at(now_ms, class).max(step_period),
                )
            }
        };
        save_keys(
            &tx,
            sealing.as_ref(),
            contact,
            transport_id,
            max_latency_ms,
            &keys,
        )?;
        tx.commit()?;
        Ok(keys)
    }

    /// Stores `keys` for `contact` on `transport` (of `max_latency_ms`), replacing (and so deleting)
    /// the older secret.
    pub fn save_transport_keys(
        &mut self,
        contact: ContactId,
        transport: &str,
        max_latency_ms: u64,
        keys: &TransportKeys,
    ) -> Result<(), StorageError> {
        let sealing = self.secrets_key();
        let tx = self.write()?;
        still_sealed_under(&tx, sealing.as_ref())?;
        save_keys(
            &tx,
            sealing.as_ref(),
            contact,
            transport,
            max_latency_ms,
            keys,
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A number that moves whenever a contact or pending contact is added, changed or removed
    /// (migration 33's triggers): read equal twice, nobody's contacts changed in between.
    pub fn contacts_change(&self) -> Result<i64, StorageError> {
        Ok(self
            .conn
            .prepare_cached(CONTACTS_CHANGE)?
            .query_row([], |r| r.get(0))?)
    }

    /// Every contact that completed the handshake, by alias.
    pub fn contacts(&self) -> Result<Vec<Contact>, StorageError> {
        self.contacts_where("1 ORDER BY alias", [])
    }

    /// The contact called `alias` if it completed the handshake: one row read by its alias, not
    /// every contact (a page and a send name their conversation this way).
    pub fn met_contact(&self, alias: &str) -> Result<Option<Contact>, StorageError> {
        Ok(self.contacts_where("alias = ?1", [alias])?.pop())
    }

    /// The contact `id` if it completed the handshake.
    pub fn met_contact_by_id(&self, id: ContactId) -> Result<Option<Contact>, StorageError> {
        Ok(self.contacts_where("id = ?1", [id])?.pop())
    }

    /// The contacts that completed the handshake and meet `rest`: a constant SQL condition with
    /// `params`, and an order if wanted (what follows [`MET_CONTACTS`] and `AND`).
    fn contacts_where(
        &self,
        rest: &'static str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<Contact>, StorageError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!("{MET_CONTACTS} AND {rest}"))?;
        let rows = statement.query_map(params, |r| {
            Ok((
                r.get::<_, ContactId>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (id, alias, public, verified) = row?;
            let public = <[u8; 32]>::try_from(public.as_slice())
                .map_err(|_| StorageError::Corrupt("contact key is not 32 bytes"))?;
            Ok(Contact {
                id,
                alias,
                public,
                verified,
            })
        })
        .collect()
    }

    /// Marks `alias` verified: the user compared safety numbers and they matched.
    pub fn mark_verified(&mut self, alias: &str) -> Result<(), StorageError> {
        let changed = self
            .conn
            .execute("UPDATE contacts SET verified = 1 WHERE alias = ?1", [alias])?;
        found(changed, alias)
    }

    /// Whether `alias` is verified.
    pub fn is_verified(&self, alias: &str) -> Result<bool, StorageError> {
        self.conn
            .query_row(
                "SELECT verified FROM contacts WHERE alias = ?1",
                [alias],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StorageError::UnknownContact(alias.to_owned()))
    }

    /// Calls the contact (or pending contact) `alias` `new_alias` from now on; refuses an unfit alias
    /// and one already in use.
    pub fn rename_contact(&mut self, alias: &str, new_alias: &str) -> Result<(), StorageError> {
        let new_alias = crate::check_name(new_alias)?;
        let tx = self.write()?;
        let taken: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM pending_contacts WHERE alias = ?1)
                 OR EXISTS (SELECT 1 FROM contacts WHERE alias = ?1)",
            [new_alias],
            |r| r.get(0),
        )?;
        if taken && new_alias != alias {
            return Err(StorageError::DuplicateAlias(new_alias.to_owned()));
        }
        let mut changed = 0;
        for table in ["contacts", "pending_contacts"] {
            changed += tx.execute(
                &format!("UPDATE {table} SET alias = ?2 WHERE alias = ?1"),
                [alias, new_alias],
            )?;
        }
        tx.commit()?;
        found(changed, alias)
    }

    /// Removes `alias` with its keys and every message to or from them.
    pub fn remove_contact(&mut self, alias: &str) -> Result<(), StorageError> {
        // Foreign keys cascade to the outbox and inbox; the keys live in the row itself, stream state
        // beside it. A pending contact is removed the same way.
        let tx = self.write()?;
        let mut changed = 0;
        let mut removed = None;
        for (table, kind) in [("contacts", 'c'), ("pending_contacts", 'p')] {
            let id: Option<i64> = tx
                .query_row(
                    &format!("SELECT id FROM {table} WHERE alias = ?1"),
                    [alias],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = id {
                tx.execute(
                    "DELETE FROM stream_state WHERE peer = ?1",
                    [format!("{kind}{id}")],
                )?;
                changed += tx.execute(&format!("DELETE FROM {table} WHERE id = ?1"), [id])?;
                if kind == 'c' {
                    removed = Some(id);
                }
            }
        }
        tx.commit()?;
        // Its attachment chunks go after the rows that pointed at them.
        if let Some(contact) = removed {
            self.packs.remove(contact)?;
        }
        found(changed, alias)
    }

    /// Where the outgoing message `id` to `contact` stands, if it exists.
    pub fn outgoing_state(
        &self,
        contact: ContactId,
        id: &MessageId,
    ) -> Result<Option<OutgoingState>, StorageError> {
        let row: Option<(u32, bool, bool)> = self
            .conn
            .query_row(
                "SELECT times_sent, acked, read_ms IS NOT NULL FROM outgoing
                 WHERE contact_id = ?1 AND id = ?2",
                params![contact, &id.0[..]],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Ok(row.map(|(times_sent, acked, read)| OutgoingState::of(times_sent, acked, read)))
    }
}

#[cfg(test)]
mod tests {
    use courier_proto::identity::Identity;

    use super::*;
    use crate::Passphrase;

    #[test]
    fn a_contact_from_before_class_chains_keeps_its_transports_and_is_told_to_re_add_for_new_ones()
    {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(
            &dir.path().join("courier.db"),
            &Passphrase::new("old contact".into()).unwrap(),
        )
        .unwrap();
        db.create_identity(&Identity::generate("alice")).unwrap();
        db.add_pending_contact(&Identity::generate("bob").link(), "bob", 0)
            .unwrap();
        let root = SecretKey::from_bytes([9; 32]);
        let agreement = Agreement {
            root: root.clone(),
            role: Role::Alice,
        };
        const START: u64 = 1_700_000_000_000;
        const LAN: u64 = 30_000;
        let bob = db.complete_handshake("bob", &agreement, START).unwrap();
        // What a handshake stored before migration 12: the LAN's own chain, and no class chains.
        db.conn
            .execute("DELETE FROM chain_secrets WHERE contact_id = ?1", [bob])
            .unwrap();
        let start = start_period(START, LAN);
        let own = TransportKeys::new(&root, "lan", Role::Alice, start, start);
        save_keys(&db.conn, db.secrets.as_ref(), bob, "lan", LAN, &own).unwrap();

        let later = START + 3 * 86_400_000;
        let lan = db.transport_keys(bob, "lan", LAN, later).unwrap();
        let expected = TransportKeys::new(&root, "lan", Role::Alice, start, period_at(later, LAN));
        assert_eq!(
            lan.outgoing(),
            expected.outgoing(),
            "its LAN keys go on as before"
        );
        assert_eq!(lan.on_chain_of(), None);
        let drive = db.transport_keys(bob, "drive", 28 * 86_400_000, later);
        assert!(
            matches!(&drive, Err(StorageError::NoKeysFor(t)) if t == "drive"),
            "{drive:?}"
        );
        let told = drive.unwrap_err().to_string();
        assert!(told.contains("remove and re-add"), "{told}");
    }

    #[test]
    fn a_chain_step_shared_by_a_class_never_moves_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(
            &dir.path().join("courier.db"),
            &Passphrase::new("one chain".into()).unwrap(),
        )
        .unwrap();
        db.create_identity(&Identity::generate("alice")).unwrap();
        db.add_pending_contact(&Identity::generate("bob").link(), "bob", 0)
            .unwrap();
        let agreement = Agreement {
            root: SecretKey::from_bytes([3; 32]),
            role: Role::Bob,
        };
        const START: u64 = 1_700_000_000_000;
        const DAY: u64 = 86_400_000;
        let bob = db.complete_handshake("bob", &agreement, START).unwrap();
        let step = |db: &Database| -> i64 {
            db.conn
                .query_row(
                    "SELECT period FROM chain_secrets WHERE contact_id = ?1 AND class_ms = ?2",
                    params![bob, DAY as i64],
                    |r| r.get(0),
                )
                .unwrap()
        };
        let started = step(&db);
        // Tor, a week on, moves the day class's chain forward; a LAN that still holds older keys
        // saving them afterwards must not move it back (that would undo forward secrecy).
        let lan_then = db.transport_keys(bob, "lan", 30_000, START).unwrap();
        db.transport_keys(bob, "tor", DAY, START + 7 * DAY).unwrap();
        let moved = step(&db);
        assert!(moved > started, "{moved} > {started}");
        db.save_transport_keys(bob, "lan", 30_000, &lan_then)
            .unwrap();
        assert_eq!(step(&db), moved);
        let lan_now = db
            .transport_keys(bob, "lan", 30_000, START + 7 * DAY)
            .unwrap();
        assert_eq!(lan_now.oldest_secret().0 as i64, moved);
    }

    #[test]
    fn a_contact_renamed_keeps_their_place_and_no_two_share_an_alias() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(
            &dir.path().join("courier.db"),
            &Passphrase::new("renaming".into()).unwrap(),
        )
        .unwrap();
        db.create_identity(&Identity::generate("alice")).unwrap();
        for name in ["bob", "carol"] {
            db.add_pending_contact(&Identity::generate(name).link(), name, 0)
                .unwrap();
        }
        db.rename_contact("bob", "robert").unwrap();
        let aliases: Vec<String> = db
            .pending_contacts()
            .unwrap()
            .into_iter()
            .map(|p| p.alias)
            .collect();
        assert_eq!(aliases, ["robert", "carol"]);
        assert!(matches!(
            db.rename_contact("robert", "carol"),
            Err(StorageError::DuplicateAlias(a)) if a == "carol"
        ));
        assert!(matches!(
            db.rename_contact("bob", "bobby"),
            Err(StorageError::UnknownContact(a)) if a == "bob"
        ));
        assert!(matches!(
            db.rename_contact("robert", "rob\u{202e}ert"),
            Err(StorageError::BadAlias(_))
        ));
        db.rename_contact("robert", "robert").unwrap();
    }

    #[test]
    fn the_contacts_change_moves_when_a_contact_comes_changes_or_goes_and_not_when_a_message_does()
    {
        let dir = tempfile::tempdir().unwrap();
        let (mut alice, mut bob) = crate::two_sides::alice_and_bob(dir.path());
        let db = &mut alice.db;
        let mut last = db.contacts_change().unwrap();
        let mut moved = |db: &Database, what: &str| {
            let now = db.contacts_change().unwrap();
            assert_ne!(now, last, "{what} moves the contacts change");
            last = now;
        };
        db.create_identity(&Identity::generate("alice")).unwrap();
        db.add_pending_contact(&Identity::generate("carol").link(), "carol", 0)
            .unwrap();
        moved(db, "a pending contact added");
        let agreement = Agreement {
            root: SecretKey::from_bytes([3; 32]),
            role: Role::Alice,
        };
        db.complete_handshake("carol", &agreement, 1_700_000_000_000)
            .unwrap();
        moved(db, "a handshake completed");
        db.mark_verified("carol").unwrap();
        moved(db, "a contact verified");
        db.rename_contact("carol", "caz").unwrap();
        moved(db, "a contact renamed");
        db.add_pending_contact(&Identity::generate("dan").link(), "dan", 0)
            .unwrap();
        moved(db, "another pending contact added");
        db.rename_contact("dan", "danny").unwrap();
        moved(db, "a pending contact renamed");
        db.remove_contact("danny").unwrap();
        moved(db, "a pending contact removed");

        // Messages both ways touch no contact.
        crate::two_sides::send(&mut alice, "courier/text", b"hi".to_vec()).unwrap();
        crate::two_sides::carry(&mut alice, &mut bob);
        crate::two_sides::send(&mut bob, "courier/text", b"hello".to_vec()).unwrap();
        crate::two_sides::carry(&mut bob, &mut alice);
        assert_eq!(alice.db.contacts_change().unwrap(), last);

        alice.db.remove_contact("caz").unwrap();
        assert_ne!(
            alice.db.contacts_change().unwrap(),
            last,
            "a contact removed moves it"
        );
    }
}
