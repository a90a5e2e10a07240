//! Who may use the mailbox, kept in `registry.json` in its data directory: the digest of the setup
//! token (until the owner has used the token setup gave), the owner's, and each contact's with
//! their inbox and outbox. Written whole to a new file, synced, then renamed over the old one, so a
//! crash leaves the old registry or the new one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use courier_local_fs::owner_only;
use serde::{Deserialize, Serialize};

use crate::MailboxError;
use crate::token::{Token, TokenDigest, random};

/// The registry's file name in the data directory.
pub const REGISTRY_FILE: &str = "registry.json";

/// A folder's id: 16 random bytes, chosen by the owner's node, as 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FolderId(String);

/// A contact's id at the mailbox: random, chosen by the owner's node; it names no one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContactId(String);

/// A name the mailbox accepts: `len` lowercase hex digits.
fn hex_name(name: &str, len: usize, what: &'static str) -> Result<String, MailboxError> {
    if name.len() == len && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(name.to_owned())
    } else {
        Err(MailboxError::BadName {
            what,
            name: name.chars().take(80).collect(),
        })
    }
}

impl FolderId {
    /// The folder id `name`, if it is 32 lowercase hex digits.
    pub fn parse(name: &str) -> Result<FolderId, MailboxError> {
        hex_name(name, 32, "folder id").map(FolderId)
    }

    /// A new random folder id.
    pub fn generate() -> FolderId {
        FolderId(hex::encode(&random()[..16]))
    }

    /// Its 32 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ContactId {
    /// The contact id `name`, if it is 32 lowercase hex digits.
    pub fn parse(name: &str) -> Result<ContactId, MailboxError> {
        hex_name(name, 32, "contact id").map(ContactId)
    }

    /// Its 32 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A contact the owner registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// What the mailbox keeps of their token.
    #[serde(with = "digest_hex")]
    pub token: TokenDigest,
    /// Where they upload for the owner.
    pub inbox: FolderId,
    /// Where the owner uploads for them.
    pub outbox: FolderId,
}

/// Who a request's token says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The setup token: it may only ask for the owner's token.
    Setup(Token),
    /// The owner.
    Owner,
    /// A registered contact.
    Contact(ContactId),
}

/// What is on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    /// Derives the owner's token from the setup token.
    #[serde(with = "secret_hex")]
    secret: [u8; 32],
    /// The setup token's digest, until the owner has used their token.
    #[serde(with = "option_digest_hex")]
    setup: Option<TokenDigest>,
    /// The owner's token's digest, once set up.
    #[serde(with = "option_digest_hex")]
    owner: Option<TokenDigest>,
    contacts: BTreeMap<ContactId, Contact>,
}

/// The registry, as loaded, saved on every change.
#[derive(Debug)]
pub struct Registry {
    path: PathBuf,
    saved: Saved,
}

impl Registry {
    /// The registry of the data directory `dir`, or `None` if the mailbox was never set up there.
    pub fn open(dir: &Path) -> Result<Option<Registry>, MailboxError> {
        let path = dir.join(REGISTRY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(MailboxError::disk("reading the registry")(e)),
        };
        let saved =
            serde_json::from_str(&text).map_err(|e| MailboxError::Damaged(e.to_string()))?;
        Ok(Some(Registry { path, saved }))
    }

    /// A new registry in `dir` awaiting setup; returns it and the setup token, which is shown to
    /// the owner once (a link or a QR code) and kept only as a digest.
    pub fn create(dir: &Path) -> Result<(Registry, Token), MailboxError> {
        let setup = Token::generate();
        let mut registry = Registry {
            path: dir.join(REGISTRY_FILE),
            saved: Saved {
                secret: random(),
                setup: Some(setup.digest()),
                ..Saved::default()
            },
        };
        registry.save()?;
        Ok((registry, setup))
    }

    /// Whether no token opens the mailbox: wiped, with no owner and no setup token.
    pub fn unopenable(&self) -> bool {
        self.saved.owner.is_none() && self.saved.setup.is_none()
    }

