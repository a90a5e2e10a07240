//! `send`, `messages` and `attachment save`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use courier_host::content::{ContentError, PeerSupport, compose, damaged, summary};
use courier_host::input_file::read_limited;
use courier_host::plugin::PluginHost;
use courier_host::plugin::manifest::World;
use courier_host::storage::{Database, Delivery, Direction, OutgoingState, Payload, StorageError};

use super::data_dir::DataDir;
use super::now_ms;

/// What `send` sends: exactly one kind of content.
#[derive(clap::Args)]
pub struct Content {
    /// A text message.
    #[arg(
        long,
        conflicts_with_all = ["image", "voice", "payment", "location"],
        required_unless_present_any = ["image", "voice", "payment", "location"]
    )]
    text: Option<String>,
    /// An image file (JPEG, PNG or WebP); every piece of metadata is removed before it is queued.
    #[arg(long, conflicts_with_all = ["voice", "payment", "location"])]
    image: Option<PathBuf>,
    /// A voice note, a WAV file.
    #[arg(long, conflicts_with_all = ["payment", "location"])]
    voice: Option<PathBuf>,
    /// With --voice: disguise the voice (pitch and formants), whatever the config says.
    #[arg(long, requires = "voice")]
    distort: bool,
    /// A payment request (never a payment): a `bitcoin:` or `monero:` URI, validated before it is sent.
    #[arg(long, conflicts_with = "location")]
    payment: Option<String>,
    /// A location, `LAT,LON` in decimal degrees; coarsened before it leaves this device.
    #[arg(long, allow_hyphen_values = true)]
    location: Option<String>,
    /// With --location: what the place is.
    #[arg(long, requires = "location")]
    label: Option<String>,
    /// With --location: metres to coarsen to (default: the config's, else 100).
    #[arg(long, requires = "location")]
    precision: Option<u32>,
}

/// Reads a file named on the command line, refusing anything but a regular file of at most `limit`
/// bytes before reading it.
fn read_file(path: &Path, what: &str, limit: u64) -> Result<Vec<u8>> {
    read_limited(path, limit).with_context(|| format!("the {what} {}", path.display()))
}

/// The input for a content type's plugin and the options given on the command line.
type Parts = (Vec<u8>, Vec<(String, String)>);

impl Content {
    /// The content type this is.
    fn content_type(&self) -> &'static str {
        if self.text.is_some() {
            "courier/text"
        } else if self.image.is_some() {
            "courier/image"
        } else if self.voice.is_some() {
            "courier/voice"
        } else if self.payment.is_some() {
            "courier/payment"
        } else {
            "courier/location"
        }
    }

    /// What to hand the plugin; a file is read only up to `limit`, the most the plugin takes.
    fn parts(&self, limit: u64) -> Result<Parts> {
        if let Some(text) = &self.text {
            return Ok((text.as_bytes().to_vec(), Vec::new()));
        }
        if let Some(path) = &self.image {
            return Ok((read_file(path, "image", limit)?, Vec::new()));
        }
        if let Some(path) = &self.voice {
            let options = if self.distort {
                vec![("distort".to_owned(), "true".to_owned())]
            } else {
                Vec::new()
            };
            return Ok((read_file(path, "voice note", limit)?, options));
        }
        if let Some(uri) = &self.payment {
            return Ok((uri.as_bytes().to_vec(), Vec::new()));
        }
        let mut options = Vec::new();
        if let Some(label) = &self.label {
            options.push(("label".to_owned(), label.clone()));
        }
        if let Some(precision) = self.precision {
            options.push(("precision".to_owned(), precision.to_string()));
        }
        let location = self.location.as_deref().unwrap_or_default();
        Ok((location.as_bytes().to_vec(), options))
    }
}

/// The message-type plugins of the node's config, and each one's config settings (defaults for
/// `prepare`, e.g. a profile's location precision).
/// Each message-type plugin's name with its config settings.
type PluginSettings = Vec<(String, Vec<(String, String)>)>;

fn message_plugins(dir: &DataDir) -> Result<(PluginHost, PluginSettings)> {
    let mut config = dir.config(None)?;
    config.plugins.retain(|p| p.world == World::MessageType);
    let settings = config
        .plugins
        .iter()
        .map(|p| (p.plugin.clone(), p.settings.clone()))
        .collect();
    let host = PluginHost::load(&config).context("starting the wasm engine")?;
    Ok((host, settings))
}

fn contact(db: &Database, alias: &str) -> Result<i64> {
    match db.contacts()?.into_iter().find(|c| c.alias == alias) {
        Some(c) => Ok(c.id),
        None if db.pending_contacts()?.iter().any(|p| p.alias == alias) => bail!(
            "{alias:?} is still pending: messages can be sent once the handshake completed (run `courier serve` on both sides)"
        ),
        None => Err(StorageError::UnknownContact(alias.to_owned()).into()),
    }
}

