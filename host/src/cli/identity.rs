//! `init` and `link`.

use anyhow::Result;
use courier_service::{DataDir, check_name};

use super::unlock;

/// Creates the identity of a new data directory and prints its link.
pub fn init(dir: &DataDir, name: &str) -> Result<()> {
    // Checked before the passphrase prompt and before anything is written.
    let name = check_name(name)?;
    let link = unlock::create(dir)?.init(name)?;
    println!("created identity {name:?}");
    println!("your link: {link}");
    for warning in dir.erasure_warnings() {
        eprintln!("courier: warning: {warning}");
    }
    Ok(())
}

/// Prints the link to give to contacts, and with `qr` a QR code of it to scan in person.
pub fn link(dir: &DataDir, qr: bool) -> Result<()> {
    let link = unlock::open(dir)?.link()?.to_string();
    if qr {
        println!("{}", courier_api::qr::terminal(&link));
    }
    println!("{link}");
    Ok(())
}
