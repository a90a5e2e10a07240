//! `profile check`: what a threat-model profile lets each of its plugins do.

use std::path::Path;

use anyhow::Result;
use courier_service::Config;
use courier_service::profile::{self, ProfileReport};
use courier_service::{ErrorKind, ServiceError};

use super::CliError;

/// Prints, per transport and message type of the profile at `path`, what it reveals, what it is
/// granted and whether the profile's policy lets it run; fails when anything is refused.
pub fn check(path: &Path) -> Result<()> {
    let config = Config::read(path).map_err(ServiceError::from)?;
    let report = profile::check(&config)?;
    print(&report);
    let refused = report
        .sections
        .iter()
        .filter(|s| s.refused.is_some())
        .count();
    if report.passes() {
        println!("{}: every plugin may run", path.display());
        return Ok(());
    }
    let message = if refused == 0 {
        format!(
            "{}: no transport would run, so nothing could be sent",
            path.display()
        )
    } else {
        format!(
            "{}: {refused} section(s) refused; see above",
            path.display()
        )
    };
    Err(CliError::new(ErrorKind::RefusedByPolicy, message).into())
}

fn print(report: &ProfileReport) {
    for s in &report.sections {
        let list = |items: Vec<String>| {
            if items.is_empty() {
                "nothing".to_owned()
            } else {
                items.join(", ")
            }
        };
        println!(
            "{:<26} {:<20} {}",
            s.section,
            s.plugin,
            match &s.refused {
                None => "runs".to_owned(),
                Some(_) => "REFUSED".to_owned(),
            }
        );
        if s.world == courier_service::World::Transport {
            println!(
                "    reveals  {}",
                list(s.reveals.iter().map(|r| (*r).to_owned()).collect())
            );
        }
        println!("    granted  {}", list(s.granted.clone()));
        if !s.settings.is_empty() {
            let settings = s.settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("    settings {}", list(settings));
        }
        if let Some(why) = &s.refused {
            println!("    why      {why}");
        }
    }
}
