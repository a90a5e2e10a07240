//! `/v1/ws`: live events. The client's first frame must be the token, within a few seconds, or the
//! socket closes having sent nothing; then every event the watcher finds goes out as JSON.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use courier_service::events::Watcher;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use crate::convert;
use crate::error::ApiError;
use crate::state::AppState;
use courier_api_client::json::ErrorBody;

/// How long a client has to send the token.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(5);
/// How often the watcher looks for changes.
pub const POLL: Duration = Duration::from_millis(100);
/// Close code for a socket that did not log in (4000–4999 are the application's).
const CLOSE_UNAUTHORIZED: u16 = 4401;
/// Close code for a socket that logged in while the most allowed were (RFC 6455: try again later).
const CLOSE_TRY_LATER: u16 = 1013;
/// The largest frame a client may send: the token, a ping.
const MAX_INCOMING: usize = 4 << 10;

/// Upgrades to a WebSocket that sends events once the client gave the token.
#[utoipa::path(get, path = "/v1/ws", tag = "live",
    responses((status = 101, description = "Switching to a WebSocket: send the token as the first text frame, then read events (`LiveEvent`) as JSON text frames"),
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
                Ok(json) => {
                    if tx.send(Message::Text(json.as_ref().into())).await.is_err() {
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

/// Watches the database and the node, sending each change to every socket, until the node stops.
pub(crate) async fn watch(state: AppState) {
    let node = state.node.clone();
    let start = state
        .run(move |core| {
            let transports = node.transports().unwrap_or_default();
            Ok(Watcher::new(&core.service, &transports)?)
        })
        .await;
    let mut watcher = match start {
        Ok(watcher) => watcher,
        Err(e) => {
            tracing::error!("live events are off: {}", e.message());
            return;
        }
    };
    let mut ticks = tokio::time::interval(POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let node = state.node.clone();
        let polled = state
            .run(move |core| {
                let Some(transports) = node.transports() else {
                    return Ok(None);
                };
                let events = watcher.poll(&mut core.service, &transports)?;
                let aliases = core.service.aliases()?;
                let json: Vec<Arc<str>> = events
                    .into_iter()
                    .map(|e| convert::live_event(e, |c| aliases.get(&c).cloned()))
                    .map(|e| serde_json::to_string(&e).expect("events serialise").into())
                    .collect();
                Ok(Some((watcher, json)))
            })
            .await;
        match polled {
            Ok(Some((back, json))) => {
                watcher = back;
                for event in json {
                    // No socket listening is fine: events are for whoever is connected.
                    let _ = state.events.send(event);
                }
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("looking for live events failed: {}", e.message());
                return;
            }
        }
    }
}
