//! End-to-end stories: real `courier` processes on loopback (and in network namespaces), talking through
//! the real LAN plugin, each with its own encrypted database.

mod addresses;
mod api;
mod api_flood;
mod bluetooth;
mod contacts;
mod crash;
mod data_dir;
mod delivery;
mod disappearing;
mod drive;
mod events;
mod examiner;
mod forensic;
mod group_relations;
mod groups;
mod history;
mod hostile_stick;
mod mailbox;
mod message_types;
mod namespaces;
mod page;
mod panic;
mod plugin_guide;
mod plugins_check;
mod profile;
mod redaction;
mod relations;
mod second_language;
mod stalled_peer;
mod stranger;
mod tor;

use std::path::Path;

use courier_e2e::{Person, Tools, introduce, wait_for_contact};

/// Two people who added each other and whose nodes run and dial each other on loopback.
pub fn pair(root: &Path) -> anyhow::Result<(Person, Person)> {
    pair_in(root, root)
}

/// [`pair`], alice's data directory in `alice_root` and bob's in `bob_root`.
pub fn pair_in(alice_root: &Path, bob_root: &Path) -> anyhow::Result<(Person, Person)> {
    let (mut alice, mut bob) = introduced(alice_root, bob_root)?;
    alice.serve()?;
    bob.serve()?;
    wait_for_contact(&alice, &bob)?;
    Ok((alice, bob))
}

/// Alice and bob, who added each other and whose configs dial each other on loopback, before either
/// node runs (a story sets how they run first).
pub fn introduced(alice_root: &Path, bob_root: &Path) -> anyhow::Result<(Person, Person)> {
    let (alice, bob) = courier_e2e::dialing_pair(&Tools::locate()?, alice_root, bob_root)?;
    introduce(&alice, &bob)?;
    Ok((alice, bob))
}

/// A text through `client`'s API to `alias` (of `content_type`, relating to `relates_to` when
/// given: a reply, a reaction, an edit or a deletion); its id.
pub fn send_text(
    client: &courier_api_client::client::Client,
    alias: &str,
    content_type: &str,
    text: &str,
    relates_to: Option<&str>,
) -> anyhow::Result<String> {
    let send = courier_api_client::json::SendText {
        content_type: content_type.into(),
        text: text.into(),
        options: Default::default(),
        relates_to: relates_to.map(str::to_owned),
    };
    Ok(client.send_text(alias, &send)?.id)
}

/// A fresh temporary directory for one story.
pub fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}
