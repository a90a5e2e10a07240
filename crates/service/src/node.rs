//! Running the node on the directory's database: the one place the drivers meet the node.

use courier_config::Config;
use courier_config::capability::Capability;
#[cfg(feature = "tor")]
use courier_drivers::tor::TorSettings;
use courier_node::{Node, Pacing};

use crate::{Service, ServiceError};

pub use courier_node::{MediumState, NodeHandle, Notice, ReadOutcome, RunningNode, TransportState};

impl Service {
    /// Starts the node on this directory's database with `config`'s transports and every driver
    /// this build has; the node owns the database from now on.
    pub fn serve(mut self, config: &Config) -> Result<RunningNode, ServiceError> {
        let mut drivers = self.drivers(config)?;
        if config.plugins.iter().any(|p| p.grants.has(Capability::Ble)) {
            drivers.push(courier_drivers::ble::driver(&config.bluetooth));
        }
        // The node's connection rotates the database key after deletions; it holds the key file
        // only while it does.
        let mut db = self.into_database();
        db.follow_rotations();
        Ok(Node::spawn_paced(db, config, drivers, Pacing::default())?)
    }

    /// Every driver this build has but Bluetooth's, Tor's among them when a transport is granted Tor.
    #[cfg(feature = "tor")]
    fn drivers(
        &mut self,
        config: &Config,
    ) -> Result<Vec<courier_drivers::StartDriver>, ServiceError> {
        Ok(match self.tor_settings(config)? {
            Some(tor) => courier_drivers::with_tor(tor),
            None => courier_drivers::all(),
        })
    }

    /// Every driver this build has: a config that grants Tor is refused, not run without it.
    #[cfg(not(feature = "tor"))]
    fn drivers(
        &mut self,
        config: &Config,
    ) -> Result<Vec<courier_drivers::StartDriver>, ServiceError> {
        if wants_tor(config) {
            return Err(ServiceError::NoTor);
        }
        Ok(courier_drivers::all())
    }

    /// What the Tor driver needs, if a transport is granted Tor: its folders inside the data
    /// directory, the config's network, and the onion key from the encrypted database.
    #[cfg(feature = "tor")]
    fn tor_settings(&mut self, config: &Config) -> Result<Option<TorSettings>, ServiceError> {
        if !wants_tor(config) {
            return Ok(None);
        }
        let tor = self.dir.path().join("tor");
        Ok(Some(TorSettings {
            state_dir: tor.join("state"),
            cache_dir: tor.join("cache"),
            network: config.tor.clone(),
            onion_key: Some(self.db.onion_secret()?),
        }))
    }
}

/// Whether `config` grants some transport Tor.
fn wants_tor(config: &Config) -> bool {
    config
        .plugins
        .iter()
        .any(|p| p.grants.has(Capability::TorStream))
}
