//! Real `courier` processes in temporary data directories, driven through the CLI exactly as a user or a
//! script would: the end-to-end tests and `cargo xtask demo` both use this.
//!
//! Nodes here talk over loopback TCP through the LAN plugin with static peers (mDNS needs multicast,
//! which loopback lacks; the network-namespace test covers mDNS).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod bluetooth;
pub mod flood;
pub mod mailbox;
mod noise_png;

use anyhow::{Context, Result, bail};
use courier_proto::sync::timer::Timer;
use courier_storage::{Database, Draft, Passphrase};

pub use noise_png::noise_png;

/// The passphrase every node here uses.
pub const PASSPHRASE: &str = "correct horse battery staple";

/// Where the binary and plugins are.
#[derive(Debug, Clone)]
pub struct Tools {
    /// The `courier` binary.
    pub courier: PathBuf,
    /// Built plugins (`cargo xtask build-plugins`).
    pub plugin_dir: PathBuf,
}

impl Tools {
    /// The debug build in `CARGO_TARGET_DIR`, else in this workspace's `target/`.
    pub fn locate() -> Result<Tools> {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
        Tools::in_target(&target, "debug")
    }

    /// The `profile` build in `target`.
    pub fn in_target(target: &Path, profile: &str) -> Result<Tools> {
        let courier = target.join(profile).join("courier");
        let plugin_dir = target.join("plugins");
        if !courier.exists() {
            bail!(
                "{} is missing; run `cargo build -p courier-host` (cargo xtask test does)",
                courier.display()
            );
        }
        if !plugin_dir.join("transport-lan.wasm").exists() {
            bail!(
                "{} has no transport-lan.wasm; run `cargo xtask build-plugins`",
                plugin_dir.display()
            );
        }
        Ok(Tools {
            courier,
            plugin_dir,
        })
    }
}

/// Makes a FIFO (named pipe) at `path`: a file that blocks whoever opens it to read until a writer
/// comes, which no reader of user-named files may hang on.
pub fn mkfifo(path: &Path) -> Result<()> {
    let status = Command::new("mkfifo").arg(path).status()?;
    if !status.success() {
        bail!("mkfifo {} failed: {status}", path.display());
    }
    Ok(())
}

/// A free TCP port on loopback (bound and released; nothing else here races for it).
pub fn free_port() -> Result<u16> {
    // Never the same port twice in one process: a port another story's node still dials (its peer
    // stopped) must not become this story's.
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if !given.contains(&port) {
            given.push(port);
            return Ok(port);
        }
    }
}

/// The message types besides text that a node has unless told otherwise.
pub const MESSAGE_TYPES: [&str; 4] = ["location", "payment", "image", "voice"];
/// The plugins of the relation kinds: replies, reactions, edits, delete for everyone.
pub const RELATION_TYPES: [&str; 4] = ["reply", "reaction", "edit", "delete"];

/// One message as `courier messages --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Row {
    /// Hex message id.
    pub id: String,
    /// `in` or `out`.
    pub direction: String,
    /// Content type.
    #[serde(rename = "type")]
    pub content_type: String,
    /// `queued`, `sent`, `acked` or `received`.
    pub state: String,
    /// The plugin's summary.
    pub summary: String,
    /// Sender's time, Unix ms.
    pub time: u64,
    /// Whether all of it is there (an attachment may still be arriving).
    pub complete: bool,
    /// Its size, once complete.
    pub bytes: Option<usize>,
    /// Whether its chunks were lost or damaged on disk.
    #[serde(default)]
    pub damaged: bool,
}

/// One contact as `courier contacts list --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ContactRow {
    /// Alias.
    pub alias: String,
    /// `contact` or `pending`.
    pub state: String,
    /// Whether verified.
    pub verified: bool,
}