    /// Who `token` is, if anyone. The owner's first use of their token retires the setup token.
    pub fn role(&mut self, token: &Token) -> Result<Option<Role>, MailboxError> {
        let digest = token.digest();
        if self.saved.owner == Some(digest) {
            if self.saved.setup.take().is_some() {
                self.save()?;
            }
            return Ok(Some(Role::Owner));
        }
        if self.saved.setup == Some(digest) {
            return Ok(Some(Role::Setup(token.clone())));
        }
        Ok(self
            .saved
            .contacts
            .iter()
            .find(|(_, c)| c.token == digest)
            .map(|(id, _)| Role::Contact(id.clone())))
    }

    /// The owner's token, for the setup token `setup`: the same every time it is asked until the
    /// owner uses it, so a reply lost on the way is asked for again, not wiped.
    pub fn set_up(&mut self, setup: &Token) -> Result<Token, MailboxError> {
        let owner = setup.derive(&self.saved.secret, b"owner");
        if self.saved.owner != Some(owner.digest()) {
            self.saved.owner = Some(owner.digest());
            self.save()?;
        }
        Ok(owner)
    }

    /// Registers `contact` with `token` and its folders; the same again is no change.
    pub fn add_contact(
        &mut self,
        id: ContactId,
        token: &Token,
        inbox: FolderId,
        outbox: FolderId,
    ) -> Result<bool, MailboxError> {
        let contact = Contact {
            token: token.digest(),
            inbox,
            outbox,
        };
        if let Some(existing) = self.saved.contacts.get(&id) {
            return if *existing == contact {
                Ok(false)
            } else {
                Err(MailboxError::Conflict(id.0))
            };
        }
        let taken = self.saved.contacts.values().any(|c| {
            c.token == contact.token
                || [&c.inbox, &c.outbox].contains(&&contact.inbox)
                || [&c.inbox, &c.outbox].contains(&&contact.outbox)
        });
        if taken || contact.inbox == contact.outbox {
            return Err(MailboxError::Conflict(id.0));
        }
        self.saved.contacts.insert(id, contact);
        self.save()?;
        Ok(true)
    }

    /// Removes contact `id`; returns what it had.
    pub fn remove_contact(&mut self, id: &ContactId) -> Result<Contact, MailboxError> {
        let contact = self
            .saved
            .contacts
            .remove(id)
            .ok_or(MailboxError::NotFound("contact"))?;
        self.save()?;
        Ok(contact)
    }

    /// Every contact, by id.
    pub fn contacts(&self) -> &BTreeMap<ContactId, Contact> {
        &self.saved.contacts
    }

    /// Forgets every token: nothing opens the mailbox any more.
    pub fn wipe(&mut self) -> Result<(), MailboxError> {
        self.saved = Saved {
            secret: random(),
            ..Saved::default()
        };
        self.save()
    }

    fn save(&mut self) -> Result<(), MailboxError> {
        let text = serde_json::to_vec_pretty(&self.saved).expect("the registry serialises");
        let new = self.path.with_extension("json.new");
        let write = || -> std::io::Result<()> {
            let mut file = owner_only::file_options()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&new)?;
            file.write_all(&text)?;
            file.sync_all()?;
            std::fs::rename(&new, &self.path)?;
            if let Some(dir) = self.path.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(MailboxError::disk("saving the registry"))
    }
}

mod digest_hex {
    use super::TokenDigest;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(d: &TokenDigest, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(d.0))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TokenDigest, D::Error> {
        let text = String::deserialize(d)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&text, &mut bytes).map_err(D::Error::custom)?;
        Ok(TokenDigest(bytes))
    }
}

mod option_digest_hex {
    use super::TokenDigest;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<TokenDigest>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::digest_hex::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TokenDigest>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "super::digest_hex")] TokenDigest);
        Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
    }
}

