//! `/v1/groups`: private groups. Making one, inviting contacts, answering an invitation, the
//! members, posting any installed content type (JSON for text input, multipart for files), a
//! window of posts and membership changes (or one thread), a post's content, leaving, removing a
//! member, dissolving, and the timer after which posts disappear. `{group}` is a group's name (if no other has it) or 8+ hex digits of
//! its id.

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::conversations::{parse_query, upload, window_limit};
use crate::convert;
use crate::error::ApiError;
use crate::extract::{JsonBody, Param};
use crate::state::AppState;
use courier_api_client::json::{
    AnswerInvitation, CreateGroup, ErrorBody, Group, GroupEntries, GroupMember, GroupPosted,
    InviteToGroup, SetTimer,
};
use courier_service::GroupWindow;

/// Every group we were invited to, belong to, or did, oldest first.
#[utoipa::path(get, path = "/v1/groups", tag = "groups",
    responses((status = 200, body = Vec<Group>), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Group>>, ApiError> {
    state
        .run(|core| {
            let groups = core.service.groups()?;
            Ok(Json(groups.into_iter().map(convert::group).collect()))
        })
        .await
}

/// Makes a group, with us its creator and only member until contacts we invite accept.
#[utoipa::path(post, path = "/v1/groups", tag = "groups", request_body = CreateGroup,
    responses((status = 201, body = Group), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CreateGroup>,
) -> Result<(StatusCode, Json<Group>), ApiError> {
    state
        .write(move |core| {
            let group = core.service.create_group(&body.name, &body.join_as)?;
            Ok((StatusCode::CREATED, Json(convert::group(group))))
        })
        .await
}

/// One group.
#[utoipa::path(get, path = "/v1/groups/{group}", tag = "groups",
    params(("group" = String, Path, description = "The group's name, or 8+ hex digits of its id")),
    responses((status = 200, body = Group), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Param(group): Param<String>,
) -> Result<Json<Group>, ApiError> {
    state
        .run(move |core| Ok(Json(convert::group(core.service.group(&group)?))))
        .await
}

/// Everyone ever added to the group, in the order they were added, with where each stands.
#[utoipa::path(get, path = "/v1/groups/{group}/members", tag = "groups",
    params(("group" = String, Path, description = "The group's name, or 8+ hex digits of its id")),
    responses((status = 200, body = Vec<GroupMember>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn members(
    State(state): State<AppState>,
    Param(group): Param<String>,
) -> Result<Json<Vec<GroupMember>>, ApiError> {
    state
        .run(move |core| {
            let members = core.service.group_members(&group)?;
            Ok(Json(
                members.into_iter().map(convert::group_member).collect(),
            ))
        })
        .await
}

/// Invites a contact into a group we made; they join when they accept.
#[utoipa::path(post, path = "/v1/groups/{group}/invitations", tag = "groups",
    params(("group" = String, Path, description = "The group's name, or 8+ hex digits of its id")),
    request_body = InviteToGroup,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn invite(
    State(state): State<AppState>,
    Param(group): Param<String>,
    JsonBody(body): JsonBody<InviteToGroup>,
) -> Result<StatusCode, ApiError> {
    state
        .done(move |core| core.service.invite_to_group(&group, &body.alias))
        .await
}

/// Accepts an invitation (`join_as`: the name to be known by) or declines it (`null`).
#[utoipa::path(post, path = "/v1/groups/{group}/answer", tag = "groups",
    params(("group" = String, Path, description = "The group's name, or 8+ hex digits of its id")),
    request_body = AnswerInvitation,
    responses((status = 200, body = Group), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn answer(
    State(state): State<AppState>,
    Param(group): Param<String>,
    JsonBody(body): JsonBody<AnswerInvitation>,
) -> Result<Json<Group>, ApiError> {
    state
        .write(move |core| {
            let group = core
                .service
                .answer_group_invitation(&group, body.join_as.as_deref())?;
            Ok(Json(convert::group(group)))
        })
        .await
}

/// Which records of a group to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PostsQuery {
    /// List the records just older than this one (an id from `older`).
    before: Option<String>,
    /// List this post and its replies instead (a thread).
    thread: Option<String>,
    /// How many at most, 1 to 500 (default 50).
    limit: Option<String>,
}

/// A window of the group, oldest first: the newest `limit` records (posts and changes of who is
/// in it), those just before one, or a thread (a post and its replies).
#[utoipa::path(get, path = "/v1/groups/{group}/posts", tag = "groups",
    params(("group" = String, Path, description = "The group's name, or 8+ hex digits of its id"),
           PostsQuery),
    responses((status = 200, body = GroupEntries), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn posts(
    State(state): State<AppState>,
    Param(group): Param<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<GroupEntries>, ApiError> {
    let query: PostsQuery = parse_query(query.as_deref())?;
    let limit = window_limit(query.limit.as_deref())?;
    state
        .run(move |core| {
            let window = match &query.thread {
                Some(root) => GroupWindow::Thread { root, limit },
                None => GroupWindow::Newest {
                    before: query.before.as_deref(),
                    limit,
                },
            };
            let page = core.service.group_window(&group, window)?;
            Ok(Json(convert::group_entries(page)))
        })
        .await
}

/// Where a post goes in its thread.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PostQuery {
    /// The post this one replies to (its id, or 8+ hex digits of it).
    reply_to: Option<String>,
}

/// Posts into the group; it is on disk and queued to the members we sync with when this
/// answers. JSON `{content_type, text, options, relates_to}` for text input (`relates_to` with
/// `courier/reaction`, `courier/edit` or `courier/delete`: a reaction to a post, an edit or a
/// deletion for everyone of one of ours); `multipart/form-data` with
/// `content_type`, `file` and any `option.KEY` fields for a file. A post carries at most 63 KiB
/// once its plugin prepared it.
#[utoipa::path(post, path = "/v1/groups/{group}/posts", tag = "groups",
    params(("group" = String, Path, description = "The group's name, or 8+ hex digits of its id"),
           PostQuery),
    request_body(content((courier_api_client::json::SendText = "application/json"),
                         (super::conversations::SendFile = "multipart/form-data"))),
    responses((status = 201, body = GroupPosted), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn post(
    State(state): State<AppState>,
    Param(group): Param<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    request: Request,
) -> Result<(StatusCode, Json<GroupPosted>), ApiError> {
    let query: PostQuery = parse_query(query.as_deref())?;
    let body = upload(&headers, request).await?;
    if body.relates_to.is_some() && query.reply_to.is_some() {
        return Err(ApiError::bad_field(
            "reply_to",
            "a reaction, edit or deletion is in no thread; send it without reply_to",
        ));
    }
    state
        .write(move |core| {
            let posted = match &body.relates_to {
                Some(target) => {
                    core.service
                        .relate_in_group(&group, &body.content_type, target, &body.input)?
                }
                None => core.service.post_to_group(
                    &group,
                    &body.content_type,
                    &body.input,
                    &body.options,
                    query.reply_to.as_deref(),
                )?,
            };
            Ok((
                StatusCode::CREATED,
                Json(GroupPosted {
                    id: hex::encode(posted.id.0),
                    fallback: posted.fallback,
                }),
            ))
        })
        .await
}

/// A post's content, whole, checked by its plugin, with its content type as the plugin names
/// it (a posted image opens as is).
#[utoipa::path(get, path = "/v1/groups/{group}/posts/{id}/content", tag = "groups",
    params(("group" = String, Path, description = "The group's name, or 8+ hex digits of its id"),
           ("id" = String, Path, description = "The post's id, or 8+ hex digits of it")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn content(
    State(state): State<AppState>,
    Param((group, id)): Param<(String, String)>,
) -> Result<Response, ApiError> {
    let attachment = state
        .run(move |core| Ok(core.service.group_post_content(&group, &id)?))
        .await?;
    let media_type = super::messages::media_type(&attachment.content_type, &attachment.bytes);
    Ok((
        [
            (header::CONTENT_TYPE, media_type.to_owned()),
            (header::CONTENT_DISPOSITION, "attachment".to_owned()),
        ],
        Body::from(attachment.bytes),
    )
        .into_response())
}

/// Leaves the group: nothing new reaches us after it. Its creator dissolves it instead.
#[utoipa::path(post, path = "/v1/groups/{group}/leave", tag = "groups",
    params(("group" = String, Path, description = "The group's name, or 8+ hex digits of its id")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn leave(
    State(state): State<AppState>,
    Param(group): Param<String>,
) -> Result<StatusCode, ApiError> {
    state
        .done(move |core| core.service.leave_group(&group))
        .await
}

/// Removes a member from a group we made: nobody offers them anything new, and what they write
/// after what we hold of theirs now is refused by every member.
#[utoipa::path(delete, path = "/v1/groups/{group}/members/{member}", tag = "groups",
    params(("group" = String, Path, description = "The group's name, or 8+ hex digits of its id"),
           ("member" = String, Path, description = "The member's name, or hex digits of their key")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Param((group, member)): Param<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .done(move |core| core.service.remove_from_group(&group, &member))
        .await
}

/// Dissolves a group we made: no member takes anything more in it.
#[utoipa::path(post, path = "/v1/groups/{group}/dissolve", tag = "groups",
    params(("group" = String, Path, description = "The group's name, or 8+ hex digits of its id")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn dissolve(
    State(state): State<AppState>,
    Param(group): Param<String>,
) -> Result<StatusCode, ApiError> {
    state
        .done(move |core| core.service.dissolve_group(&group))
        .await
}

/// Sets how long each post of a group we made stays on each member's device after it arrives
/// there; posts written after it are erased then. A profile's `disappear-within` refuses a
/// longer one, or `off` (422); a member who did not make the group may not (422).
#[utoipa::path(post, path = "/v1/groups/{group}/timer", tag = "groups", request_body = SetTimer,
    params(("group" = String, Path, description = "The group's name, or 8+ hex digits of its id")),
    responses((status = 200, body = Group), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn set_timer(
    State(state): State<AppState>,
    Param(group): Param<String>,
    JsonBody(body): JsonBody<SetTimer>,
) -> Result<Json<Group>, ApiError> {
    state
        .write(move |core| {
            core.service
                .set_group_timer(&group, convert::timer_asked(&body)?)?;
            Ok(Json(convert::group(core.service.group(&group)?)))
        })
        .await
}
