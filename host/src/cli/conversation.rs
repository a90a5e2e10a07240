//! `send`, `messages` and `attachment save`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use courier_api::client::{Client, ClientError, escape};
use courier_api::json::{DirectionJson, MarkedRead, Message, Queued, SendText};
use courier_service::input_file::{read_limited, read_stream_limited};
use courier_service::{DataDir, ErrorKind, MessageId, Page, RelationKind, Window};

use super::{CliError, remote, unlock};

/// What `send` sends: any installed content type with `--type`, or one of the shortcuts.
#[derive(clap::Args)]
pub struct Content {
    /// The content type of any installed message-type plugin, e.g. `courier/text`; with --input.
    #[arg(
        long = "type",
        value_name = "CONTENT-TYPE",
        requires = "input",
        conflicts_with_all = ["text", "image", "voice", "payment", "location"],
        required_unless_present_any = ["text", "image", "voice", "payment", "location"]
    )]
    content_type: Option<String>,
    /// With --type: the file the plugin prepares, or `-` for standard input.
    #[arg(long, value_name = "FILE|-", requires = "content_type")]
    input: Option<PathBuf>,
    /// With --type: an option for the plugin, over the config's setting of the same key.
    #[arg(long = "option", value_name = "KEY=VALUE", requires = "content_type", value_parser = key_value)]
    options: Vec<(String, String)>,
    /// A text message (shortcut for --type courier/text).
    #[arg(long, conflicts_with_all = ["image", "voice", "payment", "location"])]
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

pub(crate) fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

/// Where the plugin's input comes from.
pub(super) enum Input<'a> {
    /// Given on the command line.
    Given(&'a str),
    /// A file, named in errors as `what`.
    File { path: &'a Path, what: &'static str },
    /// Standard input.
    Stdin,
}

impl<'a> Input<'a> {
    /// `-` for standard input, else the file at `path` (named in errors as `what`).
    pub(super) fn path_or_stdin(path: &'a Path, what: &'static str) -> Input<'a> {
        if path == Path::new("-") {
            Input::Stdin
        } else {
            Input::File { path, what }
        }
    }

    /// The input, of at most `limit` bytes (the most the plugin takes): a file is refused by its size
    /// before it is read, standard input once it passes the limit.
    pub(super) fn read(&self, limit: u64) -> Result<Vec<u8>> {
        match *self {
            Input::Given(text) => Ok(text.as_bytes().to_vec()),
            Input::File { path, what } => {
                read_limited(path, limit).with_context(|| format!("the {what} {}", path.display()))
            }
            Input::Stdin => {
                read_stream_limited(std::io::stdin().lock(), limit).context("the standard input")
            }
        }
    }
}

/// A content type, where its input comes from, and the plugin options given.
pub(super) struct Request<'a> {
    pub(super) content_type: &'a str,
    pub(super) input: Input<'a>,
    pub(super) options: Vec<(String, String)>,
    /// The message a reply, reaction, edit or retraction names.
    pub(super) relates_to: Option<&'a str>,
}

impl Content {
    /// The shortcuts are `--type` with their content type, input and options spelled out.
    pub(super) fn request(&self) -> Request<'_> {
        let plain = |content_type, input| Request {
            content_type,
            input,
            options: Vec::new(),
            relates_to: None,
        };
        if let Some(content_type) = &self.content_type {
            // clap requires --input with --type.
            let input = self
                .input
                .as_deref()
                .map_or(Input::Stdin, |path| Input::path_or_stdin(path, "input"));
            return Request {
                content_type,
                input,
                options: self.options.clone(),
                relates_to: None,
            };
        }
        if let Some(text) = &self.text {
            return plain("courier/text", Input::Given(text));
        }
        if let Some(path) = &self.image {
            return plain(
                "courier/image",
                Input::File {
                    path,
                    what: "image",
                },
            );
        }
        if let Some(path) = &self.voice {
            let mut request = plain(
                "courier/voice",
                Input::File {
                    path,
                    what: "voice note",
                },
            );
            if self.distort {
                request
                    .options
                    .push(("distort".to_owned(), "true".to_owned()));
            }
            return request;
        }
        if let Some(uri) = &self.payment {
            return plain("courier/payment", Input::Given(uri));
        }
        let mut request = plain(
            "courier/location",
            Input::Given(self.location.as_deref().unwrap_or_default()),
        );
        if let Some(label) = &self.label {
            request.options.push(("label".to_owned(), label.clone()));
        }
        if let Some(precision) = self.precision {
            request
                .options
                .push(("precision".to_owned(), precision.to_string()));
        }
        request
    }
}

