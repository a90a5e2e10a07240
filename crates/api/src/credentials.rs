//! What a request must show: the API's bearer token, and a `Host` (and `Origin`) naming this server.

use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;

/// The API's secret: 32 random bytes as 64 hex digits.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// A new token from the OS's random source.
    pub fn generate() -> Token {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the OS has a random source");
        Token(hex::encode(bytes))
    }

    /// The token, to write to the token file.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `given` is the token, in time that does not depend on where they differ.
    pub fn matches(&self, given: &str) -> bool {
        // Lengths are public (every token is 64 digits); only the contents are compared in constant time.
        given.len() == self.0.len() && bool::from(given.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

/// The `Host` values this server answers to: loopback names with its port (and the bound address,
/// when it serves remote clients).
#[derive(Debug, Clone)]
pub struct Hosts(Vec<String>);

impl Hosts {
    /// The hosts for a server listening on `addr`.
    pub fn for_addr(addr: std::net::SocketAddr) -> Hosts {
        let port = addr.port();
        let mut hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        if !addr.ip().is_loopback() && !addr.ip().is_unspecified() {
            hosts.push(addr.to_string());
        }
        Hosts(hosts)
    }

    /// Whether a request with these headers comes from a client of this server: its `Host` is one
    /// of ours and its `Origin`, if a browser sent one, is this server itself.
    pub(crate) fn allow(&self, headers: &HeaderMap, any_host: bool) -> Result<(), &'static str> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .ok_or("the request has no Host header")?;
        if !any_host && !self.0.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return Err("the Host header does not name this server (a DNS rebinding attempt?)");
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            let own = origin
                .strip_prefix("http://")
                .is_some_and(|o| o.eq_ignore_ascii_case(host));
            if !own {
                return Err("cross-origin requests are refused: this API serves its own page only");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn only_the_token_itself_passes() {
        let token = Token::generate();
        assert_eq!(token.as_str().len(), 64);
        assert!(token.matches(token.as_str()));
        let mut wrong = token.as_str().to_owned();
        wrong.replace_range(63.., if wrong.ends_with('0') { "1" } else { "0" });
        assert!(!token.matches(&wrong));
        assert!(!token.matches(&token.as_str()[..63]));
        assert!(!token.matches(""));
        assert_ne!(Token::generate().as_str(), token.as_str());
        assert_eq!(format!("{token:?}"), "Token(…)", "never logged");
    }

    #[test]
    fn a_page_elsewhere_or_a_rebound_name_is_refused() {
        let hosts = Hosts::for_addr("127.0.0.1:7000".parse().unwrap());
        assert!(
            hosts
                .allow(&headers(&[("host", "127.0.0.1:7000")]), false)
                .is_ok()
        );
        assert!(
            hosts
                .allow(&headers(&[("host", "localhost:7000")]), false)
                .is_ok()
        );
        assert!(
            hosts
                .allow(
                    &headers(&[
                        ("host", "127.0.0.1:7000"),
                        ("origin", "http://127.0.0.1:7000")
                    ]),
                    false
                )
                .is_ok()
        );
        assert!(
            hosts
                .allow(&headers(&[("host", "evil.example:7000")]), false)
                .is_err()
        );
        assert!(
            hosts
                .allow(&headers(&[("host", "127.0.0.1:7001")]), false)
                .is_err()
        );
        assert!(hosts.allow(&headers(&[]), false).is_err());
        assert!(
            hosts
                .allow(
                    &headers(&[
                        ("host", "127.0.0.1:7000"),
                        ("origin", "http://evil.example")
                    ]),
                    false
                )
                .is_err()
        );
        assert!(
            hosts
                .allow(
                    &headers(&[("host", "127.0.0.1:7000"), ("origin", "null")]),
                    false
                )
                .is_err()
        );
        // Serving remote clients, any Host is taken, but a foreign page still is not.
        assert!(
            hosts
                .allow(&headers(&[("host", "10.0.0.5:7000")]), true)
                .is_ok()
        );
        assert!(
            hosts
                .allow(
                    &headers(&[("host", "10.0.0.5:7000"), ("origin", "http://evil.example")]),
                    true
                )
                .is_err()
        );
    }
}
