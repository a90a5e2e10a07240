//! The mailbox this node owns: pairing with it, registering each contact there (their token and two
//! random folders), and withdrawing it. Contacts learn their part inside their next sync with us
//! (the `mailbox` record), never from the mailbox.

use courier_config::capability::Capability;
use courier_drivers::mailbox::MailboxAgent;
use courier_mailbox_client::PairingLink;
use courier_storage::OwnMailbox;

use crate::Service;
use crate::error::ServiceError;

/// What pairing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paired {
    /// Contacts registered now.
    pub registered: usize,
    /// Contacts registered before.
    pub already: usize,
}

impl std::fmt::Display for Paired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "paired with the mailbox; {} contact(s) registered now, {} before; each learns it in their next sync with you",
            self.registered, self.already
        )
    }
}

/// How the mailboxes look from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxStatus {
    /// Ours, if we are paired: whether it answered and knows our token (or why not), and how many
    /// contacts are registered there.
    pub own: Option<(Result<(), String>, usize)>,
    /// Contacts who told us of their own mailbox.
    pub theirs: usize,
}

impl std::fmt::Display for MailboxStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.own {
            None => write!(f, "mailbox: none paired")?,
            Some((Ok(()), contacts)) => {
                write!(f, "mailbox: reachable, {contacts} contact(s) registered")?
            }
            Some((Err(why), contacts)) => write!(
                f,
                "mailbox: NOT reachable ({why}); {contacts} contact(s) registered"
            )?,
        }
        write!(
            f,
            "\ncontacts' mailboxes: {} contact(s) reachable through their own",
            self.theirs
        )
    }
}

impl Service {
    /// Pairs with the mailbox `link` names and registers every contact not registered yet. The
    /// same link again registers the contacts made since: the mailbox takes its setup token only
    /// until the owner's token is in use.
    pub fn mailbox_pair(&mut self, link: &str) -> Result<Paired, ServiceError> {
        let link = PairingLink::parse(link)?;
        if self
            .db
            .own_mailbox()?
            .is_some_and(|own| own.address == link.address)
        {
            return self.register_at_mailbox();
        }
        let token = self
            .mailbox_agent()?
            .client(&link.address, &link.setup)
            .set_up()?;
        let own = OwnMailbox {
            address: link.address,
            token,
        };
        let changed = self.db.own_mailbox()?.as_ref() != Some(&own);
        if changed {
            // Another mailbox: every contact is registered anew there.
            self.db.unpair_own_mailbox()?;
        }
        self.db.set_own_mailbox(&own)?;
        self.register_at_mailbox()
    }

    /// Registers at our mailbox every contact not registered yet; nothing without a mailbox.
    pub fn register_at_mailbox(&mut self) -> Result<Paired, ServiceError> {
        let waiting = self.db.routes_to_register()?;
        let agent = self.mailbox_agent()?;
        let mut paired = Paired {
            registered: 0,
            already: self.db.registered_at_own_mailbox()?.len(),
        };
        for (route, owner) in waiting {
            // The contact uploads into what we download, and fetches what we upload.
            agent.client(&route.address, &owner).register(
                &route.token,
                &route.download,
                &route.upload,
            )?;
            self.db.mark_registered(route.contact)?;
            paired.registered += 1;
        }
        Ok(paired)
    }

    /// Whether our mailbox answers and how many contacts it serves, and how many contacts we
    /// reach through theirs.
    pub fn mailbox_status(&mut self) -> Result<MailboxStatus, ServiceError> {
        let own = match self.db.own_mailbox()? {
            Some(own) => {
                let reachable = self
                    .mailbox_agent()?
                    .client(&own.address, &own.token)
                    .status()
                    .map_err(|e| e.to_string());
                Some((reachable, self.db.registered_at_own_mailbox()?.len()))
            }
            None => None,
        };
        let theirs = self
            .db
            .mailbox_routes()?
            .iter()
            .filter(|r| !r.owned)
            .count();
        Ok(MailboxStatus { own, theirs })
    }

    /// Stops using our mailbox: each contact is told, in their next sync with us, to stop too.
    /// The mailbox itself is left as it is (wipe it on its machine).
    pub fn mailbox_unpair(&mut self) -> Result<usize, ServiceError> {
        if self.db.own_mailbox()?.is_none() {
            return Err(ServiceError::NoMailbox);
        }
        Ok(self.db.unpair_own_mailbox()?)
    }
}

impl Service {
    /// The agent this service reaches mailboxes through, made on first use: over Tor as well as
    /// TCP where the config grants a mailbox transport Tor. Its Tor client is its own, with its own
    /// state beside the node's (a node running beside has its own client).
    fn mailbox_agent(&mut self) -> Result<MailboxAgent, ServiceError> {
        if let Some(agent) = &self.mailbox_agent {
            return Ok(agent.clone());
        }
        let config = self.dir.config(None)?;
        let over_tor = config
            .plugins
            .iter()
            .any(|p| p.grants.has(Capability::Mailbox) && p.grants.has(Capability::TorStream));
        let agent = if over_tor {
            self.tor_mailbox_agent(&config)?
        } else {
            MailboxAgent::tcp()
        };
        Ok(self.mailbox_agent.insert(agent).clone())
    }

    #[cfg(feature = "tor")]
    fn tor_mailbox_agent(
        &self,
        config: &courier_config::Config,
    ) -> Result<MailboxAgent, ServiceError> {
        let tor = self.dir.path().join("tor").join("service");
        let settings = courier_drivers::tor::TorSettings {
            state_dir: tor.join("state"),
            cache_dir: tor.join("cache"),
            network: config.tor.clone(),
            onion_key: None,
        };
        MailboxAgent::with_own_tor(settings).map_err(|e| ServiceError::Tor(e.to_string()))
    }

    #[cfg(not(feature = "tor"))]
    fn tor_mailbox_agent(
        &self,
        _config: &courier_config::Config,
    ) -> Result<MailboxAgent, ServiceError> {
        Err(ServiceError::NoTor)
    }
}
