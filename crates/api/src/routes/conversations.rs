//! `/v1/conversations`: the list, a window of messages by cursor, sending any installed content
//! type (JSON for text input, multipart for files), and marking read.

use axum::Json;
use axum::extract::{FromRequest, Multipart, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use courier_service::{MessageId, SendRequest, Window};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::convert;
use crate::error::ApiError;
use crate::extract::{Param, body_error, parse_json};
use crate::state::AppState;
use courier_api_client::json::{Conversation, ErrorBody, MarkedRead, Messages, Queued, SendText};

/// The most messages one window lists.
pub const MAX_WINDOW: usize = 500;
/// The largest body a send takes: the largest input a shipped plugin prepares (64 MiB, an image or
/// a voice note) and room for the form around it.
pub const SEND_BODY_LIMIT: usize = (64 << 20) + (1 << 20);

/// Every conversation, with its unread count and newest message.
#[utoipa::path(get, path = "/v1/conversations", tag = "conversations",
    responses((status = 200, body = Vec<Conversation>), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Conversation>>, ApiError> {
    state
        .run(|core| {
            let all = core.service.conversations()?;
            Ok(Json(all.into_iter().map(convert::conversation).collect()))
        })
        .await
}

/// Which messages to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WindowQuery {
    /// List the messages just older than this one (an id from `older`).
    before: Option<String>,
    /// List the messages just newer than this one (an id from `newer`).
    after: Option<String>,
    /// How many at most, 1 to 500 (default 50).
    limit: Option<String>,
}

/// A window of the conversation, oldest first: the newest `limit`, or those just before or after
/// a message. Ids, not offsets, so messages arriving meanwhile neither repeat nor shift a page.
#[utoipa::path(get, path = "/v1/conversations/{alias}/messages", tag = "conversations",
    params(("alias" = String, Path, description = "The contact's alias"), WindowQuery),
    responses((status = 200, body = Messages), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn messages(
    State(state): State<AppState>,
    Param(alias): Param<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Messages>, ApiError> {
    let query: WindowQuery = parse_query(query.as_deref())?;
    let window = Window {
        before: query
            .before
            .as_deref()
            .map(|id| message_id(id, "before"))
            .transpose()?,
        after: query
            .after
            .as_deref()
            .map(|id| message_id(id, "after"))
            .transpose()?,
        limit: window_limit(query.limit.as_deref())?,
    };
    state
        .run(move |core| {
            Ok(Json(convert::messages(
                core.service.messages(&alias, window)?,
            )))
        })
        .await
}

/// A URL's query as a `T`, or the error saying what is wrong with it.
pub(crate) fn parse_query<T: serde::de::DeserializeOwned>(
    query: Option<&str>,
) -> Result<T, ApiError> {
    serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| ApiError::bad_field("query", format!("the query is wrong: {e}")))
}

/// A window's `limit`: 1 to [`MAX_WINDOW`], 50 when not given.
pub(crate) fn window_limit(text: Option<&str>) -> Result<usize, ApiError> {
    let Some(text) = text else { return Ok(50) };
    text.parse()
        .ok()
        .filter(|n| (1..=MAX_WINDOW).contains(n))
        .ok_or_else(|| {
            ApiError::bad_field("limit", format!("limit is 1 to {MAX_WINDOW}, not {text:?}"))
        })
}

/// A message id in full: 64 hex digits.
pub(crate) fn message_id(text: &str, field: &str) -> Result<MessageId, ApiError> {
    let mut id = [0u8; 32];
    hex::decode_to_slice(text, &mut id)
        .map(|()| MessageId(id))
        .map_err(|_| ApiError::bad_field(field, format!("{field} is a message id, 64 hex digits")))
}

/// A send as `multipart/form-data`: the file and its content type.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SendFile {
    /// An installed content type, e.g. `courier/image`.
    content_type: String,
    /// The file its plugin prepares (an image, a voice recording, any input).
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}

/// Queues a message; it is on disk when this answers. JSON `{content_type, text, options,
/// relates_to}` for
/// text input; `multipart/form-data` with `content_type`, `file` and any `option.KEY` fields for a
/// file. An `Idempotency-Key` header makes a retried send (within a week, across restarts) answer
/// with the first send's id, queueing once.
#[utoipa::path(post, path = "/v1/conversations/{alias}/messages", tag = "conversations",
    params(("alias" = String, Path, description = "The contact's alias"),
           ("Idempotency-Key" = Option<String>, Header, description = "The same key for a retry of the same send")),
    request_body(content((SendText = "application/json"), (SendFile = "multipart/form-data"))),
    responses((status = 201, body = Queued), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn send(
    State(state): State<AppState>,
    Param(alias): Param<String>,
    headers: HeaderMap,
    request: Request,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    let key = headers
        .get("idempotency-key")
        .map(|k| {
            k.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 200)
                .map(str::to_owned)
                .ok_or_else(|| {
                    ApiError::bad_field(
                        "Idempotency-Key",
                        "Idempotency-Key is 1 to 200 visible characters",
                    )
                })
        })
        .transpose()?;
    let body = upload(&headers, request).await?;
    let request = SendRequest {
        alias,
        content_type: body.content_type,
        input: body.input,
        options: body.options,
        key,
        relates_to: body.relates_to,
    };
    let enqueued = state.sends.enqueue(request);
    if enqueued.lead {
        // The committer is a task of its own, not this request's: a client that goes away must
        // not take with it the commit of everyone else's sends.
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                let sends = state.sends.clone();
                match state
                    .write(move |core| Ok(sends.commit_waiting(&mut core.service)))
                    .await
                {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(e) => break state.sends.fail_waiting(&e),
                }
            }
        });
    }
    let sent = enqueued.answer.sent().await?;
    Ok((StatusCode::CREATED, Json(convert::queued(sent))))
}

