//! Invitations, the seed platform's *connections*: an administrator invites an email
//! with roles (`POST /orgs/{id}/connections`), lists, resends and revokes them; the
//! invitee accepts (`POST /connections/{token}`, or `accounts/register` with the
//! token) or declines (`DELETE /connections/{token}`). Tokens are mailed, never
//! shown, and stored only as digests.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use orgbase_domain::access::{Operation, Target};
use orgbase_domain::account::{Account, Email, MemberEntry};
use orgbase_domain::connection::{Connection, ConnectionState};
use orgbase_domain::{FieldError, Id, secret};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::context::OrgCtx;
use crate::extract::{ApiJson, Paging, QueryPairs};
use crate::fault::Fault;
use crate::mail::Mail;
use crate::state::AppState;

/// The body of `POST /orgs/{id}/connections`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectionRequest {
    /// The invitee's email.
    pub email: String,
    /// Role ids, codes or names the member will hold.
    #[serde(default)]
    pub roles: Vec<String>,
    /// A display name for the invitee.
    pub name: Option<String>,
}

/// 410 `kExpired`.
fn expired() -> Fault {
    Fault::new(StatusCode::GONE, "kExpired", "expired.connection", "This invitation has expired.")
}

fn ttl(ctx: &OrgCtx) -> Duration {
    Duration::seconds(i64::from(ctx.org.props.security.invitation_ttl))
}

async fn mail_invitation(state: &AppState, ctx: &OrgCtx, connection: &Connection, token: &str) {
    let base = format!("{}/{}/v2", state.config.public_url(), ctx.org.code);
    let mail = Mail {
        to: connection.email.to_string(),
        subject: format!("You are invited to join {}", ctx.org.props.name),
        body: format!(
            "You are invited to join {name} on orgbase.\n\n\
             Accept: POST {base}/connections/{token} while logged in,\n\
             or register with POST {base}/accounts/register and \"connection\": \"{token}\".\n\
             Invitation token: {token}\n\nThe invitation expires at {expires}.\n",
            name = ctx.org.props.name,
            expires = orgbase_domain::org::render_date(connection.expires),
        ),
    };
    state.mailer.send(mail, state.clock.now()).await;
}

/// Invites an email into the org with roles, and mails the invitation.
#[utoipa::path(post, path = "/{org}/v2/orgs/{id}/connections", tag = "connections", request_body = CreateConnectionRequest,
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "The pending connection (no token)"), (status = 403, body = Fault),
              (status = 409, body = Fault)))]
pub async fn create_connection(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<CreateConnectionRequest>,
) -> Result<Response, Fault> {
    ctx.check_org_id(&id)?;
    ctx.authorize(Target::Connection, Operation::Create, "invitations")?;
    let mut faults = Vec::new();
    let email = Email::parse("email", &body.email).map_err(|e| faults.push(e)).ok();
    let roles = ctx.org.resolve_roles("roles", &body.roles).map_err(|e| faults.push(e)).ok();
    let name = body.name.map(|n| n.trim().chars().take(200).collect::<String>()).filter(|n| !n.is_empty());
    let (Some(email), Some(roles)) = (email, roles) else { return Err(Fault::validation(faults)) };
    let now = state.clock.now();
    let (connection, token) =
        Connection::new(ctx.org.id, email, name, roles, ctx.caller.account_id(), now + ttl(&ctx), now);
    state.store.insert_connection(&connection).await?;
    mail_invitation(&state, &ctx, &connection, &token).await;
    Ok(axum::Json(connection.to_json()).into_response())
}

/// Lists the org's connections, optionally by `state` (0 pending … 3 revoked).
#[utoipa::path(get, path = "/{org}/v2/connections", tag = "connections",
    params(("org" = String, Path), ("state" = Option<i16>, Query), ("limit" = Option<u32>, Query),
           ("startingAfter" = Option<String>, Query), ("endingBefore" = Option<String>, Query)),
    responses((status = 200, description = "A list of connections"), (status = 403, body = Fault)))]
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
    let data: Vec<Value> = page.data.iter().map(Connection::to_json).collect();
    Ok(axum::Json(json!({"object": "list", "data": data, "hasMore": page.has_more})).into_response())
}

/// Issues a new token (the old one dies), renews the expiry and mails again.
#[utoipa::path(post, path = "/{org}/v2/connections/{id}/resend", tag = "connections",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "The connection"), (status = 403, body = Fault), (status = 404, body = Fault)))]
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
        state.store.reissue_connection(ctx.org.id, id, &secret::digest(&token), now + ttl(&ctx), now).await?;
    mail_invitation(&state, &ctx, &connection, &token).await;
    Ok(axum::Json(connection.to_json()).into_response())
}

/// Accepts an invitation as the logged-in account whose email it names.
#[utoipa::path(post, path = "/{org}/v2/connections/{token}", tag = "connections",
    params(("org" = String, Path), ("token" = String, Path)),
    responses((status = 200, description = "The new member"), (status = 403, body = Fault), (status = 404, body = Fault),
              (status = 410, body = Fault)))]
pub async fn accept_connection(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, token)): Path<(String, String)>,
) -> Result<Response, Fault> {
    let account = ctx.caller.account()?.clone();
    let connection = pending_for_token(&state, &ctx, &token).await?;
    if connection.email != account.email {
        return Err(Fault::access_denied("This invitation is for another email address."));
    }
    let member = state.store.accept_connection(&secret::digest(&token), &account, false, state.clock.now()).await?;
    Ok(axum::Json(MemberEntry::new(member, &account)).into_response())
}

/// The pending, unexpired connection of this org holding `token`.
pub async fn pending_for_token(state: &AppState, ctx: &OrgCtx, token: &str) -> Result<Connection, Fault> {
    let connection = state.store.connection_by_token(&secret::digest(token)).await?;
    let connection = connection
        .filter(|c| c.org == ctx.org.id && c.state == ConnectionState::Pending)
        .ok_or_else(|| Fault::not_found("Invitation"))?;
    if connection.expires <= state.clock.now() {
        return Err(expired());
    }
    Ok(connection)
}

/// Registers a new account through an invitation, in one transaction.
pub async fn register_with_token(state: &AppState, ctx: &OrgCtx, token: &str, account: &Account) -> Result<(), Fault> {
    let connection = pending_for_token(state, ctx, token).await?;
    if connection.email != account.email {
        return Err(Fault::access_denied("This invitation is for another email address."));
    }
    state.store.accept_connection(&secret::digest(token), account, true, state.clock.now()).await?;
    Ok(())
}

/// `DELETE /connections/{id}` revokes (administrators); `DELETE /connections/{token}`
/// declines (the invitee, logged in).
#[utoipa::path(delete, path = "/{org}/v2/connections/{key}", tag = "connections",
    params(("org" = String, Path), ("key" = String, Path, description = "A connection _id (revoke) or token (decline)")),
    responses((status = 200, description = "The closed connection"), (status = 403, body = Fault), (status = 404, body = Fault)))]
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
        let account = ctx.caller.account()?.clone();
        let connection = pending_for_token(&state, &ctx, &key).await?;
        if connection.email != account.email {
            return Err(Fault::access_denied("This invitation is for another email address."));
        }
        state.store.close_connection(ctx.org.id, connection.id, ConnectionState::Declined, now).await?
    };
    Ok(axum::Json(closed.to_json()).into_response())
}
