//! `/v1/mailbox`: the mailbox this node owns — pairing with it, its health, unpairing.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;
use courier_api_client::json::{ErrorBody, MailboxState, OwnMailboxState, PairMailbox};

fn state_of(status: courier_service::mailbox::MailboxStatus) -> MailboxState {
    MailboxState {
        own: status.own.map(|(reachable, contacts)| OwnMailboxState {
            reachable: reachable.is_ok(),
            problem: reachable.err(),
            contacts: contacts as u64,
        }),
        theirs: status.theirs as u64,
    }
}

/// Whether the mailbox this node owns answers and how many contacts it serves, and how many
/// contacts this node reaches through their own.
#[utoipa::path(get, path = "/v1/mailbox", tag = "mailbox",
    responses((status = 200, body = MailboxState), (status = 401, body = ErrorBody)))]
pub async fn status(State(state): State<AppState>) -> Result<Json<MailboxState>, ApiError> {
    state
        .run(|core| Ok(Json(state_of(core.service.mailbox_status()?))))
        .await
}

/// Pairs with the mailbox whose `courier-mailbox://` link it printed and registers every contact
/// there; each learns it in their next sync. The same link again registers contacts made since.
#[utoipa::path(post, path = "/v1/mailbox", tag = "mailbox", request_body = PairMailbox,
    responses((status = 200, body = MailboxState), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn pair(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<PairMailbox>,
) -> Result<Json<MailboxState>, ApiError> {
    state
        .write(move |core| {
            core.service.mailbox_pair(&body.link)?;
            Ok(Json(state_of(core.service.mailbox_status()?)))
        })
        .await
}

/// Stops using the mailbox; each contact is told to stop too in their next sync.
#[utoipa::path(delete, path = "/v1/mailbox", tag = "mailbox",
    responses((status = 204, description = "Unpaired"), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn unpair(State(state): State<AppState>) -> Result<StatusCode, ApiError> {
    state
        .write(|core| {
            core.service.mailbox_unpair()?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}
