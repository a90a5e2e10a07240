//! `/v1/contacts`: adding by link, listing with their states, renaming, verifying, removing, and
//! the disappearing-messages timer of each conversation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::convert;
use crate::error::ApiError;
use crate::extract::{JsonBody, Param};
use crate::state::{AppState, Core};
use courier_api_client::json::{
    AddContact, Contact, DisappearingTimer, ErrorBody, ReadReceipts, Rename, SafetyNumber,
    SetReadReceipts, SetTimer,
};

/// Contacts, then pending contacts.
#[utoipa::path(get, path = "/v1/contacts", tag = "contacts",
    responses((status = 200, body = Vec<Contact>), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Contact>>, ApiError> {
    let node = state.node.clone();
    state
        .run(move |core| {
            let aliases = core.service.aliases()?;
            let mut contacts: Vec<Contact> = core
                .service
                .contacts()?
                .into_iter()
                .map(convert::contact)
                .collect();
            // Who is connected now, so a client that starts or reconnects shows it at once.
            for transport in node.transports().unwrap_or_default() {
                for id in &transport.contacts_linked {
                    let alias = aliases.get(id);
                    if let Some(c) = contacts.iter_mut().find(|c| Some(&c.alias) == alias) {
                        c.online.push(transport.transport.clone());
                    }
                }
            }
            Ok(Json(contacts))
        })
        .await
}

/// Adds a pending contact from their link; they become a contact once both nodes meet.
#[utoipa::path(post, path = "/v1/contacts", tag = "contacts", request_body = AddContact,
    responses((status = 201, body = Contact), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody)))]
pub async fn add(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<AddContact>,
) -> Result<(StatusCode, Json<Contact>), ApiError> {
    state
        .write(move |core| {
            core.service.add_contact(&body.link, &body.alias)?;
            Ok((StatusCode::CREATED, Json(listed(core, &body.alias)?)))
        })
        .await
}

/// Calls a contact (or pending contact) by another alias.
#[utoipa::path(patch, path = "/v1/contacts/{alias}", tag = "contacts", request_body = Rename,
    params(("alias" = String, Path, description = "The contact's alias")),
    responses((status = 200, body = Contact), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn rename(
    State(state): State<AppState>,
    Param(alias): Param<String>,
    JsonBody(body): JsonBody<Rename>,
) -> Result<Json<Contact>, ApiError> {
    state
        .write(move |core| {
            core.service.rename_contact(&alias, &body.alias)?;
            Ok(Json(listed(core, &body.alias)?))
        })
        .await
}

/// Removes a contact (or pending contact) with their keys and messages.
#[utoipa::path(delete, path = "/v1/contacts/{alias}", tag = "contacts",
    params(("alias" = String, Path, description = "The contact's alias")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Param(alias): Param<String>,
) -> Result<StatusCode, ApiError> {
    state
        .write(move |core| {
            core.service.remove_contact(&alias)?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

/// The safety number to compare with the contact in person.
#[utoipa::path(get, path = "/v1/contacts/{alias}/safety-number", tag = "contacts",
    params(("alias" = String, Path, description = "The contact's alias")),
    responses((status = 200, body = SafetyNumber), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn safety_number(
    State(state): State<AppState>,
    Param(alias): Param<String>,
) -> Result<Json<SafetyNumber>, ApiError> {
    state
        .run(move |core| {
            let safety_number = core.service.safety_number(&alias)?;
            Ok(Json(SafetyNumber { safety_number }))
        })
        .await
}

/// Marks the contact verified, after the safety numbers matched in person.
#[utoipa::path(post, path = "/v1/contacts/{alias}/verify", tag = "contacts",
    params(("alias" = String, Path, description = "The contact's alias")),
    responses((status = 200, body = Contact), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    Param(alias): Param<String>,
) -> Result<Json<Contact>, ApiError> {
    state
        .write(move |core| {
            // The safety number exists only for a contact whose handshake ran.
            core.service.safety_number(&alias)?;
            core.service.mark_verified(&alias)?;
            Ok(Json(listed(core, &alias)?))
        })
        .await
}

/// The conversation's disappearing-messages timer.
#[utoipa::path(get, path = "/v1/contacts/{alias}/timer", tag = "contacts",
    params(("alias" = String, Path, description = "The contact's alias")),
    responses((status = 200, body = DisappearingTimer), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn timer(
    State(state): State<AppState>,
    Param(alias): Param<String>,
) -> Result<Json<DisappearingTimer>, ApiError> {
    state
        .run(move |core| Ok(Json(convert::timer(core.service.timer(&alias)?))))
        .await
}

/// Sets the conversation's timer for both sides: the contact is told, and each message sent or
/// received after it is deleted that long after it is read or sent. A profile's
/// `disappear-within` refuses a longer one, or `off` (422).
#[utoipa::path(post, path = "/v1/contacts/{alias}/timer", tag = "contacts", request_body = SetTimer,
    params(("alias" = String, Path, description = "The contact's alias")),
    responses((status = 200, body = DisappearingTimer), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_timer(
    State(state): State<AppState>,
    Param(alias): Param<String>,
    JsonBody(body): JsonBody<SetTimer>,
) -> Result<Json<DisappearingTimer>, ApiError> {
    state
        .write(move |core| {
            let timer = convert::timer_asked(&body)?;
            core.service.set_timer(&alias, timer)?;
            Ok(Json(convert::timer(timer)))
        })
        .await
}

/// Whether the conversation sends read receipts.
#[utoipa::path(get, path = "/v1/contacts/{alias}/receipts", tag = "contacts",
    params(("alias" = String, Path, description = "The contact's alias")),
    responses((status = 200, body = ReadReceipts), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn receipts(
    State(state): State<AppState>,
    Param(alias): Param<String>,
) -> Result<Json<ReadReceipts>, ApiError> {
    state
        .run(move |core| Ok(Json(convert::receipts(core.service.receipts(&alias)?))))
        .await
}

/// Turns the conversation's read receipts on or off, or back to what the profile says (off
/// unless its `read-receipts` is on). Only this side's: the contact chooses their own.
#[utoipa::path(post, path = "/v1/contacts/{alias}/receipts", tag = "contacts",
    request_body = SetReadReceipts,
    params(("alias" = String, Path, description = "The contact's alias")),
    responses((status = 200, body = ReadReceipts), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 413, body = ErrorBody)))]
pub async fn set_receipts(
    State(state): State<AppState>,
    Param(alias): Param<String>,
    JsonBody(body): JsonBody<SetReadReceipts>,
) -> Result<Json<ReadReceipts>, ApiError> {
    state
        .write(move |core| {
            let chosen = convert::receipts_asked(body.receipts);
            Ok(Json(convert::receipts(
                core.service.set_receipts(&alias, chosen)?,
            )))
        })
        .await
}

/// The contact `alias` as the list shows it, just after a change to it; another process may have
/// removed it since.
fn listed(core: &Core, alias: &str) -> Result<Contact, ApiError> {
    let found = core
        .service
        .contacts()?
        .into_iter()
        .find(|c| c.alias == alias);
    found.map(convert::contact).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "the contact was removed by another program meanwhile",
        )
    })
}
