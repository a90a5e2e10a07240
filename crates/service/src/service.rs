//! One open data directory: its unlocked database, and its message-type plugins, loaded once when a use
//! case first needs them.

use courier_storage::{ContactId, Database, Passphrase, StorageError};

use crate::data_dir::{DataDir, LockedDatabase};
use crate::error::ServiceError;
use crate::plugins::Plugins;

/// The use cases over one open data directory. Its methods live beside their idea: `identity.rs`,
/// `contacts.rs`, `conversation.rs`, `attachment.rs`.
pub struct Service {
    pub(crate) dir: DataDir,
    pub(crate) db: Database,
    /// Loaded on first use: listing contacts should not wait for the wasm engine.
    plugins: Option<Plugins>,
    /// How mailboxes are reached, made on first use (it may start a Tor client).
    pub(crate) mailbox_agent: Option<courier_drivers::mailbox::MailboxAgent>,
}

impl Service {
    /// The service over `db`, the unlocked database of `dir`.
    pub fn new(dir: DataDir, db: Database) -> Service {
        Service {
            dir,
            db,
            plugins: None,
            mailbox_agent: None,
        }
    }

    /// The data directory.
    pub fn dir(&self) -> &DataDir {
        &self.dir
    }

    /// The database, for a front end that runs the node on it (`serve`).
    pub fn into_database(self) -> Database {
        self.db
    }

    /// This service lives on beside a node (the API's): it holds the database key only while it
    /// runs a use case ([`hold_key`](Self::hold_key)), so the node can rotate it in between.
    pub fn follow_key_rotations(&mut self) {
        self.db.follow_rotations();
    }

    /// Holds the database key for a use case, following the node's rotation first if there was
    /// one.
    pub fn hold_key(&mut self) -> Result<(), ServiceError> {
        Ok(self.db.hold_key()?)
    }

    /// Lets go of the database key after a use case.
    pub fn release_key(&mut self) {
        self.db.release_key();
    }

    /// Runs `f` with every read it makes on one snapshot of the database (see
    /// [`Database::begin_snapshot`]): a look that reads a row per arrival reads SQLite's pages once.
    pub(crate) fn on_one_snapshot<T>(
        &mut self,
        f: impl FnOnce(&mut Service) -> Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        let began = self.db.begin_snapshot()?;
        let result = f(self);
        if began {
            self.db.end_snapshot()?;
        }
        result
    }

    /// The message-type plugins of the directory's config, loading them the first time.
    pub fn plugins(&mut self) -> Result<&mut Plugins, ServiceError> {
        let plugins = match self.plugins.take() {
            Some(plugins) => plugins,
            None => Plugins::message_types_of(&self.dir.config(None)?)?,
        };
        Ok(self.plugins.insert(plugins))
    }

    /// The contact called `alias`, refusing one whose handshake has not completed.
    pub(crate) fn conversation_contact(&self, alias: &str) -> Result<ContactId, ServiceError> {
        match self.db.met_contact(alias)? {
            Some(c) => Ok(c.id),
            None if self.is_pending(alias)? => {
                Err(ServiceError::PendingConversation(alias.to_owned()))
            }
            None => Err(StorageError::UnknownContact(alias.to_owned()).into()),
        }
    }

    /// Every contact's alias by id.
    pub fn aliases(&self) -> Result<std::collections::BTreeMap<ContactId, String>, ServiceError> {
        Ok(self
            .db
            .contacts()?
            .into_iter()
            .map(|c| (c.id, c.alias))
            .collect())
    }

    /// The alias of the contact `contact`.
    pub(crate) fn alias_of(&self, contact: ContactId) -> Result<String, ServiceError> {
        self.db
            .met_contact_by_id(contact)?
            .map(|c| c.alias)
            .ok_or_else(|| StorageError::UnknownContact(format!("#{contact}")).into())
    }

    /// Whether `alias` is a pending contact.
    pub(crate) fn is_pending(&self, alias: &str) -> Result<bool, ServiceError> {
        Ok(self.db.pending_contacts()?.iter().any(|p| p.alias == alias))
    }
}

// Opening the database is where a data directory becomes a service: here, so that the directory
// knows nothing of what is built on it.
impl LockedDatabase {
    /// Opens the database with `passphrase`, and the service over it.
    pub fn unlock(self, passphrase: String) -> Result<Service, ServiceError> {
        let passphrase = if self.new {
            Passphrase::for_new_database(passphrase)?
        } else {
            Passphrase::new(passphrase)?
        };
        let mut db = Database::open(&self.file, &passphrase)?;
        // What disappeared while no node ran is gone before anything is shown.
        db.sweep_expired(now_ms())?;
        Ok(Service::new(self.dir, db))
    }
}

/// Wall clock in Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What the use cases' unit tests start from.
#[cfg(test)]
pub(crate) mod testing {
    use crate::{DataDir, Service};

    pub const PASSPHRASE: &str = "correct horse battery staple";

