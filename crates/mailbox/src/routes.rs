//! The HTTP API under `/v1`. Every request needs `Authorization: Bearer TOKEN`; one without a token
//! the mailbox knows gets a bare 401 whatever its path, method or body, so that nothing tells a
//! scanner this is a mailbox. A folder or file a token may not use is a 404.
//!
//! - `PUT /v1/setup` (the setup token): the owner's token, the same again if asked again.
//! - `GET /v1/status`: 204 for any token.
//! - `GET /v1/contacts`, `PUT /v1/contacts/{id}` (`{token, inbox, outbox}`),
//!   `DELETE /v1/contacts/{id}` (the owner).
//! - `GET /v1/folders`: `{folders: [id]}`, the folders this token fetches from that hold a file.
//! - `POST /v1/folders/{folder}/files` (the bytes): 201 `{name}` once the file is on disk.
//! - `GET /v1/folders/{folder}/files`: `{files: [{name, time_ms, size}]}`, oldest first.
//! - `GET` and `DELETE /v1/folders/{folder}/files/{name}`.
//! - `DELETE /v1/mailbox` (the owner): every file and token gone.
//! - `GET /v1/openapi.json`: this API as an OpenAPI 3 document.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use courier_error::{ErrorKind, HasKind};
use serde::{Deserialize, Serialize};

use crate::folders::FileEntry;
use crate::registry::{ContactId, FolderId, Role};
use crate::token::Token;
use crate::{Mailbox, MailboxError};

/// The mailbox as every request shares it.
pub type Shared = Arc<Mutex<Mailbox>>;

/// The owner's token, in answer to setup.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SetupReply {
    /// 64 hex digits.
    pub token: String,
}

/// A contact to register.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewContact {
    /// Their token, 64 hex digits.
    pub token: String,
    /// Where they upload: 32 hex digits.
    pub inbox: String,
    /// Where they fetch: 32 hex digits.
    pub outbox: String,
}

/// The registered contacts.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contacts {
    /// Their ids.
    pub contacts: Vec<String>,
}

/// A stored file's name.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stored {
    /// Its name in the folder.
    pub name: String,
}

/// The folders that hold a file for this token.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Waiting {
    /// Their ids, 32 hex digits each.
    pub folders: Vec<String>,
}

/// A folder's files.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Listing {
    /// Oldest first.
    pub files: Vec<FileEntry>,
}

/// The API over `mailbox`.
pub fn router(mailbox: Shared) -> Router {
    let limit = usize::try_from(lock(&mailbox).config().max_file_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    Router::new()
        .route("/v1/setup", put(setup))
        .route("/v1/status", get(status))
        .route("/v1/contacts", get(contacts))
        .route("/v1/contacts/{id}", put(add_contact).delete(remove_contact))
        .route("/v1/folders", get(waiting))
        .route("/v1/folders/{folder}/files", post(upload).get(list))
        .route(
            "/v1/folders/{folder}/files/{name}",
            get(download).delete(delete),
        )
        .route("/v1/mailbox", axum::routing::delete(wipe))
        .route("/v1/openapi.json", get(document))
        .fallback(|| async { error(MailboxError::NotFound("route")) })
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(
            mailbox.clone(),
            authenticate,
        ))
        .with_state(mailbox)
}

/// The bare 401 every request without a known token gets.
fn unauthorized() -> Response {
    StatusCode::UNAUTHORIZED.into_response()
}

/// Resolves the bearer token to a role, or answers 401.
async fn authenticate(State(mailbox): State<Shared>, mut request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(Token::from_hex);
    let Some(token) = token else {
        return unauthorized();
    };
    let role = blocking(&mailbox, move |m| m.role(&token)).await;
    match role {
        Ok(Some(role)) => {
            // Its connection is no stranger now: no deadline, never closed to make room.
            if let Some(connection) = request
                .extensions()
                .get::<courier_http_serving::Connection>()
            {
                connection.vouch();
            }
            request.extensions_mut().insert(role);
            next.run(request).await
        }
        Ok(None) => unauthorized(),
        Err(e) => error(e),
    }
}

/// Runs `f` on the mailbox off the async threads (files are synced).
async fn blocking<T: Send + 'static>(
    mailbox: &Shared,
    f: impl FnOnce(&mut Mailbox) -> Result<T, MailboxError> + Send + 'static,
) -> Result<T, MailboxError> {
    let mailbox = mailbox.clone();
    tokio::task::spawn_blocking(move || f(&mut lock(&mailbox)))
        .await
        .unwrap_or_else(|_| {
            Err(MailboxError::Damaged(
                "a request failed inside the mailbox; see its log".into(),
            ))
        })
}

