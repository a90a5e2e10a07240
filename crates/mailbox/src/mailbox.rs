//! One mailbox: its config, registry, folders and rate limit, each use checked against the role of
//! the token that asks. The routes hold it behind one lock; every method is synchronous.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use courier_local_fs::owner_only;

use crate::access::{Use, may};
use crate::folders::{FileEntry, Folders};
use crate::rate::RateLimit;
use crate::registry::{ContactId, FolderId, Registry, Role};
use crate::token::Token;
use crate::{MailboxConfig, MailboxError};

/// A mailbox over its data directory.
#[derive(Debug)]
pub struct Mailbox {
    dir: PathBuf,
    config: MailboxConfig,
    registry: Registry,
    folders: Folders,
    uploads: RateLimit<String>,
    /// Files downloaded, and when: each is deleted [`FETCHED_GRACE_MS`] later if its fetcher has
    /// not deleted it by then. Kept in memory: after a restart, such a file waits for its fetcher's
    /// delete or the retention.
    fetched: HashMap<(FolderId, String), u64>,
}

/// How long a downloaded file is kept for its fetcher to delete it (a download cut short is asked
/// again within it).
pub const FETCHED_GRACE_MS: u64 = 10 * 60 * 1000;

impl Mailbox {
    /// The mailbox of `dir` (made if absent). A mailbox nobody can open (new, or wiped) gets a new
    /// setup token, returned to be shown to its owner once.
    pub fn open(dir: &Path) -> Result<(Mailbox, Option<Token>), MailboxError> {
        owner_only::create_dir_all(dir).map_err(MailboxError::disk("making the data directory"))?;
        let config = MailboxConfig::load(dir)?;
        let (registry, setup) = match Registry::open(dir)? {
            Some(registry) if !registry.unopenable() => (registry, None),
            _ => {
                let (registry, setup) = Registry::create(dir)?;
                (registry, Some(setup))
            }
        };
        let mailbox = Mailbox {
            dir: dir.to_owned(),
            uploads: RateLimit::new(config.uploads_per_minute),
            fetched: HashMap::new(),
            folders: Folders::open(dir)?,
            config,
            registry,
        };
        Ok((mailbox, setup))
    }

    /// Its data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its config.
    pub fn config(&self) -> &MailboxConfig {
        &self.config
    }

    /// Who `token` is, if anyone.
    pub fn role(&mut self, token: &Token) -> Result<Option<Role>, MailboxError> {
        self.registry.role(token)
    }

    /// The owner's token, asked for with the setup token.
    pub fn set_up(&mut self, role: &Role) -> Result<Token, MailboxError> {
        match role {
            Role::Setup(setup) => self.registry.set_up(setup),
            _ => Err(MailboxError::NotFound("setup")),
        }
    }

    /// Registers a contact (the owner only).
    pub fn add_contact(
        &mut self,
        role: &Role,
        id: ContactId,
        token: &Token,
        inbox: FolderId,
        outbox: FolderId,
    ) -> Result<bool, MailboxError> {
        self.owner(role)?;
        self.registry.add_contact(id, token, inbox, outbox)
    }

    /// Removes a contact and their folders (the owner only).
    pub fn remove_contact(&mut self, role: &Role, id: &ContactId) -> Result<(), MailboxError> {
        self.owner(role)?;
        let contact = self.registry.remove_contact(id)?;
        self.folders.remove(&contact.inbox)?;
        self.folders.remove(&contact.outbox)
    }

    /// Every contact's id (the owner only).
    pub fn contacts(&self, role: &Role) -> Result<Vec<ContactId>, MailboxError> {
        self.owner(role)?;
        Ok(self.registry.contacts().keys().cloned().collect())
    }

