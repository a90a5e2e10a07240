//! BlueZ without a radio, for the BlueZ driver's tests: a private `dbus-daemon` and BlueZoo
//! (PyPI `bluezoo==1.0.2`, through the patched launcher in `tests/bluez/`) serving two powered
//! adapters, [`ADAPTERS`]. A client process reaches it with `DBUS_SYSTEM_BUS_ADDRESS` set to
//! [`Zoo::address`].

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The adapters BlueZoo serves: (name, address).
pub const ADAPTERS: [(&str, &str); 2] =
    [("hci0", "00:00:00:11:11:11"), ("hci1", "00:00:00:22:22:22")];

/// A private D-Bus with BlueZoo on it; both stop when it is dropped.
#[derive(Debug)]
pub struct Zoo {
    children: Vec<Child>,
    address: String,
}

impl Drop for Zoo {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bluez")
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Zoo {
    /// Starts the bus (its socket in `dir`) and BlueZoo, and waits until both adapters are
    /// powered. `None`, after printing `SKIPPED: …`, where dbus-daemon or BlueZoo is missing and
    /// this is not CI (CI installs both, so there it is an error).
    pub fn start(dir: &Path) -> Result<Option<Zoo>> {
        if !succeeds("dbus-daemon", &["--version"])
            || !succeeds("python3", &["-c", "import bluezoo"])
        {
            let reason = "dbus-daemon or BlueZoo (pip install bluezoo==1.0.2) is missing";
            if std::env::var_os("CI").is_some() {
                bail!("{reason}; .ci/run and cargo xtask test install both");
            }
            println!("SKIPPED: {reason}");
            return Ok(None);
        }
        let bus = dir.join("bus");
        let address = format!("unix:path={}", bus.display());
        let dbus = Command::new("dbus-daemon")
            .arg(format!(
                "--config-file={}",
                scripts().join("bus.conf").display()
            ))
            .arg(format!("--address={address}"))
            .args(["--nofork", "--nopidfile"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting dbus-daemon")?;
        let mut zoo = Zoo {
            children: vec![dbus],
            address,
        };
        wait("the private bus", || bus.exists())?;
        let mut bluezoo = Command::new("python3");
        bluezoo
            .arg(scripts().join("bluezoo-patched.py"))
            .args(["--auto-enable", "--scan-interval", "1"])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &zoo.address)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (_, address) in ADAPTERS {
            bluezoo.args(["--adapter", address]);
        }
        zoo.children
            .push(bluezoo.spawn().context("starting BlueZoo")?);
        for (name, _) in ADAPTERS {
            let path = format!("/org/bluez/{name}");
            wait("BlueZoo's adapters", || {
                Command::new("busctl")
                    .args([
                        "--address",
                        &zoo.address,
                        "get-property",
                        "org.bluez",
                        &path,
                    ])
                    .args(["org.bluez.Adapter1", "Powered"])
                    .output()
                    .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("true"))
            })?;
        }
        Ok(Some(zoo))
    }

    /// The bus's address, for `DBUS_SYSTEM_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }
}

fn wait(what: &str, mut ready: impl FnMut() -> bool) -> Result<()> {
    let started = Instant::now();
    while !ready() {
        if started.elapsed() > Duration::from_secs(20) {
            bail!("{what} never came up");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
