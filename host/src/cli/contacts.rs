//! `contacts add | list | alias | verify | remove | timer`.

use anyhow::Result;
use courier_api::json::{Contact, ContactStateJson};
use courier_service::{DataDir, ServiceError};

use super::{remote, unlock};

/// Adds a pending contact from their link.
pub fn add(dir: &DataDir, link: &str, alias: &str) -> Result<()> {
    unlock::open(dir)?.add_contact(link, alias)?;
    println!(
        "added {alias:?} as pending: the handshake runs when both of you have added each other's link and `courier serve` runs on both sides"
    );
    Ok(())
}

/// Lists contacts, then pending contacts (through a running node's API if there is one).
pub fn list(dir: &DataDir, json: bool) -> Result<()> {
    let remote = match remote::running(dir) {
        Some(client) => remote::fell_through(client.contacts())?,
        None => None,
    };
    let contacts: Vec<Contact> = match remote {
        Some(contacts) => contacts,
        None => unlock::open(dir)?
            .contacts()?
            .into_iter()
            .map(courier_api::contact_json)
            .collect(),
    };
    if json {
        println!("{}", serde_json::to_string(&contacts)?);
        return Ok(());
    }
    if contacts.is_empty() {
        println!("no contacts yet; `courier contacts add LINK --alias NAME` adds one");
    }
    for c in &contacts {
        match (c.state, c.verified) {
            (ContactStateJson::Contact, true) => println!("{:<24} contact  verified", c.alias),
            (ContactStateJson::Contact, false) => println!("{:<24} contact  not verified", c.alias),
            (ContactStateJson::Pending, _) => {
                println!("{:<24} pending  (handshake not done yet)", c.alias);
            }
            (ContactStateJson::Unmet, _) => println!(
                "{:<24} unmet    (not met in 48 hours: meet on a LAN, or remove and add again to try Tor again)",
                c.alias
            ),
        }
    }
    Ok(())
}

/// Shows the safety number; with `confirm`, marks the contact verified.
pub fn verify(dir: &DataDir, alias: &str, confirm: bool) -> Result<()> {
    let mut service = unlock::open(dir)?;
    let number = service.safety_number(alias)?;
    println!("safety number with {alias:?}:");
    println!("{number}");
    if confirm {
        service.mark_verified(alias)?;
        println!("marked {alias:?} verified");
    } else {
        println!(
            "compare it with {alias:?} in person or on a call you trust; if it matches, run this again with --confirm"
        );
    }
    Ok(())
}

/// Calls a contact by another alias.
pub fn alias(dir: &DataDir, alias: &str, new_alias: &str) -> Result<()> {
    unlock::open(dir)?.rename_contact(alias, new_alias)?;
    println!("{alias:?} is now {new_alias:?}");
    Ok(())
}

/// Removes a contact with their keys and messages.
pub fn remove(dir: &DataDir, alias: &str) -> Result<()> {
    unlock::open(dir)?.remove_contact(alias)?;
    println!("removed {alias:?} with their keys and messages");
    Ok(())
}

/// Shows the conversation's disappearing timer, or sets it for both sides.
pub fn timer(dir: &DataDir, alias: &str, timer: Option<&str>) -> Result<()> {
    let mut service = unlock::open(dir)?;
    match timer {
        None => println!("{}", service.timer(alias)?),
        Some(text) => {
            let timer: courier_service::Timer = text.parse().map_err(ServiceError::from)?;
            service.set_timer(alias, timer)?;
            match timer.secs() {
                None => println!("disappearing messages off with {alias:?}; they will be told"),
                Some(_) => println!(
                    "messages with {alias:?} now disappear {timer} after they are read or sent; they will be told"
                ),
            }
        }
    }
    Ok(())
}

/// A conversation's read receipts as the command line names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReceiptsArg {
    /// Sent, whatever the profile says.
    On,
    /// Never sent.
    Off,
    /// As the profile says.
    Default,
}

/// Shows whether the conversation sends read receipts, or sets it for this side.
pub fn receipts(dir: &DataDir, alias: &str, choice: Option<ReceiptsArg>) -> Result<()> {
    let mut service = unlock::open(dir)?;
    let now = match choice {
        None => service.receipts(alias)?,
        Some(choice) => service.set_receipts(
            alias,
            match choice {
                ReceiptsArg::On => Some(true),
                ReceiptsArg::Off => Some(false),
                ReceiptsArg::Default => None,
            },
        )?,
    };
    let why = if now.chosen.is_some() {
        "chosen for this conversation"
    } else {
        "as the profile says"
    };
    let state = if now.on {
        "on: reading their messages tells them"
    } else {
        "off: reading their messages tells them nothing"
    };
    println!("read receipts with {alias:?} {state} ({why})");
    Ok(())
}
