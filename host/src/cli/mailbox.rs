//! `courier mailbox serve`: a mailbox in its own data directory, over `courier-mailbox`.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Result;

/// Serves the mailbox of `dir` on `listen` until SIGINT or SIGTERM.
pub fn serve(dir: &Path, listen: SocketAddr) -> Result<()> {
    courier_mailbox::serving::run(dir, listen, |addr, setup| {
        println!("mailbox: serving on {addr}");
        if let Some(setup) = setup {
            // Shown once, to its owner: whoever has it can take the mailbox over until the owner
            // has paired.
            println!(
                "mailbox: setup token for the owner's node: {}",
                setup.to_hex()
            );
        }
    })?;
    Ok(())
}
