//! `contacts add | list | alias | verify | remove`.

use anyhow::Result;
use courier_service::{ContactState, DataDir};

use super::unlock;

/// Adds a pending contact from their link.
pub fn add(dir: &DataDir, link: &str, alias: &str) -> Result<()> {
    unlock::open(dir)?.add_contact(link, alias)?;
    println!(
        "added {alias:?} as pending: the handshake runs when both of you have added each other's link and `courier serve` runs on both sides"
    );
    Ok(())
}

/// Lists contacts, then pending contacts.
pub fn list(dir: &DataDir, json: bool) -> Result<()> {
    let contacts = unlock::open(dir)?.contacts()?;
    if json {
        let rows: Vec<serde_json::Value> = contacts
            .iter()
            .map(|c| {
                let state = match c.state {
                    ContactState::Contact => "contact",
                    ContactState::Pending => "pending",
                    ContactState::Unmet => "unmet",
                };
                serde_json::json!({"alias": c.alias, "state": state, "verified": c.verified})
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    if contacts.is_empty() {
        println!("no contacts yet; `courier contacts add LINK --alias NAME` adds one");
    }
    for c in &contacts {
        match (c.state, c.verified) {
            (ContactState::Contact, true) => println!("{:<24} contact  verified", c.alias),
            (ContactState::Contact, false) => println!("{:<24} contact  not verified", c.alias),
            (ContactState::Pending, _) => {
                println!("{:<24} pending  (handshake not done yet)", c.alias);
            }
            (ContactState::Unmet, _) => println!(
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
