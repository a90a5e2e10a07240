//! Attachment chunks kept beside the database instead of in it: one append-only file per contact and
//! direction, each chunk sealed on its own (XChaCha20-Poly1305) under a key that lives inside the
//! encrypted database. SQLCipher encrypts, authenticates and journals every 4 KiB page twice (WAL, then
//! checkpoint); a chunk here is sealed once and written once.
//!
//! The database row of a packed chunk holds where its record is; the record is fsync'd before that row
//! commits, so a committed row never points at bytes that are not on disk. A crash between the two
//! leaves unreferenced bytes at a pack's end, which later appends step over.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{ContactId, StorageError};
use courier_local_fs::owner_only;
use courier_proto::sync::attachment::CHUNK_TYPE;
use courier_proto::sync::record::{Message, MessageId};

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// What the packs folder's name adds to the database's file name.
pub(super) const CHUNKS_SUFFIX: &str = ".chunks";

/// Which side of a conversation a pack holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Side {
    /// Chunks we send.
    Outgoing,
    /// Chunks we received.
    Incoming,
}

impl Side {
    fn byte(self) -> u8 {
        match self {
            Side::Outgoing => b'o',
            Side::Incoming => b'i',
        }
    }
}

/// Where a chunk's sealed record is in its pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PackRef {
    /// Byte offset of the record.
    pub offset: u64,
    /// Length of the record: nonce, sealed chunk and tag.
    pub len: u64,
}

impl PackRef {
    /// The place a row's `pack_offset` and `pack_len` columns hold, if the row is packed.
    pub fn from_columns(offset: Option<i64>, len: Option<i64>) -> Option<PackRef> {
        Some(PackRef {
            offset: u64::try_from(offset?).ok()?,
            len: u64::try_from(len?).ok()?,
        })
    }

    /// Length of the chunk the record seals.
    pub fn body_len(self) -> u64 {
        self.len.saturating_sub((NONCE_LEN + TAG_LEN) as u64)
    }
}

/// What a new row of a message holds: its body, or an empty body and its record's place in a pack.
pub(super) type Stowed<'m> = (&'m [u8], Option<PackRef>);

/// The packs of one database.
pub(super) struct ChunkPacks {
    dir: PathBuf,
    key: Zeroizing<[u8; 32]>,
    unsynced: HashSet<PathBuf>,
}

impl ChunkPacks {
    /// The packs of the database at `database`, in the folder beside it, sealed under `key`.
    pub fn new(database: &Path, key: Zeroizing<[u8; 32]>) -> ChunkPacks {
        let mut name = database.file_name().unwrap_or_default().to_os_string();
        name.push(CHUNKS_SUFFIX);
        ChunkPacks {
            dir: database.with_file_name(name),
            key,
            unsynced: HashSet::new(),
        }
    }

    /// The pack file of `contact`'s `side`. Its name is keyed so the folder does not tell which
    /// contact ids have attachments.
    fn path(&self, side: Side, contact: ContactId) -> PathBuf {
        let mut hash = Sha256::new();
        hash.update(b"courier chunk pack name");
        hash.update(&self.key[..]);
        hash.update([side.byte()]);
        hash.update(contact.to_be_bytes());
        self.dir
            .join(format!("{}.pack", hex::encode(&hash.finalize()[..16])))
    }

    /// What a record is bound to, so a record cannot be moved to another message, contact or side.
    fn associated(side: Side, contact: ContactId, id: &MessageId) -> [u8; 41] {
        let mut data = [0u8; 41];
        data[0] = side.byte();
        data[1..9].copy_from_slice(&contact.to_be_bytes());
        data[9..].copy_from_slice(&id.0);
        data
    }

    /// Seals `body`, message `id` of `contact`'s `side`, onto the end of its pack. It is on disk once
    /// [`ChunkPacks::sync`] returns.
    fn append(
        &mut self,
        side: Side,
        contact: ContactId,
        id: &MessageId,
        body: &[u8],
    ) -> Result<PackRef, StorageError> {
        let record = self.seal(side, contact, id, body);
        let (path, mut file) = self.open_end(side, contact)?;
        Self::write_record(&path, &mut file, &record)
    }

