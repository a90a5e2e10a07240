//! Monero addresses: Monero's block-wise base58, a network prefix, and a Keccak-256 checksum.

use sha3::{Digest, Keccak256};

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
/// Characters that encode a block of 0..=8 bytes.
const ENCODED_BLOCK: [usize; 9] = [0, 2, 3, 5, 6, 7, 9, 10, 11];

/// Which Monero network an address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneroNetwork {
    /// Mainnet.
    Main,
    /// Testnet.
    Test,
    /// Stagenet.
    Stage,
}

/// What kind of address it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A primary (standard) address.
    Standard,
    /// A standard address with a payment id inside.
    Integrated,
    /// A subaddress.
    Subaddress,
}

fn decode_block(block: &[u8]) -> Result<Vec<u8>, String> {
    let size = ENCODED_BLOCK
        .iter()
        .position(|n| *n == block.len())
        .ok_or("a base58 block of impossible length")?;
    let mut value: u128 = 0;
    for c in block {
        let digit = ALPHABET
            .iter()
            .position(|a| a == c)
            .ok_or_else(|| format!("{:?} is not a base58 character", *c as char))?;
        value = value * 58 + digit as u128;
    }
    if size < 8 && value >> (8 * size) != 0 || value > u128::from(u64::MAX) {
        return Err("a base58 block overflows".into());
    }
    Ok(value.to_be_bytes()[16 - size..].to_vec())
}

/// Decodes and checks a Monero address: its network and kind.
pub fn check(address: &str) -> Result<(MoneroNetwork, Kind), String> {
    let bytes = address.as_bytes();
    let mut decoded = Vec::new();
    for block in bytes.chunks(11) {
        decoded.extend(decode_block(block)?);
    }
    if decoded.len() < 5 {
        return Err("too short".into());
    }
    let (body, checksum) = decoded.split_at(decoded.len() - 4);
    if &Keccak256::digest(body)[..4] != checksum {
        return Err("checksum mismatch (a typo?)".into());
    }
    let (network, kind, len) = match body[0] {
        18 => (MoneroNetwork::Main, Kind::Standard, 65),
        19 => (MoneroNetwork::Main, Kind::Integrated, 73),
        42 => (MoneroNetwork::Main, Kind::Subaddress, 65),
        53 => (MoneroNetwork::Test, Kind::Standard, 65),
        54 => (MoneroNetwork::Test, Kind::Integrated, 73),
        63 => (MoneroNetwork::Test, Kind::Subaddress, 65),
        24 => (MoneroNetwork::Stage, Kind::Standard, 65),
        25 => (MoneroNetwork::Stage, Kind::Integrated, 73),
        36 => (MoneroNetwork::Stage, Kind::Subaddress, 65),
        p => return Err(format!("network prefix {p} is not Monero's")),
    };
    if body.len() != len {
        return Err(format!(
            "a {}-byte address where {len} were expected",
            body.len()
        ));
    }
    Ok((network, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Monero general fund's donation address, as Monero's own RPC documentation uses it.
    const GENERAL_FUND: &str = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";

    #[test]
    fn a_real_mainnet_address_checks_and_altered_ones_do_not() {
        assert_eq!(
            check(GENERAL_FUND),
            Ok((MoneroNetwork::Main, Kind::Standard))
        );
        let typo = GENERAL_FUND.replacen("RVGQ", "RVGR", 1);
        assert!(check(&typo).is_err());
        assert!(check(&GENERAL_FUND[..94]).is_err(), "truncated");
        assert!(check("44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBQp7fSyC5hVv5PeQQbpL").is_err());
        assert!(
            check("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").is_err(),
            "a bitcoin address"
        );
    }
}
