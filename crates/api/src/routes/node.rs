//! `/v1/transports` and `/v1/plugins`: what the node runs and how each part is doing.

use axum::Json;
use axum::extract::State;

use crate::convert;
use crate::error::ApiError;
use crate::state::AppState;
use courier_api_client::json::{ErrorBody, Plugin, Plugins, Transport};

/// Each transport's live state and what it reveals.
#[utoipa::path(get, path = "/v1/transports", tag = "node",
    responses((status = 200, body = Vec<Transport>), (status = 401, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub async fn transports(State(state): State<AppState>) -> Result<Json<Vec<Transport>>, ApiError> {
    let node = state.node.clone();
    state
        .run(move |core| {
            let states = node.transports().ok_or_else(stopped)?;
            let aliases = core.service.aliases()?;
            Ok(Json(
                states
                    .into_iter()
                    .map(|s| convert::transport(s, |c| aliases.get(&c).cloned()))
                    .collect(),
            ))
        })
        .await
}

/// Every plugin: the message types and the transports, each with its health and last fault.
#[utoipa::path(get, path = "/v1/plugins", tag = "node",
    responses((status = 200, body = Plugins), (status = 401, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub async fn plugins(State(state): State<AppState>) -> Result<Json<Plugins>, ApiError> {
    let node = state.node.clone();
    state
        .run(move |core| {
            let transports = node.transports().ok_or_else(stopped)?;
            let inventory = core.service.plugins()?.inventory();
            let mut loaded: Vec<Plugin> = transports
                .into_iter()
                .map(|t| convert::transport_plugin(convert::transport(t, |_| None)))
                .collect();
            loaded.extend(inventory.loaded.into_iter().map(convert::plugin));
            Ok(Json(Plugins {
                loaded,
                not_loaded: inventory.not_loaded,
            }))
        })
        .await
}

fn stopped() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the node has stopped; start `courier serve --api` again",
    )
}