/// Queues a message; it is on disk when this returns, and a running `serve` sends it. With a node
/// running `serve --api`, it goes through the node: no passphrase, no plugin load.
pub fn send(dir: &DataDir, alias: &str, content: &Content, reply_to: Option<&str>) -> Result<()> {
    let mut request = content.request();
    if let Some(target) = reply_to {
        // clap lets --reply-to come only with --text: a reply is text.
        request.content_type = RelationKind::Reply.content_type();
        request.relates_to = Some(target);
    }
    send_request(dir, alias, request)
}

/// Queues a reaction, an edit or a retraction (`content_type`, with `text` for its plugin) of
/// the message `target` in the conversation with `alias`, as `send` queues a message.
pub fn relate(
    dir: &DataDir,
    alias: &str,
    content_type: &str,
    target: &str,
    text: &str,
) -> Result<()> {
    send_request(
        dir,
        alias,
        Request {
            content_type,
            input: Input::Given(text),
            options: Vec::new(),
            relates_to: Some(target),
        },
    )
}

fn send_request(dir: &DataDir, alias: &str, request: Request<'_>) -> Result<()> {
    let remote = match remote::running(dir) {
        Some(client) => remote::fell_through(send_through(&client, alias, &request)?)?,
        None => None,
    };
    let sent = match remote {
        Some(queued) => queued,
        None => {
            let mut service = unlock::open(dir)?;
            let outgoing = match request.relates_to {
                Some(target) => service.relating(alias, request.content_type, target)?,
                None => service.outgoing(alias, request.content_type)?,
            };
            let input = request.input.read(outgoing.input_limit())?;
            courier_api::queued_json(outgoing.send(&input, &request.options)?)
        }
    };
    if sent.support == "lacking" {
        eprintln!(
            "note: {alias} has no plugin that reads {}; they will see {:?} until they install one",
            request.content_type, sent.fallback
        );
    }
    println!("queued {}", &sent.id[..16]);
    Ok(())
}

/// Sends `request` through a running node's API: text as JSON, a file as a form.
fn send_through(
    client: &Client,
    alias: &str,
    request: &Request<'_>,
) -> Result<Result<Queued, ClientError>> {
    if let Input::Given(text) = request.input {
        return Ok(client.send_text(
            alias,
            &SendText {
                content_type: request.content_type.to_owned(),
                text: text.to_owned(),
                options: request.options.iter().cloned().collect(),
                relates_to: request.relates_to.map(str::to_owned),
            },
        ));
    }
    // The node checks the plugin's own limit; this only bounds what is read into memory.
    let input = request.input.read(REMOTE_INPUT_LIMIT)?;
    Ok(client.send_file(alias, request.content_type, &input, &request.options))
}

/// The most a command reads to send through a node: the largest body its API takes.
const REMOTE_INPUT_LIMIT: u64 = 64 << 20;

/// Which of a conversation's messages `messages` lists.
pub enum Shown {
    /// All of them.
    All,
    /// The newest `limit`, or the `limit` just older than message `before` (its id in full).
    Window {
        limit: usize,
        before: Option<String>,
    },
}

/// Prints messages of the conversation with a contact (through a running node's API if there is
/// one), and after a window not reaching back to the first, how to list the older ones.
pub fn list(dir: &DataDir, alias: &str, shown: Shown, json: bool, mark_read: bool) -> Result<()> {
    // Checked before anything is opened, so the mistake is told the same with or without a node.
    let before = match &shown {
        Shown::Window {
            before: Some(id), ..
        } => Some(full_id(id)?),
        _ => None,
    };
    let read = |client: &Client| match &shown {
        Shown::All => client.conversation(alias).map(|messages| (messages, None)),
        Shown::Window { limit, before } => client
            .messages(alias, *limit, before.as_deref())
            .map(|window| (window.messages, window.older)),
    };
    let remote = match remote::running(dir) {
        Some(client) => remote::fell_through(read(&client).and_then(|listed| {
            if mark_read {
                let path = format!("/v1/conversations/{}/read", escape(alias));
                client.post::<_, MarkedRead>(&path, &())?;
            }
            Ok(listed)
        }))?,
        None => None,
    };
    let (messages, older): (Vec<Message>, Option<String>) = match remote {
        Some(listed) => listed,
        None => {
            let mut service = unlock::open(dir)?;
            let listed = match &shown {
                Shown::All => {
                    let all = service.conversation(alias, Page::ALL)?.messages;
                    (
                        all.into_iter().map(courier_api::message_json).collect(),
                        None,
                    )
                }
                Shown::Window { limit, .. } => {
                    let window = Window {
                        before,
                        after: None,
                        limit: *limit,
                    };
                    let window = courier_api::messages_json(service.messages(alias, window)?);
                    (window.messages, window.older)
                }
            };
            if mark_read {
                service.mark_seen(alias)?;
            }
            listed
        }
    };
    let rows: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            let direction = match m.direction {
                DirectionJson::Outgoing => "out",
                DirectionJson::Incoming => "in",
            };
            serde_json::json!({
                "id": m.id,
                "direction": direction,
                "type": m.content_type,
                "state": m.state,
                "summary": m.summary,
                "time": m.time_ms,
                "complete": m.bytes.is_some(),
                "bytes": m.bytes,
                "damaged": m.damaged,
                "relation": m.relation,
                "relates_to": m.relates_to,
                "reactions": m.reactions,
                "edits": m.edits,
            })
        })
        .collect();
    if json {
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    if rows.is_empty() && before.is_none() {
        println!("no messages with {alias:?} yet");
    }
    for row in &rows {
        println!(
            "{} {:<3} {:<8} {} {}",
            utc(row["time"].as_u64().unwrap_or(0)),
            row["direction"].as_str().unwrap_or(""),
            row["state"].as_str().unwrap_or(""),
            &row["id"].as_str().unwrap_or("")[..16],
            // A contact wrote it (a fallback text, perhaps): no escape code reaches the terminal.
            courier_service::for_terminal(&shown_line(row, &rows))
        );
    }
    if let Some(older) = older {
        println!("older messages: --before {older} (or --all)");
    }
    Ok(())
}