/// A person with a Courier node: a data directory, a port, and perhaps a running `serve`.
#[derive(Debug)]
pub struct Person {
    /// Their name (also the alias others give them).
    pub name: String,
    /// Data directory.
    pub dir: PathBuf,
    /// The LAN port their node listens on.
    pub port: u16,
    tools: Tools,
    serve: Option<Child>,
    /// Runs this person's commands through a wrapper (e.g. `ip netns exec NS`); see `wrap`.
    wrapper: Vec<String>,
    /// Message-type plugins left out of the config, as on a node that never installed them.
    pub missing_plugins: Vec<&'static str>,
    /// What `COURIER_PASSPHRASE` is for their commands ([`PASSPHRASE`] unless a story changes it).
    pub passphrase: String,
    /// `COURIER_LOG` for their commands, if a story wants more than warnings.
    pub log: Option<String>,
    /// Where `serve` writes its log whole, for a story that reads it (else its first lines are kept
    /// for a failure's message).
    pub log_file: Option<PathBuf>,
    /// The folder of a drive their config's `[transports.drive]` reads and writes, if it has one.
    pub drive: Option<PathBuf>,
    /// Whether their config has the LAN transport (true unless a story takes the network away).
    pub lan: bool,
    /// The `[tor]` section naming a private Tor network, if their config has the Tor transport.
    pub tor: Option<String>,
    /// Whether their config has the mailbox transport (polling every second, mailboxes on loopback).
    pub mailbox: bool,
    /// The `[tor]` section naming a private Tor network, if their mailbox transport reaches onion
    /// mailboxes over Tor (granted `tor-stream`).
    pub mailbox_tor: Option<String>,
    /// The `[bluetooth]` section (with its `[bluetooth.sim]`), if their config has the Bluetooth
    /// transport.
    pub bluetooth: Option<String>,
    /// The system D-Bus their node reaches BlueZ on (`DBUS_SYSTEM_BUS_ADDRESS`), if not the machine's.
    pub system_bus: Option<String>,
    /// What the running `serve` printed on its stdout so far (its first [`PRINTED_KEPT`] lines).
    printed: Arc<Mutex<Vec<String>>>,
}

/// The most lines of a `serve`'s output a [`Person`] keeps.
pub const PRINTED_KEPT: usize = 100_000;

impl Person {
    /// Runs `courier init` for `name` in `root/name`.
    pub fn init(tools: &Tools, root: &Path, name: &str) -> Result<Person> {
        let person = Person::new(tools, root, name)?;
        person.cli(&["init", "--name", name])?;
        Ok(person)
    }

    /// `name` with the data directory `root/name`, before `init` (which the caller runs, perhaps
    /// through a wrapper).
    pub fn new(tools: &Tools, root: &Path, name: &str) -> Result<Person> {
        Ok(Person {
            name: name.to_owned(),
            dir: root.join(name),
            port: free_port()?,
            tools: tools.clone(),
            serve: None,
            printed: Arc::default(),
            wrapper: Vec::new(),
            missing_plugins: Vec::new(),
            passphrase: PASSPHRASE.to_owned(),
            log: None,
            log_file: None,
            drive: None,
            lan: true,
            tor: None,
            mailbox: false,
            mailbox_tor: None,
            bluetooth: None,
            system_bus: None,
        })
    }

    /// Runs this person's commands (and node) through `wrapper`, e.g. `ip netns exec NS`.
    pub fn wrap(&mut self, wrapper: &[&str]) {
        self.wrapper = wrapper.iter().map(|s| (*s).to_owned()).collect();
    }

