//! Base58Check, as bitcoin addresses use it.

use sha2::{Digest, Sha256};

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Decodes `text` and checks its 4-byte double-SHA-256 checksum; returns the payload.
pub fn decode_check(text: &str) -> Result<Vec<u8>, String> {
    if text.is_empty() || text.len() > 64 {
        return Err("not an address of a plausible length".into());
    }
    let mut number: Vec<u8> = Vec::new(); // big-endian base-256
    for c in text.bytes() {
        let digit = ALPHABET
            .iter()
            .position(|a| *a == c)
            .ok_or_else(|| format!("{:?} is not a base58 character", c as char))?;
        let mut carry = digit as u32;
        for byte in number.iter_mut().rev() {
            carry += u32::from(*byte) * 58;
            *byte = carry as u8;
            carry >>= 8;
        }
        while carry > 0 {
            number.insert(0, carry as u8);
            carry >>= 8;
        }
    }
    let zeros = text.bytes().take_while(|b| *b == b'1').count();
    let mut bytes = vec![0u8; zeros];
    bytes.extend(number);
    if bytes.len() < 5 {
        return Err("too short for a checksum".into());
    }
    let (payload, checksum) = bytes.split_at(bytes.len() - 4);
    let hash = Sha256::digest(Sha256::digest(payload));
    if &hash[..4] != checksum {
        return Err("checksum mismatch (a typo?)".into());
    }
    Ok(payload.to_vec())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_genesis_address_checks_and_a_typo_does_not() {
        let payload = super::decode_check("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").unwrap();
        assert_eq!(payload.len(), 21);
        assert_eq!(payload[0], 0);
        assert!(super::decode_check("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb").is_err());
    }
}