fn lock(mailbox: &Shared) -> std::sync::MutexGuard<'_, Mailbox> {
    // A request that panicked left the files as the file system did: consistent.
    mailbox.lock().unwrap_or_else(|p| p.into_inner())
}

/// A failure as JSON with its status.
fn error(e: MailboxError) -> Response {
    let status = match (&e, e.kind()) {
        (MailboxError::TooLarge { .. } | MailboxError::QuotaFull { .. }, _) => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        (MailboxError::RateLimited { .. }, _) => StatusCode::TOO_MANY_REQUESTS,
        // A malformed name is answered as one that does not exist: nothing to learn from it.
        (_, ErrorKind::NotFound | ErrorKind::InvalidInput) => StatusCode::NOT_FOUND,
        (_, ErrorKind::Conflict) => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let kind = match status {
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::PAYLOAD_TOO_LARGE => "too-large",
        StatusCode::TOO_MANY_REQUESTS => "rate-limited",
        StatusCode::CONFLICT => "conflict",
        _ => "storage",
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::warn!("the mailbox failed a request: {e}");
    }
    let mut response = (
        status,
        axum::Json(ErrorBody {
            error: kind.to_owned(),
            message: e.to_string(),
        }),
    )
        .into_response();
    if let MailboxError::RateLimited { retry_after_secs } = e {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    }
    response
}

fn reply<T: IntoResponse>(result: Result<T, MailboxError>) -> Response {
    result.map_or_else(error, IntoResponse::into_response)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[utoipa::path(put, path = "/v1/setup", tag = "setup",
    description = "With the setup token: the owner's token, the same again until the owner uses it.",
    responses((status = 200, body = SetupReply), (status = 401), (status = 404, body = ErrorBody)))]
async fn setup(State(m): State<Shared>, axum::Extension(role): axum::Extension<Role>) -> Response {
    reply(blocking(&m, move |m| m.set_up(&role)).await.map(|token| {
        axum::Json(SetupReply {
            token: token.to_hex(),
        })
    }))
}

#[utoipa::path(get, path = "/v1/status", tag = "setup",
    responses((status = 204, description = "The token is known"), (status = 401)))]
async fn status() -> StatusCode {
    StatusCode::NO_CONTENT
}

#[utoipa::path(get, path = "/v1/contacts", tag = "contacts",
    responses((status = 200, body = Contacts), (status = 401), (status = 404, body = ErrorBody)))]
async fn contacts(
    State(m): State<Shared>,
    axum::Extension(role): axum::Extension<Role>,
) -> Response {
    reply(blocking(&m, move |m| m.contacts(&role)).await.map(|ids| {
        axum::Json(Contacts {
            contacts: ids.iter().map(|id| id.as_str().to_owned()).collect(),
        })
    }))
}

#[utoipa::path(put, path = "/v1/contacts/{id}", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id here, 32 hex digits")),
    request_body = NewContact,
    responses((status = 201, description = "Registered"), (status = 200, description = "Already so"),
              (status = 401), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn add_contact(
    State(m): State<Shared>,
    axum::Extension(role): axum::Extension<Role>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let parsed = (|| {
        let new: NewContact = serde_json::from_slice(&body).map_err(|e| MailboxError::BadName {
            what: "contact",
            name: e.to_string(),
        })?;
        let token = Token::from_hex(&new.token).ok_or(MailboxError::BadName {
            what: "token",
            name: String::new(),
        })?;
        Ok::<_, MailboxError>((
            ContactId::parse(&id)?,
            token,
            FolderId::parse(&new.inbox)?,
            FolderId::parse(&new.outbox)?,
        ))
    })();
    let (id, token, inbox, outbox) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return error(e),
    };
    reply(
        blocking(&m, move |m| m.add_contact(&role, id, &token, inbox, outbox))
            .await
            .map(|added| {
                if added {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                }
            }),
    )
}

#[utoipa::path(delete, path = "/v1/contacts/{id}", tag = "contacts",
    params(("id" = String, Path, description = "The contact's id here, 32 hex digits")),
    responses((status = 204, description = "Removed, with their folders"), (status = 401),
              (status = 404, body = ErrorBody)))]
async fn remove_contact(
    State(m): State<Shared>,
    axum::Extension(role): axum::Extension<Role>,
    Path(id): Path<String>,
) -> Response {
    reply(
        blocking(&m, move |m| {
            m.remove_contact(&role, &ContactId::parse(&id)?)
        })
        .await
        .map(|()| StatusCode::NO_CONTENT),
    )
}

#[utoipa::path(post, path = "/v1/folders/{folder}/files", tag = "files",
    params(("folder" = String, Path, description = "The folder id, 32 hex digits")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Stored, description = "On disk"), (status = 401),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