    fn command(&self) -> Command {
        let mut command = match self.wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&self.tools.courier);
                c
            }
            None => Command::new(&self.tools.courier),
        };
        command
            .arg("--data-dir")
            .arg(&self.dir)
            .env("COURIER_PLUGIN_DIR", &self.tools.plugin_dir)
            .env_remove("COURIER_DATA_DIR");
        // An empty passphrase stands for a person who gives none (not an empty one).
        match self.passphrase.as_str() {
            "" => command.env_remove("COURIER_PASSPHRASE"),
            given => command.env("COURIER_PASSPHRASE", given),
        };
        match &self.log {
            Some(filter) => command.env("COURIER_LOG", filter),
            None => command.env_remove("COURIER_LOG"),
        };
        if let Some(bus) = &self.system_bus {
            command.env("DBUS_SYSTEM_BUS_ADDRESS", bus);
        }
        command
    }

    /// Runs `courier --data-dir DIR ARGS…`; its stdout, or an error with its stderr.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        self.cli_with_stdin(args, &[])
    }

    /// Runs `courier --data-dir DIR ARGS…` and, until it ends, the most memory it held (its peak
    /// resident set, read from `/proc` every few milliseconds); its stdout, or an error with its
    /// stderr.
    pub fn cli_peak_memory(&self, args: &[&str]) -> Result<(String, u64)> {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut peak_kib = 0;
        while child.try_wait()?.is_none() {
            // Gone between the two looks: the last value read stands.
            let hwm = status_kib(child.id(), "VmHWM").unwrap_or(0);
            peak_kib = peak_kib.max(hwm);
            std::thread::sleep(Duration::from_millis(5));
        }
        let output = child.wait_with_output()?;
        if !output.status.success() {
            bail!(
                "`courier {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok((String::from_utf8(output.stdout)?, peak_kib))
    }

    /// Runs `courier --data-dir DIR ARGS…` with `stdin` piped to it; its stdout, or an error with its
    /// stderr.
    pub fn cli_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Result<String> {
        let output = self.run(args, stdin)?;
        if !output.status.success() {
            bail!(
                "`courier {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8(output.stdout)?)
    }

    /// Runs `courier --data-dir DIR ARGS…`, which must fail; what it printed on stderr.
    pub fn fails(&self, args: &[&str]) -> Result<String> {
        Ok(self.fails_with_code(args, &[])?.1)
    }

    /// Runs `courier --data-dir DIR ARGS…` with `stdin` piped to it, which must fail; its exit code
    /// and what it printed on stderr.
    pub fn fails_with_code(&self, args: &[&str], stdin: &[u8]) -> Result<(i32, String)> {
        let output = self.run(args, stdin)?;
        if output.status.success() {
            bail!(
                "`courier {}` succeeded: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stdout).trim()
            );
        }
        let code = output
            .status
            .code()
            .with_context(|| format!("`courier {}` was killed by a signal", args.join(" ")))?;
        Ok((code, String::from_utf8(output.stderr)?))
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Result<std::process::Output> {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running courier {args:?}"))?;
        // Written from a thread so a command that does not read all of it cannot block the story.
        let mut pipe = child.stdin.take().context("courier's stdin")?;
        let input = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            // A command that exits before reading its stdin closes the pipe; that is its business.
            let _ = pipe.write_all(&input);
        });
        let output = child
            .wait_with_output()
            .with_context(|| format!("running courier {args:?}"))?;
        let _ = writer.join();
        Ok(output)
    }

    /// Their `courier://` link.
    pub fn link(&self) -> Result<String> {
        Ok(self.cli(&["link"])?.trim().to_owned())
    }

    /// Sends `alias` the image file `image` at full quality (every pixel kept: a noise image stays
    /// about 3 bytes a pixel).
    pub fn send_full_quality_image(&self, alias: &str, image: &Path) -> Result<()> {
        let image = image.to_str().context("a UTF-8 path")?;
        self.cli(&[
            "send",
            alias,
            "--type",
            "courier/image",
            "--input",
            image,
            "--option",
            "quality=100",
        ])?;
        Ok(())
    }

    /// Adds `other` as a contact under their name.
    pub fn add(&self, other: &Person) -> Result<()> {
        self.cli(&["contacts", "add", &other.link()?, "--alias", &other.name])?;
        Ok(())
    }

    /// Writes `config.toml`: the LAN transport on `self.port`, dialing `peers` on loopback, mDNS as given.
    pub fn configure(&self, peers: &[u16], mdns: bool, scope: &str) -> Result<()> {
        let peers: Vec<String> = peers.iter().map(|p| format!("\"127.0.0.1:{p}\"")).collect();
        self.write_config(
            &format!(
                "port = {}, mdns = {mdns}, redial-ms = 500, static-peers = [{}]",
                self.port,
                peers.join(", ")
            ),
            scope,
        )
    }

    /// Writes `config.toml` with the given LAN `settings` inline table body and TCP scope.
    pub fn write_config(&self, settings: &str, scope: &str) -> Result<()> {
        let lan = if self.lan {
            format!(
                "[transports.lan]\nplugin = \"transport-lan\"\n\
                 grant = [\"tcp\", \"mdns\", \"log\", \"clock\"]\ntcp_scope = \"{scope}\"\n\
                 settings = {{ {settings} }}\n\n"
            )
        } else {
            String::new()
        };
        // A running node looks at its drive every second, so stories need not wait five.
        let drive = match &self.drive {
            Some(dir) => format!(
                "[transports.drive]\nplugin = \"transport-drive\"\n\
                 grant = [\"files\", \"log\", \"clock\", \"random\"]\nfiles_dir = {:?}\n\
                 settings = {{ every-secs = 1 }}\n\n",
                dir.display().to_string()
            ),
            None => String::new(),
        };
        let tor = match &self.tor {
            Some(network) => format!(
                "[transports.tor]\nplugin = \"transport-tor\"\n\
                 grant = [\"tor-stream\", \"log\", \"clock\"]\n\n{network}\n"
            ),
            None => String::new(),
        };
        let over_tor = if self.mailbox_tor.is_some() {
            ", \"tor-stream\""
        } else {
            ""
        };
        let mut mailbox = if self.mailbox {
            format!(
                "[transports.mailbox]\nplugin = \"transport-mailbox\"\n\
                 grant = [\"mailbox\", \"log\", \"clock\"{over_tor}]\ntcp_scope = \"loopback\"\n\
                 settings = {{ every-secs = 1 }}\n\n"
            )
        } else {
            String::new()
        };
        if let (Some(network), None) = (&self.mailbox_tor, &self.tor) {
            mailbox.push_str(network);
            mailbox.push('\n');
        }
        let bluetooth = match &self.bluetooth {
            Some(radio) => format!(
                "[transports.bluetooth]\nplugin = \"transport-bluetooth\"\n\
                 grant = [\"ble\", \"log\", \"clock\"]\n\n{radio}\n"
            ),
            None => String::new(),
        };
        let config = format!(
            "[plugins]\ndir = {plugins:?}\n\n{lan}{drive}{tor}{mailbox}{bluetooth}\
             [message_types.text]\nplugin = \"text\"\ngrant = [\"log\"]\n\n{types}",
            types = MESSAGE_TYPES
                .iter()
                .chain(&RELATION_TYPES)
                .filter(|name| !self.missing_plugins.contains(name))
                .map(|name| {
                    format!(
                        "[message_types.{name}]\nplugin = \"{name}\"\ngrant = [\"log\", \"clock\"]\n\
                         limits = {{ memory_mib = 512, fuel_per_call = 100_000_000_000 }}\n\n"
                    )
                })
                .collect::<String>(),
            plugins = self.tools.plugin_dir.display().to_string(),
        );
        std::fs::write(self.dir.join("config.toml"), config)?;
        Ok(())
    }

    /// Appends `section` (TOML) to `config.toml`: a plugin a story adds beyond the usual ones.
    pub fn add_to_config(&self, section: &str) -> Result<()> {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("config.toml"))?
            .write_all(section.as_bytes())?;
        Ok(())
    }

    /// Starts `courier serve` and waits until it listens (or, with no LAN, until it runs).
    pub fn serve(&mut self) -> Result<()> {
        self.serve_with(&[]).map(drop)
    }

    /// Starts `courier serve --api` and waits until the node and its API listen; a client of it.
    pub fn serve_api(&mut self) -> Result<courier_api_client::client::Client> {
        self.serve_with(&["--api"])?;
        courier_api_client::client::Client::of_data_dir(&self.dir)
            .context("serve --api wrote no address and token files")
    }

    /// The token of the API `serve --api` runs for this data directory.
    pub fn api_token(&self) -> Result<String> {
        let file = self.dir.join(courier_api_client::TOKEN_FILE);
        Ok(std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?
            .trim()
            .to_owned())
    }

    /// Starts `courier serve ARGS…` and waits until it listens (and its API does, with `--api`);
    /// what it printed until then.
    pub fn serve_with(&mut self, args: &[&str]) -> Result<Vec<String>> {
        if self.serve.is_some() {
            bail!("{} is already serving", self.name);
        }
        let stderr = match &self.log_file {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("opening {}", path.display()))?,
            ),
            None => Stdio::piped(),
        };
        let mut child = self
            .command()
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("starting courier serve")?;
        let stdout = child.stdout.take().context("serve's stdout")?;
        // Its output is read on threads of its own (and drained for as long as it runs, so the node
        // never blocks on a full pipe), so that a node that never gets ready is a failure after
        // 30 s, not a story that hangs.
        let (tx, lines) = std::sync::mpsc::channel();
        let printed = Arc::new(Mutex::new(Vec::new()));
        self.printed = printed.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut kept = printed.lock().unwrap_or_else(|p| p.into_inner());
                if kept.len() < PRINTED_KEPT {
                    kept.push(line.clone());
                }
                drop(kept);
                // Nobody listens once it is ready; the rest is drained.
                let _ = tx.send(line);
            }
        });
        // Its stderr is read from the start, so what it warned about while starting is kept.
        let warned = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        if let Some(stderr) = child.stderr.take() {
            let warned = warned.clone();
            std::thread::spawn(move || {
                // The first lines only: a node logging for hours must not grow this.
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut warned = warned.lock().unwrap_or_else(|p| p.into_inner());
                    if warned.len() < 200 {
                        warned.push(line);
                    }
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut api_pending = args.contains(&"--api");
        let mut node_pending = true;
        let mut printed = Vec::new();
        while node_pending || api_pending {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if line.contains("listening on port")
                        || line.contains(r#""type":"listening""#)
                        // With no network transport there is nothing to listen on: started is enough.
                        || (!self.lan && line.starts_with("serving"))
                    {
                        node_pending = false;
                    }
                    if line.starts_with("api: listening on") {
                        api_pending = false;
                    }
                    printed.push(line);
                }
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    // The stderr reader ends with the process; give it a moment to take the rest.
                    std::thread::sleep(Duration::from_millis(50));
                    let err = warned.lock().unwrap_or_else(|p| p.into_inner()).join("\n");
                    let what = match why {
                        std::sync::mpsc::RecvTimeoutError::Timeout => {
                            "did not get ready within 30 s"
                        }
                        std::sync::mpsc::RecvTimeoutError::Disconnected => {
                            "exited before listening"
                        }
                    };
                    bail!(
                        "{}'s node {what}; it printed {printed:?} and on stderr: {}",
                        self.name,
                        err.trim()
                    );
                }
            }
        }
        self.serve = Some(child);
        let warned = warned.lock().unwrap_or_else(|p| p.into_inner());
        printed.extend(warned.iter().map(|line| format!("stderr: {line}")));
        Ok(printed)
    }

    /// What the last `serve` printed on its stdout so far, a line each.
    pub fn printed(&self) -> Vec<String> {
        self.printed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether `serve` is running.
    pub fn is_serving(&self) -> bool {
        self.serve.is_some()
    }

    /// The process id of the running `serve` (a wrapper that execs, like `prlimit`, keeps it).
    pub fn pid(&self) -> Option<u32> {
        self.serve.as_ref().map(Child::id)
    }

    /// The running `serve`'s resident memory in KiB, from `/proc`.
    pub fn resident_kib(&self) -> Result<u64> {
        status_kib(self.pid().context("the node is not running")?, "VmRSS")
    }

    /// The most resident memory the running `serve` has held since it started, in KiB.
    pub fn peak_kib(&self) -> Result<u64> {
        status_kib(self.pid().context("the node is not running")?, "VmHWM")
    }

    /// Stops `serve` with SIGTERM and checks it exited cleanly.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.serve.take() else {
            return Ok(());
        };
        signal(&child, "TERM")?;
        let status = child.wait()?;
        if !status.success() {
            bail!("{}'s node exited with {status} on SIGTERM", self.name);
        }
        Ok(())
    }

    /// Waits up to `timeout` for `serve` to exit by itself; how it exited.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<std::process::ExitStatus> {
        let child = self.serve.as_mut().context("the node is not running")?;
        let until = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                self.serve = None;
                return Ok(status);
            }
            if Instant::now() >= until {
                bail!("{}'s node still runs after {timeout:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills `serve` with SIGKILL, as a crash or power cut would.
    pub fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.serve.take() {
            signal(&child, "KILL")?;
            child.wait()?;
        }
        Ok(())
    }

    /// `messages ALIAS --json --all`.
    pub fn messages(&self, alias: &str) -> Result<Vec<Row>> {
        Ok(serde_json::from_str(
            &self.cli(&["messages", alias, "--json", "--all"])?,
        )?)
    }

    /// `contacts list --json`.
    pub fn contacts(&self) -> Result<Vec<ContactRow>> {
        Ok(serde_json::from_str(
            &self.cli(&["contacts", "list", "--json"])?,
        )?)
    }

    /// Opens this person's database directly (for bulk queueing and arrival order; the CLI does the
    /// same through the same library).
    pub fn database(&self) -> Result<Database> {
        Ok(Database::open(
            &self.dir.join("courier.db"),
            &Passphrase::new(self.passphrase.clone())?,
        )?)
    }

    /// Queues `texts` to `alias` in one process, as that many `courier send` calls would.
    pub fn queue_texts(&self, alias: &str, texts: &[String]) -> Result<()> {
        let drafts = texts
            .iter()
            .map(|text| Draft::new("courier/text", 1, text.clone().into_bytes()));
        self.queue(alias, drafts)
    }

    /// Queues `drafts` to `alias` in one process (an attachment's chunks with its manifest), as
    /// `courier send` would.
    pub fn queue(&self, alias: &str, drafts: impl IntoIterator<Item = Draft>) -> Result<()> {
        let mut db = self.database()?;
        let contact = db
            .contacts()?
            .into_iter()
            .find(|c| c.alias == alias)
            .with_context(|| format!("{} has no contact {alias}", self.name))?;
        for draft in drafts {
            // As `courier send` under a profile with no `disappear-within`: the stories that queue
            // this way set no bound.
            db.send(contact.id, draft, now_ms(), Timer::OFF)?;
        }
        Ok(())
    }

    /// Stops (`SIGSTOP`) or resumes (`SIGCONT`) the running `serve`: a frozen process keeps its
    /// sockets open and reads nothing.
    pub fn signal(&self, signal: &str) -> Result<()> {
        let pid = self.pid().context("the node is not running")?;
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -{signal} {pid} failed");
        }
        Ok(())
    }

    /// Bodies received from `alias`, in order of arrival.
    pub fn arrivals(&self, alias: &str) -> Result<Vec<String>> {
        let db = self.database()?;
        let contact = db.contact(alias)?;
        Ok(db
            .received(contact)?
            .into_iter()
            .map(|m| String::from_utf8_lossy(&m.body).into_owned())
            .collect())
    }
}

