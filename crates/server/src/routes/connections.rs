//! Invitations, the seed platform's *connections*: an administrator invites an email
//! with roles (`POST /orgs/{id}/connections`), lists, resends and revokes them; the
//! invitee accepts (`POST /connections/{token}`, or `accounts/register` with the
//! token) or declines (`DELETE /connections/{token}`). Tokens are mailed, never
//! shown, and stored only as digests. What the pages and the registration share
//! with these routes lives in `flows::invitations`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use orgbase_domain::access::{Operation, Target};
use orgbase_domain::connection::{Connection, ConnectionState};
use orgbase_domain::email::Email;
use orgbase_domain::{FieldError, Id, secret};
use serde::Deserialize;

use crate::context::OrgCtx;
use crate::extract::{JsonOrForm, Paging, QueryPairs};
use crate::fault::Fault;
use crate::flows::invitations::{accept_logged_in, decline, mail_invitation, ttl};
use crate::responses::{ConnectionResponse, ListResponse, MemberResponse, json};
use crate::state::AppState;

/// The body of `POST /orgs/{id}/connections`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectionRequest {
    /// The invitee's email.
    #[schema(schema_with = crate::openapi::fields::email)]
    pub email: String,
    /// Role ids, codes or names the member will hold.
    #[serde(default)]
    #[schema(schema_with = roles)]
    pub roles: Vec<String>,
    /// A display name for the invitee.
    pub name: Option<String>,
}

fn roles() -> utoipa::openapi::schema::Array {
    crate::openapi::fields::roles(false)
}

/// Invites an email into the org with roles, and mails the invitation.
#[utoipa::path(post, path = "/{org}/v2/orgs/{id}/connections", tag = "connections", request_body = CreateConnectionRequest,
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = ConnectionResponse, description = "The pending connection (no token)"), (status = 403, body = Fault),
              (status = 409, body = Fault)))]
pub async fn create_connection(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    JsonOrForm(body): JsonOrForm<CreateConnectionRequest>,
) -> Result<Response, Fault> {
    ctx.check_org_id(&id)?;
    ctx.authorize(Target::Connection, Operation::Create, "invitations")?;
    let mut faults = Vec::new();
    let email = Email::parse("email", &body.email).map_err(|e| faults.push(e)).ok();
    let roles = ctx.org.resolve_roles("roles", &body.roles).map_err(|e| faults.push(e)).ok();
    // The name goes into the mail: no line breaks or other control characters.
    let name = body
        .name
        .map(|n| n.trim().chars().filter(|c| !c.is_control()).take(200).collect::<String>())
        .filter(|n| !n.is_empty());
    let (Some(email), Some(roles)) = (email, roles) else { return Err(Fault::validation(faults)) };
    let now = state.clock.now();
    let (connection, token) =
        Connection::new(ctx.org.id, email, name, roles, ctx.caller.account_id(), now + ttl(&ctx.org), now);
    state.store.insert_connection(&connection).await?;
    mail_invitation(&state, &ctx.org, &connection, &token).await;
    Ok(json(ConnectionResponse::from(&connection)))
}

/// Lists the org's connections, optionally by `state` (0 pending … 3 revoked).
#[utoipa::path(get, path = "/{org}/v2/connections", tag = "connections",
    params(("org" = String, Path), ("state" = Option<i16>, Query), ("limit" = Option<u32>, Query),
           ("startingAfter" = Option<String>, Query), ("endingBefore" = Option<String>, Query)),
    responses((status = 200, body = ListResponse<ConnectionResponse>), (status = 403, body = Fault)))]
pub async fn list_connections(
    State(state): State<AppState>,
    ctx: OrgCtx,
    QueryPairs(query): QueryPairs,
    Paging(params): Paging,
) -> Result<Response, Fault> {
    ctx.authorize(Target::Connection, Operation::Read, "invitations")?;
    let wanted = query.into_iter().find(|(k, _)| k == "state").map(|(_, v)| v);
    let filter = match wanted {
        None => None,
        Some(v) => Some(
            v.parse::<i16>()
                .ok()
                .and_then(ConnectionState::from_i16)
                .ok_or_else(|| Fault::validation(vec![FieldError::new("state", "state is 0, 1, 2 or 3.")]))?,
        ),
    };
    let req = params.validate(&["_id"]).map_err(Fault::validation)?;
    let page = state.store.list_connections(ctx.org.id, filter, &req).await?;
    Ok(ListResponse::of(&page, ConnectionResponse::from).into_response())
}

