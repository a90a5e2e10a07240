//! Requests to one mailbox with one token.

use std::time::Duration;

use serde::Deserialize;

use crate::MailboxClientError;

/// A bearer token: 32 bytes.
pub type Token = [u8; 32];
/// A folder id: 16 bytes.
pub type Folder = [u8; 16];

/// A client of one mailbox, as one token's holder.
#[derive(Clone)]
pub struct MailboxClient {
    agent: ureq::Agent,
    base: String,
    bearer: String,
    /// Set for a mailbox at an onion name that this client's agent cannot reach (it would ask DNS
    /// for the name): every request fails, saying so.
    needs_tor: bool,
}

impl std::fmt::Debug for MailboxClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailboxClient([redacted])")
    }
}

#[derive(Deserialize)]
struct SetupReply {
    token: String,
}

#[derive(Deserialize)]
struct Waiting {
    folders: Vec<String>,
}

#[derive(Deserialize)]
struct Listing {
    files: Vec<Listed>,
}

#[derive(Deserialize)]
struct Listed {
    name: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    message: String,
}

/// Largest answer read: a file is at most 1 MiB; a listing of thousands of names is less.
const MAX_ANSWER: u64 = 8 << 20;

impl MailboxClient {
    /// A client of the mailbox at `address` (`host:port`) holding `token`, over TCP; a mailbox
    /// at an onion name needs [`through`](Self::through) an agent that reaches it over Tor.
    pub fn new(address: &str, token: &Token) -> MailboxClient {
        let mut client = MailboxClient::through(&agent_config().into(), address, token);
        client.needs_tor = is_onion_address(address);
        client
    }

    /// A client of the mailbox at `address` holding `token`, through `agent`, which reaches onion
    /// names over Tor (never by DNS) if `address` is one. Clients through one agent share its
    /// connections.
    pub fn through(agent: &ureq::Agent, address: &str, token: &Token) -> MailboxClient {
        MailboxClient {
            agent: agent.clone(),
            base: format!("http://{address}"),
            bearer: format!("Bearer {}", hex::encode(token)),
            needs_tor: false,
        }
    }

    /// Exchanges this client's setup token for the owner's token; asking again answers the same
    /// token, so a reply lost on the way is asked for again, not a reason to wipe the mailbox.
    pub fn set_up(&self) -> Result<Token, MailboxClientError> {
        let bytes = self.call("PUT", "/v1/setup", Vec::new())?;
        let reply: SetupReply = json(&bytes)?;
        let mut token = [0; 32];
        hex::decode_to_slice(&reply.token, &mut token).map_err(|_| garbled("setup"))?;
        Ok(token)
    }

    /// Whether the mailbox answers and knows our token.
    pub fn status(&self) -> Result<(), MailboxClientError> {
        self.call("GET", "/v1/status", Vec::new()).map(drop)
    }

    /// Registers a contact (as the owner): their token, the folder they upload to and the one
    /// they fetch from. Registering the same again changes nothing.
    pub fn register(
        &self,
        token: &Token,
        inbox: &Folder,
        outbox: &Folder,
    ) -> Result<(), MailboxClientError> {
        let body = serde_json::json!({
            "token": hex::encode(token),
            "inbox": hex::encode(inbox),
            "outbox": hex::encode(outbox),
        });
        // The contact's id at the mailbox is its outbox's: random, and stable across registrations.
        let path = format!("/v1/contacts/{}", hex::encode(outbox));
        self.call("PUT", &path, body.to_string().into_bytes())
            .map(drop)
    }

    /// Stores one file in `folder`; returns once the mailbox has it on disk.
    pub fn upload(&self, folder: &Folder, data: Vec<u8>) -> Result<(), MailboxClientError> {
        let path = format!("/v1/folders/{}/files", hex::encode(folder));
        self.call("POST", &path, data).map(drop)
    }

    /// The folders this token fetches from that hold a file.
    pub fn waiting(&self) -> Result<Vec<Folder>, MailboxClientError> {
        let waiting: Waiting = json(&self.call("GET", "/v1/folders", Vec::new())?)?;
        waiting
            .folders
            .iter()
            .map(|id| {
                let mut folder = [0; 16];
                hex::decode_to_slice(id, &mut folder).map_err(|_| garbled("folders"))?;
                Ok(folder)
            })
            .collect()
    }

    /// The names of the files in `folder`, oldest first.
    pub fn list(&self, folder: &Folder) -> Result<Vec<String>, MailboxClientError> {
        let path = format!("/v1/folders/{}/files", hex::encode(folder));
        let listing: Listing = json(&self.call("GET", &path, Vec::new())?)?;
        Ok(listing.files.into_iter().map(|f| f.name).collect())
    }

    /// One file's bytes.
    pub fn download(&self, folder: &Folder, name: &str) -> Result<Vec<u8>, MailboxClientError> {
        self.call("GET", &file_path(folder, name)?, Vec::new())
    }

    /// Deletes one file.
    pub fn delete(&self, folder: &Folder, name: &str) -> Result<(), MailboxClientError> {
        self.call("DELETE", &file_path(folder, name)?, Vec::new())
            .map(drop)
    }

    fn call(&self, method: &str, path: &str, body: Vec<u8>) -> Result<Vec<u8>, MailboxClientError> {
        if self.needs_tor {
            return Err(MailboxClientError::NeedsTor);
        }
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("Authorization", &self.bearer)
            .body(body)
            .map_err(|e| MailboxClientError::Unreachable(e.to_string()))?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| MailboxClientError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|e| MailboxClientError::Unreachable(e.to_string()))?;
        let message = || {
            serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| b.message)
                .unwrap_or_default()
        };
        match status {
            200..=299 => Ok(bytes),
            401 => Err(MailboxClientError::Unauthorized),
            404 => Err(MailboxClientError::NotFound),
            413 => Err(MailboxClientError::Full(message())),
            429 => Err(MailboxClientError::RateLimited {
                retry_after_secs: retry_after.unwrap_or(1),
            }),
            _ => Err(MailboxClientError::Refused {
                status,
                message: message(),
            }),
        }
    }
}

/// The settings of every agent that talks to mailboxes: statuses answered, not errors; a 1 MiB
/// file over a slow link may take its time, a mailbox that hangs may not.
pub fn agent_config() -> ureq::config::Config {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .timeout_connect(Some(Duration::from_secs(10)))
        .build()
}

/// Whether `address` (`host:port`) names an onion service.
pub fn is_onion_address(address: &str) -> bool {
    address
        .rsplit_once(':')
        .is_some_and(|(host, _)| host.ends_with(".onion"))
}

/// A file's path; a name the mailbox could not have given is refused before it is sent.
fn file_path(folder: &Folder, name: &str) -> Result<String, MailboxClientError> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(MailboxClientError::NotFound);
    }
    Ok(format!("/v1/folders/{}/files/{name}", hex::encode(folder)))
}

fn garbled(what: &str) -> MailboxClientError {
    MailboxClientError::Refused {
        status: 200,
        message: format!("its {what} answer could not be read"),
    }
}

fn json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, MailboxClientError> {
    serde_json::from_slice(bytes).map_err(|_| garbled("JSON"))
}
