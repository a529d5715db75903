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
use orgbase_domain::account::{Account, Email, MemberEntry, PersonName};
use orgbase_domain::connection::{Connection, ConnectionState};
use orgbase_domain::org::Org;
use orgbase_domain::store::Acceptance;
use orgbase_domain::{FieldError, Id, secret};
use serde::Deserialize;

use crate::context::OrgCtx;
use crate::extract::{ApiJson, Paging, QueryPairs};
use crate::fault::Fault;
use crate::mail::{self, Mail};
use crate::responses::{ConnectionResponse, ListResponse, MemberResponse, json};
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

/// Mails an invitation with the link of the accept page (the token rides in the
/// link's fragment, see `mail::link`).
pub async fn mail_invitation(state: &AppState, org: &Org, connection: &Connection, token: &str) {
    let link = mail::link(state, org, "accept", token);
    let mail = Mail {
        to: connection.email.to_string(),
        subject: format!("You are invited to join {}", org.props.name),
        body: format!(
            "You are invited to join {name} on orgbase.\n\n\
             Open this link to accept:\n{link}\n\n\
             The invitation expires at {expires}.\n",
            name = org.props.name,
            expires = orgbase_domain::org::render_date(connection.expires),
        ),
    };
    state.mailer.send(mail, state.clock.now()).await;
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
    ApiJson(body): ApiJson<CreateConnectionRequest>,
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
        Connection::new(ctx.org.id, email, name, roles, ctx.caller.account_id(), now + ttl(&ctx), now);
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
        state.store.reissue_connection(ctx.org.id, id, &secret::digest(&token), now + ttl(&ctx), now).await?;
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
    accept_logged_in(&state, &ctx, &token).await
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
    ApiJson(body): ApiJson<ConnectionTokenRequest>,
) -> Result<Response, Fault> {
    accept_logged_in(&state, &ctx, &body.token).await
}

/// Declines an invitation, the token in the body (the invitee, logged in).
#[utoipa::path(post, path = "/{org}/v2/connections/decline", tag = "connections", request_body = ConnectionTokenRequest,
    params(("org" = String, Path)),
    responses((status = 200, body = ConnectionResponse), (status = 403, body = Fault),
              (status = 404, body = Fault)))]
pub async fn decline_connection_by_body(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ApiJson(body): ApiJson<ConnectionTokenRequest>,
) -> Result<Response, Fault> {
    let closed = decline(&state, &ctx, &body.token).await?;
    Ok(json(ConnectionResponse::from(&closed)))
}

async fn accept_logged_in(state: &AppState, ctx: &OrgCtx, token: &str) -> Result<Response, Fault> {
    let account = ctx.caller.account()?.clone();
    let connection = pending_for_token(state, &ctx.org, token).await?;
    if connection.email != account.email {
        return Err(Fault::access_denied("This invitation is for another email address."));
    }
    // The token proves the email; the session proves the account.
    let how = Acceptance::Existing { keep: ctx.caller.session().map(|s| s.id) };
    let member = state.store.accept_connection(&secret::digest(token), &account, &how, state.clock.now()).await?;
    Ok(json(MemberResponse::from(&MemberEntry::new(member, &account))))
}

/// The pending, unexpired connection of this org holding `token`.
pub async fn pending_for_token(state: &AppState, org: &Org, token: &str) -> Result<Connection, Fault> {
    let connection = state.store.connection_by_token(&secret::digest(token)).await?;
    let connection = connection
        .filter(|c| c.org == org.id && c.state == ConnectionState::Pending)
        .ok_or_else(|| Fault::not_found("Invitation"))?;
    if connection.expires <= state.clock.now() {
        return Err(expired());
    }
    Ok(connection)
}

/// Registers through an invitation, in one transaction: the token proves the
/// email, so the account is verified. An unverified account with that email (its
/// password chosen by whoever registered the address) becomes the acceptor's: it
/// takes `account`'s name and password and its sessions end. A verified one must
/// log in to accept (409). Returns the account as it now is.
pub async fn register_with_token(
    state: &AppState,
    ctx: &OrgCtx,
    token: &str,
    account: Account,
) -> Result<Account, Fault> {
    let connection = pending_for_token(state, &ctx.org, token).await?;
    if connection.email != account.email {
        return Err(Fault::access_denied("This invitation is for another email address."));
    }
    accept_as_new_or_reclaimed(state, token, account, None).await
}

/// Accepts for someone who is not logged in: `account` (their email, name and new
/// password) is inserted, or reclaims the unverified account with that email. A
/// verified account must prove its password: `current`, checked here, or else 409.
async fn accept_as_new_or_reclaimed(
    state: &AppState,
    token: &str,
    account: Account,
    current: Option<String>,
) -> Result<Account, Fault> {
    let digest = secret::digest(token);
    let now = state.clock.now();
    let (accepted, how) = match state.store.account_by_email(&account.email).await? {
        None => (account.verified(), Acceptance::Register),
        Some(existing) if !existing.verified => {
            let password_hash = account.password_hash.clone().unwrap_or_default();
            let how = Acceptance::Reclaim { password_hash, name: account.name.clone() };
            (Account { name: account.name, password_hash: account.password_hash, verified: true, ..existing }, how)
        }
        Some(existing) => {
            let Some(current) = current else {
                return Err(Fault::exists("An account with this email exists: log in to accept the invitation."));
            };
            if !crate::routes::accounts::verify_password(current, existing.password_hash.clone()).await? {
                return Err(crate::auth::invalid_credentials());
            }
            (existing, Acceptance::Existing { keep: None })
        }
    };
    state.store.accept_connection(&digest, &accepted, &how, now).await?;
    Ok(accepted)
}

/// The accept page's work: the invitee, not logged in, gives their name and a
/// password (a new account, or one that reclaims an unverified account with the
/// address), or the password of their verified account.
pub async fn accept_with(
    state: &AppState,
    org: &Org,
    token: &str,
    name: Option<PersonName>,
    password: String,
) -> Result<Account, Fault> {
    let connection = pending_for_token(state, org, token).await?;
    let existing = state.store.account_by_email(&connection.email).await?;
    if let Some(existing) = existing.filter(|a| a.verified) {
        return accept_as_new_or_reclaimed(state, token, existing, Some(password)).await;
    }
    let name = name
        .ok_or_else(|| Fault::validation(vec![FieldError::new("name", "A name is required.")]))?
        .validate("name")?;
    orgbase_domain::password::check_policy("password", &password, org.props.security.password_min_length)?;
    let hash = crate::routes::accounts::hash_password(password).await?;
    let account = Account::new(connection.email, name, Some(hash), state.clock.now());
    accept_as_new_or_reclaimed(state, token, account, None).await
}

async fn decline(state: &AppState, ctx: &OrgCtx, token: &str) -> Result<Connection, Fault> {
    let account = ctx.caller.account()?.clone();
    let connection = pending_for_token(state, &ctx.org, token).await?;
    if connection.email != account.email {
        return Err(Fault::access_denied("This invitation is for another email address."));
    }
    Ok(state.store.close_connection(ctx.org.id, connection.id, ConnectionState::Declined, state.clock.now()).await?)
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
