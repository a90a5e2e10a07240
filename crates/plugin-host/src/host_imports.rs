//! The host side of every capability import, with the scope checks that bound each grant.
//!
//! Only granted interfaces are linked (see `sandbox::linker`), so reaching one of these functions means
//! the capability was granted; what is checked here is the argument: the address, the name, the size.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::bindings::transport::courier::plugin::{
    ble, clock, files, log, mailbox, mdns, random, tcp, tor_stream, transport_types, types,
};
use super::bindings::{CapabilityError, Level};
use super::sandbox::PluginState;
use courier_config::capability::Capability;
pub use courier_io::is_onion_v3;
use courier_io::{IoRequest, MAX_FILE_BYTES, MailboxReach};

/// Requests one call may make through capabilities; more is a plugin gone wrong.
pub const MAX_REQUESTS_PER_CALL: usize = 64;
/// Log lines one call may write before the rest are dropped.
pub(crate) const MAX_LOG_LINES_PER_CALL: u32 = 64;
/// Longest log line kept, in characters.
pub(crate) const MAX_LOG_CHARS: usize = 1024;
/// Most random bytes per call.
pub(crate) const MAX_RANDOM_BYTES: u32 = 4096;

impl PluginState {
    fn queue(&mut self, request: IoRequest) -> Result<(), CapabilityError> {
        if self.requests.len() >= MAX_REQUESTS_PER_CALL {
            return Err(CapabilityError::LimitReached(format!(
                "at most {MAX_REQUESTS_PER_CALL} capability requests per event"
            )));
        }
        self.requests.push(request);
        Ok(())
    }

    fn files_dir(&self) -> Result<PathBuf, CapabilityError> {
        self.grants
            .files_dir
            .clone()
            .ok_or_else(|| CapabilityError::OutOfScope("the files grant names no directory".into()))
    }

    fn files_path(&self, name: &str) -> Result<PathBuf, CapabilityError> {
        let dir = self.files_dir()?;
        if !is_plain_file_name(name) {
            return Err(CapabilityError::InvalidArgument(
                "file names are 1-128 characters of letters, digits, '.', '-' and '_', not starting with '.'".into(),
            ));
        }
        Ok(dir.join(name))
    }
}

fn is_plain_file_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

fn io_error(path: &Path, e: std::io::Error) -> CapabilityError {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    CapabilityError::InvalidArgument(format!("{name}: {e}"))
}

/// Makes a guest's log text safe for the host log: printable, one line, bounded.
fn sanitize_log(message: &str) -> String {
    let mut line: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_LOG_CHARS)
        .collect();
    if message.chars().count() > MAX_LOG_CHARS {
        line.push('…');
    }
    line
}

impl types::Host for PluginState {}
impl transport_types::Host for PluginState {}

impl log::Host for PluginState {
    fn write(&mut self, level: Level, message: String) {
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES_PER_CALL {
            if self.log_lines == MAX_LOG_LINES_PER_CALL + 1 {
                tracing::warn!(plugin = %self.name, "plugin logs too much; dropping its lines until the next call");
            }
            return;
        }
        let line = sanitize_log(&message);
        let plugin = &*self.name;
        // A plugin's detail (the calls it made, with their addresses) is scrubbed unless unsafe
        // logging is on (`COURIER_LOG_SENSITIVE`); what it warns of is shown as written, and the
        // plugin guide says a warning names no address.
        let detail = safelog::sensitive(&line);
        match level {
            Level::Trace => tracing::trace!(target: "courier::plugin", plugin, "{detail}"),
            Level::Debug => tracing::debug!(target: "courier::plugin", plugin, "{detail}"),
            Level::Info => tracing::info!(target: "courier::plugin", plugin, "{line}"),
            Level::Warn => tracing::warn!(target: "courier::plugin", plugin, "{line}"),
            Level::Error => tracing::error!(target: "courier::plugin", plugin, "{line}"),
        }
    }
}

impl clock::Host for PluginState {
    fn now_ms(&mut self) -> u64 {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
    }
}

impl random::Host for PluginState {
    fn bytes(&mut self, len: u32) -> Vec<u8> {
        let mut out = vec![0; len.min(MAX_RANDOM_BYTES) as usize];
        getrandom::fill(&mut out).expect("the OS random number generator is available");
        out
    }
}

impl tcp::Host for PluginState {
    fn listen(&mut self, port: u16) -> Result<(), CapabilityError> {
        self.queue(IoRequest::TcpListen {
            port,
            scope: self.grants.tcp_scope,
        })
    }

    fn connect(&mut self, channel: u64, address: String) -> Result<(), CapabilityError> {
        let address: SocketAddr = address.parse().map_err(|_| {
            CapabilityError::InvalidArgument("address must be an IP literal with a port, like 192.168.1.4:7001 (no host names: looking them up would leak)".into())
        })?;
        if !self.grants.tcp_scope.permits(&address) {
            return Err(CapabilityError::OutOfScope(format!(
                "the tcp grant is limited to {:?} addresses",
                self.grants.tcp_scope
            )));
        }
        self.queue(IoRequest::TcpConnect { channel, address })
    }
}

impl tor_stream::Host for PluginState {
    fn publish_service(&mut self) -> Result<(), CapabilityError> {
        self.queue(IoRequest::TorPublishService)
    }

