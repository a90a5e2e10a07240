//! Bitcoin on-chain addresses, decoded by maintained crates: segwit (BIP173 Bech32 for v0, BIP350
//! Bech32m for v1+) by `bech32`, legacy P2PKH/P2SH Base58Check by `bs58`. What is here is the
//! plain-words wording of their errors, which BOLT11 invoices share.

use bech32::primitives::decode::{
    CharError, CheckedHrpstringError, ChecksumError, SegwitHrpstringError, UncheckedHrpstring,
    UncheckedHrpstringError,
};
use bech32::{Bech32m, Fe32, Hrp};

/// Longest Base58Check string read; a P2PKH or P2SH address is 26-35 characters.
const MAX_BASE58_LEN: usize = 64;

/// Decodes and checks a segwit address: its human-readable part (checked by the caller), witness
/// version and witness program (2-40 bytes; 20 or 32 for v0).
pub fn segwit(address: &str) -> Result<(Hrp, Fe32, Vec<u8>), String> {
    bech32::segwit::decode(address).map_err(|e| match e.0 {
        SegwitHrpstringError::Checksum(ChecksumError::InvalidResidue(residue)) => {
            if residue.matches_bech32_checksum() {
                "a Bech32 checksum, but witness version 1 and later use Bech32m (BIP350)".into()
            } else if UncheckedHrpstring::new(address)
                .is_ok_and(|s| s.has_valid_checksum::<Bech32m>())
            {
                "a Bech32m checksum, but witness version 0 uses Bech32 (BIP173)".into()
            } else {
                "checksum mismatch (a typo?)".into()
            }
        }
        SegwitHrpstringError::Checksum(e) => checksum_error(&e),
        SegwitHrpstringError::Unchecked(e) => unchecked_error(&e),
        SegwitHrpstringError::NoData => "no data after the separator '1'".into(),
        SegwitHrpstringError::TooLong(len) => {
            format!("{len} characters, longer than an address's 90")
        }
        SegwitHrpstringError::InvalidWitnessVersion(v) => {
            format!("witness version {} does not exist", v.to_u8())
        }
        // The crate's own words for these say what was wrong.
        SegwitHrpstringError::Padding(e) => e.to_string(),
        SegwitHrpstringError::WitnessLength(e) => e.to_string(),
        other => other.to_string(),
    })
}

/// Decodes a Base58Check string and checks its double-SHA-256 checksum; returns the payload,
/// version byte first.
pub fn base58check(text: &str) -> Result<Vec<u8>, String> {
    if text.is_empty() || text.len() > MAX_BASE58_LEN {
        return Err("not an address of a plausible length".into());
    }
    bs58::decode(text)
        .with_check(None)
        .into_vec()
        .map_err(|e| match e {
            bs58::decode::Error::InvalidCharacter { character, .. } => {
                format!("{character:?} is not a base58 character")
            }
            bs58::decode::Error::NonAsciiCharacter { .. } => "a non-ASCII character".into(),
            bs58::decode::Error::InvalidChecksum { .. } => "checksum mismatch (a typo?)".into(),
            bs58::decode::Error::NoChecksum => "too short for a checksum".into(),
            other => other.to_string(),
        })
}

/// What is wrong with a Bech32 string that failed a checked decode (a BOLT11 invoice).
pub fn checked_error(e: &CheckedHrpstringError) -> String {
    match e {
        CheckedHrpstringError::Parse(e) => unchecked_error(e),
        CheckedHrpstringError::Checksum(e) => checksum_error(e),
        other => other.to_string(),
    }
}

fn unchecked_error(e: &UncheckedHrpstringError) -> String {
    match e {
        UncheckedHrpstringError::Char(CharError::MissingSeparator) => "no separator '1'".into(),
        UncheckedHrpstringError::Char(CharError::NothingAfterSeparator) => {
            "nothing after the separator '1'".into()
        }
        UncheckedHrpstringError::Char(CharError::InvalidChar(c)) => {
            format!("{c:?} is not a bech32 character")
        }
        UncheckedHrpstringError::Char(CharError::MixedCase) => "mixed upper and lower case".into(),
        UncheckedHrpstringError::Hrp(e) => format!("a bad human-readable part: {e}"),
        other => other.to_string(),
    }
}

