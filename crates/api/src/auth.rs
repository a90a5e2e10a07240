//! Who may use the API: a random bearer token compared in constant time, and only from a page or
//! program that names this server by a loopback host, so a web page elsewhere cannot reach it by
//! DNS rebinding or a cross-site request.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;
use courier_http_serving::Connection;

/// Refuses requests whose `Host` or `Origin` is not this server's.
pub async fn same_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.hosts.allow(request.headers(), state.any_host) {
        Ok(()) => next.run(request).await,
        Err(why) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", why).into_response(),
    }
}

/// Refuses requests without the bearer token.
pub async fn bearer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    match given {
        Some(token) if state.token.matches(token.trim()) => {
            // Its connection is no stranger now: no deadline, never closed to make room.
            if let Some(connection) = request.extensions().get::<Connection>() {
                connection.vouch();
            }
            next.run(request).await
        }
        _ => ApiError::unauthorized().into_response(),
    }
}
