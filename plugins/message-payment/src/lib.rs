//! The `courier/payment` message type: a payment *request*, never a payment. The receiver gets a URI
//! that was validated on both ends, to hand to their own wallet.
//!
//! Supported: `bitcoin:` URIs (BIP21) whose address is base58check (P2PKH/P2SH) or segwit
//! (BIP173 Bech32 for v0, BIP350 Bech32m for v1+), with `amount`, `label` and `message`; a `req-`
//! parameter this build does not know makes the request invalid, as BIP21 says. The `network` option
//! (`main`, default, or `test`) refuses a request for the other network before it is sent.
//! Not yet supported, and refused with a clear error: `monero:` and Lightning (BOLT11) requests.

mod base58;
pub mod bech32;

use courier_plugin::message_type::courier::plugin::types::{PluginError, Setting};
use courier_plugin::message_type::exports::courier::plugin::content::{
    Description, Guest, VersionRange,
};
use courier_plugin::payload::{expect_version, utf8};
use courier_plugin::settings::get;
use courier_plugin::text_safety::is_spoofing;

/// Content type name this plugin owns.
pub const CONTENT_TYPE: &str = "courier/payment";
const MAX_BYTES: u64 = 2048;
const MAX_TEXT_CHARS: usize = 200;
/// Satoshis in one bitcoin, and the most bitcoin there will ever be.
const SATS_PER_BTC: u64 = 100_000_000;
const MAX_BTC: u64 = 21_000_000;

/// Which Bitcoin network an address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Mainnet.
    Main,
    /// Testnet, signet or regtest.
    Test,
}

/// A validated BIP21 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitcoinRequest {
    /// The address, segwit ones lowercased.
    pub address: String,
    /// Its network.
    pub network: Network,
    /// Amount in satoshis.
    pub amount_sats: Option<u64>,
    /// Who asks.
    pub label: Option<String>,
    /// What for.
    pub message: Option<String>,
}

fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::InvalidInput(message.into())
}

/// The network of a valid address, or why it is not one.
pub fn address_network(address: &str) -> Result<Network, String> {
    let lower = address.to_ascii_lowercase();
    if ["bc1", "tb1", "bcrt1"].iter().any(|p| lower.starts_with(p)) {
        let decoded = bech32::segwit(address)?;
        return match decoded.hrp.as_str() {
            "bc" => Ok(Network::Main),
            "tb" | "bcrt" => Ok(Network::Test),
            other => Err(format!("{other:?} is not a bitcoin address prefix")),
        };
    }
    let bytes = base58::decode_check(address)?;
    if bytes.len() != 21 {
        return Err(format!("a {}-byte base58 payload", bytes.len()));
    }
    match bytes[0] {
        0x00 | 0x05 => Ok(Network::Main),
        0x6f | 0xc4 => Ok(Network::Test),
        v => Err(format!("version byte {v:#04x} is not a bitcoin address")),
    }
}

