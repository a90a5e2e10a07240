//! Bearer tokens: 32 random bytes, written as 64 lowercase hex digits. The mailbox keeps only a
//! digest of each, so its disk does not hand a thief the tokens themselves.

use sha2::{Digest, Sha256};

/// A bearer token.
#[derive(Clone, PartialEq, Eq)]
pub struct Token([u8; 32]);

/// What the mailbox keeps of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest(pub [u8; 32]);

impl Token {
    /// A new random token.
    pub fn generate() -> Token {
        Token(random())
    }

    /// The token `hex` spells, if it is 64 hex digits.
    pub fn from_hex(hex: &str) -> Option<Token> {
        let mut bytes = [0u8; 32];
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        hex::decode_to_slice(hex, &mut bytes).ok()?;
        Some(Token(bytes))
    }

    /// Its bytes.
    pub fn bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Its 64 hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// What the mailbox keeps of it.
    pub fn digest(&self) -> TokenDigest {
        let mut hash = Sha256::new();
        hash.update(b"courier mailbox token");
        hash.update(self.0);
        TokenDigest(hash.finalize().into())
    }

    /// The token derived from this one under `secret` for `purpose`: the owner's token from the
    /// setup token, so that a setup repeated (its reply lost) answers the same token.
    pub fn derive(&self, secret: &[u8; 32], purpose: &[u8]) -> Token {
        let mut hash = Sha256::new();
        hash.update(b"courier mailbox derived token");
        hash.update(secret);
        hash.update(purpose);
        hash.update(self.0);
        Token(hash.finalize().into())
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token([redacted])")
    }
}

/// 32 random bytes.
pub(crate) fn random() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_reads_back_from_its_hex_and_nothing_else_does() {
        let token = Token::generate();
        assert_eq!(Token::from_hex(&token.to_hex()), Some(token.clone()));
        assert_eq!(Token::from_hex(&token.to_hex()[1..]), None);
        assert_eq!(Token::from_hex(&"g".repeat(64)), None);
        assert_eq!(Token::from_hex(&"+1".repeat(32)), None);
        assert_ne!(token.digest(), Token::generate().digest());
        assert_eq!(format!("{token:?}"), "Token([redacted])");
    }

    #[test]
    fn a_derived_token_depends_on_the_secret_the_purpose_and_the_token() {
        let (token, secret) = (Token::from_hex(&"11".repeat(32)).unwrap(), [7u8; 32]);
        let owner = token.derive(&secret, b"owner");
        assert_eq!(owner, token.derive(&secret, b"owner"));
        assert_ne!(owner, token.derive(&[8u8; 32], b"owner"));
        assert_ne!(owner, token.derive(&secret, b"other"));
        assert_ne!(owner, Token::generate().derive(&secret, b"owner"));
        // Pinned: a change of derivation would strand every paired owner.
        assert_eq!(
            owner.to_hex(),
            "8f2098ec2c8c24d107c1113d5b19673fdb1357374a2347d5ed38a35219038258"
        );
    }
}
