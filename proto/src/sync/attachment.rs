//! Attachments of any size as content-addressed chunks: each chunk is an ordinary sync message (so it
//! is queued, sent, acked and retransmitted on its own, and an interrupted transfer resumes where it
//! stopped), and a manifest message lists the chunks with the whole file's length and hash.

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::record::{MAX_BODY_LEN, Message, MessageId};

/// Content type of a chunk message.
pub const CHUNK_TYPE: &str = "courier/chunk";
/// Content type of a manifest message.
pub const MANIFEST_TYPE: &str = "courier/attachment";
/// Bytes of file per chunk.
pub const CHUNK_LEN: usize = MAX_BODY_LEN;
/// Bytes before the chunk ids in a manifest: length (8), file hash (32), content-type length (1),
/// content-type version (4).
const MANIFEST_FIXED: usize = 8 + 32 + 1 + 4;
/// Largest attachment: as many chunks as one manifest can list.
pub const MAX_ATTACHMENT_LEN: u64 = ((MAX_BODY_LEN - MANIFEST_FIXED - 64) / 32 * CHUNK_LEN) as u64;

/// Why an attachment could not be made or put back together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    /// Over the size one manifest can describe.
    #[error("attachment of {0} bytes is over the {MAX_ATTACHMENT_LEN}-byte limit")]
    TooLarge(u64),
    /// The manifest does not parse.
    #[error("attachment manifest is malformed: {0}")]
    Malformed(&'static str),
    /// The reassembled file does not match the manifest.
    #[error("reassembled attachment does not match its manifest (length or hash); it is discarded")]
    Mismatch,
}

/// A parsed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The attachment's own content type, e.g. `courier/image`.
    pub content_type: String,
    /// The version of that content type the file is written in.
    pub version: u32,
    /// Total length in bytes.
    pub len: u64,
    /// SHA-256 of the whole file.
    pub hash: [u8; 32],
    /// Chunk message ids, in file order.
    pub chunks: Vec<MessageId>,
}

/// Splits `data`, version `version` of `content_type`, into chunk messages and the manifest message
/// that lists them, all at `timestamp_ms`.
pub fn split(
    data: &[u8],
    content_type: &str,
    version: u32,
    timestamp_ms: u64,
) -> Result<(Message, Vec<Message>), AttachmentError> {
    split_as(data, content_type, version, timestamp_ms, CHUNK_TYPE)
}

/// [`split`], its chunks messages of `chunk_type` (a group's chunks travel as the group's).
pub fn split_as(
    data: &[u8],
    content_type: &str,
    version: u32,
    timestamp_ms: u64,
    chunk_type: &str,
) -> Result<(Message, Vec<Message>), AttachmentError> {
    if data.len() as u64 > MAX_ATTACHMENT_LEN {
        return Err(AttachmentError::TooLarge(data.len() as u64));
    }
    if content_type.is_empty() || content_type.len() > 64 {
        return Err(AttachmentError::Malformed(
            "content type must be 1-64 bytes",
        ));
    }
    // The file's hash and the chunks' ids are independent passes over the same bytes: one core
    // takes the file's, every core the chunks'.
    let (hash, chunks): (_, Vec<(MessageId, Message)>) = rayon::join(
        || Sha256::digest(data),
        || {
            data.par_chunks(CHUNK_LEN)
                .map(|c| {
                    let chunk = Message {
                        timestamp_ms,
                        content_type: chunk_type.into(),
                        type_version: 1,
                        fallback: String::new(),
                        body: c.to_vec(),
                    };
                    (chunk.id(), chunk)
                })
                .collect()
        },
    );
    let mut body = Vec::with_capacity(MANIFEST_FIXED + content_type.len() + chunks.len() * 32);
    body.extend_from_slice(&(data.len() as u64).to_be_bytes());
    body.extend_from_slice(&hash);
    body.push(content_type.len() as u8);
    body.extend_from_slice(content_type.as_bytes());
    body.extend_from_slice(&version.to_be_bytes());
    chunks
        .iter()
        .for_each(|(id, _)| body.extend_from_slice(&id.0));
    let manifest = Message {
        timestamp_ms,
        content_type: MANIFEST_TYPE.into(),
        type_version: 1,
        fallback: String::new(),
        body,
    };
    Ok((
        manifest,
        chunks.into_iter().map(|(_, chunk)| chunk).collect(),
    ))
}

