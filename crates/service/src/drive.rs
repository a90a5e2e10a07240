//! A removable drive, one shot at a time: `courier drive export DIR` writes what every contact is
//! owed into a folder, `courier drive import DIR` reads what a folder holds. Both run the node with
//! the drive transport alone, aimed at that folder; a running `serve` with `[transports.drive]` does
//! the same on its own, every few seconds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use courier_config::capability::Capability;
use courier_config::world::World;
use courier_config::{Config, PluginEntry};
use courier_node::{Node, Notice, Pacing, ReadOutcome, RunningNode};
use courier_storage::ContactId;

use crate::{Service, ServiceError};

/// The plugin that carries streams on a drive, when the config names none.
pub const DRIVE_PLUGIN: &str = "transport-drive";

/// How long an import waits for the node to make progress before it gives up.
const STALL: Duration = Duration::from_secs(120);

/// What an export wrote: streams per contact alias.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exported {
    /// Files written for each contact, by alias.
    pub files: BTreeMap<String, usize>,
}

impl std::fmt::Display for Exported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.files.is_empty() {
            return f.write_str("nothing to write: no contact is owed a message or an ack");
        }
        let parts: Vec<String> = self
            .files
            .iter()
            .map(|(alias, n)| format!("{} for {alias}", plural(*n, "file")))
            .collect();
        write!(f, "wrote {}", parts.join("; "))
    }
}

/// What an import read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    /// Messages read from each contact, by alias (a contact whose files held only acks shows 0).
    pub messages: BTreeMap<String, usize>,
    /// Files that were no stream for us: a stranger's, one already read, or no stream at all.
    pub not_ours: usize,
    /// Our contacts' files that could not be read whole: each file's name and what was wrong.
    pub damaged: Vec<(String, String)>,
}

impl std::fmt::Display for Imported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts: Vec<String> = self
            .messages
            .iter()
            .map(|(alias, n)| format!("{} from {alias}", plural(*n, "message")))
            .collect();
        if self.not_ours > 0 {
            let files = plural(self.not_ours, "file");
            parts.push(format!("{files} not for us or already read"));
        }
        if !self.damaged.is_empty() {
            // Names a stranger chose: shown escaped, so none can move the cursor or fake a line.
            let names: Vec<String> = self
                .damaged
                .iter()
                .map(|(n, _)| courier_text_safety::for_terminal(n).into_owned())
                .collect();
            let files = plural(self.damaged.len(), "damaged file");
            parts.push(format!("{files} skipped: {}", names.join(", ")));
        }
        if parts.is_empty() {
            return f.write_str("no files to read");
        }
        f.write_str(&parts.join("; "))
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

impl Service {
    /// Writes into `dir` a stream for every contact owed a message or an ack, and says for whom.
    /// `dir` is made if missing (a fresh stick).
    pub fn drive_export(self, config: &Config, dir: &Path) -> Result<Exported, ServiceError> {
        std::fs::create_dir_all(dir).map_err(|source| ServiceError::DriveFolder {
            path: dir.to_owned(),
            source,
        })?;
        let aliases = self.aliases()?;
        let (node, transport) = self.run_drive(config, dir, false)?;
        let flushed = node.handle.flush(&transport);
        let notices: Vec<Notice> = node.notices.try_iter().collect();
        node.stop()?;
        if !flushed {
            return Err(ServiceError::DriveStopped);
        }
        let mut exported = Exported::default();
        for notice in notices {
            if let Notice::Wrote { contact, .. } = notice {
                *exported.files.entry(alias(&aliases, contact)).or_default() += 1;
            }
        }
        Ok(exported)
    }

    /// Reads every file in `dir`: stores what our contacts' streams carry, once, leaves every other
    /// file alone, and says what it did.
    pub fn drive_import(self, config: &Config, dir: &Path) -> Result<Imported, ServiceError> {
        if !dir.is_dir() {
            return Err(ServiceError::DriveFolder {
                path: dir.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
            });
        }
        let aliases = self.aliases()?;
        let (node, _) = self.run_drive(config, dir, true)?;
        let mut imported = Imported::default();
        let outcome = loop {
            match node.notices.recv_timeout(STALL) {
                Ok(Notice::Read { name, outcome, .. }) => imported.count(&aliases, name, outcome),
                Ok(Notice::Scanned { error, .. }) => {
                    break error.map(ServiceError::DriveUnreadable);
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    break Some(ServiceError::DriveStopped);
                }
            }
        };
        node.stop()?;
        match outcome {
            Some(error) => Err(error),
            None => Ok(imported),
        }
    }

