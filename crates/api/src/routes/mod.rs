//! The router: the page and the OpenAPI document in the open, everything else under `/v1` behind
//! the token, all of it behind the Host and Origin check.

pub mod contacts;
pub mod conversations;
pub mod groups;
pub mod identity;
pub mod mailbox;
pub mod messages;
pub mod node;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header;
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::auth;
use crate::error::ApiError;
use crate::state::AppState;

/// The largest body any other endpoint takes.
const BODY_LIMIT: usize = 64 << 10;

/// Refuses a body whose declared length is over `LIMIT` before reading any of it (one without a
/// length is cut off at the limit as it is read).
async fn declared_within<const LIMIT: usize>(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > LIMIT as u64 => ApiError::too_large(LIMIT).into_response(),
        _ => next.run(request).await,
    }
}

/// Every route.
pub(crate) fn router(state: AppState) -> Router {
    let sends = Router::new()
        .route(
            "/v1/conversations/{alias}/messages",
            get(conversations::messages).post(conversations::send),
        )
        .route(
            "/v1/groups/{group}/posts",
            get(groups::posts).post(groups::post),
        )
        .layer(DefaultBodyLimit::max(conversations::SEND_BODY_LIMIT))
        .layer(from_fn(
            declared_within::<{ conversations::SEND_BODY_LIMIT }>,
        ));
    let api = Router::new()
        .route("/v1/identity", get(identity::identity))
        .route("/v1/identity/qr.svg", get(identity::qr))
        .route("/v1/contacts", get(contacts::list).post(contacts::add))
        .route(
            "/v1/contacts/{alias}",
            axum::routing::patch(contacts::rename).delete(contacts::remove),
        )
        .route(
            "/v1/contacts/{alias}/safety-number",
            get(contacts::safety_number),
        )
        .route("/v1/contacts/{alias}/verify", post(contacts::verify))
        .route(
            "/v1/contacts/{alias}/timer",
            get(contacts::timer).post(contacts::set_timer),
        )
        .route(
            "/v1/contacts/{alias}/receipts",
            get(contacts::receipts).post(contacts::set_receipts),
        )
        .route("/v1/conversations", get(conversations::list))
        .route("/v1/conversations/{alias}/read", post(conversations::read))
        .route(
            "/v1/messages/{id}",
            get(messages::get).delete(messages::delete),
        )
        .route("/v1/messages/{id}/content", get(messages::content))
        .route(
            "/v1/mailbox",
            get(mailbox::status)
                .post(mailbox::pair)
                .delete(mailbox::unpair),
        )
        .route("/v1/groups", get(groups::list).post(groups::create))
        .route("/v1/groups/{group}", get(groups::get))
        .route("/v1/groups/{group}/members", get(groups::members))
        .route(
            "/v1/groups/{group}/members/{member}",
            axum::routing::delete(groups::remove),
        )
        .route("/v1/groups/{group}/invitations", post(groups::invite))
        .route("/v1/groups/{group}/answer", post(groups::answer))
        .route(
            "/v1/groups/{group}/posts/{id}/content",
            get(groups::content),
        )
        .route("/v1/groups/{group}/leave", post(groups::leave))
        .route("/v1/groups/{group}/dissolve", post(groups::dissolve))
        .route("/v1/groups/{group}/timer", post(groups::set_timer))
        .route("/v1/transports", get(node::transports))
        .route("/v1/plugins", get(node::plugins))
        .route("/v1/openapi.json", get(crate::openapi::document))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(from_fn(declared_within::<BODY_LIMIT>))
        .merge(sends)
        .route_layer(from_fn_with_state(state.clone(), auth::bearer));
    Router::new()
        .route("/", get(crate::page::index))
        .route("/app.js", get(crate::page::script))
        .route("/style.css", get(crate::page::style))
        // The socket logs in with its first frame: a browser cannot set headers on it.
        .route("/v1/ws", get(crate::live::socket))
        .merge(api)
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not-found",
                "no such endpoint; see /v1/openapi.json",
            )
        })
        .layer(from_fn_with_state(state.clone(), auth::same_origin))
        .with_state(state)
}
