//! Monero addresses: Monero's block-wise base58 (decoded by `base58-monero`), a network prefix, and
//! a Keccak-256 checksum.

use sha3::{Digest, Keccak256};

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

/// Decodes and checks a Monero address: its network and kind.
pub fn check(address: &str) -> Result<(MoneroNetwork, Kind), String> {
    let decoded = base58_monero::decode(address).map_err(|e| match e {
        base58_monero::Error::InvalidSymbol => "a character outside the base58 alphabet",
        base58_monero::Error::Overflow => "a base58 block overflows",
        _ => "a base58 block of impossible length",
    })?;
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