    /// The sealed record of `body`, message `id` of `contact`'s `side`: nonce, sealed chunk and tag.
    fn seal(&self, side: Side, contact: ContactId, id: &MessageId, body: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the OS random number generator is available");
        let mut record = Vec::with_capacity(NONCE_LEN + body.len() + TAG_LEN);
        record.extend_from_slice(&nonce);
        record.extend_from_slice(body);
        let tag = XChaCha20Poly1305::new((&*self.key).into())
            .encrypt_in_place_detached(
                XNonce::from_slice(&nonce),
                &Self::associated(side, contact, id),
                &mut record[NONCE_LEN..],
            )
            .expect("a chunk is far below the AEAD's length limit");
        record.extend_from_slice(&tag);
        record
    }

    /// `contact`'s `side` pack, opened to append, and its path; it counts as unsynced from here on.
    fn open_end(
        &mut self,
        side: Side,
        contact: ContactId,
    ) -> Result<(PathBuf, File), StorageError> {
        let path = self.path(side, contact);
        // Every append happens under the database's write lock, so no other process appends to this
        // pack between finding its end and writing there.
        let open = || {
            owner_only::file_options()
                .create(true)
                .append(true)
                .open(&path)
        };
        let file = match open() {
            // The folder is made once, by the first chunk, not looked up for every chunk.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                owner_only::create_dir_all(&self.dir)
                    .map_err(|source| pack_error(&path, source))?;
                open()
            }
            other => other,
        }
        .map_err(|source| pack_error(&path, source))?;
        self.unsynced.insert(path.clone());
        Ok((path, file))
    }

    /// Writes `record` at the end of `file`, the pack at `path`; where it went.
    fn write_record(path: &Path, file: &mut File, record: &[u8]) -> Result<PackRef, StorageError> {
        let offset = file
            .seek(SeekFrom::End(0))
            .and_then(|offset| file.write_all(record).map(|()| offset))
            .map_err(|source| pack_error(path, source))?;
        Ok(PackRef {
            offset,
            len: record.len() as u64,
        })
    }

    /// Whether `message` goes into a pack: a chunk does, anything else stays in its row.
    fn packed(message: &Message) -> bool {
        message.content_type == CHUNK_TYPE
    }

    /// What a new row for `message`, id `id`, holds: a chunk goes into its pack (an empty body and
    /// its place), anything else stays in the row.
    pub fn stow<'m>(
        &mut self,
        side: Side,
        contact: ContactId,
        id: &MessageId,
        message: &'m Message,
    ) -> Result<Stowed<'m>, StorageError> {
        if !Self::packed(message) {
            return Ok((&message.body, None));
        }
        let at = self.append(side, contact, id, &message.body)?;
        Ok((&[], Some(at)))
    }

    /// [`stow`](Self::stow) for each of `messages`, all of `contact`'s `side`, in order: the chunks
    /// among them sealed on every core a batch at a time, then appended in order.
    pub fn stow_all<'m>(
        &mut self,
        side: Side,
        contact: ContactId,
        messages: &[(MessageId, &'m Message)],
    ) -> Result<Vec<Stowed<'m>>, StorageError> {
        let mut rows = Vec::with_capacity(messages.len());
        // A batch bounds what is sealed but not yet written: 32 chunks, 2 MiB.
        for batch in messages.chunks(32) {
            let seal = |(id, message): &(MessageId, &Message)| {
                Self::packed(message).then(|| self.seal(side, contact, id, &message.body))
            };
            // A text's send stows one message: handing it to the pool and waiting for it would
            // only add a thread's wake-up to every send.
            let records: Vec<Option<Vec<u8>>> = if batch.len() > 1 {
                batch.par_iter().map(seal).collect()
            } else {
                batch.iter().map(seal).collect()
            };
            let mut pack = None;
            for ((_, message), record) in batch.iter().zip(records) {
                let Some(record) = record else {
                    rows.push((&message.body[..], None));
                    continue;
                };
                let (path, file) = match &mut pack {
                    Some(open) => open,
                    None => pack.insert(self.open_end(side, contact)?),
                };
                rows.push((&[][..], Some(Self::write_record(path, file, &record)?)));
            }
        }
        Ok(rows)
    }

    /// `message`, read from a row, with its body back from the pack if the row is packed.
    pub fn unstow(
        &self,
        side: Side,
        contact: ContactId,
        mut message: Message,
        id: &MessageId,
        packed: Option<PackRef>,
    ) -> Result<Message, StorageError> {
        if let Some(at) = packed {
            message.body = self.read(side, contact, id, at)?;
        }
        Ok(message)
    }

    /// Puts every record appended since the last call on disk. Called before the rows that point at
    /// them commit.
    pub fn sync(&mut self) -> Result<(), StorageError> {
        for path in std::mem::take(&mut self.unsynced) {
            File::open(&path)
                .and_then(|file| file.sync_data())
                .map_err(|source| pack_error(&path, source))?;
        }
        Ok(())
    }

    /// The chunk `id` of `contact`'s `side` at `at`, checked against its seal.
    pub fn read(
        &self,
        side: Side,
        contact: ContactId,
        id: &MessageId,
        at: PackRef,
    ) -> Result<Vec<u8>, StorageError> {
        let path = self.path(side, contact);
        let damaged = || StorageError::PackDamaged {
            path: path.display().to_string(),
        };
        if at.len < (NONCE_LEN + TAG_LEN) as u64 {
            return Err(damaged());
        }
        let mut record = vec![0u8; usize::try_from(at.len).map_err(|_| damaged())?];
        File::open(&path)
            .and_then(|mut file| {
                file.seek(SeekFrom::Start(at.offset))?;
                file.read_exact(&mut record)
            })
            .map_err(|source| match source.kind() {
                // A pack deleted or cut short lost chunks, just as changed bytes do.
                std::io::ErrorKind::NotFound | std::io::ErrorKind::UnexpectedEof => damaged(),
                _ => pack_error(&path, source),
            })?;
        let (nonce, rest) = record.split_at_mut(NONCE_LEN);
        let (sealed, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
        XChaCha20Poly1305::new((&*self.key).into())
            .decrypt_in_place_detached(
                XNonce::from_slice(nonce),
                &Self::associated(side, contact, id),
                sealed,
                (&*tag).into(),
            )
            .map_err(|_| damaged())?;
        let body_len = sealed.len();
        record.copy_within(NONCE_LEN..NONCE_LEN + body_len, 0);
        record.truncate(body_len);
        Ok(record)
    }

    /// Overwrites the record at `at` in `contact`'s `side` pack with zeros, on disk when this
    /// returns: a chunk deleted is gone from the pack's blocks, not only unreferenced.
    pub fn erase(
        &mut self,
        side: Side,
        contact: ContactId,
        at: PackRef,
    ) -> Result<(), StorageError> {
        let path = self.path(side, contact);
        let io = |source| pack_error(&path, source);
        let mut file = match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(e)),
        };
        let len =
            usize::try_from(at.len).map_err(|_| io(std::io::ErrorKind::InvalidInput.into()))?;
        file.seek(SeekFrom::Start(at.offset)).map_err(io)?;
        file.write_all(&vec![0u8; len]).map_err(io)?;
        file.sync_data().map_err(io)
    }

    /// Deletes `contact`'s `side` pack, which no row points into any more.
    pub fn remove_side(&mut self, side: Side, contact: ContactId) -> Result<(), StorageError> {
        let path = self.path(side, contact);
        self.unsynced.remove(&path);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(pack_error(&path, source)),
        }
    }

    /// Deletes both packs of `contact`, whose rows are gone.
    pub fn remove(&mut self, contact: ContactId) -> Result<(), StorageError> {
        for side in [Side::Outgoing, Side::Incoming] {
            self.remove_side(side, contact)?;
        }
        Ok(())
    }
}