fn checksum_error(e: &ChecksumError) -> String {
    match e {
        ChecksumError::InvalidResidue(_) => "checksum mismatch (a typo?)".into(),
        ChecksumError::InvalidLength => "too short for a checksum".into(),
        ChecksumError::CodeLength(e) => format!(
            "{} characters, longer than the {} allowed",
            e.encoded_length, e.code_length
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bech32::Bech32;
    use bech32::primitives::decode::CheckedHrpstring;

    /// scriptPubKey of a segwit address, as BIP350's vectors give it.
    fn script(version: Fe32, program: &[u8]) -> String {
        let version = version.to_u8();
        let op = if version == 0 { 0 } else { 0x50 + version };
        let mut out = format!("{op:02x}{:02x}", program.len());
        for b in program {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    #[test]
    fn bip350_valid_bech32m_strings() {
        for s in [
            "A1LQFN3A",
            "a1lqfn3a",
            "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
            "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
            "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
            "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
            "?1v759aa",
        ] {
            CheckedHrpstring::new::<Bech32m>(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!(CheckedHrpstring::new::<Bech32>(s).is_err(), "{s} as Bech32");
        }
    }

    #[test]
    fn bip173_valid_bech32_strings() {
        for s in [
            "A12UEL5L",
            "a12uel5l",
            "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
            "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
            "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
            "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
            "?1ezyfcl",
        ] {
            CheckedHrpstring::new::<Bech32>(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert!(
                CheckedHrpstring::new::<Bech32m>(s).is_err(),
                "{s} as Bech32m"
            );
        }
    }

    #[test]
    fn bip173_invalid_bech32_strings() {
        for s in [
            "\u{20}1nwldj5",
            "\u{7f}1axkwrx",
            "\u{80}1eym55h",
            "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
            "pzry9x0s0muk",
            "1pzry9x0s0muk",
            "x1b4n0q5v",
            "li1dgmt3",
            "de1lg7wt\u{ff}",
            "A1G7SGD8",
            "10a06t8",
            "1qzzfhee",
        ] {
            assert!(
                CheckedHrpstring::new::<Bech32>(s).is_err(),
                "{s:?} was accepted"
            );
        }
    }

    #[test]
    fn bip350_invalid_bech32m_strings() {
        for s in [
            "\u{20}1xj0phk",
            "\u{7f}1g6xzxy",
            "\u{80}1vctc34",
            "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
            "qyrz8wqd2c9m",
            "1qyrz8wqd2c9m",
            "y1b0jsk6g",
            "lt1igcx5c0",
            "in1muywd",
            "mm1crxm3i",
            "au1s5cgom",
            "M1VUXWEZ",
            "16plkw9",
            "1p2gdwpf",
        ] {
            assert!(
                CheckedHrpstring::new::<Bech32m>(s).is_err(),
                "{s:?} was accepted"
            );
        }
    }

    #[test]
    fn bip350_valid_segwit_addresses_give_their_script() {
        for (address, expected) in [
            (
                "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
                "0014751e76e8199196d454941c45d1b3a323f1433bd6",
            ),
            (
                "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
                "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
            ),
            (
                "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
                "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
            ),
            ("BC1SW50QGDZ25J", "6002751e"),
            (
                "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
                "5210751e76e8199196d454941c45d1b3a323",
            ),
            (
                "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
                "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
            ),
            (
                "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
                "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
            ),
            (
                "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
                "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
            ),
        ] {
            let (_, version, program) =
                segwit(address).unwrap_or_else(|e| panic!("{address}: {e}"));
            assert_eq!(script(version, &program), expected, "{address}");
        }
    }

    #[test]
    fn bip350_invalid_segwit_addresses_are_refused_for_their_reason() {
        for (address, reason) in [
            (
                "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
                "Bech32 checksum, but witness version 1",
            ),
            (
                "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",
                "Bech32 checksum, but witness version 1",
            ),
            (
                "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
                "Bech32 checksum, but witness version 1",
            ),
            (
                "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
                "Bech32m checksum, but witness version 0",
            ),
            (
                "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",
                "Bech32m checksum, but witness version 0",
            ),
            (
                "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
                "'o' is not a bech32 character",
            ),
            (
                "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
                "witness version 17 does not exist",
            ),
            ("bc1pw5dgrnzv", "less than 2 bytes"),
            (
                "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
                "more than 40 bytes",
            ),
            (
                "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
                "v0 witness is not 20 or 32 bytes",
            ),
            (
                "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",
                "mixed upper and lower case",
            ),
            (
                "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
                "too many bits of padding",
            ),
            (
                "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
                "padded with non-zero bits",
            ),
            // BIP350 lists it for its empty data; the Bech32 checksum of version 8 fails first.
            ("bc1gmk9yu", "Bech32 checksum, but witness version 1"),
        ] {
            let err = segwit(address).expect_err(address);
            assert!(
                err.contains(reason),
                "{address}: {err:?} should say {reason:?}"
            );
        }
    }

    #[test]
    fn a_typo_or_an_overlong_segwit_address_says_so() {
        let err = segwit("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5").unwrap_err();
        assert_eq!(err, "checksum mismatch (a typo?)");
        let err = segwit(&format!("bc1{}", "q".repeat(88))).unwrap_err();
        assert_eq!(err, "91 characters, longer than an address's 90");
    }

    #[test]
    fn the_genesis_address_checks_and_a_typo_does_not() {
        let payload = base58check("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").unwrap();
        assert_eq!(payload.len(), 21);
        assert_eq!(payload[0], 0);
        assert_eq!(
            base58check("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"),
            Err("checksum mismatch (a typo?)".into())
        );
        assert!(base58check("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfN0").is_err());
        assert!(base58check("").is_err());
        assert!(base58check(&"1".repeat(MAX_BASE58_LEN + 1)).is_err());
    }
}