/// Parses a manifest message's body.
pub fn parse_manifest(body: &[u8]) -> Result<Manifest, AttachmentError> {
    let (len, rest) = body
        .split_at_checked(8)
        .ok_or(AttachmentError::Malformed("too short"))?;
    let (hash, rest) = rest
        .split_at_checked(32)
        .ok_or(AttachmentError::Malformed("too short"))?;
    let (&type_len, rest) = rest
        .split_first()
        .ok_or(AttachmentError::Malformed("too short"))?;
    let (content_type, rest) = rest
        .split_at_checked(usize::from(type_len))
        .ok_or(AttachmentError::Malformed("content type runs past the end"))?;
    let (version, ids) = rest
        .split_at_checked(4)
        .ok_or(AttachmentError::Malformed("too short for a version"))?;
    if !ids.len().is_multiple_of(32) {
        return Err(AttachmentError::Malformed(
            "chunk list is not a whole number of ids",
        ));
    }
    let len = u64::from_be_bytes(len.try_into().expect("8 bytes"));
    if len.div_ceil(CHUNK_LEN as u64) != (ids.len() / 32) as u64 {
        return Err(AttachmentError::Malformed(
            "chunk count does not match the length",
        ));
    }
    Ok(Manifest {
        content_type: std::str::from_utf8(content_type)
            .map_err(|_| AttachmentError::Malformed("content type is not UTF-8"))?
            .to_owned(),
        version: u32::from_be_bytes(version.try_into().expect("4 bytes")),
        len,
        hash: hash.try_into().expect("32 bytes"),
        chunks: ids
            .chunks_exact(32)
            .map(|c| MessageId(c.try_into().expect("32 bytes")))
            .collect(),
    })
}

