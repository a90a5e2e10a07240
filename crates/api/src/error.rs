//! Errors: a request's, answered as `{"error": {"kind", "message", "field"}}` with its status, and
//! the server's own at start.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use courier_service::{ErrorKind, ServiceError};

use courier_api_client::json::{ErrorBody, ErrorDetail};

/// Why a request failed.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    field: Option<String>,
}

impl ApiError {
    /// A failure with `status`, of `kind`, saying `message`.
    pub(crate) fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
            field: None,
        }
    }

    /// 400: the request's `field` is wrong, as `message` says.
    pub(crate) fn bad_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid-input", message).on(field)
    }

    /// 401.
    pub(crate) fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "no valid token: send `Authorization: Bearer TOKEN`, the token in DATA_DIR/api.token",
        )
    }

    /// 413: the body is over `limit` bytes.
    pub(crate) fn too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!("the request is over {limit} bytes, the most this API takes"),
        )
    }

    /// The same error, about `field` when it is about the input (a missing contact is not).
    pub(crate) fn on(mut self, field: impl Into<String>) -> Self {
        if self.status == StatusCode::BAD_REQUEST || self.status == StatusCode::PAYLOAD_TOO_LARGE {
            self.field = Some(field.into());
        }
        self
    }

    /// What was wrong, for a person.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        let (status, kind) = match (&error, error.kind()) {
            (ServiceError::InputTooLarge { .. }, _) => (StatusCode::PAYLOAD_TOO_LARGE, "too-large"),
            (_, ErrorKind::NotFound) => (StatusCode::NOT_FOUND, "not-found"),
            (_, ErrorKind::InvalidInput) => (StatusCode::BAD_REQUEST, "invalid-input"),
            (_, ErrorKind::Conflict) => (StatusCode::CONFLICT, "conflict"),
            (_, ErrorKind::RefusedByPolicy) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "refused-by-policy")
            }
            (_, ErrorKind::Unavailable) => (StatusCode::CONFLICT, "unavailable"),
            (_, ErrorKind::Locked) => (StatusCode::SERVICE_UNAVAILABLE, "locked"),
            (_, ErrorKind::Storage) => (StatusCode::INTERNAL_SERVER_ERROR, "storage"),
            (_, ErrorKind::Plugin) => (StatusCode::SERVICE_UNAVAILABLE, "plugin"),
        };
        if status.is_server_error() {
            // Its message may name a contact or a file: scrubbed unless unsafe logging is on.
            tracing::warn!(error = %safelog::sensitive(&error), "an API request failed");
        }
        let field = error.field().filter(|_| {
            status == StatusCode::BAD_REQUEST
                || status == StatusCode::PAYLOAD_TOO_LARGE
                || status == StatusCode::CONFLICT
        });
        ApiError {
            field: field.map(str::to_owned),
            ..ApiError::new(status, kind, error.to_string())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                kind: self.kind.to_owned(),
                message: self.message,
                field: self.field,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// Why the API did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address is not loopback and remote use was not asked for.
    #[error(
        "refusing to serve the API on {0}, which is not a loopback address: anyone who reaches it \
         could try tokens against your messages; use 127.0.0.1, or give --api-allow-remote as well \
         if you mean it (and put TLS in front)"
    )]
    Remote(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen for the API on {addr}: {source}; choose another port with --api-bind")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The token or address file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The service under the API failed to start.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl StartError {
    /// The kind of failure, for an exit code.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StartError::Remote(_) => ErrorKind::RefusedByPolicy,
            StartError::Bind { .. } => ErrorKind::Unavailable,
            StartError::File { .. } => ErrorKind::Storage,
            StartError::Service(e) => e.kind(),
        }
    }
}