    /// Starts the node with the drive transport alone, on `dir`, reading it once if `read`; returns
    /// it with the transport's id.
    fn run_drive(
        self,
        config: &Config,
        dir: &Path,
        read: bool,
    ) -> Result<(RunningNode, String), ServiceError> {
        let config = drive_only(config, dir, read);
        let node = Node::spawn_paced(
            self.into_database(),
            &config,
            courier_drivers::all(),
            Pacing::default(),
        )?;
        let transport = node
            .handle
            .transports()
            .and_then(|ts| ts.into_iter().find(|t| t.simplex))
            .map(|t| t.transport);
        match transport {
            Some(transport) => Ok((node, transport)),
            None => {
                node.stop()?;
                Err(ServiceError::DriveStopped)
            }
        }
    }
}

impl Imported {
    fn count(
        &mut self,
        aliases: &BTreeMap<ContactId, String>,
        name: Option<String>,
        outcome: ReadOutcome,
    ) {
        match outcome {
            ReadOutcome::From { contact, messages } => {
                *self.messages.entry(alias(aliases, contact)).or_default() += messages;
            }
            ReadOutcome::NotOurs => self.not_ours += 1,
            ReadOutcome::Damaged { reason } => self
                .damaged
                .push((name.unwrap_or_else(|| "(unnamed)".into()), reason)),
        }
    }
}

fn alias(aliases: &BTreeMap<ContactId, String>, contact: ContactId) -> String {
    aliases
        .get(&contact)
        .cloned()
        .unwrap_or_else(|| "a contact added meanwhile".into())
}

/// `config` with its drive transport alone (or the built-in one, if it has none), on `dir`, not
/// ticking on its own: reading `dir` once if `read`, writing only when asked. Its message types stay,
/// so what a stream tells contacts about them stays true.
pub fn drive_only(config: &Config, dir: &Path, read: bool) -> Config {
    let mut drive = config
        .plugins
        .iter()
        .find(|p| p.world == World::Transport && (p.section == "drive" || p.plugin == DRIVE_PLUGIN))
        .cloned()
        .unwrap_or_else(builtin_drive);
    drive.grants.files_dir = Some(PathBuf::from(dir));
    drive.settings.retain(|(k, _)| k != "scan" && k != "write");
    drive.settings.push(("scan".into(), read.to_string()));
    drive.settings.push(("write".into(), "false".into()));
    let mut only = config.clone();
    only.plugins.retain(|p| p.world != World::Transport);
    only.plugins.insert(0, drive);
    only
}

fn builtin_drive() -> PluginEntry {
    let at = courier_config::Location {
        key: "transports.drive".into(),
        line: 0,
    };
    PluginEntry {
        section: "drive".into(),
        world: World::Transport,
        plugin: DRIVE_PLUGIN.into(),
        grants: courier_config::capability::Grants {
            capabilities: vec![
                Capability::Files,
                Capability::Log,
                Capability::Clock,
                Capability::Random,
            ],
            ..Default::default()
        },
        settings: Vec::new(),
        limits: Default::default(),
        at: at.clone(),
        grant_at: at.clone(),
        settings_at: at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_says_in_one_line_what_it_read_and_what_it_left() {
        let mut imported = Imported::default();
        let aliases = BTreeMap::from([(1, "bob".to_owned())]);
        let from_bob = |messages| ReadOutcome::From {
            contact: 1,
            messages,
        };
        imported.count(&aliases, Some("a1".into()), from_bob(2));
        imported.count(&aliases, Some("b2".into()), from_bob(1));
        imported.count(&aliases, Some("c3".into()), ReadOutcome::NotOurs);
        let reason = "frame 3 failed authentication".to_owned();
        imported.count(&aliases, Some("d4".into()), ReadOutcome::Damaged { reason });
        assert_eq!(
            imported.to_string(),
            "3 messages from bob; 1 file not for us or already read; 1 damaged file skipped: d4"
        );
        assert_eq!(Imported::default().to_string(), "no files to read");
    }

    #[test]
    fn an_export_says_for_whom_it_wrote_or_that_nobody_was_owed_anything() {
        let exported = Exported {
            files: BTreeMap::from([("bob".into(), 3), ("carol".into(), 1)]),
        };
        assert_eq!(
            exported.to_string(),
            "wrote 3 files for bob; 1 file for carol"
        );
        assert_eq!(
            Exported::default().to_string(),
            "nothing to write: no contact is owed a message or an ack"
        );
    }
}