/// A message id given in full (64 hex digits), or the error saying what `--before` takes.
fn full_id(text: &str) -> Result<MessageId> {
    let mut id = [0u8; 32];
    hex::decode_to_slice(text, &mut id).map_err(|_| {
        CliError::new(
            ErrorKind::InvalidInput,
            format!(
                "--before takes a message's id in full, 64 hex digits (as the line after a \
                 listing and --json give it), not {text:?}"
            ),
        )
    })?;
    Ok(MessageId(id))
}

/// What the text window prints of `row`: a reply with the start of what it quotes, the latest
/// edit marked as one, and each side's reaction, as the page shows them.
fn shown_line(row: &serde_json::Value, rows: &[serde_json::Value]) -> String {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
    let reply = row["relation"] == "reply";
    let mut line = match row["edits"].as_array().and_then(|e| e.last()) {
        Some(latest) if reply => format!("↩ {} (edited)", text(latest)),
        Some(latest) => format!("{} (edited)", text(latest)),
        None => text(&row["summary"]),
    };
    if reply {
        let quoted = rows
            .iter()
            .find(|r| r["id"] == row["relates_to"])
            .map_or_else(
                || "a message not here".to_owned(),
                |r| {
                    let said = text(&r["summary"]);
                    match said.char_indices().nth(40) {
                        Some((cut, _)) => format!("\"{}…\"", &said[..cut]),
                        None => format!("\"{said}\""),
                    }
                },
            );
        line = format!("{line}  [re {quoted}]");
    }
    for reaction in row["reactions"].as_array().into_iter().flatten() {
        let side = if reaction["from"] == "outgoing" {
            "you"
        } else {
            "them"
        };
        line = format!("{line}  [{} {side}]", text(&reaction["reaction"]));
    }
    line
}

/// Writes the content of message `id` (a hex prefix of at least 8 digits, as `messages` shows) to
/// `file`, a new file: a received image or voice note opens as is.
pub fn save(dir: &DataDir, id: &str, file: &Path) -> Result<()> {
    let saved = unlock::open(dir)?.save_attachment(id, file)?;
    print_saved(&saved, file);
    Ok(())
}

/// Says what was saved where.
pub(super) fn print_saved(saved: &courier_service::Attachment, file: &Path) {
    println!(
        "saved {} bytes of {} to {}",
        saved.bytes.len(),
        saved.content_type,
        file.display()
    );
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub(super) fn utc(ms: u64) -> String {
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

    #[test]
    fn a_reply_shows_what_it_quotes_its_latest_edit_and_each_side_s_reaction() {
        use serde_json::json;
        let long = "north gate at nine, bring the blue folder and the spare keys";
        let rows = vec![
            json!({"id": "aa", "summary": long, "edits": [], "reactions": []}),
            json!({
                "id": "bb",
                "summary": "↩ which gate?",
                "relation": "reply",
                "relates_to": "aa",
                "edits": ["which gate, the old one?"],
                "reactions": [
                    {"from": "incoming", "reaction": "❤"},
                    {"from": "outgoing", "reaction": "👍"}
                ],
            }),
            json!({"id": "cc", "summary": "↩ yes", "relation": "reply", "relates_to": "gone",
                   "edits": [], "reactions": []}),
        ];
        assert_eq!(super::shown_line(&rows[0], &rows), long);
        assert_eq!(
            super::shown_line(&rows[1], &rows),
            "↩ which gate, the old one? (edited)  [re \"north gate at nine, bring the blue folde…\"]  [❤ them]  [👍 you]"
        );
        assert_eq!(
            super::shown_line(&rows[2], &rows),
            "↩ yes  [re a message not here]"
        );
    }
}
