//! A message's attachment handed out whole: found by an id prefix, checked by its plugin, and saved
//! to a new file.

use std::io::Write as _;
use std::path::Path;

use courier_local_fs::owner_only;
use courier_proto::sync::record::MessageId;
use courier_storage::{ContactId, Content, Direction, Entry, Payload};

use crate::Service;
use crate::error::ServiceError;

/// The fewest hex digits of a message id that name it.
const MIN_ID_PREFIX: usize = 8;

/// A message's content, whole and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its content type.
    pub content_type: String,
    /// Its payload, as the plugin's `validate` passed it (a received image opens as is).
    pub bytes: Vec<u8>,
}

impl Service {
    /// The content of the message whose id starts with `prefix` (at least 8 hex digits, as a
    /// conversation list shows), if all of it is there and it passes its plugin's checks.
    pub fn attachment(&mut self, prefix: &str) -> Result<Attachment, ServiceError> {
        let (contact, entry) = self.find_message(prefix)?;
        let content = self.db.content(contact, &entry)?;
        self.checked(content, entry.direction)
    }

    /// `content`, whole, as its plugin's `validate` passes it (a message's or a group post's).
    pub(crate) fn checked(
        &mut self,
        content: Content,
        direction: Direction,
    ) -> Result<Attachment, ServiceError> {
        let bytes = match content.payload {
            Payload::Complete(payload) => payload,
            Payload::Partial { received, total } => {
                return Err(ServiceError::StillArriving { received, total });
            }
            Payload::Damaged(why) => {
                tracing::debug!(%why, "not saving a damaged attachment");
                return Err(ServiceError::Damaged(direction));
            }
        };
        if let Some(plugin) = self
            .plugins()?
            .message_type_if_loaded(&content.content_type)
        {
            plugin
                .validate(&bytes, content.version)
                .map_err(ServiceError::InvalidContent)?;
        }
        Ok(Attachment {
            content_type: content.content_type,
            bytes,
        })
    }

    /// The message whose id is `prefix` or starts with it (8+ hex digits), and its contact.
    pub(crate) fn find_message(&self, prefix: &str) -> Result<(ContactId, Entry), ServiceError> {
        let contacts: Vec<ContactId> = self.db.contacts()?.into_iter().map(|c| c.id).collect();
        self.find_message_among(&contacts, prefix)
    }

    /// [`Self::find_message`] among the conversations with `contacts` only.
    pub(crate) fn find_message_among(
        &self,
        contacts: &[ContactId],
        prefix: &str,
    ) -> Result<(ContactId, Entry), ServiceError> {
        if prefix.len() < MIN_ID_PREFIX || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ServiceError::BadMessageId(prefix.to_owned()));
        }
        let prefix = prefix.to_ascii_lowercase();
        let (first, last) =
            id_range(&prefix).ok_or_else(|| ServiceError::BadMessageId(prefix.clone()))?;
        let mut found = Vec::new();
        for &contact in contacts {
            for entry in self.db.entries_between(contact, &first, &last)? {
                found.push((contact, entry));
            }
        }
        match found.len() {
            0 => Err(ServiceError::NoSuchMessage(prefix)),
            1 => Ok(found.remove(0)),
            count => Err(ServiceError::AmbiguousMessageId { prefix, count }),
        }
    }

    /// Writes the attachment of message `prefix` to `file`, a new file only its owner reads; an
    /// existing file is never overwritten.
    pub fn save_attachment(
        &mut self,
        prefix: &str,
        file: &Path,
    ) -> Result<Attachment, ServiceError> {
        let attachment = self.attachment(prefix)?;
        write_new(file, &attachment.bytes)?;
        Ok(attachment)
    }
}

/// Writes `bytes` to `file`, a new file only its owner reads; an existing file is never
/// overwritten.
pub(crate) fn write_new(file: &Path, bytes: &[u8]) -> Result<(), ServiceError> {
    let mut out = owner_only::file_options()
        .write(true)
        .create_new(true)
        .open(file)
        .map_err(|source| ServiceError::CreateFile {
            path: file.to_owned(),
            source,
        })?;
    out.write_all(bytes)
        .and_then(|()| out.sync_all())
        .map_err(|source| ServiceError::WriteFile {
            path: file.to_owned(),
            source,
        })
}

/// The first and last ids that begin with `prefix` (lowercase hex digits, at most a whole id).
pub(crate) fn id_range(prefix: &str) -> Option<(MessageId, MessageId)> {
    let id = |fill: char| -> Option<MessageId> {
        let digits: String = prefix
            .chars()
            .chain(std::iter::repeat(fill))
            .take(64)
            .collect();
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(digits, &mut bytes).ok()?;
        Some(MessageId(bytes))
    };
    if prefix.len() > 64 {
        return None;
    }
    Some((id('0')?, id('f')?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_names_the_ids_from_it_padded_with_zeros_to_it_padded_with_fs() {
        let (first, last) = id_range("0a1b2c3").unwrap();
        assert_eq!(hex::encode(first.0), format!("0a1b2c3{}", "0".repeat(57)));
        assert_eq!(hex::encode(last.0), format!("0a1b2c3{}", "f".repeat(57)));
        let whole = "ab".repeat(32);
        let (first, last) = id_range(&whole).unwrap();
        assert_eq!(
            (hex::encode(first.0), hex::encode(last.0)),
            (whole.clone(), whole.clone())
        );
        assert!(id_range(&format!("{whole}0")).is_none());
        assert!(id_range("0a1b2c3g").is_none());
    }
}
