//! How a node reaches mailboxes: one HTTP agent, whose connections are kept for the next request,
//! over TCP, and over Tor to a mailbox at an onion name (through the node's one Tor client, where
//! the build and the config have Tor). An onion name is never looked up in DNS.

#[cfg(feature = "tor")]
use std::sync::Arc;

use courier_mailbox_client::{MailboxClient, Token, agent_config};

/// The agent every request to a mailbox goes through.
#[derive(Clone)]
pub struct MailboxAgent {
    agent: ureq::Agent,
    /// Whether the agent reaches onion names.
    tor: bool,
    /// The runtime of a Tor client of the agent's own, kept as long as a clone of it lives.
    #[cfg(feature = "tor")]
    _runtime: Option<Arc<super::onion::OwnRuntime>>,
}

impl std::fmt::Debug for MailboxAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxAgent")
            .field("tor", &self.tor)
            .finish_non_exhaustive()
    }
}

impl MailboxAgent {
    /// Over TCP alone: a mailbox at an onion name is refused, saying Tor is needed.
    pub fn tcp() -> MailboxAgent {
        MailboxAgent {
            agent: agent_config().into(),
            tor: false,
            #[cfg(feature = "tor")]
            _runtime: None,
        }
    }

    /// Over TCP, and over `tor` to onion names.
    #[cfg(feature = "tor")]
    pub fn with_tor(tor: Arc<crate::tor::Tor>) -> MailboxAgent {
        MailboxAgent {
            agent: super::onion::agent(tor),
            tor: true,
            _runtime: None,
        }
    }

    /// Over TCP, and over a Tor client of its own with `settings`, on a runtime of its own: for a
    /// program that runs no node (a command that pairs with an onion mailbox). The client starts
    /// on the first request to an onion name.
    #[cfg(feature = "tor")]
    pub fn with_own_tor(
        settings: crate::tor::TorSettings,
    ) -> Result<MailboxAgent, crate::tor::TorError> {
        let runtime = super::onion::OwnRuntime::start()
            .map_err(|e| crate::tor::TorError::Client(format!("no runtime for it: {e}")))?;
        let tor = Arc::new(crate::tor::Tor::new(runtime.handle.clone(), settings, None));
        Ok(MailboxAgent {
            agent: super::onion::agent(tor),
            tor: true,
            _runtime: Some(Arc::new(runtime)),
        })
    }

    /// A client of the mailbox at `address` holding `token`.
    pub fn client(&self, address: &str, token: &Token) -> MailboxClient {
        if self.tor {
            MailboxClient::through(&self.agent, address, token)
        } else {
            // Refuses an onion name rather than ask DNS for it.
            MailboxClient::new(address, token)
        }
    }
}