impl Drop for Person {
    fn drop(&mut self) {
        if let Some(mut child) = self.serve.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn signal(child: &Child, name: &str) -> Result<()> {
    let status = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()?;
    if !status.success() {
        bail!("kill -{name} failed");
    }
    Ok(())
}

/// Field `field` (a size in kB) of process `pid`'s `/proc/PID/status`.
fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} line in /proc/{pid}/status"))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Checks that `person`'s conversation with `alias` holds `expected` from them exactly once each, in the
/// order they were sent (the conversation is ordered by the sender's clock, which `send` keeps strictly
/// increasing), and that nothing arrived twice.
pub fn assert_received_once_in_order(
    person: &Person,
    alias: &str,
    expected: &[String],
) -> Result<()> {
    let shown: Vec<String> = person
        .messages(alias)?
        .into_iter()
        .filter(|r| r.direction == "in")
        .map(|r| r.summary)
        .collect();
    if shown != expected {
        bail!(
            "{}'s conversation with {alias} shows {} messages, not the {} sent, in order",
            person.name,
            shown.len(),
            expected.len()
        );
    }
    let mut arrivals = person.arrivals(alias)?;
    arrivals.sort();
    let mut sorted = expected.to_vec();
    sorted.sort();
    if arrivals != sorted {
        bail!(
            "{} stored {} messages from {alias}, not each of {} once",
            person.name,
            arrivals.len(),
            expected.len()
        );
    }
    Ok(())
}

/// Both add each other's link.
pub fn introduce(a: &Person, b: &Person) -> Result<()> {
    a.add(b)?;
    b.add(a)
}

/// Alice (in `alice_root`) and bob (in `bob_root`), initialised, each configured to dial the other
/// on loopback, not yet contacts and not serving.
pub fn dialing_pair(tools: &Tools, alice_root: &Path, bob_root: &Path) -> Result<(Person, Person)> {
    let alice = Person::init(tools, alice_root, "alice")?;
    let bob = Person::init(tools, bob_root, "bob")?;
    alice.configure(&[bob.port], false, "loopback")?;
    bob.configure(&[alice.port], false, "loopback")?;
    Ok((alice, bob))
}

/// Alice and bob with `serve --api` running and clients of both APIs; `introduced`, they added
/// each other and are contacts; otherwise their nodes dial each other but know no one yet.
pub fn api_pair(
    tools: &Tools,
    root: &Path,
    introduced: bool,
) -> Result<(
    Person,
    courier_api_client::client::Client,
    Person,
    courier_api_client::client::Client,
)> {
    let (mut alice, mut bob) = dialing_pair(tools, root, root)?;
    if introduced {
        introduce(&alice, &bob)?;
    }
    let a = alice.serve_api()?;
    let b = bob.serve_api()?;
    if introduced {
        wait_for_contact(&alice, &bob)?;
    }
    Ok((alice, a, bob, b))
}

/// Polls `check` every 100 ms until it holds, or fails after `timeout` saying what was awaited.
pub fn wait_until(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let started = Instant::now();
    loop {
        if check()? {
            return Ok(());
        }
        if started.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting until {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Where `person` stands in the group called `group` (`invited`, `member`, …), if they know it.
pub fn group_standing(person: &Person, group: &str) -> Result<Option<String>> {
    let groups: Vec<serde_json::Value> =
        serde_json::from_str(&person.cli(&["group", "list", "--json"])?)?;
    Ok(groups
        .iter()
        .find(|g| g["name"] == group)
        .and_then(|g| g["standing"].as_str())
        .map(str::to_owned))
}

/// `creator` makes the group `group` and invites `others` (their contacts), who each accept under
/// their own name; returns once each is a member.
pub fn form_group(creator: &Person, others: &[&Person], group: &str) -> Result<()> {
    creator.cli(&["group", "create", group, "--as", &creator.name])?;
    for person in others {
        creator.cli(&["group", "invite", group, &person.name])?;
    }
    let stands = |person: &Person, standing: &str| {
        wait_until(
            Duration::from_secs(60),
            &format!("{} is {standing} in {group}", person.name),
            || Ok(group_standing(person, group)?.as_deref() == Some(standing)),
        )
    };
    for person in others {
        stands(person, "invited")?;
        person.cli(&["group", "accept", group, "--as", &person.name])?;
    }
    for person in others {
        stands(person, "member")?;
    }
    Ok(())
}

/// Waits until `a` and `b` are contacts on both sides.
pub fn wait_for_contact(a: &Person, b: &Person) -> Result<()> {
    wait_for_contact_within(a, b, Duration::from_secs(30))
}

/// Waits until `a` and `b` are contacts on both sides, for at most `timeout` (a medium that takes
/// its time to meet: Tor, a radio).
pub fn wait_for_contact_within(a: &Person, b: &Person, timeout: Duration) -> Result<()> {
    wait_until(
        timeout,
        &format!("{} and {} are contacts", a.name, b.name),
        || {
            let is_contact = |p: &Person, alias: &str| -> Result<bool> {
                Ok(p.contacts()?
                    .iter()
                    .any(|c| c.alias == alias && c.state == "contact"))
            };
            Ok(is_contact(a, &b.name)? && is_contact(b, &a.name)?)
        },
    )
}

/// Waits until every message `from` sent to `to` is acked, and `to` holds `count` whole ones from them.
pub fn wait_for_delivery(
    from: &Person,
    to: &Person,
    count: usize,
    timeout: Duration,
) -> Result<()> {
    wait_until(
        timeout,
        &format!(
            "{count} messages from {} reach {} and are acked",
            from.name, to.name
        ),
        || {
            let sent = from.messages(&to.name)?;
            let acked = sent
                .iter()
                .filter(|r| r.direction == "out" && r.state == "acked")
                .count();
            let received = to
                .messages(&from.name)?
                .iter()
                .filter(|r| r.direction == "in" && r.complete)
                .count();
            Ok(acked >= count && received >= count)
        },
    )
}

/// `runs` timings of `f`, shortest first.
pub fn timed(runs: usize, mut f: impl FnMut() -> Result<()>) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f()?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times)
}

/// The median of `runs` timings of `f`.
pub fn median(runs: usize, f: impl FnMut() -> Result<()>) -> Result<Duration> {
    Ok(timed(runs, f)?[runs / 2])
}

/// The median of 200 writes of 4 KiB each followed by an fsync, in `dir`: the floor of any
/// durable commit on that disk.
pub fn fsync_median(dir: &Path) -> Result<Duration> {
    use std::io::Write;
    let path = dir.join("bench-fsync-probe");
    let mut file = std::fs::File::create(&path)?;
    let result = median(200, || {
        file.write_all(&[0u8; 4096])?;
        file.sync_data()?;
        Ok(())
    });
    std::fs::remove_file(&path)?;
    result
}
