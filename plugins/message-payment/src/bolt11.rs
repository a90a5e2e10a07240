//! Lightning invoices (BOLT11): the Bech32 string is decoded, the amount read from its
//! human-readable part, the tagged fields parsed, and the signature checked against the payee's key
//! (the `n` field, or the key recovered from the signature). Nothing here can pay anything.

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32, Checksum, Fe32, Fe32IterExt};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::Network;
use crate::address::checked_error;

/// Longest invoice read, in characters.
pub const MAX_LEN: usize = 2048;

/// BIP173's Bech32 checksum with BOLT11's length: no 90-character limit, and the invoice may run
/// past the 1023 characters of Bech32's code length too (the `lightning-invoice` crate does the
/// same, up to 7089). Up to [`MAX_LEN`] here.
enum Bolt11Bech32 {}

impl Checksum for Bolt11Bech32 {
    type MidstateRepr = <Bech32 as Checksum>::MidstateRepr;
    type CorrectionField = <Bech32 as Checksum>::CorrectionField;
    const ROOT_GENERATOR: Self::CorrectionField = Bech32::ROOT_GENERATOR;
    const ROOT_EXPONENTS: core::ops::RangeInclusive<usize> = Bech32::ROOT_EXPONENTS;
    const CODE_LENGTH: usize = MAX_LEN;
    const CHECKSUM_LENGTH: usize = Bech32::CHECKSUM_LENGTH;
    const GENERATOR_SH: [Self::MidstateRepr; 5] = Bech32::GENERATOR_SH;
    const TARGET_RESIDUE: Self::MidstateRepr = Bech32::TARGET_RESIDUE;
}

/// Expiry when the invoice has no `x` field, seconds.
const DEFAULT_EXPIRY_S: u64 = 3600;
/// 5-bit groups of the timestamp and of the signature.
const TIMESTAMP_GROUPS: usize = 7;
const SIGNATURE_GROUPS: usize = 104;
/// Even feature bits a reader must understand; other even bits set mean "do not pay".
const KNOWN_EVEN_FEATURES: [usize; 4] = [8, 14, 16, 48];
/// Millisatoshi in one bitcoin.
const MSAT_PER_BTC: u128 = 100_000_000_000;

/// A decoded invoice with a valid signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// Bitcoin mainnet or a test network.
    pub network: Network,
    /// Amount asked for, in millisatoshi; `None` for "any amount".
    pub amount_msat: Option<u64>,
    /// When it was made, Unix seconds.
    pub timestamp: u64,
    /// Seconds after `timestamp` that it stays payable.
    pub expiry: u64,
    /// The `d` field, if the invoice carries its description.
    pub description: Option<String>,
    /// The payment hash.
    pub payment_hash: [u8; 32],
    /// The payee's node key, compressed.
    pub payee: [u8; 33],
}

impl Invoice {
    /// Whether it can no longer be paid at `now` (Unix seconds).
    pub fn expired_at(&self, now: u64) -> bool {
        self.timestamp.saturating_add(self.expiry) <= now
    }
}

/// Bits of 5-bit `groups` as bytes; trailing bits that do not fill a byte are dropped.
fn bytes(groups: &[Fe32]) -> Vec<u8> {
    groups.iter().copied().fes_to_bytes().collect()
}

/// `groups` read as one big-endian number.
fn number(groups: &[Fe32]) -> Result<u64, String> {
    if groups.len() > 12 {
        return Err("a number field is too long".into());
    }
    Ok(groups.iter().fold(0, |n, g| n << 5 | u64::from(g.to_u8())))
}