/// Issues a new token (the old one dies), renews the expiry and mails again.
#[utoipa::path(post, path = "/{org}/v2/connections/{id}/resend", tag = "connections",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = ConnectionResponse), (status = 403, body = Fault), (status = 404, body = Fault)))]
pub async fn resend_connection(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, Fault> {
    ctx.authorize(Target::Connection, Operation::Update, "invitations")?;
    let id = Id::parse(&id).ok_or_else(|| Fault::not_found("Connection"))?;
    let token = secret::token();
    let now = state.clock.now();
    let connection =
        state.store.reissue_connection(ctx.org.id, id, &secret::digest(&token), now + ttl(&ctx.org), now).await?;
    mail_invitation(&state, &ctx.org, &connection, &token).await;
    Ok(json(ConnectionResponse::from(&connection)))
}

/// Accepts an invitation as the logged-in account whose email it names. The seed's
/// route, with the token in the path (redacted from every log line); `POST
/// /connections/accept {token}` does the same with the token in the body.
#[utoipa::path(post, path = "/{org}/v2/connections/{key}", tag = "connections",
    params(("org" = String, Path), ("key" = String, Path, description = "The invitation token")),
    responses((status = 200, body = MemberResponse, description = "The new member"), (status = 403, body = Fault), (status = 404, body = Fault),
              (status = 410, body = Fault)))]
pub async fn accept_connection(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, token)): Path<(String, String)>,
) -> Result<Response, Fault> {
    let member = accept_logged_in(&state, &ctx, &token).await?;
    Ok(json(MemberResponse::from(&member)))
}

/// The body of `POST /connections/accept` and `POST /connections/decline`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionTokenRequest {
    /// The invitation token from the mail.
    pub token: String,
}

impl std::fmt::Debug for ConnectionTokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionTokenRequest").field("token", &"<redacted>").finish()
    }
}

/// Accepts an invitation, the token in the body, as the logged-in account whose
/// email it names.
#[utoipa::path(post, path = "/{org}/v2/connections/accept", tag = "connections", request_body = ConnectionTokenRequest,
    params(("org" = String, Path)),
    responses((status = 200, body = MemberResponse, description = "The new member"), (status = 403, body = Fault), (status = 404, body = Fault),
              (status = 410, body = Fault)))]
pub async fn accept_connection_by_body(
    State(state): State<AppState>,
    ctx: OrgCtx,
    JsonOrForm(body): JsonOrForm<ConnectionTokenRequest>,
) -> Result<Response, Fault> {
    let member = accept_logged_in(&state, &ctx, &body.token).await?;
    Ok(json(MemberResponse::from(&member)))
}

/// Declines an invitation, the token in the body (the invitee, logged in).
#[utoipa::path(post, path = "/{org}/v2/connections/decline", tag = "connections", request_body = ConnectionTokenRequest,
    params(("org" = String, Path)),
    responses((status = 200, body = ConnectionResponse), (status = 403, body = Fault),
              (status = 404, body = Fault)))]
pub async fn decline_connection_by_body(
    State(state): State<AppState>,
    ctx: OrgCtx,
    JsonOrForm(body): JsonOrForm<ConnectionTokenRequest>,
) -> Result<Response, Fault> {
    let closed = decline(&state, &ctx, &body.token).await?;
    Ok(json(ConnectionResponse::from(&closed)))
}

/// `DELETE /connections/{id}` revokes (administrators); `DELETE /connections/{token}`
/// declines (the invitee, logged in).
#[utoipa::path(delete, path = "/{org}/v2/connections/{key}", tag = "connections",
    params(("org" = String, Path), ("key" = String, Path, description = "A connection _id (revoke) or token (decline)")),
    responses((status = 200, body = ConnectionResponse), (status = 403, body = Fault), (status = 404, body = Fault)))]
pub async fn delete_connection(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, key)): Path<(String, String)>,
) -> Result<Response, Fault> {
    let now = state.clock.now();
    let closed = if let Some(id) = Id::parse(&key) {
        ctx.authorize(Target::Connection, Operation::Delete, "invitations")?;
        state.store.close_connection(ctx.org.id, id, ConnectionState::Revoked, now).await?
    } else {
        decline(&state, &ctx, &key).await?
    };
    Ok(json(ConnectionResponse::from(&closed)))
}