    /// A service over a new data directory with an identity, whose config loads no plugins.
    pub fn initialised() -> (tempfile::TempDir, Service) {
        let root = tempfile::tempdir().unwrap();
        let dir = DataDir::resolve(Some(root.path().join("alice"))).unwrap();
        let locked = dir.create().unwrap();
        assert!(locked.is_new());
        let mut service = locked.unlock(PASSPHRASE.to_owned()).unwrap();
        service.init("alice").unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "[plugins]\ndir = \"plugins\"\n",
        )
        .unwrap();
        (root, service)
    }
}

#[cfg(test)]
mod tests {
    use courier_proto::identity::Identity;

    use super::testing::{PASSPHRASE, initialised};
    use crate::{ContactState, DataDir, ErrorKind, Page, ServiceError};

    fn kind<T>(result: Result<T, ServiceError>) -> ErrorKind {
        match result {
            Ok(_) => panic!("it succeeded"),
            Err(e) => e.kind(),
        }
    }

    #[test]
    fn a_directory_without_init_is_not_found_and_a_wrong_passphrase_is_locked() {
        let (root, service) = initialised();
        let link = service.link().unwrap();
        drop(service);
        let fresh = DataDir::resolve(Some(root.path().join("nobody"))).unwrap();
        let error = fresh.existing().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound);
        assert!(error.to_string().contains("init --name NAME"), "{error}");

        let dir = DataDir::resolve(Some(root.path().join("alice"))).unwrap();
        let locked = dir.existing().unwrap();
        assert!(!locked.is_new());
        assert_eq!(
            kind(locked.unlock("not it at all".into())),
            ErrorKind::Locked
        );
        let again = dir.existing().unwrap().unlock(PASSPHRASE.into()).unwrap();
        assert_eq!(again.link().unwrap(), link, "the same identity");
        let mut again = again;
        assert_eq!(kind(again.init("alice")), ErrorKind::Conflict);
    }

    #[test]
    fn a_pending_contact_not_met_in_two_days_is_listed_as_unmet() {
        let (_root, mut service) = initialised();
        let carol = Identity::generate("carol").link();
        let three_days_ago = super::now_ms() - 3 * 86_400_000;
        service
            .db
            .add_pending_contact(&carol, "carol", three_days_ago)
            .unwrap();
        let dave = Identity::generate("dave").link().to_string();
        service.add_contact(&dave, "dave").unwrap();
        let states: Vec<(String, ContactState)> = service
            .contacts()
            .unwrap()
            .into_iter()
            .map(|c| (c.alias, c.state))
            .collect();
        assert_eq!(
            states,
            [
                ("carol".to_owned(), ContactState::Unmet),
                ("dave".to_owned(), ContactState::Pending)
            ]
        );
    }

    #[test]
    fn contacts_are_pending_until_the_handshake_and_refuse_what_needs_it() {
        let (_root, mut service) = initialised();
        let bob = Identity::generate("bob").link().to_string();
        assert_eq!(
            kind(service.add_contact("courier://nonsense", "x")),
            ErrorKind::InvalidInput
        );
        let own = service.link().unwrap().to_string();
        assert_eq!(
            kind(service.add_contact(&own, "me")),
            ErrorKind::InvalidInput
        );
        service.add_contact(&bob, "bob").unwrap();
        assert_eq!(
            kind(service.add_contact(&bob, "bobby")),
            ErrorKind::Conflict
        );
        let listed = service.contacts().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (
                listed[0].alias.as_str(),
                listed[0].state,
                listed[0].verified
            ),
            ("bob", ContactState::Pending, false)
        );

        let Err(pending) = service.send("bob", "courier/text", b"hi", &[]) else {
            panic!("sent to a pending contact");
        };
        assert_eq!(pending.kind(), ErrorKind::Unavailable);
        assert!(pending.to_string().contains("still pending"), "{pending}");
        assert_eq!(kind(service.safety_number("bob")), ErrorKind::Unavailable);
        assert_eq!(
            kind(service.conversation("carol", Page::ALL)),
            ErrorKind::NotFound
        );
        assert_eq!(kind(service.attachment("5b38")), ErrorKind::InvalidInput);
        assert_eq!(kind(service.attachment("5b383886")), ErrorKind::NotFound);

        service.remove_contact("bob").unwrap();
        assert!(service.contacts().unwrap().is_empty());
        assert_eq!(kind(service.remove_contact("bob")), ErrorKind::NotFound);
    }

    #[test]
    fn the_message_types_come_from_the_directory_s_config_and_an_unknown_one_names_them() {
        let (_root, mut service) = initialised();
        let plugins = service.plugins().unwrap();
        assert!(plugins.content_types().is_empty(), "its config loads none");
        let Err(error) = plugins.message_type("courier/poll") else {
            panic!("a plugin handles courier/poll");
        };
        assert_eq!(error.kind(), ErrorKind::NotFound);
        assert!(
            error
                .to_string()
                .starts_with("no message type \"courier/poll\" is installed; installed: none"),
            "{error}"
        );
    }
}