/// Queues a message; it is on disk when this returns, and a running `serve` sends it.
pub fn send(dir: &DataDir, alias: &str, content: &Content) -> Result<()> {
    let mut db = dir.open()?;
    let contact = contact(&db, alias)?;
    let (mut plugins, settings) = message_plugins(dir)?;
    let content_type = content.content_type();
    let limit = plugins
        .message_type(content_type)
        .ok_or_else(|| ContentError::NoPlugin(content_type.to_owned()))?
        .description()
        .max_input_bytes;
    let (input, given) = content.parts(limit)?;
    // The config's settings first, the command line's after: the later value of a key wins.
    let mut options: Vec<(String, String)> = plugins
        .message_type(content_type)
        .and_then(|p| settings.iter().find(|(name, _)| name == p.name()))
        .map(|(_, s)| s.clone())
        .unwrap_or_default();
    options.extend(given);
    let announced = db.peer_content_types(contact)?;
    let (draft, support) = compose(&mut plugins, content_type, &input, &options, &announced)?;
    if support == PeerSupport::Lacking {
        eprintln!(
            "note: {alias} has no plugin that reads {content_type}; they will see {:?} until they install one",
            draft.fallback
        );
    }
    let (id, _) = db.send(contact, draft, now_ms())?;
    println!("queued {}", hex::encode(&id.0[..8]));
    Ok(())
}

/// Prints the conversation with a contact.
pub fn list(dir: &DataDir, alias: &str, json: bool) -> Result<()> {
    let db = dir.open()?;
    let contact = contact(&db, alias)?;
    let (mut plugins, _) = message_plugins(dir)?;
    let entries = db.conversation(contact)?;
    let rows: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let direction = match e.direction {
                Direction::Outgoing => "out",
                Direction::Incoming => "in",
            };
            let state = match e.delivery {
                Delivery::Outgoing(OutgoingState::Queued) => "queued",
                Delivery::Outgoing(OutgoingState::Sent) => "sent",
                Delivery::Outgoing(OutgoingState::Acked) => "acked",
                Delivery::Received => "received",
            };
            let content = db.content(contact, e)?;
            let (complete, bytes) = match &content.payload {
                Payload::Complete(p) => (true, Some(p.len())),
                _ => (false, None),
            };
            let damaged = matches!(content.payload, Payload::Damaged(_));
            Ok(serde_json::json!({
                "id": hex::encode(e.id.0),
                "direction": direction,
                "type": content.content_type,
                "state": state,
                "summary": summary(&mut plugins, &content, &e.message.fallback, e.direction),
                "time": e.message.timestamp_ms,
                "complete": complete,
                "bytes": bytes,
                "damaged": damaged,
            }))
        })
        .collect::<Result<_>>()?;
    if json {
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    if rows.is_empty() {
        println!("no messages with {alias:?} yet");
    }
    for row in rows {
        println!(
            "{} {:<3} {:<8} {} {}",
            utc(row["time"].as_u64().unwrap_or(0)),
            row["direction"].as_str().unwrap_or(""),
            row["state"].as_str().unwrap_or(""),
            &row["id"].as_str().unwrap_or("")[..16],
            row["summary"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

/// Writes the content of message `id` (a hex prefix of at least 8 digits, as `messages` shows) to
/// `file`, a new file: a received image or voice note opens as is.
pub fn save(dir: &DataDir, id: &str, file: &Path) -> Result<()> {
    if id.len() < 8 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        bail!(
            "{id:?} is not a message id; give at least 8 hex digits as `courier messages` shows them"
        );
    }
    let id = id.to_ascii_lowercase();
    let db = dir.open()?;
    let mut found = Vec::new();
    for c in db.contacts()? {
        for entry in db.conversation(c.id)? {
            if hex::encode(entry.id.0).starts_with(&id) {
                found.push((c.id, entry));
            }
        }
    }
    let (contact, entry) = match found.len() {
        0 => bail!("no message has an id starting with {id}; `courier messages ALIAS` lists them"),
        1 => found.remove(0),
        n => bail!("{n} messages have ids starting with {id}; give more digits"),
    };
    let content = db.content(contact, &entry)?;
    let payload = match content.payload {
        Payload::Complete(payload) => payload,
        Payload::Partial { received, total } => bail!(
            "that attachment is still arriving ({received} of {total} parts); try again once `courier serve` received the rest"
        ),
        Payload::Damaged(why) => {
            tracing::debug!(%why, "not saving a damaged attachment");
            bail!("that attachment is {}", damaged(entry.direction))
        }
    };
    let (mut plugins, _) = message_plugins(dir)?;
    if let Some(plugin) = plugins.message_type(&content.content_type) {
        plugin
            .validate(&payload, content.version)
            .context("the content does not pass its plugin's checks, so it is not written")?;
    }
    let mut out = courier_host::owner_only::file_options()
        .write(true)
        .create_new(true)
        .open(file)
        .with_context(|| {
            format!(
                "creating {} (an existing file is never overwritten)",
                file.display()
            )
        })?;
    out.write_all(&payload)
        .and_then(|()| out.sync_all())
        .with_context(|| format!("writing {}", file.display()))?;
    println!(
        "saved {} bytes of {} to {}",
        payload.len(),
        content.content_type,
        file.display()
    );
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates_are_right() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc(1_795_000_000_000), "2026-11-18 11:06:40");
        assert_eq!(super::utc(951_782_400_000), "2000-02-29 00:00:00");
    }
}