mod secret_hex {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(secret: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(secret))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&text, &mut bytes).map_err(D::Error::custom)?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(n: u8) -> FolderId {
        FolderId::parse(&format!("{n:02x}").repeat(16)).unwrap()
    }

    #[test]
    fn setup_answers_the_same_owner_token_until_the_owner_uses_it_then_the_setup_token_is_nobody() {
        let dir = tempfile::tempdir().unwrap();
        let (mut registry, setup) = Registry::create(dir.path()).unwrap();
        assert_eq!(
            registry.role(&setup).unwrap(),
            Some(Role::Setup(setup.clone()))
        );
        let owner = registry.set_up(&setup).unwrap();
        // The reply was lost: the owner asks again, after a restart of the mailbox even.
        let mut registry = Registry::open(dir.path()).unwrap().unwrap();
        assert_eq!(
            registry.role(&setup).unwrap(),
            Some(Role::Setup(setup.clone()))
        );
        assert_eq!(registry.set_up(&setup).unwrap(), owner);
        assert_eq!(registry.role(&owner).unwrap(), Some(Role::Owner));
        let mut registry = Registry::open(dir.path()).unwrap().unwrap();
        assert_eq!(registry.role(&setup).unwrap(), None);
        assert_eq!(registry.role(&owner).unwrap(), Some(Role::Owner));
        assert_eq!(registry.role(&Token::generate()).unwrap(), None);
    }

    #[test]
    fn a_contact_is_registered_once_and_no_token_or_folder_is_shared() {
        let dir = tempfile::tempdir().unwrap();
        let (mut registry, _) = Registry::create(dir.path()).unwrap();
        let (bob, carol) = (
            ContactId::parse(&"b0".repeat(16)).unwrap(),
            ContactId::parse(&"c0".repeat(16)).unwrap(),
        );
        let token = Token::generate();
        assert!(
            registry
                .add_contact(bob.clone(), &token, folder(1), folder(2))
                .unwrap()
        );
        assert!(
            !registry
                .add_contact(bob.clone(), &token, folder(1), folder(2))
                .unwrap()
        );
        let conflict = |r: Result<bool, MailboxError>| matches!(r, Err(MailboxError::Conflict(_)));
        assert!(conflict(registry.add_contact(
            bob.clone(),
            &token,
            folder(1),
            folder(3)
        )));
        assert!(conflict(registry.add_contact(
            carol.clone(),
            &token,
            folder(3),
            folder(4)
        )));
        let other = Token::generate();
        assert!(conflict(registry.add_contact(
            carol.clone(),
            &other,
            folder(2),
            folder(4)
        )));
        assert!(conflict(registry.add_contact(
            carol.clone(),
            &other,
            folder(5),
            folder(5)
        )));
        assert!(
            registry
                .add_contact(carol.clone(), &other, folder(3), folder(4))
                .unwrap()
        );
        assert_eq!(
            registry.role(&token).unwrap(),
            Some(Role::Contact(bob.clone()))
        );
        let reopened = Registry::open(dir.path()).unwrap().unwrap();
        assert_eq!(reopened.contacts().len(), 2);
        assert_eq!(registry.remove_contact(&bob).unwrap().inbox, folder(1));
        assert_eq!(registry.role(&token).unwrap(), None);
        assert!(matches!(
            registry.remove_contact(&bob),
            Err(MailboxError::NotFound(_))
        ));
    }

    #[test]
    fn names_are_lowercase_hex_of_their_length_and_a_damaged_registry_is_told() {
        assert!(FolderId::parse(&"ab".repeat(16)).is_ok());
        for bad in [
            "AB".repeat(16),
            "ab".repeat(15),
            "../".repeat(11),
            String::new(),
        ] {
            assert!(FolderId::parse(&bad).is_err(), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(REGISTRY_FILE), "{\"secret\": 1}").unwrap();
        assert!(matches!(
            Registry::open(dir.path()),
            Err(MailboxError::Damaged(_))
        ));
    }
}
