//! Nodes on the simulated Bluetooth radio (`[bluetooth] medium = "ble-sim"`), for stories and
//! benches: their config sections, what a radio of those settings can carry, and what their logs
//! say each connection carried.

use std::path::Path;

use anyhow::{Context, Result};

use crate::Person;

/// The simulated radio the stories and benches use: an ATT MTU of 247, six packets per 15 ms
/// connection event, set up in 300 ms.
pub const MTU: usize = 247;
/// Milliseconds between connection events.
pub const INTERVAL_MS: u64 = 15;
/// Packets per connection event, each way.
pub const PACKETS_PER_INTERVAL: usize = 6;

/// Bytes a second one direction of that radio carries at most (packets' payloads).
pub fn capacity() -> f64 {
    ((MTU - 3) * PACKETS_PER_INTERVAL) as f64 / (INTERVAL_MS as f64 / 1e3)
}

/// The `[bluetooth]` sections of a node on that radio, its air `air`, connections dropping after
/// `drop_every_secs` on average (at most one and a half times that; 0: never).
pub fn radio(air: &Path, drop_every_secs: f64) -> String {
    format!(
        "[bluetooth]\nmedium = \"ble-sim\"\n\n[bluetooth.sim]\nair = {:?}\nmtu = {MTU}\n\
         interval_ms = {INTERVAL_MS}\npackets_per_interval = {PACKETS_PER_INTERVAL}\nsetup_ms = 300\n\
         drop_every_secs = {drop_every_secs}\n",
        air.display().to_string()
    )
}

/// Puts `person` on that radio alone (no LAN), logging to `log` so [`carried`] can read it.
pub fn on_the_radio(
    person: &mut Person,
    air: &Path,
    drop_every_secs: f64,
    log: &Path,
) -> Result<()> {
    person.lan = false;
    person.bluetooth = Some(radio(air, drop_every_secs));
    person.log = Some("info".into());
    person.log_file = Some(log.to_owned());
    person.write_config("", "loopback")
}

/// The bytes that arrived on each of `person`'s connections over the simulated radio, as their
/// node logged each one's end.
pub fn carried(person: &Person) -> Result<Vec<usize>> {
    let log = std::fs::read_to_string(person.log_file.as_ref().context("a log file")?)?;
    Ok(log
        .lines()
        .filter_map(|l| l.split("ended; ").nth(1)?.split(' ').next()?.parse().ok())
        .collect())
}