fn percent_decode(text: &str) -> Result<String, PluginError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let byte = text
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| invalid("a broken %-escape"))?;
                out.push(byte);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| invalid("a parameter is not UTF-8"))
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn parse_amount(text: &str) -> Result<u64, PluginError> {
    let bad = || {
        invalid(format!(
            "amount {text:?} is not a number of bitcoin like 0.0005"
        ))
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if fraction.len() > 8 {
        return Err(invalid("an amount has at most 8 decimals (1 satoshi)"));
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    if whole > MAX_BTC {
        return Err(invalid("an amount over 21 million bitcoin"));
    }
    let fraction: u64 = format!("{fraction:0<8}").parse().map_err(|_| bad())?;
    Ok(whole * SATS_PER_BTC + fraction)
}

fn check_text(text: &str, what: &str) -> Result<(), PluginError> {
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(invalid(format!(
            "the {what} is over {MAX_TEXT_CHARS} characters"
        )));
    }
    if text.chars().any(|c| is_spoofing(c) || c.is_control()) {
        return Err(invalid(format!(
            "the {what} contains invisible or direction-changing characters"
        )));
    }
    Ok(())
}

impl BitcoinRequest {
    /// Parses and validates a `bitcoin:` URI.
    pub fn parse(uri: &str) -> Result<BitcoinRequest, PluginError> {
        let (scheme, rest) = uri.split_once(':').ok_or_else(|| {
            invalid("a payment request is a URI such as bitcoin:ADDRESS?amount=0.01")
        })?;
        match scheme.to_ascii_lowercase().as_str() {
            "bitcoin" => {}
            "monero" | "lightning" => {
                return Err(invalid(format!(
                    "{scheme}: requests are not supported by this build yet; only bitcoin: is"
                )));
            }
            other => {
                return Err(invalid(format!(
                    "{other}: is not a payment scheme Courier knows"
                )));
            }
        }
        let (address, query) = rest.split_once('?').unwrap_or((rest, ""));
        let network = address_network(address)
            .map_err(|e| invalid(format!("the bitcoin address is invalid: {e}")))?;
        // Segwit addresses may be written in upper case (QR codes); the payload carries lower case.
        let address = if bech32::segwit(address).is_ok() {
            address.to_ascii_lowercase()
        } else {
            address.to_owned()
        };
        let mut request = BitcoinRequest {
            address,
            network,
            amount_sats: None,
            label: None,
            message: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value)?;
            match key {
                "amount" => request.amount_sats = Some(parse_amount(&value)?),
                "label" => {
                    check_text(&value, "label")?;
                    request.label = Some(value);
                }
                "message" => {
                    check_text(&value, "message")?;
                    request.message = Some(value);
                }
                k if k.starts_with("req-") => {
                    return Err(invalid(format!(
                        "the request requires {k:?}, which this build does not understand"
                    )));
                }
                // BIP21: parameters not understood and not required are ignored.
                _ => {}
            }
        }
        Ok(request)
    }

    /// The canonical URI the payload carries.
    pub fn to_uri(&self) -> String {
        let mut params = Vec::new();
        if let Some(sats) = self.amount_sats {
            params.push(format!("amount={}", btc(sats)));
        }
        if let Some(label) = &self.label {
            params.push(format!("label={}", percent_encode(label)));
        }
        if let Some(message) = &self.message {
            params.push(format!("message={}", percent_encode(message)));
        }
        let mut uri = format!("bitcoin:{}", self.address);
        if !params.is_empty() {
            uri.push('?');
            uri.push_str(&params.join("&"));
        }
        uri
    }

    /// One line for display.
    pub fn summary(&self) -> String {
        let amount = self
            .amount_sats
            .map_or("some bitcoin".to_owned(), |s| format!("{} BTC", btc(s)));
        let net = match self.network {
            Network::Main => "",
            Network::Test => " (testnet)",
        };
        let mut text = format!("Payment request: {amount}{net} to {}", self.address);
        if let Some(label) = &self.label {
            text.push_str(&format!(" from {label}"));
        }
        if let Some(message) = &self.message {
            text.push_str(&format!(" for {message}"));
        }
        text
    }
}