/// What a send carries, from JSON or a form.
pub(crate) struct Upload {
    pub content_type: String,
    pub input: Vec<u8>,
    pub options: Vec<(String, String)>,
    /// The message a reply, reaction, edit or retraction names.
    pub relates_to: Option<String>,
}

/// A send's body: `multipart/form-data` with a file, or JSON ([`SendText`]) with text.
pub(crate) async fn upload(headers: &HeaderMap, request: Request) -> Result<Upload, ApiError> {
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("multipart/form-data"));
    if multipart {
        return read_form(Multipart::from_request(request, &()).await.map_err(|e| {
            ApiError::bad_field(
                "body",
                format!("the form could not be read: {}", e.body_text()),
            )
        })?)
        .await;
    }
    let bytes = axum::body::Bytes::from_request(request, &())
        .await
        .map_err(|e| body_error(e.status(), e.body_text()))?;
    let text: SendText = parse_json(&bytes)?;
    Ok(Upload {
        content_type: text.content_type,
        input: text.text.into_bytes(),
        options: text.options.into_iter().collect(),
        relates_to: text.relates_to,
    })
}

/// The fields of a multipart send.
async fn read_form(mut form: Multipart) -> Result<Upload, ApiError> {
    let mut content_type = None;
    let mut input = None;
    let mut options = Vec::new();
    loop {
        let field = form.next_field().await.map_err(|e| multipart_error(&e))?;
        let Some(field) = field else { break };
        let name = field.name().unwrap_or("").to_owned();
        let bytes = field.bytes().await.map_err(|e| multipart_error(&e))?;
        match name.as_str() {
            "file" => input = Some(bytes.to_vec()),
            "content_type" => content_type = Some(text_field(&name, &bytes)?),
            other => match other.strip_prefix("option.") {
                Some(key) if !key.is_empty() => {
                    options.push((key.to_owned(), text_field(&name, &bytes)?));
                }
                _ => {
                    return Err(ApiError::bad_field(
                        name.clone(),
                        format!(
                            "unknown form field {name:?}: send content_type, file and option.KEY"
                        ),
                    ));
                }
            },
        }
    }
    Ok(Upload {
        content_type: content_type.ok_or_else(|| {
            ApiError::bad_field("content_type", "the form has no content_type field")
        })?,
        input: input.ok_or_else(|| ApiError::bad_field("file", "the form has no file field"))?,
        options,
        relates_to: None,
    })
}

fn text_field(name: &str, bytes: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| {
        ApiError::bad_field(name, format!("the form field {name:?} is not UTF-8 text"))
    })
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(SEND_BODY_LIMIT).on("file")
    } else {
        ApiError::bad_field(
            "body",
            format!("the form could not be read: {}", e.body_text()),
        )
    }
}

/// Marks every message from the contact read; where the conversation sends read receipts, the
/// contact is told which.
#[utoipa::path(post, path = "/v1/conversations/{alias}/read", tag = "conversations",
    params(("alias" = String, Path, description = "The contact's alias")),
    responses((status = 200, body = MarkedRead), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    Param(alias): Param<String>,
) -> Result<Json<MarkedRead>, ApiError> {
    state
        .write(move |core| {
            let marked = core.service.mark_seen(&alias)?;
            Ok(Json(MarkedRead {
                seen: marked.seen as u64,
                receipts: marked.receipts as u64,
            }))
        })
        .await
}
