//! The `courier/payment` message type: a payment *request*, never a payment. The receiver gets a URI
//! that was validated on both ends, to hand to their own wallet.
//!
//! Supported: `bitcoin:` URIs (BIP21) whose address is base58check (P2PKH/P2SH) or segwit
//! (BIP173 Bech32 for v0, BIP350 Bech32m for v1+), with `amount`, `label` and `message`; a `req-`
//! parameter this build does not know makes the request invalid, as BIP21 says. `monero:` URIs with
//! a standard, integrated or subaddress (Monero base58, network prefix, Keccak checksum) and
//! `tx_amount`, `recipient_name`, `tx_description`. The `network` option (`main`, default, or `test`,
//! which takes Monero's stagenet too) refuses a request for the other network before it is sent.
//! Lightning invoices (BOLT11, bare or as `lightning:` URIs): Bech32 decoded, amount, expiry,
//! description and network read, the signature checked against the payee key; an expired invoice
//! is refused before it is sent, and shown as expired after.

pub mod address;
pub mod bolt11;
pub mod monero;

use courier_plugin::content_type::{ContentType, Exports};
use courier_plugin::message_type::courier::plugin::types::{PluginError, Setting};
use courier_plugin::payload::utf8;
use courier_plugin::settings::{get, only_keys};
use courier_plugin::text_safety::is_spoofing;
use courier_plugin::uri::{percent_decode, percent_encode};

/// Content type name this plugin owns.
pub const CONTENT_TYPE: &str = "courier/payment";
const MAX_BYTES: u64 = 2048;
const MAX_TEXT_CHARS: usize = 200;

/// The coins a request can be for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coin {
    /// `bitcoin:` (BIP21).
    Bitcoin,
    /// `monero:`.
    Monero,
}

impl Coin {
    fn scheme(self) -> &'static str {
        match self {
            Coin::Bitcoin => "bitcoin",
            Coin::Monero => "monero",
        }
    }

    fn ticker(self) -> &'static str {
        match self {
            Coin::Bitcoin => "BTC",
            Coin::Monero => "XMR",
        }
    }

    /// Decimals of the smallest unit (satoshi, piconero).
    fn decimals(self) -> usize {
        match self {
            Coin::Bitcoin => 8,
            Coin::Monero => 12,
        }
    }

    /// The most whole coins an amount may name (bitcoin's supply cap; a sanity bound for monero).
    fn max_whole(self) -> u64 {
        match self {
            Coin::Bitcoin => 21_000_000,
            Coin::Monero => 18_000_000,
        }
    }

    /// Query parameter names for amount, label and message.
    fn params(self) -> [&'static str; 3] {
        match self {
            Coin::Bitcoin => ["amount", "label", "message"],
            Coin::Monero => ["tx_amount", "recipient_name", "tx_description"],
        }
    }
}

/// Which network an address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Mainnet.
    Main,
    /// A test network (bitcoin testnet/signet/regtest, monero testnet/stagenet).
    Test,
}

/// A validated payment request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Which coin.
    pub coin: Coin,
    /// The address, segwit ones lowercased.
    pub address: String,
    /// Its network.
    pub network: Network,
    /// Amount in the coin's smallest unit.
    pub amount: Option<u64>,
    /// Who asks.
    pub label: Option<String>,
    /// What for.
    pub message: Option<String>,
}

fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::InvalidInput(message.into())
}

/// The network of a valid bitcoin address, or why it is not one.
pub fn bitcoin_network(address: &str) -> Result<Network, String> {
    let lower = address.to_ascii_lowercase();
    if ["bc1", "tb1", "bcrt1"].iter().any(|p| lower.starts_with(p)) {
        let (hrp, _, _) = address::segwit(address)?;
        return if hrp.is_valid_on_mainnet() {
            Ok(Network::Main)
        } else if hrp.is_valid_on_testnet() || hrp.is_valid_on_regtest() {
            Ok(Network::Test)
        } else {
            Err(format!(
                "{:?} is not a bitcoin address prefix",
                hrp.to_lowercase()
            ))
        };
    }
    let bytes = address::base58check(address)?;
    if bytes.len() != 21 {
        return Err(format!("a {}-byte base58 payload", bytes.len()));
    }
    match bytes[0] {
        0x00 | 0x05 => Ok(Network::Main),
        0x6f | 0xc4 => Ok(Network::Test),
        v => Err(format!("version byte {v:#04x} is not a bitcoin address")),
    }
}