fn btc(sats: u64) -> String {
    let text = format!("{}.{:08}", sats / SATS_PER_BTC, sats % SATS_PER_BTC);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The plugin's exports.
pub struct Payment;

impl Guest for Payment {
    fn describe() -> Description {
        Description {
            content_type: CONTENT_TYPE.into(),
            versions: VersionRange { min: 1, max: 1 },
            max_input_bytes: MAX_BYTES,
            max_payload_bytes: MAX_BYTES,
        }
    }

    fn prepare(
        input: Vec<u8>,
        options: Vec<Setting>,
        version: u32,
    ) -> Result<Vec<u8>, PluginError> {
        expect_version(version, 1)?;
        let request = BitcoinRequest::parse(utf8(&input, MAX_BYTES, "a payment request")?.trim())?;
        let wanted = match get(&options, "network").unwrap_or("main") {
            "main" => Network::Main,
            "test" => Network::Test,
            other => return Err(invalid(format!("network {other:?} is main or test"))),
        };
        if request.network != wanted {
            return Err(invalid(format!(
                "the address is for {:?}net but this profile sends {:?}net requests",
                request.network, wanted
            )));
        }
        Ok(request.to_uri().into_bytes())
    }

    fn validate(payload: Vec<u8>, version: u32) -> Result<(), PluginError> {
        expect_version(version, 1)?;
        BitcoinRequest::parse(utf8(&payload, MAX_BYTES, "a payment request")?).map(drop)
    }

    fn summary(payload: Vec<u8>, version: u32) -> Result<String, PluginError> {
        expect_version(version, 1)?;
        Ok(BitcoinRequest::parse(utf8(&payload, MAX_BYTES, "a payment request")?)?.summary())
    }
}

courier_plugin::export_message_type!(Payment);

#[cfg(test)]
mod tests {
    use super::*;

    fn prepare(uri: &str, network: &str) -> Result<String, PluginError> {
        let options = vec![Setting {
            key: "network".into(),
            value: network.into(),
        }];
        Payment::prepare(uri.as_bytes().to_vec(), options, 1).map(|p| String::from_utf8(p).unwrap())
    }

    #[test]
    fn bip21_examples_are_accepted_or_refused_as_the_bip_says() {
        // BIP21's example address has a bad checksum (other wallets' tests refuse it too), so it is
        // refused here, and the examples run with a real address in its place.
        let example = "bitcoin:175tWpb8K1S7NmH4Zx6rewF9WQrcZv245W?label=Luke-Jr";
        let refused = prepare(example, "main").unwrap_err();
        assert!(
            matches!(&refused, PluginError::InvalidInput(m) if m.contains("checksum")),
            "{refused:?}"
        );
        let genesis = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa";
        for uri in [
            format!("bitcoin:{genesis}"),
            format!("bitcoin:{genesis}?label=Luke-Jr"),
            format!("bitcoin:{genesis}?amount=20.3&label=Luke-Jr"),
            format!(
                "bitcoin:{genesis}?amount=50&label=Luke-Jr&message=Donation%20for%20project%20xyz"
            ),
            format!("bitcoin:{genesis}?somethingyoudontunderstand=50&somethingelseyoudontget=999"),
        ] {
            prepare(&uri, "main").unwrap_or_else(|e| panic!("{uri}: {e:?}"));
        }
        let required = format!(
            "bitcoin:{genesis}?req-somethingyoudontunderstand=50&req-somethingelseyoudontget=999"
        );
        assert!(prepare(&required, "main").is_err());
        let full = prepare(
            &format!(
                "bitcoin:{genesis}?amount=50&label=Luke-Jr&message=Donation%20for%20project%20xyz"
            ),
            "main",
        )
        .unwrap();
        let summary = Payment::summary(full.into_bytes(), 1).unwrap();
        assert_eq!(
            summary,
            format!(
                "Payment request: 50 BTC to {genesis} from Luke-Jr for Donation for project xyz"
            )
        );
        let amount = prepare(&format!("bitcoin:{genesis}?amount=20.3"), "main").unwrap();
        assert!(amount.ends_with("amount=20.3"), "{amount}");
    }

    #[test]
    fn segwit_requests_validate_their_address_and_network() {
        let ok = prepare(
            "bitcoin:BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4?amount=0.0005",
            "main",
        )
        .unwrap();
        assert_eq!(
            ok,
            "bitcoin:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4?amount=0.0005"
        );
        let taproot = "bitcoin:bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0";
        prepare(taproot, "main").unwrap();
        let testnet = "bitcoin:tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7";
        let wrong = prepare(testnet, "main").unwrap_err();
        assert!(
            matches!(&wrong, PluginError::InvalidInput(m) if m.contains("Testnet")),
            "{wrong:?}"
        );
        prepare(testnet, "test").unwrap();
        for bad in [
            "bitcoin:tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",
            "bitcoin:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
            "bitcoin:175tWpb8K1S7NmH4Zx6rewF9WQrcZv245X",
            "bitcoin:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4?amount=1.123456789",
            "bitcoin:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4?amount=-1",
            "bitcoin:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4?amount=21000001",
            "bitcoin:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4?label=pay%E2%80%AEme",
            "monero:44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A",
            "https://example.org/pay",
            "not a uri",
        ] {
            assert!(prepare(bad, "main").is_err(), "{bad} was accepted");
            assert!(
                Payment::validate(bad.as_bytes().to_vec(), 1).is_err(),
                "{bad} validated"
            );
        }
    }
}
