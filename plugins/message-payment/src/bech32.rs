//! Bech32 (BIP173) and Bech32m (BIP350) strings, and segwit addresses built on them.

const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const BECH32M_CONST: u32 = 0x2bc8_30a3;

/// Which checksum a string carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// BIP173.
    Bech32,
    /// BIP350.
    Bech32m,
}

fn polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// Decodes a Bech32 or Bech32m string of at most `max_len` characters into its lowercase HRP and
/// 5-bit data (checksum removed).
pub fn decode(s: &str, max_len: usize) -> Result<(String, Vec<u8>, Variant), String> {
    if s.len() > max_len {
        return Err(format!("longer than {max_len} characters"));
    }
    if s.bytes().any(|b| !(33..=126).contains(&b)) {
        return Err("a character out of range".into());
    }
    let (lower, upper) = (s.to_ascii_lowercase(), s.to_ascii_uppercase());
    if s != lower && s != upper {
        return Err("mixed upper and lower case".into());
    }
    let pos = lower.rfind('1').ok_or("no separator '1'")?;
    if pos == 0 {
        return Err("empty human-readable part".into());
    }
    if pos + 7 > lower.len() {
        return Err("checksum too short".into());
    }
    let (hrp, rest) = (&lower[..pos], &lower[pos + 1..]);
    let data: Vec<u8> = rest
        .bytes()
        .map(|c| CHARSET.iter().position(|x| *x == c).map(|p| p as u8))
        .collect::<Option<_>>()
        .ok_or("a character outside the bech32 alphabet")?;
    let expanded = hrp
        .bytes()
        .map(|b| b >> 5)
        .chain([0])
        .chain(hrp.bytes().map(|b| b & 31))
        .chain(data.iter().copied());
    let variant = match polymod(expanded) {
        1 => Variant::Bech32,
        BECH32M_CONST => Variant::Bech32m,
        _ => return Err("checksum mismatch (a typo?)".into()),
    };
    Ok((hrp.to_owned(), data[..data.len() - 6].to_vec(), variant))
}

/// Regroups 5-bit values into bytes, refusing more than 4 bits of padding or non-zero padding.
pub fn to_bytes(data: &[u8]) -> Result<Vec<u8>, String> {
    let (mut acc, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for &v in data {
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits >= 5 || (acc & ((1 << bits) - 1)) != 0 {
        return Err("bad padding".into());
    }
    Ok(out)
}

/// A decoded segwit address: its witness version and program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segwit {
    /// Human-readable part (`bc`, `tb`, `bcrt`).
    pub hrp: String,
    /// Witness version 0-16.
    pub version: u8,
    /// Witness program, 2-40 bytes.
    pub program: Vec<u8>,
}

/// Decodes and checks a segwit address per BIP173/BIP350 (the HRP is checked by the caller).
pub fn segwit(address: &str) -> Result<Segwit, String> {
    let (hrp, data, variant) = decode(address, 90)?;
    let (&version, program) = data.split_first().ok_or("empty data")?;
    if version > 16 {
        return Err(format!("witness version {version} does not exist"));
    }
    let program = to_bytes(program)?;
    if !(2..=40).contains(&program.len()) {
        return Err(format!("a {}-byte witness program", program.len()));
    }
    if version == 0 && program.len() != 20 && program.len() != 32 {
        return Err("a version 0 program is 20 or 32 bytes".into());
    }
    let expected = if version == 0 {
        Variant::Bech32
    } else {
        Variant::Bech32m
    };
    if variant != expected {
        return Err(format!(
            "witness version {version} must use {expected:?}, not {variant:?}"
        ));
    }
    Ok(Segwit {
        hrp,
        version,
        program,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// scriptPubKey of a segwit address, as BIP350's vectors give it.
    fn script(s: &Segwit) -> String {
        let op = if s.version == 0 { 0 } else { 0x50 + s.version };
        let mut out = format!("{op:02x}{:02x}", s.program.len());
        for b in &s.program {
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
            assert_eq!(decode(s, 90).map(|d| d.2), Ok(Variant::Bech32m), "{s}");
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
            assert_eq!(decode(s, 90).map(|d| d.2), Ok(Variant::Bech32), "{s}");
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
                decode(s, 90).map(|d| d.2) != Ok(Variant::Bech32m),
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
            let decoded = segwit(address).unwrap_or_else(|e| panic!("{address}: {e}"));
            assert_eq!(script(&decoded), expected, "{address}");
        }
    }

    #[test]
    fn bip350_invalid_segwit_addresses_are_refused() {
        for address in [
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
            "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",
            "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
            "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",
            "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
            "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
            "bc1pw5dgrnzv",
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
            "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
            "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
            "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
            "bc1gmk9yu",
        ] {
            assert!(segwit(address).is_err(), "{address} was accepted");
        }
    }
}
