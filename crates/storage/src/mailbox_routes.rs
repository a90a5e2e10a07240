//! Mailboxes: the one we own (where it listens and our token), and for each contact how we reach
//! them through a mailbox: ours, registered for them, or theirs, as they told us in their sync.

use rusqlite::{OptionalExtension, params};

use super::database::Database;
use crate::{ContactId, StorageError};
use courier_proto::sync::record::MailboxAccess;

/// The mailbox we own.
#[derive(Clone, PartialEq, Eq)]
pub struct OwnMailbox {
    /// Where it listens: `host:port` or `NAME.onion:port`.
    pub address: String,
    /// Our (the owner's) bearer token.
    pub token: [u8; 32],
}

impl std::fmt::Debug for OwnMailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OwnMailbox([redacted])")
    }
}

/// How we reach one contact through a mailbox.
#[derive(Clone, PartialEq, Eq)]
pub struct MailboxRoute {
    /// The contact.
    pub contact: ContactId,
    /// Ours (registered for them) or theirs (they told us).
    pub owned: bool,
    /// Where the mailbox listens.
    pub address: String,
    /// A token: the one we use there ([`Database::mailbox_routes`]), or, for a route we register
    /// in our own mailbox, the contact's.
    pub token: [u8; 32],
    /// The folder we upload to for them.
    pub upload: [u8; 16],
    /// The folder we download their streams from.
    pub download: [u8; 16],
}

impl std::fmt::Debug for MailboxRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxRoute")
            .field("owned", &self.owned)
            .finish_non_exhaustive()
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    bytes
}

pub(crate) fn bytes<const N: usize>(blob: Vec<u8>, column: usize) -> rusqlite::Result<[u8; N]> {
    blob.try_into().map_err(|blob: Vec<u8>| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Blob,
            format!("{} bytes where {N} belong", blob.len()).into(),
        )
    })
}

impl Database {
    /// The mailbox we own, if we are paired with one.
    pub fn own_mailbox(&self) -> Result<Option<OwnMailbox>, StorageError> {
        Ok(self
            .conn
            .query_row(
                "SELECT address, token FROM own_mailbox WHERE id = 1",
                [],
                |r| {
                    Ok(OwnMailbox {
                        address: r.get(0)?,
                        token: bytes(r.get(1)?, 1)?,
                    })
                },
            )
            .optional()?)
    }

    /// Pairs with `mailbox` (replacing one paired before).
    pub fn set_own_mailbox(&mut self, mailbox: &OwnMailbox) -> Result<(), StorageError> {
        self.conn.execute(
            "INSERT INTO own_mailbox (id, address, token) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET address = excluded.address, token = excluded.token",
            params![mailbox.address, mailbox.token.as_slice()],
        )?;
        Ok(())
    }

    /// Unpairs: forgets our mailbox, and withdraws every contact's route through it, so that each
    /// of their next sessions tells them to stop using it. Returns how many contacts will be told.
    pub fn unpair_own_mailbox(&mut self) -> Result<usize, StorageError> {
        self.conn.execute("DELETE FROM own_mailbox", [])?;
        Ok(self.conn.execute(
            "UPDATE mailbox_routes SET address = NULL, token = NULL, upload = NULL, download = NULL
             WHERE owned = 1",
            [],
        )?)
    }