    fn connect(&mut self, channel: u64, onion: String, port: u16) -> Result<(), CapabilityError> {
        if !is_onion_v3(&onion) {
            return Err(CapabilityError::InvalidArgument(
                "not a v3 onion address (56 base32 characters + .onion)".into(),
            ));
        }
        self.queue(IoRequest::TorConnect {
            channel,
            onion,
            port,
        })
    }
}

fn is_ble_address(address: &str) -> bool {
    let parts: Vec<&str> = address.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl ble::Host for PluginState {
    fn advertise(&mut self) -> Result<(), CapabilityError> {
        self.queue(IoRequest::BleAdvertise)
    }

    fn withdraw(&mut self) -> Result<(), CapabilityError> {
        self.queue(IoRequest::BleWithdraw)
    }

    fn scan(&mut self, enabled: bool) -> Result<(), CapabilityError> {
        self.queue(IoRequest::BleScan { enabled })
    }

    fn connect(&mut self, channel: u64, address: String) -> Result<(), CapabilityError> {
        if !is_ble_address(&address) {
            return Err(CapabilityError::InvalidArgument(
                "a BLE address looks like AA:BB:CC:DD:EE:FF".into(),
            ));
        }
        self.queue(IoRequest::BleConnect { channel, address })
    }
}

impl mdns::Host for PluginState {
    fn announce(&mut self, port: u16) -> Result<(), CapabilityError> {
        if port == 0 {
            return Err(CapabilityError::InvalidArgument(
                "announce the port the `listening` event gave, not 0".into(),
            ));
        }
        self.queue(IoRequest::MdnsAnnounce { port })
    }

    fn withdraw(&mut self) -> Result<(), CapabilityError> {
        self.queue(IoRequest::MdnsWithdraw)
    }

    fn browse(&mut self, enabled: bool) -> Result<(), CapabilityError> {
        self.queue(IoRequest::MdnsBrowse {
            enabled,
            scope: self.grants.tcp_scope,
        })
    }
}

impl files::Host for PluginState {
    fn names(&mut self) -> Result<Vec<String>, CapabilityError> {
        let dir = self.files_dir()?;
        let entries = std::fs::read_dir(&dir).map_err(|e| io_error(&dir, e))?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| is_plain_file_name(n))
            .collect();
        names.sort();
        Ok(names)
    }

    fn read(&mut self, name: String) -> Result<Vec<u8>, CapabilityError> {
        let path = self.files_path(&name)?;
        let size = std::fs::metadata(&path)
            .map_err(|e| io_error(&path, e))?
            .len();
        if size > MAX_FILE_BYTES as u64 {
            return Err(CapabilityError::LimitReached(format!(
                "{name} is over the {MAX_FILE_BYTES}-byte file limit"
            )));
        }
        std::fs::read(&path).map_err(|e| io_error(&path, e))
    }

    fn write(&mut self, name: String, data: Vec<u8>) -> Result<(), CapabilityError> {
        let path = self.files_path(&name)?;
        if data.len() > MAX_FILE_BYTES {
            return Err(CapabilityError::LimitReached(format!(
                "files are at most {MAX_FILE_BYTES} bytes"
            )));
        }
        // Write beside, then rename: a reader never sees half a file, even if the drive is pulled.
        let partial = path.with_extension("partial~");
        courier_local_fs::owner_only::file_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&partial)
            .and_then(|mut file| std::io::Write::write_all(&mut file, &data))
            .map_err(|e| io_error(&path, e))?;
        std::fs::rename(&partial, &path).map_err(|e| io_error(&path, e))
    }

    fn remove(&mut self, name: String) -> Result<(), CapabilityError> {
        let path = self.files_path(&name)?;
        std::fs::remove_file(&path).map_err(|e| io_error(&path, e))
    }

    fn scan(&mut self) -> Result<(), CapabilityError> {
        let dir = self.files_dir()?;
        self.queue(IoRequest::FilesScan { dir })
    }
}

impl mailbox::Host for PluginState {
    fn upload(&mut self, folder: String, data: Vec<u8>) -> Result<(), CapabilityError> {
        if data.len() > MAX_FILE_BYTES {
            return Err(CapabilityError::LimitReached(format!(
                "a mailbox file is at most {MAX_FILE_BYTES} bytes"
            )));
        }
        self.queue(IoRequest::MailboxUpload {
            folder,
            data,
            to: None,
            reach: self.mailbox_reach(),
            receipt: None,
        })
    }

    fn fetch(&mut self) -> Result<(), CapabilityError> {
        self.queue(IoRequest::MailboxFetch {
            from: Vec::new(),
            register: Vec::new(),
            reach: self.mailbox_reach(),
        })
    }
}

impl PluginState {
    /// The mailboxes this plugin's grants reach: within its TCP scope, and onion services if it
    /// is granted Tor as well.
    fn mailbox_reach(&self) -> MailboxReach {
        MailboxReach {
            tcp: self.grants.tcp_scope,
            tor: self.grants.has(Capability::TorStream),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_cannot_escape_the_directory() {
        for bad in ["../x", "a/b", ".hidden", "", "x\0y", &"n".repeat(200)] {
            assert!(!is_plain_file_name(bad), "{bad:?}");
        }
        assert!(is_plain_file_name("stream-0001.bin"));
    }

    #[test]
    fn log_lines_cannot_inject_newlines_or_escape_codes() {
        assert_eq!(sanitize_log("a\nb\u{1b}[2Jc"), "a b [2Jc");
        assert!(sanitize_log(&"x".repeat(5000)).chars().count() == MAX_LOG_CHARS + 1);
    }
}
