//! `/v1/identity`: who the user is, and their link as a QR code.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::error::ApiError;
use crate::state::AppState;
use courier_api_client::json::{ErrorBody, Identity};

/// The user's name and contact link.
#[utoipa::path(get, path = "/v1/identity", tag = "identity",
    responses((status = 200, body = Identity), (status = 401, body = ErrorBody)))]
pub async fn identity(State(state): State<AppState>) -> Result<Json<Identity>, ApiError> {
    state
        .run(|core| {
            Ok(Json(Identity {
                name: core.service.name()?,
                link: core.service.link()?.to_string(),
            }))
        })
        .await
}

/// The contact link as a QR code, an SVG image, to show someone in person.
#[utoipa::path(get, path = "/v1/identity/qr.svg", tag = "identity",
    responses((status = 200, content_type = "image/svg+xml", body = String),
              (status = 401, body = ErrorBody)))]
pub async fn qr(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let link = state
        .run(|core| Ok(core.service.link()?.to_string()))
        .await?;
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml")],
        crate::qr::svg(&link),
    ))
}
