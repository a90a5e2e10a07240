//! One mailbox: its config, registry, folders and rate limit, each use checked against the role of
//! the token that asks. The routes hold it behind one lock; every method is synchronous.

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
}

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

    /// The files of `folder`, oldest first.
    pub fn list(&self, role: &Role, folder: &FolderId) -> Result<Vec<FileEntry>, MailboxError> {
        self.check(role, folder, Use::Fetch)?;
        self.folders.list(folder)
    }

    /// File `name` of `folder`.
    pub fn download(
        &self,
        role: &Role,
        folder: &FolderId,
        name: &str,
    ) -> Result<Vec<u8>, MailboxError> {
        self.check(role, folder, Use::Fetch)?;
        self.folders.get(folder, name)
    }

    /// Deletes file `name` of `folder`: what its fetcher does once it has it.
    pub fn delete(
        &mut self,
        role: &Role,
        folder: &FolderId,
        name: &str,
    ) -> Result<(), MailboxError> {
        self.check(role, folder, Use::Fetch)?;
        self.folders.delete(folder, name)
    }

    /// Deletes what nobody fetched within the retention; returns how many files.
    pub fn sweep(&mut self, now_ms: u64) -> Result<usize, MailboxError> {
        self.folders
            .sweep(now_ms.saturating_sub(self.config.retention_ms()))
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
