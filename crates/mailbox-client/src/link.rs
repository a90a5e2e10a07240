//! The pairing link a new mailbox prints: `courier-mailbox://ADDRESS/#SETUP-TOKEN`.

use std::fmt;

use crate::MailboxClientError;

/// Where a new mailbox listens and its single-use setup token.
#[derive(Clone, PartialEq, Eq)]
pub struct PairingLink {
    /// `host:port` or `NAME.onion:port`.
    pub address: String,
    /// The setup token.
    pub setup: [u8; 32],
}

const SCHEME: &str = "courier-mailbox";

impl PairingLink {
    /// Reads a link, with a clear error for each way it can be wrong.
    pub fn parse(text: &str) -> Result<PairingLink, MailboxClientError> {
        let bad = MailboxClientError::BadLink;
        let url = url::Url::parse(text.trim()).map_err(|_| bad("not a URL"))?;
        if url.scheme() != SCHEME {
            return Err(bad("it does not start with courier-mailbox://"));
        }
        let host = url.host_str().filter(|h| !h.is_empty());
        let (Some(host), Some(port)) = (host, url.port()) else {
            return Err(bad("no host and port"));
        };
        let mut setup = [0; 32];
        let token = url.fragment().ok_or(bad("no setup token after #"))?;
        hex::decode_to_slice(token, &mut setup)
            .map_err(|_| bad("the setup token is not 64 hex digits"))?;
        Ok(PairingLink {
            address: format!("{host}:{port}"),
            setup,
        })
    }
}

impl fmt::Display for PairingLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SCHEME}://{}/#{}",
            self.address,
            hex::encode(self.setup)
        )
    }
}

impl fmt::Debug for PairingLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PairingLink([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_reads_back_from_its_text_and_is_pinned() {
        let link = PairingLink {
            address: "127.0.0.1:9".into(),
            setup: [0xab; 32],
        };
        let text = link.to_string();
        assert_eq!(
            text,
            format!("courier-mailbox://127.0.0.1:9/#{}", "ab".repeat(32))
        );
        assert_eq!(PairingLink::parse(&format!(" {text}\n")), Ok(link));
        let onion = format!(
            "courier-mailbox://{}.onion:80/#{}",
            "a".repeat(56),
            "00".repeat(32)
        );
        assert_eq!(
            PairingLink::parse(&onion).unwrap().address,
            format!("{}.onion:80", "a".repeat(56))
        );
    }

    #[test]
    fn a_wrong_link_says_what_is_wrong() {
        let token = "ab".repeat(32);
        for (text, why) in [
            ("hello", "not a URL"),
            (
                &format!("https://127.0.0.1:9/#{token}") as &str,
                "it does not start with courier-mailbox://",
            ),
            (
                &format!("courier-mailbox://127.0.0.1/#{token}"),
                "no host and port",
            ),
            ("courier-mailbox://127.0.0.1:9/", "no setup token after #"),
            (
                "courier-mailbox://127.0.0.1:9/#abc",
                "the setup token is not 64 hex digits",
            ),
        ] {
            assert_eq!(
                PairingLink::parse(text),
                Err(MailboxClientError::BadLink(why)),
                "{text}"
            );
        }
        assert!(
            format!(
                "{:?}",
                PairingLink::parse(&format!("courier-mailbox://h:1/#{token}")).unwrap()
            )
            .contains("redacted")
        );
    }
}