/// Puts the file back together from its chunks, once every chunk is there; `None` while some are missing.
pub fn assemble(
    manifest: &Manifest,
    mut chunk: impl FnMut(&MessageId) -> Option<Vec<u8>>,
) -> Option<Result<Vec<u8>, AttachmentError>> {
    let mut data = Vec::with_capacity(usize::try_from(manifest.len).unwrap_or(0));
    for id in &manifest.chunks {
        data.extend(chunk(id)?);
    }
    let intact =
        data.len() as u64 == manifest.len && Sha256::digest(&data).as_slice() == manifest.hash;
    Some(if intact {
        Ok(data)
    } else {
        Err(AttachmentError::Mismatch)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn chunks_of_another_type_are_named_by_their_own_ids() {
        let data = vec![7u8; CHUNK_LEN + 1];
        let (manifest, chunks) =
            split_as(&data, "courier/image", 1, 5, "courier/group-chunk").unwrap();
        assert!(
            chunks
                .iter()
                .all(|c| c.content_type == "courier/group-chunk")
        );
        let (_, plain) = split(&data, "courier/image", 1, 5).unwrap();
        assert_ne!(
            chunks[0].id(),
            plain[0].id(),
            "another type, another address"
        );
        let ids: Vec<MessageId> = chunks.iter().map(Message::id).collect();
        assert_eq!(parse_manifest(&manifest.body).unwrap().chunks, ids);
    }

    #[test]
    fn a_file_splits_into_content_addressed_chunks_and_comes_back_whole() {
        let data: Vec<u8> = (0..(3 * CHUNK_LEN + 17))
            .map(|i| (i * 7 % 256) as u8)
            .collect();
        let (manifest, chunks) = split(&data, "courier/voice", 2, 5).unwrap();
        assert_eq!(chunks.len(), 4);
        let parsed = parse_manifest(&manifest.body).unwrap();
        assert_eq!(
            (parsed.content_type.as_str(), parsed.version, parsed.len),
            ("courier/voice", 2, data.len() as u64)
        );
        let store: HashMap<_, _> = chunks.iter().map(|c| (c.id(), c.body.clone())).collect();
        assert_eq!(
            assemble(&parsed, |id| store.get(id).cloned()),
            Some(Ok(data))
        );
        assert_eq!(
            assemble(&parsed, |id| (id != &parsed.chunks[2])
                .then(|| store[id].clone())),
            None,
            "waits for the missing chunk"
        );
    }

    #[test]
    fn a_swapped_chunk_or_bad_manifest_is_refused() {
        let data = vec![1u8; CHUNK_LEN + 1];
        let (manifest, chunks) = split(&data, "courier/image", 1, 0).unwrap();
        let parsed = parse_manifest(&manifest.body).unwrap();
        assert_eq!(
            assemble(&parsed, |_| Some(chunks[1].body.clone())),
            Some(Err(AttachmentError::Mismatch))
        );
        let mut altered = chunks[1].body.clone();
        altered[0] ^= 1;
        let same_length_other_bytes = |id: &MessageId| {
            Some(if id == &parsed.chunks[1] {
                altered.clone()
            } else {
                chunks[0].body.clone()
            })
        };
        assert_eq!(
            assemble(&parsed, same_length_other_bytes),
            Some(Err(AttachmentError::Mismatch)),
            "the hash is checked, not just the length"
        );
        assert!(parse_manifest(&manifest.body[..manifest.body.len() - 1]).is_err());
        assert!(parse_manifest(&[0; 5]).is_err());
        assert_eq!(
            split(&[], "", 1, 0),
            Err(AttachmentError::Malformed(
                "content type must be 1-64 bytes"
            ))
        );
        let empty = split(&[], "courier/image", 1, 0).unwrap();
        assert_eq!(
            assemble(&parse_manifest(&empty.0.body).unwrap(), |_| None),
            Some(Ok(Vec::new()))
        );
    }

    #[test]
    fn a_manifest_is_pinned_to_known_bytes() {
        // Computed independently by proto/vectors/known_answers.py: length (8) ‖ SHA-256 of the file ‖
        // content type length (1) and bytes ‖ version (4) ‖ the ids of the chunk messages.
        let data: Vec<u8> = (0..CHUNK_LEN + 3).map(|i| (i % 251) as u8).collect();
        let (manifest, chunks) = split(&data, "courier/voice", 2, 9).unwrap();
        assert_eq!(
            hex::encode(&manifest.body),
            concat!(
                "0000000000010003",
                "6859d9b53d73fd394a476c8cbf60367e041a0188a670fa853913becda71267fc",
                "0d",
                "636f75726965722f766f696365",
                "00000002",
                "cbd18e8837813b8d50ded0ffabee99be0747188d5a92a086b321aed47cab34c4",
                "68f1657480b3fe20ca140cf5e29faa716dc3dae1c2dea6032f3e4ba36825bdb2",
            )
        );
        assert_eq!(
            hex::encode(manifest.id().0),
            "10742471ef28ec5be1fb3c44668a0a44c2827e1169b5842fdfba6d6c6bc38470",
            "a manifest is a courier/attachment version 1 message, with no fallback"
        );
        assert_eq!(
            chunks.iter().map(|c| c.body.len()).collect::<Vec<_>>(),
            [CHUNK_LEN, 3]
        );
        assert_eq!(
            manifest.body.len(),
            MANIFEST_FIXED + "courier/voice".len() + 32 * chunks.len(),
            "the fixed fields, the content type, the ids"
        );
    }

    #[test]
    fn chunk_counts_follow_the_length_at_every_edge() {
        for (len, count) in [
            (0, 0),
            (1, 1),
            (CHUNK_LEN, 1),
            (CHUNK_LEN + 1, 2),
            (2 * CHUNK_LEN, 2),
        ] {
            let (manifest, chunks) = split(&vec![7; len], "courier/file", 1, 0).unwrap();
            assert_eq!(chunks.len(), count, "{len} bytes");
            assert_eq!(parse_manifest(&manifest.body).unwrap().chunks.len(), count);
        }
    }

    #[test]
    fn the_largest_attachment_fits_one_manifest_and_one_byte_more_is_refused() {
        assert_eq!(
            MAX_ATTACHMENT_LEN,
            2044 * CHUNK_LEN as u64,
            "2044 ids fit beside 109 bytes"
        );
        let longest_type = "t".repeat(64);
        let largest = vec![0u8; MAX_ATTACHMENT_LEN as usize];
        let (manifest, _) = split(&largest, &longest_type, 1, 0).unwrap();
        assert_eq!(
            manifest.check(),
            Ok(()),
            "the manifest is a deliverable message"
        );
        let mut over = largest;
        over.push(0);
        assert_eq!(
            split(&over, "courier/file", 1, 0),
            Err(AttachmentError::TooLarge(MAX_ATTACHMENT_LEN + 1))
        );
        assert_eq!(
            split(&[1], &"t".repeat(65), 1, 0),
            Err(AttachmentError::Malformed(
                "content type must be 1-64 bytes"
            ))
        );
    }

    #[test]
    fn manifests_that_lie_about_their_chunks_say_how() {
        let (manifest, _) = split(&[5; 10], "courier/file", 1, 0).unwrap();
        let mut extra_id = manifest.body.clone();
        extra_id.extend_from_slice(&[0; 32]);
        let mut bad_utf8 = manifest.body.clone();
        bad_utf8[41] = 0xff;
        let cases = [
            (extra_id, "chunk count does not match the length"),
            (
                manifest.body[..manifest.body.len() - 1].to_vec(),
                "chunk list is not a whole number of ids",
            ),
            (bad_utf8, "content type is not UTF-8"),
            (
                manifest.body[..44].to_vec(),
                "content type runs past the end",
            ),
            (
                manifest.body[..41 + 12 + 3].to_vec(),
                "too short for a version",
            ),
            (manifest.body[..40].to_vec(), "too short"),
        ];
        for (body, reason) in cases {
            assert_eq!(
                parse_manifest(&body),
                Err(AttachmentError::Malformed(reason))
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn random_manifests_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..500)) {
            let _ = parse_manifest(&body);
        }
    }
}
