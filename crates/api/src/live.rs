//! `/v1/ws`: live events. The client's first frame must be the token, within a few seconds, or the
//! socket closes having sent nothing; then every event of the feed (`crate::feed`) goes out as JSON.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use crate::error::ApiError;
use crate::state::AppState;
use courier_api_client::json::ErrorBody;

/// How long a client has to send the token.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(5);
/// Close code for a socket that did not log in (4000–4999 are the application's).
const CLOSE_UNAUTHORIZED: u16 = 4401;
/// Close code for a socket that logged in while the most allowed were (RFC 6455: try again later).
const CLOSE_TRY_LATER: u16 = 1013;
/// The largest frame a client may send: the token, a ping.
const MAX_INCOMING: usize = 4 << 10;

/// Upgrades to a WebSocket that sends events once the client gave the token.
#[utoipa::path(get, path = "/v1/ws", tag = "live",
    responses((status = 101, description = "Switching to a WebSocket: send the token as the first text frame, then read events (`Event`) as JSON text frames"),
              (status = 400, body = ErrorBody, description = "Not a WebSocket handshake"),
              (status = 503, body = ErrorBody, description = "Too many sockets are waiting for their token; try again in a few seconds")))]
pub async fn socket(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|e| {
        ApiError::bad_field(
            "Upgrade",
            format!("{}: open /v1/ws as a WebSocket", e.body_text()),
        )
    })?;
    let waiting = state
        .sockets
        .waiting
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "too many sockets are waiting for their token; try again in a few seconds",
            )
        })?;
    Ok(upgrade
        .max_message_size(MAX_INCOMING)
        .max_frame_size(MAX_INCOMING)
        .on_upgrade(move |socket| serve(socket, state, waiting)))
}

async fn serve(socket: WebSocket, state: AppState, waiting: tokio::sync::OwnedSemaphorePermit) {
    let (mut tx, mut rx) = socket.split();
    // Subscribed before the login so nothing between it and the first event is missed.
    let mut events = state.events.subscribe();
    let first = tokio::time::timeout(LOGIN_WINDOW, rx.next()).await;
    let logged_in =
        matches!(&first, Ok(Some(Ok(Message::Text(t)))) if state.token.matches(t.trim()));
    if !logged_in {
        let _ = tx
            .send(Message::Close(Some(CloseFrame {
                code: CLOSE_UNAUTHORIZED,
                reason: "the first frame must be the token".into(),
            })))
            .await;
        return;
    }
    drop(waiting);
    let Ok(_live) = state.sockets.live.clone().try_acquire_owned() else {
        let _ = tx
            .send(Message::Close(Some(CloseFrame {
                code: CLOSE_TRY_LATER,
                reason: "too many sockets are open; close one".into(),
            })))
            .await;
        return;
    };
    if tx
        .send(Message::Text(r#"{"type":"ready"}"#.into()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    let json = serde_json::to_string(&event).expect("events serialise");
                    if tx.send(Message::Text(json.into())).await.is_err() {
                        return;
                    }
                }
                // A client this far behind reloads what it shows; telling it so beats silence.
                Err(RecvError::Lagged(missed)) => {
                    let note = format!(r#"{{"type":"lagged","missed":{missed}}}"#);
                    if tx.send(Message::Text(note.into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
