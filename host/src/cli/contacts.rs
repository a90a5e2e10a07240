//! `contacts add | list | verify | remove`.

use anyhow::{Result, bail};
use courier_host::contact_link::ContactLink;
use courier_host::identity::safety_number;
use courier_host::storage::StorageError;

use super::data_dir::DataDir;
use super::now_ms;

/// Adds a pending contact from their link.
pub fn add(dir: &DataDir, link: &str, alias: &str) -> Result<()> {
    let link: ContactLink = link.parse()?;
    let mut db = dir.open()?;
    db.add_pending_contact(&link, alias, now_ms())?;
    println!(
        "added {alias:?} as pending: the handshake runs when both of you have added each other's link and `courier serve` runs on both sides"
    );
    Ok(())
}

/// Lists contacts, then pending contacts.
pub fn list(dir: &DataDir, json: bool) -> Result<()> {
    let db = dir.open()?;
    let contacts = db.contacts()?;
    let pending = db.pending_contacts()?;
    if json {
        let mut rows: Vec<serde_json::Value> = contacts
            .iter()
            .map(|c| serde_json::json!({"alias": c.alias, "state": "contact", "verified": c.verified}))
            .collect();
        rows.extend(
            pending.iter().map(
                |p| serde_json::json!({"alias": p.alias, "state": "pending", "verified": false}),
            ),
        );
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    if contacts.is_empty() && pending.is_empty() {
        println!("no contacts yet; `courier contacts add LINK --alias NAME` adds one");
    }
    for c in &contacts {
        let verified = if c.verified {
            "verified"
        } else {
            "not verified"
        };
        println!("{:<24} contact  {verified}", c.alias);
    }
    for p in &pending {
        println!("{:<24} pending  (handshake not done yet)", p.alias);
    }
    Ok(())
}

/// Shows the safety number; with `confirm`, marks the contact verified.
pub fn verify(dir: &DataDir, alias: &str, confirm: bool) -> Result<()> {
    let mut db = dir.open()?;
    let ours = db
        .identity()?
        .ok_or(StorageError::NoIdentity)?
        .handshake_public();
    let Some(contact) = db.contacts()?.into_iter().find(|c| c.alias == alias) else {
        if db.pending_contacts()?.iter().any(|p| p.alias == alias) {
            bail!(
                "{alias:?} is still pending; the safety number exists once the handshake completed"
            );
        }
        return Err(StorageError::UnknownContact(alias.to_owned()).into());
    };
    println!("safety number with {alias:?}:");
    println!("{}", safety_number(&ours, &contact.public));
    if confirm {
        db.mark_verified(alias)?;
        println!("marked {alias:?} verified");
    } else {
        println!(
            "compare it with {alias:?} in person or on a call you trust; if it matches, run this again with --confirm"
        );
    }
    Ok(())
}

/// Removes a contact with their keys and messages.
pub fn remove(dir: &DataDir, alias: &str) -> Result<()> {
    let mut db = dir.open()?;
    db.remove_contact(alias)?;
    println!("removed {alias:?} with their keys and messages");
    Ok(())
}
