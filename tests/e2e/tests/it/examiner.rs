//! A forensic examiner who has a raw image of the disk and the passphrase, written apart from the
//! storage crate, from the formats as ARCHITECTURE.md states them: every key Courier derives from a
//! passphrase (Argon2id over each key file found anywhere on the image; SQLCipher's own PBKDF2 over
//! a database salt), then every 8-byte-aligned offset of the image tried as an SQLCipher page under
//! each key (pages start 4 KiB-aligned in a database file and 8-aligned inside WAL frames).

use std::collections::BTreeSet;

use aes::cipher::{BlockDecrypt, BlockDecryptMut, KeyInit, KeyIvInit, block_padding::NoPadding};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// SQLCipher 4's defaults, which Courier keeps.
const PAGE: usize = 4096;
/// An IV (16) and an HMAC-SHA512 (64) at the end of every page.
const RESERVE: usize = 80;
const SALT: usize = 16;
const KDF_ROUNDS: u32 = 256_000;

const KEY_FILE_MAGIC: &[u8; 8] = b"CRKEYS01";
const KEY_FILE_HEADER: usize = 36;
const KEY_FILE_SLOTS: [usize; 2] = [64, 144];
const SLOT: usize = 80;

/// Every database key that any copy of a key file on `image` gives up to `passphrase`.
pub fn key_file_keys(image: &[u8], passphrase: &str) -> Vec<[u8; 32]> {
    let mut keys = Vec::new();
    let mut from = 0;
    while let Some(at) = find(&image[from..], KEY_FILE_MAGIC).map(|i| i + from) {
        from = at + 1;
        let Some(file) = image.get(at..at + KEY_FILE_SLOTS[1] + SLOT) else {
            continue;
        };
        let header = &file[..KEY_FILE_HEADER];
        let word = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().unwrap());
        let Ok(params) = argon2::Params::new(word(8), word(12), word(16), Some(32)) else {
            continue;
        };
        let mut sealing = [0u8; 32];
        let argon2 =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        if argon2
            .hash_password_into(passphrase.as_bytes(), &header[20..], &mut sealing)
            .is_err()
        {
            continue;
        }
        let cipher = XChaCha20Poly1305::new((&sealing).into());
        for slot in KEY_FILE_SLOTS {
            let raw = &file[slot..slot + SLOT];
            if let Ok(secret) = cipher.decrypt(
                XNonce::from_slice(&raw[..24]),
                Payload {
                    msg: &raw[24..],
                    aad: header,
                },
            ) {
                keys.push(secret[8..40].try_into().unwrap());
            }
        }
    }
    keys
}

/// The key SQLCipher derives from a passphrase and a database's salt.
pub fn passphrase_key(passphrase: &str, salt: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(passphrase.as_bytes(), salt, KDF_ROUNDS, &mut key);
    key
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct Findings {
    /// Pages that decrypted to a well-formed SQLite page, under any key.
    pub pages: usize,
    /// The markers seen in them.
    pub markers: BTreeSet<String>,
}

/// Tries every 8-aligned offset of `image` as a page under each of `keys`, and looks for each
/// marker (a name and its bytes) in every page that decrypts.
pub fn scan(image: &[u8], keys: &[[u8; 32]], markers: &[(String, Vec<u8>)]) -> Findings {
    let mut findings = Findings::default();
    for key in keys {
        let block_cipher = aes::Aes256::new(key.into());
        for at in (0..image.len().saturating_sub(PAGE)).step_by(8) {
            let page = &image[at..at + PAGE];
            let iv = &page[PAGE - RESERVE..PAGE - RESERVE + 16];
            for first in [0, SALT] {
                if !first_block_fits(&block_cipher, page, iv, first) {
                    continue;
                }
                let mut plain = page[first..PAGE - RESERVE].to_vec();
                let Ok(plain) = cbc::Decryptor::<aes::Aes256>::new(key.into(), iv.into())
                    .decrypt_padded_mut::<NoPadding>(&mut plain)
                else {
                    continue;
                };
                if first == SALT || well_formed(plain) {
                    findings.pages += 1;
                    for (name, bytes) in markers {
                        if find(plain, bytes).is_some() {
                            findings.markers.insert(name.clone());
                        }
                    }
                }
            }
        }
    }
    findings
}

/// Whether the first block of `page` (from `first`: 16 for page 1, after its salt) decrypts to
/// what SQLite writes there: page 1's header fields, or a b-tree page's header.
fn first_block_fits(cipher: &aes::Aes256, page: &[u8], iv: &[u8], first: usize) -> bool {
    let mut block = aes::Block::clone_from_slice(&page[first..first + 16]);
    cipher.decrypt_block(&mut block);
    let mut plain = [0u8; 16];
    for (p, (b, v)) in plain.iter_mut().zip(block.iter().zip(iv)) {
        *p = b ^ v;
    }
    if first == SALT {
        // Page size 4096, format versions 1 or 2, reserve 80, payload fractions 64/32/32.
        return plain[..2] == [0x10, 0x00]
            && matches!(plain[2], 1 | 2)
            && matches!(plain[3], 1 | 2)
            && plain[4..8] == [RESERVE as u8, 64, 32, 32];
    }
    matches!(plain[0], 2 | 5 | 10 | 13) && header_fits(&plain)
}

/// A b-tree page header's offsets and count within the page.
fn header_fits(plain: &[u8]) -> bool {
    let word = |i: usize| usize::from(u16::from_be_bytes([plain[i], plain[i + 1]]));
    let usable = PAGE - RESERVE;
    let (freeblock, cells, content) = (word(1), word(3), word(5));
    freeblock < usable && cells < usable / 4 && content <= usable && (cells == 0 || content > 0)
}

/// A whole b-tree page: its header, and every cell pointer inside the content area.
fn well_formed(plain: &[u8]) -> bool {
    if !header_fits(plain) {
        return false;
    }
    let word = |i: usize| usize::from(u16::from_be_bytes([plain[i], plain[i + 1]]));
    let header = if matches!(plain[0], 2 | 5) { 12 } else { 8 };
    let (cells, content) = (word(3), word(5));
    let pointers = header + 2 * cells;
    pointers <= content.max(pointers)
        && (0..cells).all(|i| {
            let cell = word(header + 2 * i);
            cell >= content && cell >= pointers && cell < PAGE - RESERVE
        })
}

/// Where `needle` first occurs in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