    /// Stores `bytes` in `folder` for `role`, within the size limit, the quotas and the rate.
    pub fn upload(
        &mut self,
        role: &Role,
        folder: &FolderId,
        bytes: &[u8],
        now_ms: u64,
        now: Instant,
    ) -> Result<String, MailboxError> {
        self.check(role, folder, Use::Upload)?;
        // Every attempt counts, refused or not: a flood against a full folder is still a flood.
        let key = match role {
            Role::Contact(id) => id.as_str().to_owned(),
            _ => "owner".to_owned(),
        };
        self.uploads
            .take(key, now)
            .map_err(|wait| MailboxError::RateLimited {
                retry_after_secs: wait.as_secs() + 1,
            })?;
        let size = bytes.len() as u64;
        if size > self.config.max_file_bytes {
            return Err(MailboxError::TooLarge {
                size,
                limit: self.config.max_file_bytes,
            });
        }
        if self.folders.usage(folder) + size > self.config.folder_quota_bytes {
            return Err(MailboxError::QuotaFull {
                which: "folder",
                limit: self.config.folder_quota_bytes,
            });
        }
        if self.folders.total() + size > self.config.total_quota_bytes {
            return Err(MailboxError::QuotaFull {
                which: "mailbox",
                limit: self.config.total_quota_bytes,
            });
        }
        self.folders.put(folder, bytes, now_ms)
    }

    /// The folders `role` fetches from that hold a file: one request tells a node with many
    /// contacts which folders to list.
    pub fn waiting(&self, role: &Role) -> Result<Vec<FolderId>, MailboxError> {
        if matches!(role, Role::Setup(_)) {
            return Err(MailboxError::NotFound("folders"));
        }
        let mut waiting = Vec::new();
        for folder in crate::access::fetched_by(&self.registry, role) {
            if !self.folders.list(&folder)?.is_empty() {
                waiting.push(folder);
            }
        }
        Ok(waiting)
    }

    /// The files of `folder`, oldest first.
    pub fn list(&self, role: &Role, folder: &FolderId) -> Result<Vec<FileEntry>, MailboxError> {
        self.check(role, folder, Use::Fetch)?;
        self.folders.list(folder)
    }

    /// File `name` of `folder`, downloaded at `now_ms`: it goes [`FETCHED_GRACE_MS`] later.
    pub fn download(
        &mut self,
        role: &Role,
        folder: &FolderId,
        name: &str,
        now_ms: u64,
    ) -> Result<Vec<u8>, MailboxError> {
        self.check(role, folder, Use::Fetch)?;
        let bytes = self.folders.get(folder, name)?;
        self.fetched
            .entry((folder.clone(), name.to_owned()))
            .or_insert(now_ms);
        Ok(bytes)
    }

    /// Deletes file `name` of `folder`: what its fetcher does once it has it.
    pub fn delete(
        &mut self,
        role: &Role,
        folder: &FolderId,
        name: &str,
    ) -> Result<(), MailboxError> {
        self.check(role, folder, Use::Fetch)?;
        self.fetched.remove(&(folder.clone(), name.to_owned()));
        self.folders.delete(folder, name)
    }

