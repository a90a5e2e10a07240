//! `/v1/messages/{id}`: one message, its content (a download), deleting it.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::conversations::message_id;
use crate::convert;
use crate::error::ApiError;
use crate::extract::Param;
use crate::state::AppState;
use courier_api_client::json::{ErrorBody, Message};

/// The message, as a conversation lists it.
#[utoipa::path(get, path = "/v1/messages/{id}", tag = "messages",
    params(("id" = String, Path, description = "The message id, 64 hex digits")),
    responses((status = 200, body = Message), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Param(id): Param<String>,
) -> Result<Json<Message>, ApiError> {
    message_id(&id, "id")?;
    state
        .run(move |core| Ok(Json(convert::message(core.service.message(&id)?.1))))
        .await
}

/// The message's content, whole, with its content type as the plugin names it (a received image
/// opens as is), sent in pieces rather than at once.
#[utoipa::path(get, path = "/v1/messages/{id}/content", tag = "messages",
    params(("id" = String, Path, description = "The message id, 64 hex digits")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn content(
    State(state): State<AppState>,
    Param(id): Param<String>,
) -> Result<Response, ApiError> {
    message_id(&id, "id")?;
    let attachment = state
        .run(move |core| Ok(core.service.attachment(&id)?))
        .await?;
    let media_type = media_type(&attachment.content_type, &attachment.bytes);
    let len = attachment.bytes.len();
    let pieces = attachment
        .bytes
        .chunks(64 << 10)
        .map(|c| Ok::<_, std::io::Error>(axum::body::Bytes::copy_from_slice(c)))
        .collect::<Vec<_>>();
    let body = Body::from_stream(futures_util::stream::iter(pieces));
    Ok((
        [
            (header::CONTENT_TYPE, media_type.to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
            (header::CONTENT_DISPOSITION, "attachment".to_owned()),
        ],
        body,
    )
        .into_response())
}

/// The media type a program opens `bytes` of `content_type` with.
pub(crate) fn media_type(content_type: &str, bytes: &[u8]) -> &'static str {
    match content_type {
        "courier/image" if bytes.starts_with(b"\xff\xd8") => "image/jpeg",
        "courier/image" if bytes.starts_with(b"\x89PNG") => "image/png",
        "courier/image" if bytes.get(8..12) == Some(b"WEBP") => "image/webp",
        "courier/voice" if bytes.starts_with(b"RIFF") => "audio/wav",
        "courier/voice" if bytes.starts_with(b"OggS") => "audio/ogg",
        "courier/text" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Deletes the message from this device; an outgoing one not acked yet is not sent again.
#[utoipa::path(delete, path = "/v1/messages/{id}", tag = "messages",
    params(("id" = String, Path, description = "The message id, 64 hex digits")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Param(id): Param<String>,
) -> Result<StatusCode, ApiError> {
    message_id(&id, "id")?;
    state
        .done(move |core| core.service.delete_message(&id))
        .await
}