    /// The contacts our mailbox has folders for.
    pub fn registered_at_own_mailbox(&self) -> Result<Vec<ContactId>, StorageError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT contact_id FROM mailbox_routes
             WHERE owned = 1 AND address IS NOT NULL AND registered = 1",
        )?;
        let rows = statement.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The routes our mailbox has yet to take, with our (the owner's) token: for every contact
    /// without one, a new route (a fresh token, two random folders) is made first. Nothing without
    /// a mailbox.
    pub fn routes_to_register(&mut self) -> Result<Vec<(MailboxRoute, [u8; 32])>, StorageError> {
        let Some(own) = self.own_mailbox()? else {
            return Ok(Vec::new());
        };
        let new: Vec<ContactId> = self
            .conn
            .prepare_cached(
                "SELECT id FROM contacts WHERE id NOT IN
                     (SELECT contact_id FROM mailbox_routes WHERE owned = 1 AND address IS NOT NULL)",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for contact in new {
            self.conn.execute(
                // A route withdrawn from a mailbox paired before is replaced.
                "INSERT INTO mailbox_routes
                     (contact_id, owned, address, token, upload, download, registered)
                 VALUES (?1, 1, ?2, ?3, ?4, ?5, 0)
                 ON CONFLICT (contact_id, owned) DO UPDATE SET address = excluded.address,
                     token = excluded.token, upload = excluded.upload,
                     download = excluded.download, registered = 0",
                params![
                    contact,
                    own.address,
                    random::<32>().as_slice(),
                    random::<16>().as_slice(),
                    random::<16>().as_slice()
                ],
            )?;
        }
        let mut statement = self.conn.prepare_cached(
            "SELECT contact_id, address, token, upload, download FROM mailbox_routes
             WHERE owned = 1 AND registered = 0 AND address IS NOT NULL ORDER BY contact_id",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(MailboxRoute {
                contact: r.get(0)?,
                owned: true,
                address: r.get(1)?,
                token: bytes(r.get(2)?, 2)?,
                upload: bytes(r.get(3)?, 3)?,
                download: bytes(r.get(4)?, 4)?,
            })
        })?;
        let routes: Vec<MailboxRoute> = rows.collect::<Result<_, _>>()?;
        Ok(routes.into_iter().map(|r| (r, own.token)).collect())
    }

    /// Our mailbox has taken `contact`'s route: from now on it is used and told.
    pub fn mark_registered(&mut self, contact: ContactId) -> Result<(), StorageError> {
        self.conn.execute(
            "UPDATE mailbox_routes SET registered = 1 WHERE contact_id = ?1 AND owned = 1",
            [contact],
        )?;
        Ok(())
    }

    /// What to tell `contact` of our mailbox when a session opens (see
    /// `SyncStore::mailbox_to_tell`).
    pub fn mailbox_to_tell(
        &self,
        contact: ContactId,
    ) -> Result<Option<Option<MailboxAccess>>, StorageError> {
        let route = self.route(contact, true)?;
        Ok(route.map(|route| {
            route.map(|r| MailboxAccess {
                address: r.address,
                token: r.token,
                // The contact uploads where we download, and fetches where we upload.
                inbox: r.download,
                outbox: r.upload,
            })
        }))
    }

    /// Remembers what `contact` told of its mailbox: how to use it, or (`None`) to stop.
    pub fn save_peer_mailbox(
        &mut self,
        contact: ContactId,
        access: Option<&MailboxAccess>,
    ) -> Result<(), StorageError> {
        let route = access.map(|a| MailboxRoute {
            contact,
            owned: false,
            address: a.address.clone(),
            token: a.token,
            upload: a.inbox,
            download: a.outbox,
        });
        match route {
            Some(route) => self.save_route(&route),
            None => {
                self.conn.execute(
                    "DELETE FROM mailbox_routes WHERE contact_id = ?1 AND owned = 0",
                    [contact],
                )?;
                Ok(())
            }
        }
    }

    /// Every route in use, by contact, theirs first, each with the token we use there (in our
    /// own mailbox, the owner's).
    pub fn mailbox_routes(&self) -> Result<Vec<MailboxRoute>, StorageError> {
        // In our own mailbox we act as its owner, with the owner's token, not the contact's.
        let mut statement = self.conn.prepare_cached(
            "SELECT contact_id, owned, address,
                    CASE WHEN owned THEN (SELECT token FROM own_mailbox) ELSE token END,
                    upload, download
             FROM mailbox_routes
             WHERE address IS NOT NULL
               AND (owned = 0 OR (registered = 1 AND EXISTS (SELECT 1 FROM own_mailbox)))
             ORDER BY contact_id, owned",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(MailboxRoute {
                contact: r.get(0)?,
                owned: r.get(1)?,
                address: r.get(2)?,
                token: bytes(r.get(3)?, 3)?,
                upload: bytes(r.get(4)?, 4)?,
                download: bytes(r.get(5)?, 5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `contact`'s route of one side: absent, withdrawn (`Some(None)`), or in use.
    fn route(
        &self,
        contact: ContactId,
        owned: bool,
    ) -> Result<Option<Option<MailboxRoute>>, StorageError> {
        Ok(self
            .conn
            .query_row(
                "SELECT address, token, upload, download FROM mailbox_routes
                 WHERE contact_id = ?1 AND owned = ?2 AND registered = 1",
                params![contact, owned],
                |r| {
                    let Some(address) = r.get::<_, Option<String>>(0)? else {
                        return Ok(None);
                    };
                    Ok(Some(MailboxRoute {
                        contact,
                        owned,
                        address,
                        token: bytes(r.get(1)?, 1)?,
                        upload: bytes(r.get(2)?, 2)?,
                        download: bytes(r.get(3)?, 3)?,
                    }))
                },
            )
            .optional()?)
    }

    /// Writes one route; only a change is written, as every session tells the same again.
    fn save_route(&mut self, r: &MailboxRoute) -> Result<(), StorageError> {
        self.conn.execute(
            "INSERT INTO mailbox_routes
                 (contact_id, owned, address, token, upload, download, registered)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)
             ON CONFLICT (contact_id, owned) DO UPDATE SET address = excluded.address,
                 token = excluded.token, upload = excluded.upload, download = excluded.download,
                 registered = 1
             WHERE (address, token, upload, download, registered) IS NOT
                   (excluded.address, excluded.token, excluded.upload, excluded.download, 1)",
            params![
                r.contact,
                r.owned,
                r.address,
                r.token.as_slice(),
                r.upload.as_slice(),
                r.download.as_slice()
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Passphrase;

    fn database(dir: &tempfile::TempDir) -> Database {
        let passphrase = Passphrase::for_new_database("a long enough passphrase".into()).unwrap();
        Database::open(&dir.path().join("courier.db"), &passphrase).unwrap()
    }

    #[test]
    fn alice_pairs_registers_bob_tells_him_and_later_tells_him_to_stop() {
        let dir = tempfile::tempdir().unwrap();
        let mut alice = database(&dir);
        let bob = alice.add_contact("bob").unwrap();
        assert_eq!(
            alice.mailbox_to_tell(bob).unwrap(),
            None,
            "no mailbox, nothing said"
        );
        let own = OwnMailbox {
            address: "127.0.0.1:9".into(),
            token: [7; 32],
        };
        alice.set_own_mailbox(&own).unwrap();
        assert_eq!(alice.own_mailbox().unwrap(), Some(own));
        let (route, _) = alice.routes_to_register().unwrap().remove(0);
        alice.mark_registered(bob).unwrap();
        assert_eq!(alice.registered_at_own_mailbox().unwrap(), [bob]);
        let told = alice.mailbox_to_tell(bob).unwrap().unwrap().unwrap();
        assert_eq!(
            (told.inbox, told.outbox),
            (route.download, route.upload),
            "bob uploads where alice downloads"
        );
        let routes = alice.mailbox_routes().unwrap();
        assert_eq!(routes.len(), 1);
        assert!(routes[0].owned);
        assert_eq!(
            routes[0].token, [7; 32],
            "in her mailbox alice is its owner"
        );

        assert!(!alice.erasure_owed().unwrap());
        assert_eq!(alice.unpair_own_mailbox().unwrap(), 1);
        assert_eq!(alice.own_mailbox().unwrap(), None);
        assert_eq!(alice.mailbox_to_tell(bob).unwrap(), Some(None), "stop");
        assert!(alice.mailbox_routes().unwrap().is_empty());
        assert!(alice.registered_at_own_mailbox().unwrap().is_empty());
        assert!(
            alice.erasure_owed().unwrap(),
            "the token's pages are rotated away"
        );

        let another = OwnMailbox {
            address: "127.0.0.1:10".into(),
            token: [8; 32],
        };
        alice.set_own_mailbox(&another).unwrap();
        let again = alice.routes_to_register().unwrap();
        assert_eq!(again.len(), 1, "bob is registered anew at the next mailbox");
        assert_eq!(
            (again[0].0.address.as_str(), again[0].1),
            ("127.0.0.1:10", [8; 32])
        );
        assert_ne!(again[0].0.token, route.token, "with a new token");
    }

    #[test]
    fn a_contact_made_after_pairing_waits_unregistered_untold_and_unused_until_the_mailbox_takes_it()
     {
        let dir = tempfile::tempdir().unwrap();
        let mut alice = database(&dir);
        let bob = alice.add_contact("bob").unwrap();
        assert!(alice.routes_to_register().unwrap().is_empty(), "no mailbox");
        let own = OwnMailbox {
            address: "127.0.0.1:9".into(),
            token: [7; 32],
        };
        alice.set_own_mailbox(&own).unwrap();
        let waiting = alice.routes_to_register().unwrap();
        assert_eq!(waiting.len(), 1);
        let (route, owner) = &waiting[0];
        assert_eq!((route.contact, *owner), (bob, [7; 32]));
        assert_eq!(
            alice.routes_to_register().unwrap(),
            waiting,
            "asked again, the same route, not a new one"
        );
        assert_eq!(alice.mailbox_to_tell(bob).unwrap(), None, "not told yet");
        assert!(alice.mailbox_routes().unwrap().is_empty(), "not used yet");
        assert!(alice.registered_at_own_mailbox().unwrap().is_empty());
        alice.mark_registered(bob).unwrap();
        assert!(alice.routes_to_register().unwrap().is_empty());
        assert_eq!(alice.registered_at_own_mailbox().unwrap(), [bob]);
        let told = alice.mailbox_to_tell(bob).unwrap().unwrap().unwrap();
        assert_eq!(
            told.token, route.token,
            "bob is told the token registered for him"
        );
    }

    #[test]
    fn bob_uses_what_alice_told_until_she_says_stop() {
        let dir = tempfile::tempdir().unwrap();
        let mut bob = database(&dir);
        let alice = bob.add_contact("alice").unwrap();
        let access = MailboxAccess {
            address: "127.0.0.1:9".into(),
            token: [1; 32],
            inbox: [3; 16],
            outbox: [2; 16],
        };
        bob.save_peer_mailbox(alice, Some(&access)).unwrap();
        bob.save_peer_mailbox(alice, Some(&access)).unwrap();
        let routes = bob.mailbox_routes().unwrap();
        assert_eq!(routes.len(), 1, "told twice, kept once");
        let r = &routes[0];
        assert_eq!(
            (r.owned, r.upload, r.download, r.token),
            (false, [3; 16], [2; 16], [1; 32])
        );
        assert_eq!(bob.mailbox_to_tell(alice).unwrap(), None, "not his to tell");
        bob.save_peer_mailbox(alice, None).unwrap();
        assert!(bob.mailbox_routes().unwrap().is_empty());
    }
}
