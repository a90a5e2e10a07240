//! Extractors that answer bad input with the API's JSON error naming the field, not axum's text.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body; a malformed one is a 400 naming the field, one over the limit a 413.
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| body_error(e.status(), e.body_text()))?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// `bytes` as a `T`, or the error naming the field that was wrong.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        let field = if path != "." {
            path
        } else {
            // A missing or unknown field is reported at the level that lacks it.
            inner
                .split('`')
                .nth(1)
                .filter(|_| inner.contains(" field `"))
                .unwrap_or("body")
                .to_owned()
        };
        ApiError::bad_field(
            field.clone(),
            format!("the request body is wrong at {field}: {inner}"),
        )
    })
}

/// The API's error for a body axum could not read: too large, or cut off.
pub(crate) fn body_error(status: axum::http::StatusCode, text: String) -> ApiError {
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            status,
            "too-large",
            format!("the request body is too large: {text}"),
        )
        .on("body")
    } else {
        ApiError::bad_field(
            "body",
            format!("the request body could not be read: {text}"),
        )
    }
}

/// A path parameter; one that does not decode is a 400.
pub(crate) struct Param<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Param<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Param(value))
            .map_err(|e| ApiError::bad_field("path", format!("the URL's path is wrong: {e}")))
    }
}
