//! `[bluetooth]`: which radio the `ble` capability drives. By default the machine's own, through
//! BlueZ; `medium = "ble-sim"` joins nodes on one machine over a simulated radio instead (tests and
//! benchmarks only), whose behaviour `[bluetooth.sim]` sets.

use std::path::PathBuf;

use serde::Deserialize;

/// The `[bluetooth]` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BluetoothConfig {
    /// Which radio.
    #[serde(default)]
    pub medium: BleMedium,
    /// The BlueZ adapter to use (`hci0`, …); BlueZ's default unless set.
    pub adapter: Option<String>,
    /// The simulated radio, for `medium = "ble-sim"`.
    pub sim: Option<BleSimConfig>,
}

/// Which radio the `ble` capability drives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BleMedium {
    /// The machine's adapter, through BlueZ.
    #[default]
    Bluez,
    /// A simulated radio between nodes on one machine; never for people.
    BleSim,
}

/// `[bluetooth.sim]`: the simulated radio's behaviour, BLE's by default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BleSimConfig {
    /// The directory every node on the simulated radio shares (relative to the config's folder).
    pub air: PathBuf,
    /// The ATT MTU of every connection: 23 (BLE's least), 185 (a phone's usual), 247 (one packet
    /// per link-layer PDU with data length extension) or up to 517.
    #[serde(default = "default_mtu")]
    pub mtu: u16,
    /// Milliseconds between connection events (BLE: 7.5 ms to 4 s).
    #[serde(default = "default_interval")]
    pub interval_ms: u64,
    /// Packets one connection event carries each way.
    #[serde(default = "default_per_interval")]
    pub packets_per_interval: u32,
    /// Milliseconds to set a connection up (scan response, connection, MTU exchange).
    #[serde(default = "default_setup")]
    pub setup_ms: u64,
    /// Mean seconds before a connection drops (people walk out of range); 0: never.
    #[serde(default)]
    pub drop_every_secs: f64,
}

fn default_mtu() -> u16 {
    185
}
fn default_interval() -> u64 {
    30
}
fn default_per_interval() -> u32 {
    4
}
fn default_setup() -> u64 {
    400
}

impl BluetoothConfig {
    /// What is wrong with the section, if anything: (key, what to do).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        let sim = match (self.medium, &self.sim) {
            (BleMedium::BleSim, None) => {
                return Some((
                    "bluetooth.medium",
                    "medium = \"ble-sim\" needs a [bluetooth.sim] section naming its air = \"DIR\""
                        .into(),
                ));
            }
            (_, None) => return None,
            (_, Some(sim)) => sim,
        };
        if !(23..=517).contains(&sim.mtu) {
            return Some((
                "bluetooth.sim.mtu",
                format!("mtu {} is not an ATT MTU; BLE's are 23 to 517", sim.mtu),
            ));
        }
        if !(8..=4_000).contains(&sim.interval_ms) {
            return Some((
                "bluetooth.sim.interval_ms",
                format!(
                    "interval_ms {} is outside BLE's 7.5 ms to 4 s; use 8 to 4000",
                    sim.interval_ms
                ),
            ));
        }
        if !(1..=64).contains(&sim.packets_per_interval) {
            return Some((
                "bluetooth.sim.packets_per_interval",
                "packets_per_interval is 1 to 64".into(),
            ));
        }
        if !(sim.drop_every_secs >= 0.0 && sim.drop_every_secs.is_finite()) {
            return Some((
                "bluetooth.sim.drop_every_secs",
                "drop_every_secs is a number of seconds, 0 for never".into(),
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::{Config, ConfigError};

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "c.toml", Path::new("/home/alice"))
    }

    #[test]
    fn the_machine_s_radio_is_the_default_and_the_simulated_one_is_asked_for_by_name() {
        assert_eq!(parse("").unwrap().bluetooth.medium, BleMedium::Bluez);
        let sim = parse("[bluetooth]\nmedium = \"ble-sim\"\n[bluetooth.sim]\nair = \"air\"\nmtu = 247\ndrop_every_secs = 4.5\n")
            .unwrap()
            .bluetooth;
        assert_eq!(sim.medium, BleMedium::BleSim);
        let radio = sim.sim.unwrap();
        assert_eq!(
            radio.air,
            Path::new("/home/alice/air"),
            "relative to the config's folder"
        );
        assert_eq!(
            (radio.mtu, radio.interval_ms, radio.packets_per_interval),
            (247, 30, 4)
        );
        assert_eq!((radio.setup_ms, radio.drop_every_secs), (400, 4.5));
    }

    #[test]
    fn a_simulated_radio_without_air_or_outside_ble_s_limits_is_refused_saying_what_to_do() {
        for (text, key, words) in [
            (
                "[bluetooth]\nmedium = \"ble-sim\"\n",
                "bluetooth.medium",
                "needs a [bluetooth.sim]",
            ),
            (
                "[bluetooth.sim]\nair = \"a\"\nmtu = 22\n",
                "bluetooth.sim.mtu",
                "23 to 517",
            ),
            (
                "[bluetooth.sim]\nair = \"a\"\ninterval_ms = 5000\n",
                "bluetooth.sim.interval_ms",
                "7.5 ms to 4 s",
            ),
            (
                "[bluetooth.sim]\nair = \"a\"\npackets_per_interval = 0\n",
                "bluetooth.sim.packets_per_interval",
                "1 to 64",
            ),
            (
                "[bluetooth.sim]\nair = \"a\"\ndrop_every_secs = -1.0\n",
                "bluetooth.sim.drop_every_secs",
                "0 for never",
            ),
        ] {
            match parse(text) {
                Err(ConfigError::Invalid { at, message, .. }) => {
                    assert_eq!(at.key, key, "{text}");
                    assert!(message.contains(words), "{message}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            parse("[bluetooth]\nmedium = \"carrier-pigeon\"\n"),
            Err(ConfigError::Malformed { .. })
        ));
    }
}
