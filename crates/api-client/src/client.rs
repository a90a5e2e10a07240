//! A client of a running node's API, for the command line (a `courier send` with no passphrase and
//! no plugin load), tests and benches.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::json::{Contact, ErrorDetail, Message, Messages, Queued, SendText};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answers at the address (the node stopped and left its files).
    #[error("no node answers at the API's address: {0}")]
    Unreachable(String),
    /// The API refused the request.
    #[error("{}", .detail.message)]
    Api {
        /// The HTTP status.
        status: u16,
        /// What it said.
        detail: ErrorDetail,
    },
    /// The answer was not what the API sends.
    #[error("the API's answer could not be read: {0}")]
    Garbled(String),
}

/// How every client's requests go: statuses are answers, not errors; two minutes at most.
fn agent_config() -> ureq::config::Config {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
}

/// A client of one node's API.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client of the API at `addr` (`127.0.0.1:7000`) with `token`.
    pub fn new(addr: &str, token: &str) -> Client {
        let agent = agent_config().into();
        Client {
            base: format!("http://{addr}"),
            token: token.to_owned(),
            agent,
        }
    }

    /// A client of the API a node serving `dir` wrote its address and token for, if it did, over
    /// TCP.
    pub fn of_data_dir(dir: &Path) -> Option<Client> {
        let read = |name| std::fs::read_to_string(dir.join(name)).ok();
        let addr = read(crate::ADDRESS_FILE)?;
        let token = read(crate::TOKEN_FILE)?;
        Some(Client::new(addr.trim(), token.trim()))
    }

    /// As [`of_data_dir`](Self::of_data_dir), but over the API's Unix socket where there is one:
    /// only this user reaches it, so nobody flooding the TCP port stands in the way.
    pub fn local_of_data_dir(dir: &Path) -> Option<Client> {
        let client = Client::of_data_dir(dir)?;
        let socket = dir.join(crate::SOCKET_FILE);
        if socket.exists() {
            return Some(Client::over_socket(socket, &client.token));
        }
        Some(client)
    }

    /// A client of the API on the Unix socket at `socket` with `token`.
    pub fn over_socket(socket: std::path::PathBuf, token: &str) -> Client {
        let agent = ureq::Agent::with_parts(
            agent_config(),
            crate::unix_socket::SocketConnector(socket),
            ureq::unversioned::resolver::DefaultResolver::default(),
        );
        Client {
            // The socket answers to any Host; this one is never resolved.
            base: "http://localhost".to_owned(),
            token: token.to_owned(),
            agent,
        }
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Contacts and pending contacts.
    pub fn contacts(&self) -> Result<Vec<Contact>, ClientError> {
        self.get("/v1/contacts")
    }

    /// The whole conversation with `alias`, oldest first, a window at a time.
    pub fn conversation(&self, alias: &str) -> Result<Vec<Message>, ClientError> {
        let mut window = self.messages(alias, 500, None)?;
        let mut all = std::mem::take(&mut window.messages);
        while let Some(older) = window.older.take() {
            window = self.messages(alias, 500, Some(&older))?;
            window.messages.append(&mut all);
            all = std::mem::take(&mut window.messages);
        }
        Ok(all)
    }

    /// A window of the conversation with `alias`, oldest first: the newest `limit` (1 to 500), or
    /// the `limit` just older than message `before` (its id in full).
    pub fn messages(
        &self,
        alias: &str,
        limit: usize,
        before: Option<&str>,
    ) -> Result<Messages, ClientError> {
        let mut path = format!("/v1/conversations/{}/messages?limit={limit}", escape(alias));
        if let Some(before) = before {
            path = format!("{path}&before={}", escape(before));
        }
        self.get(&path)
    }

    /// Queues a message whose input is text.
    pub fn send_text(&self, alias: &str, send: &SendText) -> Result<Queued, ClientError> {
        self.post(
            &format!("/v1/conversations/{}/messages", escape(alias)),
            send,
        )
    }

    /// Queues a message whose input is a file's bytes, as a form.
    pub fn send_file(
        &self,
        alias: &str,
        content_type: &str,
        file: &[u8],
        options: &[(String, String)],
    ) -> Result<Queued, ClientError> {
        let boundary = format!("courier-{:016x}", rand_u64());
        let mut body = Vec::with_capacity(file.len() + 512);
        let mut field = |name: &str, extra: &str, value: &[u8]| {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(value);
            body.extend_from_slice(b"\r\n");
        };
        field("content_type", "", content_type.as_bytes());
        for (key, value) in options {
            field(&format!("option.{key}"), "", value.as_bytes());
        }
        field("file", "; filename=\"input\"", file);
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let response = self
            .agent
            .post(format!(
                "{}/v1/conversations/{}/messages",
                self.base,
                escape(alias)
            ))
            .header("Authorization", format!("Bearer {}", self.token))
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .send(&body[..]);
        answer(response)
    }

    /// GETs `path` as JSON.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let response = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .call();
        answer(response)
    }

    /// GETs `path` as bytes, with its content type.
    pub fn get_bytes(&self, path: &str) -> Result<(String, Vec<u8>), ClientError> {
        let response = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let media = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let mut body = response.into_body();
        let bytes = body
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .map_err(|e| ClientError::Garbled(e.to_string()))?;
        if status >= 400 {
            return Err(api_error(status, &bytes));
        }
        Ok((media, bytes))
    }

    /// POSTs `body` as JSON to `path`.
    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .send_json(body);
        answer(response)
    }
}

fn answer<T: DeserializeOwned>(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<T, ClientError> {
    let response = response.map_err(|e| ClientError::Unreachable(e.to_string()))?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .map_err(|e| ClientError::Garbled(e.to_string()))?;
    if status >= 400 {
        return Err(api_error(status, &bytes));
    }
    serde_json::from_slice(&bytes).map_err(|e| ClientError::Garbled(e.to_string()))
}

fn api_error(status: u16, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<crate::json::ErrorBody>(bytes) {
        Ok(body) => ClientError::Api {
            status,
            detail: body.error,
        },
        Err(_) => ClientError::Garbled(format!("status {status} without the API's error body")),
    }
}

/// `text` as one URL path segment.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char);
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn rand_u64() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS has a random source");
    u64::from_le_bytes(bytes)
}