/// The network and amount (msat) of a human-readable part like `lnbc2500u`.
fn read_hrp(hrp: &str) -> Result<(Network, Option<u64>), String> {
    let rest = hrp
        .strip_prefix("ln")
        .ok_or("a Lightning invoice starts with ln")?;
    let (network, amount) = [
        ("bcrt", Network::Test),
        ("bc", Network::Main),
        ("tbs", Network::Test),
        ("tb", Network::Test),
    ]
    .iter()
    .find_map(|(prefix, network)| rest.strip_prefix(prefix).map(|a| (*network, a)))
    .ok_or_else(|| format!("{hrp:?} is not a bitcoin Lightning invoice prefix"))?;
    if amount.is_empty() {
        return Ok((network, None));
    }
    let (digits, multiplier) = match amount.as_bytes()[amount.len() - 1] {
        b'0'..=b'9' => (amount, None),
        m => (&amount[..amount.len() - 1], Some(m)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
        return Err(format!("amount {amount:?} is not a number"));
    }
    let n: u128 = digits
        .parse()
        .map_err(|_| format!("amount {amount:?} is too large"))?;
    let msat = match multiplier {
        None => n * MSAT_PER_BTC,
        Some(b'm') => n * (MSAT_PER_BTC / 1_000),
        Some(b'u') => n * (MSAT_PER_BTC / 1_000_000),
        Some(b'n') => n * (MSAT_PER_BTC / 1_000_000_000),
        Some(b'p') if n.is_multiple_of(10) => n / 10,
        Some(b'p') => return Err("the amount is not a whole number of millisatoshi".into()),
        Some(m) => return Err(format!("{:?} is not an amount multiplier", m as char)),
    };
    if msat > 21_000_000 * MSAT_PER_BTC {
        return Err("the amount is over 21 million BTC".into());
    }
    Ok((network, Some(msat as u64)))
}

/// Refuses a feature vector that requires a feature this reader does not know.
fn check_features(groups: &[Fe32]) -> Result<(), String> {
    let bits = groups.len() * 5;
    for (i, g) in groups.iter().enumerate() {
        for b in 0..5 {
            if g.to_u8() >> (4 - b) & 1 == 1 {
                let bit = bits - 1 - (i * 5 + b);
                if bit.is_multiple_of(2) && !KNOWN_EVEN_FEATURES.contains(&bit) {
                    return Err(format!(
                        "the invoice requires feature {bit}, which this build does not know"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Decodes `invoice` and checks its signature.
pub fn decode(invoice: &str) -> Result<Invoice, String> {
    let checked = CheckedHrpstring::new::<Bolt11Bech32>(invoice).map_err(|e| checked_error(&e))?;
    let hrp = checked.hrp().to_lowercase();
    let data: Vec<Fe32> = checked.fe32_iter().collect();
    let (network, amount_msat) = read_hrp(&hrp)?;
    if data.len() < TIMESTAMP_GROUPS + SIGNATURE_GROUPS {
        return Err("too short for a timestamp and a signature".into());
    }
    let (signed, signature) = data.split_at(data.len() - SIGNATURE_GROUPS);
    let timestamp = number(&signed[..TIMESTAMP_GROUPS])?;

    let (mut payment_hash, mut payee_field, mut description, mut hashed) =
        (None, None, None, false);
    let mut expiry = DEFAULT_EXPIRY_S;
    let mut fields = &signed[TIMESTAMP_GROUPS..];
    while !fields.is_empty() {
        let [kind, hi, lo, rest @ ..] = fields else {
            return Err("a tagged field is cut short".into());
        };
        let len = usize::from(hi.to_u8()) * 32 + usize::from(lo.to_u8());
        let value = rest.get(..len).ok_or("a tagged field runs past the end")?;
        fields = &rest[len..];
        // Field letters: p=1, x=6, 9=5, d=13, n=19, h=23. A field of an unexpected length is skipped.
        match (kind.to_u8(), len) {
            (1, 52) if payment_hash.is_none() => payment_hash = Some(bytes(value)),
            (13, _) => {
                description = Some(
                    String::from_utf8(bytes(value)).map_err(|_| "the description is not UTF-8")?,
                );
            }
            (23, 52) => hashed = true,
            (19, 53) => payee_field = Some(bytes(value)),
            (6, _) => expiry = number(value)?,
            (5, _) => check_features(value)?,
            _ => {}
        }
    }
    let payment_hash: [u8; 32] = payment_hash
        .and_then(|h| h[..32].try_into().ok())
        .ok_or("the invoice has no payment hash")?;
    if description.is_none() && !hashed {
        return Err("the invoice has neither a description nor a description hash".into());
    }

    let signature = bytes(signature);
    let mut sig =
        Signature::from_slice(&signature[..64]).map_err(|_| "the signature is malformed")?;
    let mut recovery = *signature.get(64).ok_or("the signature is cut short")?;
    if recovery > 3 {
        return Err("the signature's recovery id is not 0-3".into());
    }
    if let Some(low) = sig.normalize_s() {
        // The same signature with s negated recovers with the other parity.
        sig = low;
        recovery ^= 1;
    }
    let mut preimage = hrp.into_bytes();
    // The signed data padded with zero bits to a whole byte.
    preimage.extend(signed.iter().copied().fes_to_bytes_zeropad());
    let digest = Sha256::digest(&preimage);
    let key = match payee_field {
        Some(n) => {
            let key = VerifyingKey::from_sec1_bytes(&n[..33])
                .map_err(|_| "the payee key (n field) is not a valid public key")?;
            key.verify_prehash(&digest, &sig)
                .map_err(|_| "the signature does not match the payee key")?;
            key
        }
        None => {
            let id = RecoveryId::from_byte(recovery).ok_or("the recovery id is invalid")?;
            VerifyingKey::recover_from_prehash(&digest, &sig, id)
                .map_err(|_| "the signature is not recoverable")?
        }
    };
    let payee: [u8; 33] = key
        .to_encoded_point(true)
        .as_bytes()
        .try_into()
        .map_err(|_| "the payee key does not compress")?;
    Ok(Invoice {
        network,
        amount_msat,
        timestamp,
        expiry,
        description,
        payment_hash,
        payee,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key every BOLT11 example is signed with.
    const PAYEE: &str = "03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad";
    const HASH: &str = "0001020304050607080900010203040506070809000102030405060708090102";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A valid example of BOLT 11: (invoice, network, msat, expiry, description).
    type Example = (
        &'static str,
        Network,
        Option<u64>,
        u64,
        Option<&'static str>,
    );

    /// Every valid example of BOLT 11 made at 1496314658 with the spec's payment hash.
    const VALID: [Example; 12] = [
        (
            "lnbc1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6twvus8g6rfwvs8qun0dfjkxaq9qrsgq357wnc5r2ueh7ck6q93dj32dlqnls087fxdwk8qakdyafkq3yap9us6v52vjjsrvywa6rt52cm9r9zqt8r2t7mlcwspyetp5h2tztugp9lfyql",
            Network::Main,
            None,
            3600,
            Some("Please consider supporting this project"),
        ),
        (
            "lnbc1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6twvus8g6rfwvs8qun0dfjkxaq8rkx3yf5tcsyz3d73gafnh3cax9rn449d9p5uxz9ezhhypd0elx87sjle52x86fux2ypatgddc6k63n7erqz25le42c4u4ecky03ylcqca784w",
            Network::Main,
            None,
            3600,
            Some("Please consider supporting this project"),
        ),
        (
            "lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpuaztrnwngzn3kdzw5hydlzf03qdgm2hdq27cqv3agm2awhz5se903vruatfhq77w3ls4evs3ch9zw97j25emudupq63nyw24cg27h2rspfj9srp",
            Network::Main,
            Some(250_000_000),
            60,
            Some("1 cup coffee"),
        ),
        (
            "lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrny",
            Network::Main,
            Some(250_000_000),
            60,
            Some("ナンセンス 1杯"),
        ),
        (
            "lnbc20m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqscc6gd6ql3jrc5yzme8v4ntcewwz5cnw92tz0pc8qcuufvq7khhr8wpald05e92xw006sq94mg8v2ndf4sefvf9sygkshp5zfem29trqq2yxxz7",
            Network::Main,
            Some(2_000_000_000),
            3600,
            None,
        ),
        (
            "lntb20m1pvjluezhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqfpp3x9et2e20v6pu37c5d9vax37wxq72un98kmzzhznpurw9sgl2v0nklu2g4d0keph5t7tj9tcqd8rexnd07ux4uv2cjvcqwaxgj7v4uwn5wmypjd5n69z2xm3xgksg28nwht7f6zspwp3f9t",
            Network::Test,
            Some(2_000_000_000),
            3600,
            None,
        ),
        (
            "lnbc20m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqsfpp3qjmp7lwpagxun9pygexvgpjdc4jdj85fr9yq20q82gphp2nflc7jtzrcazrra7wwgzxqc8u7754cdlpfrmccae92qgzqvzq2ps8pqqqqqqpqqqqq9qqqvpeuqafqxu92d8lr6fvg0r5gv0heeeqgcrqlnm6jhphu9y00rrhy4grqszsvpcgpy9qqqqqqgqqqqq7qqzqj9n4evl6mr5aj9f58zp6fyjzup6ywn3x6sk8akg5v4tgn2q8g4fhx05wf6juaxu9760yp46454gpg5mtzgerlzezqcqvjnhjh8z3g2qqdhhwkj",
            Network::Main,
            Some(2_000_000_000),
            3600,
            None,
        ),
        (
            "lnbc20m1pvjluezhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqfppj3a24vwu6r8ejrss3axul8rxldph2q7z9kmrgvr7xlaqm47apw3d48zm203kzcq357a4ls9al2ea73r8jcceyjtya6fu5wzzpe50zrge6ulk4nvjcpxlekvmxl6qcs9j3tz0469gq5g658y",
            Network::Main,
            Some(2_000_000_000),
            3600,
            None,
        ),
        (
            "lnbc20m1pvjluezhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqfppqw508d6qejxtdg4y5r3zarvary0c5xw7kepvrhrm9s57hejg0p662ur5j5cr03890fa7k2pypgttmh4897d3raaq85a293e9jpuqwl0rnfuwzam7yr8e690nd2ypcq9hlkdwdvycqa0qza8",
            Network::Main,
            Some(2_000_000_000),
            3600,
            None,
        ),
        (
            "lnbc20m1pvjluezhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqfp4qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q28j0v3rwgy9pvjnd48ee2pl8xrpxysd5g44td63g6xcjcu003j3qe8878hluqlvl3km8rm92f5stamd3jw763n3hck0ct7p8wwj463cql26ava",
            Network::Main,
            Some(2_000_000_000),
            3600,
            None,
        ),
        (
            "lnbc25m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5vdhkven9v5sxyetpdeessp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9q5sqqqqqqqqqqqqqqqpqsq67gye39hfg3zd8rgc80k32tvy9xk2xunwm5lzexnvpx6fd77en8qaq424dxgt56cag2dpt359k3ssyhetktkpqh24jqnjyw6uqd08sgptq44qu",
            Network::Main,
            Some(2_500_000_000),
            3600,
            Some("coffee beans"),
        ),
        (
            "LNBC25M1PVJLUEZPP5QQQSYQCYQ5RQWZQFQQQSYQCYQ5RQWZQFQQQSYQCYQ5RQWZQFQYPQDQ5VDHKVEN9V5SXYETPDEESSP5ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYGS9Q5SQQQQQQQQQQQQQQQPQSQ67GYE39HFG3ZD8RGC80K32TVY9XK2XUNWM5LZEXNVPX6FD77EN8QAQ424DXGT56CAG2DPT359K3SSYHETKTKPQH24JQNJYW6UQD08SGPTQ44QU",
            Network::Main,
            Some(2_500_000_000),
            3600,
            Some("coffee beans"),
        ),
    ];

    #[test]
    fn every_valid_bolt11_example_decodes_with_the_right_fields_and_payee() {
        for (invoice, network, amount, expiry, description) in VALID {
            let decoded = decode(invoice).unwrap_or_else(|e| panic!("{invoice}: {e}"));
            assert_eq!(decoded.network, network, "{invoice}");
            assert_eq!(decoded.amount_msat, amount, "{invoice}");
            assert_eq!(decoded.timestamp, 1_496_314_658, "{invoice}");
            assert_eq!(decoded.expiry, expiry, "{invoice}");
            assert_eq!(decoded.description.as_deref(), description, "{invoice}");
            assert_eq!(hex(&decoded.payment_hash), HASH, "{invoice}");
            assert_eq!(hex(&decoded.payee), PAYEE, "{invoice}");
            assert!(decoded.expired_at(1_800_000_000));
        }
    }

    #[test]
    fn the_pico_btc_example_and_the_one_with_fields_to_ignore_decode() {
        let pico = decode("lnbc9678785340p1pwmna7lpp5gc3xfm08u9qy06djf8dfflhugl6p7lgza6dsjxq454gxhj9t7a0sd8dgfkx7cmtwd68yetpd5s9xar0wfjn5gpc8qhrsdfq24f5ggrxdaezqsnvda3kkum5wfjkzmfqf3jkgem9wgsyuctwdus9xgrcyqcjcgpzgfskx6eqf9hzqnteypzxz7fzypfhg6trddjhygrcyqezcgpzfysywmm5ypxxjemgw3hxjmn8yptk7untd9hxwg3q2d6xjcmtv4ezq7pqxgsxzmnyyqcjqmt0wfjjq6t5v4khxxqyjw5qcqp2rzjq0gxwkzc8w6323m55m4jyxcjwmy7stt9hwkwe2qxmy8zpsgg7jcuwz87fcqqeuqqqyqqqqlgqqqqn3qq9qn07ytgrxxzad9hc4xt3mawjjt8znfv8xzscs7007v9gh9j569lencxa8xeujzkxs0uamak9aln6ez02uunw6rd2ht2sqe4hz8thcdagpleym0j").unwrap();
        assert_eq!(pico.amount_msat, Some(967_878_534));
        assert_eq!(pico.expiry, 604_800);
        assert_eq!(pico.timestamp, 1_572_468_703);
        assert_eq!(
            hex(&pico.payment_hash),
            "462264ede7e14047e9b249da94fefc47f41f7d02ee9b091815a5506bc8abf75f"
        );
        assert!(
            pico.description
                .unwrap()
                .starts_with("Blockstream Store: 88.85 USD")
        );

        let ignored = decode("lnbc25m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5vdhkven9v5sxyetpdeessp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9q5sqqqqqqqqqqqqqqqpqsq2qrqqqfppnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqppnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqpp4qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqhpnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqhp4qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqspnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqsp4qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnp5qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnpkqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq2jxxfsnucm4jf4zwtznpaxphce606fvhvje5x7d4gw7n73994hgs7nteqvenq8a4ml8aqtchv5d9pf7l558889hp4yyrqv6a7zpq9fgpskqhza").unwrap();
        assert_eq!(
            hex(&ignored.payment_hash),
            HASH,
            "the malformed p fields were skipped"
        );
        assert_eq!(
            hex(&ignored.payee),
            PAYEE,
            "the malformed n fields were skipped"
        );
    }

    #[test]
    fn the_bolt11_checksum_is_bech32_with_a_longer_limit() {
        // The check the `bech32` crate asks of every checksum defined outside it.
        Bolt11Bech32::sanity_check();
        let long = format!("lnbc1{}", "q".repeat(MAX_LEN));
        let err = decode(&long).unwrap_err();
        assert_eq!(
            err,
            format!(
                "{} characters, longer than the {MAX_LEN} allowed",
                long.len()
            )
        );
    }

    #[test]
    fn every_invalid_bolt11_example_is_refused_for_its_reason() {
        let invalid = [
            (
                "lnbc25m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5vdhkven9v5sxyetpdeessp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9q4psqqqqqqqqqqqqqqqpqsqq40wa3khl49yue3zsgm26jrepqr2eghqlx86rttutve3ugd05em86nsefzh4pfurpd9ek9w2vp95zxqnfe2u7ckudyahsa52q66tgzcp6t2dyk",
                "feature 100",
            ),
            (
                "lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrnt",
                "checksum",
            ),
            (
                "pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrny",
                "separator",
            ),
            (
                "LNBC2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrny",
                "mixed",
            ),
            (
                "lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpuaxtrnwngzn3kdzw5hydlzf03qdgm2hdq27cqv3agm2awhz5se903vruatfhq77w3ls4evs3ch9zw97j25emudupq63nyw24cg27h2rspk28uwq",
                "recoverable",
            ),
            (
                "lnbc1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6na6hlh",
                "too short",
            ),
            (
                "lnbc2500x1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpujr6jxr9gq9pv6g46y7d20jfkegkg4gljz2ea2a3m9lmvvr95tq2s0kvu70u3axgelz3kyvtp2ywwt0y8hkx2869zq5dll9nelr83zzqqpgl2zg",
                "multiplier",
            ),
            (
                "lnbc2500000001p1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpu7hqtk93pkf7sw55rdv4k9z2vj050rxdr6za9ekfs3nlt5lr89jqpdmxsmlj9urqumg0h9wzpqecw7th56tdms40p2ny9q4ddvjsedzcplva53s",
                "millisatoshi",
            ),
        ];
        for (invoice, reason) in invalid {
            let err = decode(invoice).expect_err(invoice);
            assert!(
                err.contains(reason),
                "{invoice}: {err:?} should say {reason:?}"
            );
        }
    }
}
