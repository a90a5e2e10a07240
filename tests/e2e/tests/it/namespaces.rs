//! Two nodes in separate network namespaces, joined by a veth pair: no static peers, only mDNS.

use std::process::Command;
use std::time::Duration;

use courier_e2e::{Person, Tools, introduce, wait_for_contact, wait_for_delivery};

use crate::scratch;

/// Two namespaces and the veth between them; removed on drop.
struct Lan {
    namespaces: [String; 2],
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("`ip` cannot run: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Lan {
    fn create() -> Result<Lan, String> {
        let id = std::process::id() % 100_000;
        let lan = Lan {
            namespaces: [format!("courier-a{id}"), format!("courier-b{id}")],
        };
        let (a, b) = (&lan.namespaces[0], &lan.namespaces[1]);
        let (va, vb) = (format!("cva{id}"), format!("cvb{id}"));
        ip(&["netns", "add", a])?;
        ip(&["netns", "add", b])?;
        ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb])?;
        for (ns, dev, addr) in [(a, &va, "10.231.0.1/24"), (b, &vb, "10.231.0.2/24")] {
            ip(&["link", "set", dev, "netns", ns])?;
            ip(&["-n", ns, "addr", "add", addr, "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(lan)
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

#[test]
fn alice_and_bob_on_two_network_namespaces_find_each_other_by_mdns_alone() {
    let lan = match Lan::create() {
        Ok(lan) => lan,
        Err(why) => {
            eprintln!(
                "SKIPPED: two network namespaces could not be made here ({why}); run as root on Linux with iproute2"
            );
            return;
        }
    };
    let root = scratch();
    let tools = Tools::locate().unwrap();
    let mut alice = Person::init(&tools, root.path(), "alice").unwrap();
    let mut bob = Person::init(&tools, root.path(), "bob").unwrap();
    for (person, ns) in [
        (&mut alice, &lan.namespaces[0]),
        (&mut bob, &lan.namespaces[1]),
    ] {
        person.wrap(&["ip", "netns", "exec", ns]);
        person
            .write_config(&format!("port = {}, mdns = true", person.port), "lan")
            .unwrap();
    }
    introduce(&alice, &bob).unwrap();
    alice.serve().unwrap();
    bob.serve().unwrap();
    wait_for_contact(&alice, &bob).unwrap();
    alice
        .cli(&["send", "bob", "--text", "found you without an address"])
        .unwrap();
    wait_for_delivery(&alice, &bob, 1, Duration::from_secs(60)).unwrap();
    let got = bob.messages("alice").unwrap();
    assert_eq!(got[0].summary, "found you without an address");
    alice.stop().unwrap();
    bob.stop().unwrap();
}