/// What went wrong with the pack at `path`.
fn pack_error(path: &Path, source: std::io::Error) -> StorageError {
    StorageError::Pack {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packs(dir: &Path) -> ChunkPacks {
        ChunkPacks::new(&dir.join("courier.db"), Zeroizing::new([9u8; 32]))
    }

    #[test]
    fn a_chunk_reads_back_only_as_the_message_side_and_contact_it_was_sealed_for() {
        let dir = tempfile::tempdir().unwrap();
        let mut packs = packs(dir.path());
        let id = MessageId([1; 32]);
        let first = packs.append(Side::Outgoing, 1, &id, b"first").unwrap();
        let second = packs
            .append(Side::Outgoing, 1, &MessageId([2; 32]), &[7u8; 70_000])
            .unwrap();
        packs.sync().unwrap();
        assert_eq!(second.offset, first.len);
        assert_eq!(second.body_len(), 70_000);
        assert_eq!(packs.read(Side::Outgoing, 1, &id, first).unwrap(), b"first");
        assert_eq!(
            packs
                .read(Side::Outgoing, 1, &MessageId([2; 32]), second)
                .unwrap(),
            vec![7u8; 70_000]
        );
        // The same bytes asked for as another message, or from a contact's other pack, do not open.
        assert!(matches!(
            packs.read(Side::Outgoing, 1, &MessageId([2; 32]), first),
            Err(StorageError::PackDamaged { .. })
        ));
        assert!(matches!(
            packs.read(Side::Incoming, 1, &id, first),
            Err(StorageError::PackDamaged { .. })
        ));
    }

    #[test]
    fn a_changed_byte_a_cut_pack_or_a_deleted_one_is_damage_not_returned_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut packs = packs(dir.path());
        let id = MessageId([3; 32]);
        let at = packs
            .append(Side::Incoming, 4, &id, b"secret chunk")
            .unwrap();
        packs.sync().unwrap();
        let path = packs.path(Side::Incoming, 4);
        let mut bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(12).any(|w| w == b"secret chunk"),
            "the pack holds the chunk sealed, not in the clear"
        );
        bytes[30] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            packs.read(Side::Incoming, 4, &id, at),
            Err(StorageError::PackDamaged { .. })
        ));
        std::fs::write(&path, &bytes[..10]).unwrap();
        assert!(matches!(
            packs.read(Side::Incoming, 4, &id, at),
            Err(StorageError::PackDamaged { .. })
        ));
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            packs.read(Side::Incoming, 4, &id, at),
            Err(StorageError::PackDamaged { .. })
        ));
    }

    #[test]
    fn removing_a_contact_deletes_its_packs_and_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let mut packs = packs(dir.path());
        let id = MessageId([5; 32]);
        packs.append(Side::Outgoing, 1, &id, b"to one").unwrap();
        packs.append(Side::Incoming, 1, &id, b"from one").unwrap();
        let kept = packs.append(Side::Outgoing, 2, &id, b"to two").unwrap();
        packs.sync().unwrap();
        packs.remove(1).unwrap();
        assert!(!packs.path(Side::Outgoing, 1).exists());
        assert!(!packs.path(Side::Incoming, 1).exists());
        assert_eq!(packs.read(Side::Outgoing, 2, &id, kept).unwrap(), b"to two");
    }

    #[test]
    fn an_attachments_chunks_stowed_at_once_land_in_order_each_under_its_own_id_and_a_text_stays_in_its_row()
     {
        let dir = tempfile::tempdir().unwrap();
        let mut packs = packs(dir.path());
        let chunk = |n: u8| Message {
            timestamp_ms: 1,
            content_type: CHUNK_TYPE.into(),
            type_version: 1,
            fallback: String::new(),
            body: vec![n; 1000 + usize::from(n)],
        };
        // More than one batch, and a message that is no chunk among them.
        let mut messages: Vec<Message> = (0..70).map(chunk).collect();
        messages.insert(
            40,
            Message {
                content_type: "courier/text".into(),
                body: b"stays in its row".to_vec(),
                ..chunk(0)
            },
        );
        let ids: Vec<(MessageId, &Message)> = messages.iter().map(|m| (m.id(), m)).collect();
        let rows = packs.stow_all(Side::Outgoing, 3, &ids).unwrap();
        packs.sync().unwrap();

        assert_eq!(rows.len(), messages.len());
        let mut end = 0;
        for ((id, message), (body, place)) in ids.iter().zip(&rows) {
            match place {
                None => {
                    assert_eq!(message.content_type, "courier/text");
                    assert_eq!(*body, b"stays in its row");
                }
                Some(at) => {
                    assert_eq!(message.content_type, CHUNK_TYPE, "only chunks are packed");
                    assert!(body.is_empty(), "a packed chunk's row holds no body");
                    assert_eq!(at.offset, end, "each record follows the one before");
                    end += at.len;
                    assert_eq!(
                        packs.read(Side::Outgoing, 3, id, *at).unwrap(),
                        message.body
                    );
                }
            }
        }
        assert_eq!(
            end,
            std::fs::metadata(packs.path(Side::Outgoing, 3))
                .unwrap()
                .len()
        );
    }
}
