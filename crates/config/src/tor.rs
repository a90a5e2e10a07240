//! `[tor]`: how the embedded Tor client finds the network. Empty, it is the public Tor network; a
//! private network (the tests' own relays on loopback) names its directory authorities.

use serde::Deserialize;

/// The `[tor]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TorConfig {
    /// The directory authorities of a private Tor network; none means the public one.
    #[serde(default)]
    pub authorities: Vec<TorAuthority>,
    /// A private network's onion-service time period, in minutes (24 voting intervals there).
    pub hsdir_interval_minutes: Option<u32>,
    /// How long connecting to Tor may take before the transport says it is unreachable (it keeps
    /// trying); 60 s unless set.
    pub unreachable_after_secs: Option<u64>,
    /// Bridges to enter Tor by, instead of its public relays (where Tor itself is blocked): bridge
    /// lines as the Tor Project hands them out, `ADDRESS:PORT FINGERPRINT`, without `Bridge`.
    #[serde(default)]
    pub bridges: Vec<String>,
    /// Whether this profile refuses to reach Tor except through bridges.
    #[serde(default)]
    pub require_bridges: bool,
}

impl TorConfig {
    /// Whether this is a private network of the user's (or a test's) own.
    pub fn is_private(&self) -> bool {
        !self.authorities.is_empty()
    }
}

/// One authority of a private network, on loopback.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TorAuthority {
    /// Its v3 identity fingerprint (hex), which signs the consensus.
    pub v3ident: String,
    /// Its relay RSA identity fingerprint (hex).
    pub rsa_identity: String,
    /// Its relay Ed25519 identity (base64, unpadded).
    pub ed_identity: String,
    /// Its ORPort on 127.0.0.1.
    pub or_port: u16,
}