fn parse_amount(text: &str, coin: Coin) -> Result<u64, PluginError> {
    let bad = || invalid(format!("amount {text:?} is not a number like 0.0005"));
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let decimals = coin.decimals();
    if fraction.len() > decimals {
        return Err(invalid(format!(
            "an amount has at most {decimals} decimals (the smallest unit)"
        )));
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    if whole > coin.max_whole() {
        return Err(invalid(format!(
            "an amount over {} {}",
            coin.max_whole(),
            coin.ticker()
        )));
    }
    let fraction: u64 = format!("{fraction:0<decimals$}")
        .parse()
        .map_err(|_| bad())?;
    Ok(whole * 10u64.pow(decimals as u32) + fraction)
}

fn amount_text(units: u64, coin: Coin) -> String {
    let scale = 10u64.pow(coin.decimals() as u32);
    let text = format!(
        "{}.{:0width$}",
        units / scale,
        units % scale,
        width = coin.decimals()
    );
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
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

impl Request {
    /// Parses and validates a `bitcoin:` or `monero:` URI.
    pub fn parse(uri: &str) -> Result<Request, PluginError> {
        let (scheme, rest) = uri.split_once(':').ok_or_else(|| {
            invalid("a payment request is a URI such as bitcoin:ADDRESS?amount=0.01")
        })?;
        let coin = match scheme.to_ascii_lowercase().as_str() {
            "bitcoin" => Coin::Bitcoin,
            "monero" => Coin::Monero,
            other => {
                return Err(invalid(format!(
                    "{other}: is not a payment scheme Courier knows"
                )));
            }
        };
        let (address, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (address, network) = match coin {
            Coin::Bitcoin => {
                let network = bitcoin_network(address)
                    .map_err(|e| invalid(format!("the bitcoin address is invalid: {e}")))?;
                // Segwit addresses may be upper case (QR codes); the payload carries lower case.
                if address::segwit(address).is_ok() {
                    (address.to_ascii_lowercase(), network)
                } else {
                    (address.to_owned(), network)
                }
            }
            Coin::Monero => {
                let (network, _) = monero::check(address)
                    .map_err(|e| invalid(format!("the monero address is invalid: {e}")))?;
                let network = match network {
                    monero::MoneroNetwork::Main => Network::Main,
                    monero::MoneroNetwork::Test | monero::MoneroNetwork::Stage => Network::Test,
                };
                (address.to_owned(), network)
            }
        };
        let mut request = Request {
            coin,
            address,
            network,
            amount: None,
            label: None,
            message: None,
        };
        let [amount, label, message] = coin.params();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value =
                percent_decode(value).map_err(|e| invalid(format!("a parameter has {e}")))?;
            if key == amount {
                request.amount = Some(parse_amount(&value, coin)?);
            } else if key == label {
                check_text(&value, "label")?;
                request.label = Some(value);
            } else if key == message {
                check_text(&value, "message")?;
                request.message = Some(value);
            } else if key.starts_with("req-") {
                return Err(invalid(format!(
                    "the request requires {key:?}, which this build does not understand"
                )));
            }
            // Parameters not understood and not required are ignored (BIP21).
        }
        Ok(request)
    }

    /// The canonical URI the payload carries.
    pub fn to_uri(&self) -> String {
        let [amount, label, message] = self.coin.params();
        let mut params = Vec::new();
        if let Some(units) = self.amount {
            params.push(format!("{amount}={}", amount_text(units, self.coin)));
        }
        if let Some(text) = &self.label {
            params.push(format!("{label}={}", percent_encode(text)));
        }
        if let Some(text) = &self.message {
            params.push(format!("{message}={}", percent_encode(text)));
        }
        let mut uri = format!("{}:{}", self.coin.scheme(), self.address);
        if !params.is_empty() {
            uri.push('?');
            uri.push_str(&params.join("&"));
        }
        uri
    }

    /// One line for display.
    pub fn summary(&self) -> String {
        let ticker = self.coin.ticker();
        let amount = self.amount.map_or(format!("some {ticker}"), |units| {
            format!("{} {ticker}", amount_text(units, self.coin))
        });
        let net = match self.network {
            Network::Main => "",
            Network::Test => " (test network)",
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

/// The invoice in `text` if it is a Lightning one: `lightning:INVOICE` or a bare `ln…` invoice.
fn lightning_invoice(text: &str) -> Option<&str> {
    let invoice = match text.split_once(':') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("lightning") => rest,
        Some(_) => return None,
        None => text,
    };
    invoice
        .get(..2)
        .is_some_and(|p| p.eq_ignore_ascii_case("ln"))
        .then_some(invoice)
}

fn decode_invoice(invoice: &str) -> Result<bolt11::Invoice, PluginError> {
    bolt11::decode(invoice).map_err(|e| invalid(format!("the Lightning invoice is invalid: {e}")))
}

/// One line for a Lightning invoice at `now_s` (Unix seconds).
pub fn invoice_summary(invoice: &bolt11::Invoice, now_s: u64) -> String {
    let amount = invoice.amount_msat.map_or("any amount".to_owned(), |msat| {
        let sat = msat / 1000;
        format!(
            "{} BTC ({sat} sat{})",
            amount_text(sat, Coin::Bitcoin),
            if msat % 1000 == 0 {
                ""
            } else {
                " and some msat"
            }
        )
    });
    let net = match invoice.network {
        Network::Main => "",
        Network::Test => " (test network)",
    };
    let payee: String = invoice.payee[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut text = format!("Lightning invoice: {amount}{net} to node {payee}…");
    if let Some(d) = &invoice.description {
        let d: String = d
            .chars()
            .filter(|c| !is_spoofing(*c) && !c.is_control())
            .take(MAX_TEXT_CHARS)
            .collect();
        text.push_str(&format!(" for {d}"));
    }
    let end = invoice.timestamp.saturating_add(invoice.expiry);
    if end <= now_s {
        text.push_str(" (expired)");
    } else {
        text.push_str(&format!(", expires in {} min", (end - now_s).div_ceil(60)));
    }
    text
}

/// The network the `network` setting names: requests for any other are refused before they leave.
fn network<S: courier_plugin::settings::Setting>(options: &[S]) -> Result<Network, PluginError> {
    match get(options, "network").unwrap_or("main") {
        "main" => Ok(Network::Main),
        "test" => Ok(Network::Test),
        other => Err(invalid(format!(
            "setting `network` is main or test, not {other:?}"
        ))),
    }
}

/// The payload for user input `input` with the profile's `options`, at `now_s` (Unix seconds).
pub fn prepare_at<S: courier_plugin::settings::Setting>(
    input: &[u8],
    options: &[S],
    now_s: u64,
) -> Result<Vec<u8>, PluginError> {
    let text = utf8(input, MAX_BYTES, "a payment request")?.trim();
    let wanted = network(options)?;
    let (network, payload) = match lightning_invoice(text) {
        Some(invoice) => {
            let decoded = decode_invoice(invoice)?;
            if decoded.expired_at(now_s) {
                return Err(invalid(
                    "the Lightning invoice has expired; ask the payee for a new one",
                ));
            }
            (
                decoded.network,
                format!("lightning:{}", invoice.to_ascii_lowercase()),
            )
        }
        None => {
            let request = Request::parse(text)?;
            (request.network, request.to_uri())
        }
    };
    if network != wanted {
        return Err(invalid(format!(
            "the address is for the {network:?} network but this profile sends {wanted:?} network requests"
        )));
    }
    Ok(payload.into_bytes())
}

/// Checks an incoming payload; an expired invoice is still a valid message (history keeps it).
pub fn validate(payload: &[u8]) -> Result<(), PluginError> {
    let text = utf8(payload, MAX_BYTES, "a payment request")?;
    match lightning_invoice(text) {
        Some(invoice) => decode_invoice(invoice).map(drop),
        None => Request::parse(text).map(drop),
    }
}

/// One line for a payload at `now_s`; only an invoice's expiry depends on the time.
pub fn summary_at(payload: &[u8], now_s: impl FnOnce() -> u64) -> Result<String, PluginError> {
    let text = utf8(payload, MAX_BYTES, "a payment request")?;
    match lightning_invoice(text) {
        Some(invoice) => Ok(invoice_summary(&decode_invoice(invoice)?, now_s())),
        None => Ok(Request::parse(text)?.summary()),
    }
}

fn now_s() -> u64 {
    courier_plugin::message_type::courier::plugin::clock::now_ms() / 1000
}

/// The plugin's exports.
pub struct Payment;

impl ContentType for Payment {
    const NAME: &'static str = CONTENT_TYPE;
    const MAX_INPUT_BYTES: u64 = MAX_BYTES;
    const MAX_PAYLOAD_BYTES: u64 = MAX_BYTES;
    const SETTINGS: &'static [&'static str] = &["network"];

    fn check_settings(settings: &[Setting]) -> Result<(), PluginError> {
        only_keys(settings, Self::SETTINGS).map_err(PluginError::InvalidInput)?;
        network(settings).map(drop)
    }

    fn prepare(input: &[u8], options: &[Setting]) -> Result<Vec<u8>, PluginError> {
        prepare_at(input, options, now_s())
    }

    fn validate(payload: &[u8]) -> Result<(), PluginError> {
        validate(payload)
    }

    fn summary(payload: &[u8]) -> Result<String, PluginError> {
        summary_at(payload, now_s)
    }
}

/// The plugin's exports.
pub type Plugin = Exports<Payment>;

courier_plugin::export_message_type!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use courier_plugin::message_type::exports::courier::plugin::content::Guest;

    /// A time after every BOLT11 example was made and before any expired: 2017-06-01 10:57:58.
    const EXAMPLES_NOW: u64 = 1_496_314_678;

    fn prepare(uri: &str, network: &str) -> Result<String, PluginError> {
        prepare_at(uri.as_bytes(), &[("network", network)], EXAMPLES_NOW)
            .map(|p| String::from_utf8(p).unwrap())
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
        let summary = Plugin::summary(full.into_bytes(), 1).unwrap();
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
            matches!(&wrong, PluginError::InvalidInput(m) if m.contains("Test network")),
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
            "monero:44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBQp7fSyC5hVv5PeQQbpL",
            "lightning:lnbc1somethinginvalid",
            "https://example.org/pay",
            "not a uri",
        ] {
            assert!(prepare(bad, "main").is_err(), "{bad} was accepted");
            assert!(
                Plugin::validate(bad.as_bytes().to_vec(), 1).is_err(),
                "{bad} validated"
            );
        }
    }

    #[test]
    fn monero_requests_validate_address_amount_and_network() {
        let fund = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";
        let uri = format!(
            "monero:{fund}?tx_amount=0.25&recipient_name=General%20Fund&tx_description=thanks"
        );
        let payload = prepare(&uri, "main").unwrap();
        assert_eq!(payload, uri);
        assert_eq!(
            Plugin::summary(payload.into_bytes(), 1).unwrap(),
            format!("Payment request: 0.25 XMR to {fund} from General Fund for thanks")
        );
        assert!(
            prepare(&uri, "test").is_err(),
            "a mainnet address under a test profile"
        );
        let too_fine = format!("monero:{fund}?tx_amount=0.0000000000001");
        assert!(
            prepare(&too_fine, "main").is_err(),
            "13 decimals is below a piconero"
        );
    }

    #[test]
    fn lightning_invoices_are_checked_for_signature_network_and_expiry_before_they_are_sent() {
        let coffee = "lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpuaztrnwngzn3kdzw5hydlzf03qdgm2hdq27cqv3agm2awhz5se903vruatfhq77w3ls4evs3ch9zw97j25emudupq63nyw24cg27h2rspfj9srp";
        let payload = prepare(&format!("lightning:{coffee}"), "main").unwrap();
        assert_eq!(payload, format!("lightning:{coffee}"));
        assert_eq!(
            prepare(coffee, "main").unwrap(),
            payload,
            "a bare invoice too"
        );
        validate(payload.as_bytes()).unwrap();
        assert_eq!(
            summary_at(payload.as_bytes(), || EXAMPLES_NOW).unwrap(),
            "Lightning invoice: 0.0025 BTC (250000 sat) to node 03e7156a… for 1 cup coffee, expires in 1 min"
        );
        assert!(
            summary_at(payload.as_bytes(), || EXAMPLES_NOW + 3600)
                .unwrap()
                .ends_with("(expired)")
        );
        let late = prepare_at(coffee.as_bytes(), &[("network", "main")], EXAMPLES_NOW + 60);
        assert!(matches!(late, Err(PluginError::InvalidInput(m)) if m.contains("expired")));

        let upper = "LIGHTNING:LNBC25M1PVJLUEZPP5QQQSYQCYQ5RQWZQFQQQSYQCYQ5RQWZQFQQQSYQCYQ5RQWZQFQYPQDQ5VDHKVEN9V5SXYETPDEESSP5ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYGS9Q5SQQQQQQQQQQQQQQQPQSQ67GYE39HFG3ZD8RGC80K32TVY9XK2XUNWM5LZEXNVPX6FD77EN8QAQ424DXGT56CAG2DPT359K3SSYHETKTKPQH24JQNJYW6UQD08SGPTQ44QU";
        let lowered = prepare(upper, "main").unwrap();
        assert!(
            lowered.starts_with("lightning:lnbc25m1pvjluez"),
            "{lowered}"
        );

        let testnet = "lntb20m1pvjluezhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqfpp3x9et2e20v6pu37c5d9vax37wxq72un98kmzzhznpurw9sgl2v0nklu2g4d0keph5t7tj9tcqd8rexnd07ux4uv2cjvcqwaxgj7v4uwn5wmypjd5n69z2xm3xgksg28nwht7f6zspwp3f9t";
        assert!(
            matches!(prepare(testnet, "main"), Err(PluginError::InvalidInput(m)) if m.contains("Test network"))
        );
        prepare(testnet, "test").unwrap();
        // One character changed: the checksum catches it.
        let typo = coffee.replacen("xysxxats", "xysxxatt", 1);
        assert!(validate(format!("lightning:{typo}").as_bytes()).is_err());
    }
}