    /// Deletes what was downloaded more than [`FETCHED_GRACE_MS`] ago and what nobody fetched
    /// within the retention; returns how many files.
    pub fn sweep(&mut self, now_ms: u64) -> Result<usize, MailboxError> {
        let due: Vec<(FolderId, String)> = self
            .fetched
            .iter()
            .filter(|(_, at)| now_ms.saturating_sub(**at) >= FETCHED_GRACE_MS)
            .map(|(file, _)| file.clone())
            .collect();
        let mut deleted = 0;
        for (folder, name) in due {
            self.fetched.remove(&(folder.clone(), name.clone()));
            match self.folders.delete(&folder, &name) {
                Ok(()) => deleted += 1,
                // Its folder went with its contact, or a wipe took it.
                Err(MailboxError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted
            + self
                .folders
                .sweep(now_ms.saturating_sub(self.config.retention_ms()))?)
    }

    /// Deletes every file and forgets every token (the owner only). The mailbox then opens for no
    /// one until it is started again, with a new setup token.
    pub fn wipe(&mut self, role: &Role) -> Result<(), MailboxError> {
        self.owner(role)?;
        self.folders.wipe()?;
        self.registry.wipe()
    }

    fn owner(&self, role: &Role) -> Result<(), MailboxError> {
        match role {
            Role::Owner => Ok(()),
            _ => Err(MailboxError::NotFound("route")),
        }
    }

    fn check(&self, role: &Role, folder: &FolderId, use_: Use) -> Result<(), MailboxError> {
        if may(&self.registry, role, folder, use_) {
            Ok(())
        } else {
            Err(MailboxError::NotFound("folder"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_downloaded_file_goes_after_the_grace_one_never_fetched_after_the_retention() {
        let dir = tempfile::tempdir().unwrap();
        let (mut mailbox, setup) = Mailbox::open(dir.path()).unwrap();
        let setup = Role::Setup(setup.unwrap());
        let owner = mailbox.set_up(&setup).unwrap();
        assert_eq!(mailbox.role(&owner).unwrap(), Some(Role::Owner));
        let (bob, token) = (
            ContactId::parse(&"b0".repeat(16)).unwrap(),
            Token::generate(),
        );
        let (inbox, outbox) = (FolderId::generate(), FolderId::generate());
        mailbox
            .add_contact(&Role::Owner, bob.clone(), &token, inbox.clone(), outbox)
            .unwrap();
        let bob = Role::Contact(bob);
        let day = 86_400_000;
        let now = Instant::now();
        let fetched = mailbox.upload(&bob, &inbox, b"fetched", day, now).unwrap();
        let waiting = mailbox.upload(&bob, &inbox, b"waiting", day, now).unwrap();
        assert_eq!(
            mailbox
                .download(&Role::Owner, &inbox, &fetched, 2 * day)
                .unwrap(),
            b"fetched"
        );
        let names = |m: &Mailbox| -> Vec<String> {
            m.list(&Role::Owner, &inbox)
                .unwrap()
                .into_iter()
                .map(|f| f.name)
                .collect()
        };
        // Within the grace it is still there (a download cut short is asked again).
        assert_eq!(mailbox.sweep(2 * day + FETCHED_GRACE_MS - 1).unwrap(), 0);
        assert_eq!(names(&mailbox).len(), 2);
        assert_eq!(mailbox.sweep(2 * day + FETCHED_GRACE_MS).unwrap(), 1);
        assert_eq!(names(&mailbox), [waiting]);
        // The one nobody fetched stays the 14 days, then goes.
        let retention = mailbox.config().retention_ms();
        assert_eq!(mailbox.sweep(day + retention).unwrap(), 0);
        assert_eq!(mailbox.sweep(day + retention + 1).unwrap(), 1);
        assert!(names(&mailbox).is_empty());
    }

    #[test]
    fn a_file_its_fetcher_deleted_is_not_swept_again() {
        let dir = tempfile::tempdir().unwrap();
        let (mut mailbox, setup) = Mailbox::open(dir.path()).unwrap();
        mailbox.set_up(&Role::Setup(setup.unwrap())).unwrap();
        let (bob, token) = (
            ContactId::parse(&"b0".repeat(16)).unwrap(),
            Token::generate(),
        );
        let inbox = FolderId::generate();
        mailbox
            .add_contact(
                &Role::Owner,
                bob.clone(),
                &token,
                inbox.clone(),
                FolderId::generate(),
            )
            .unwrap();
        let name = mailbox
            .upload(&Role::Contact(bob), &inbox, b"x", 1, Instant::now())
            .unwrap();
        mailbox.download(&Role::Owner, &inbox, &name, 2).unwrap();
        mailbox.delete(&Role::Owner, &inbox, &name).unwrap();
        assert_eq!(mailbox.sweep(2 + FETCHED_GRACE_MS).unwrap(), 0);
    }
}