async fn upload(
    State(m): State<Shared>,
    axum::Extension(role): axum::Extension<Role>,
    Path(folder): Path<String>,
    body: Bytes,
) -> Response {
    let now = Instant::now();
    reply(
        blocking(&m, move |m| {
            m.upload(&role, &FolderId::parse(&folder)?, &body, now_ms(), now)
        })
        .await
        .map(|name| (StatusCode::CREATED, axum::Json(Stored { name }))),
    )
}

#[utoipa::path(get, path = "/v1/folders", tag = "files",
    description = "The folders this token fetches from that hold a file.",
    responses((status = 200, body = Waiting), (status = 401), (status = 404, body = ErrorBody)))]
async fn waiting(
    State(m): State<Shared>,
    axum::Extension(role): axum::Extension<Role>,
) -> Response {
    reply(
        blocking(&m, move |m| m.waiting(&role))
            .await
            .map(|folders| {
                axum::Json(Waiting {
                    folders: folders.iter().map(|f| f.as_str().to_owned()).collect(),
                })
            }),
    )
}

#[utoipa::path(get, path = "/v1/folders/{folder}/files", tag = "files",
    params(("folder" = String, Path, description = "The folder id, 32 hex digits")),
    responses((status = 200, body = Listing), (status = 401), (status = 404, body = ErrorBody)))]
async fn list(
    State(m): State<Shared>,
    axum::Extension(role): axum::Extension<Role>,
    Path(folder): Path<String>,
) -> Response {
    reply(
        blocking(&m, move |m| m.list(&role, &FolderId::parse(&folder)?))
            .await
            .map(|files| axum::Json(Listing { files })),
    )
}

#[utoipa::path(get, path = "/v1/folders/{folder}/files/{name}", tag = "files",
    params(("folder" = String, Path, description = "The folder id, 32 hex digits"),
           ("name" = String, Path, description = "The file's name in the folder")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 401), (status = 404, body = ErrorBody)))]
async fn download(
    State(m): State<Shared>,
    axum::Extension(role): axum::Extension<Role>,
    Path((folder, name)): Path<(String, String)>,
) -> Response {
    reply(
        blocking(&m, move |m| {
            m.download(&role, &FolderId::parse(&folder)?, &name, now_ms())
        })
        .await
        .map(|bytes| ([(header::CONTENT_TYPE, "application/octet-stream")], bytes)),
    )
}

#[utoipa::path(delete, path = "/v1/folders/{folder}/files/{name}", tag = "files",
    params(("folder" = String, Path, description = "The folder id, 32 hex digits"),
           ("name" = String, Path, description = "The file's name in the folder")),
    responses((status = 204, description = "Deleted"), (status = 401), (status = 404, body = ErrorBody)))]
async fn delete(
    State(m): State<Shared>,
    axum::Extension(role): axum::Extension<Role>,
    Path((folder, name)): Path<(String, String)>,
) -> Response {
    reply(
        blocking(&m, move |m| {
            m.delete(&role, &FolderId::parse(&folder)?, &name)
        })
        .await
        .map(|()| StatusCode::NO_CONTENT),
    )
}

#[utoipa::path(delete, path = "/v1/mailbox", tag = "setup",
    description = "The owner only: every file and token gone; started again, it prints a new setup token.",
    responses((status = 204, description = "Wiped"), (status = 401), (status = 404, body = ErrorBody)))]
async fn wipe(State(m): State<Shared>, axum::Extension(role): axum::Extension<Role>) -> Response {
    reply(
        blocking(&m, move |m| m.wipe(&role))
            .await
            .map(|()| StatusCode::NO_CONTENT),
    )
}

/// A failure's body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// `not-found`, `conflict`, `too-large`, `rate-limited` or `storage`.
    pub error: String,
    /// What was wrong and what to do.
    pub message: String,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Courier mailbox API", description = "A mailbox keeps opaque files for its owner \
        and the owner's contacts until they fetch them. Every request carries \
        `Authorization: Bearer TOKEN`; one without a token the mailbox knows gets a bare 401 on any \
        path, and a folder a token may not use is a 404."),
    paths(setup, status, contacts, add_contact, remove_contact, waiting, upload, list, download, delete,
          wipe),
    modifiers(&Bearer),
    security(("bearer" = [])),
)]
struct Document;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
    }
}

/// The OpenAPI document of this API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    <Document as utoipa::OpenApi>::openapi()
}

/// `GET /v1/openapi.json`, for any token.
async fn document() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(openapi())
}

/// Deletes, every `every`, what nobody fetched within the retention; runs until the mailbox is
/// dropped by everyone else.
pub async fn sweep_every(mailbox: Shared, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if Arc::strong_count(&mailbox) == 1 {
            return;
        }
        if let Err(e) = blocking(&mailbox, |m| m.sweep(now_ms())).await {
            tracing::warn!("the mailbox could not delete expired files: {e}");
        }
    }
}
