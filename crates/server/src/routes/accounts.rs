//! Accounts and authentication under `/{org}/v2/accounts`: register, login, logout,
//! me, status, and the password endpoints. The work behind them (hashing, mailed
//! links, registration) lives in `flows`, shared with the pages.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use orgbase_domain::account::{Account, PersonName};
use orgbase_domain::email::Email;
use orgbase_domain::password;
use serde::Deserialize;

use crate::auth;
pub use crate::client_addr::ClientIp;
use crate::context::OrgCtx;
use crate::extract::JsonOrForm;
use crate::fault::Fault;
use crate::flows::account_links::{after_answer, reset_with, send_reset, verify_with};
use crate::flows::logins::authenticate;
use crate::flows::passwords::{hash_password, verify_password};
use crate::flows::registration::{Registration, register as register_account};
use crate::responses::{
    AccountResponse, DoneResponse, LoginResponse, MeResponse, ResultResponse, StatusResponse, json,
};
use crate::sensitive::Sensitive;
use crate::state::AppState;

/// A person's name in a request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameBody {
    /// Given name, 1–100 characters once trimmed.
    #[serde(default)]
    #[schema(schema_with = crate::openapi::fields::name, required = true)]
    pub first: String,
    /// Family name, at most 100 characters once trimmed.
    #[serde(default)]
    #[schema(schema_with = crate::openapi::fields::last_name)]
    pub last: String,
}

/// The body of `POST /accounts/register`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The email, unique on the platform.
    #[schema(schema_with = crate::openapi::fields::email)]
    pub email: String,
    /// At least `security.passwordMinLength` characters.
    #[schema(schema_with = crate::openapi::fields::new_password)]
    pub password: Sensitive,
    /// The person's name.
    pub name: NameBody,
    /// An invitation token: registers and accepts in one step.
    #[schema(value_type = Option<String>)]
    pub connection: Option<Sensitive>,
}

/// The body of `POST /accounts/login`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The account's email.
    pub email: String,
    /// The password.
    #[schema(value_type = String)]
    pub password: Sensitive,
    /// `true`: answer the session token in the body (for `Authorization: Bearer`)
    /// and set no cookie. Otherwise the session is the `md.sid` cookie alone, out
    /// of reach of the page's JavaScript.
    #[serde(default)]
    pub bearer: bool,
}

/// The body of `POST /accounts/me/update-password`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdatePasswordRequest {
    /// The current password.
    #[schema(value_type = String)]
    pub current: Sensitive,
    /// The new password.
    #[schema(schema_with = crate::openapi::fields::new_password)]
    pub password: Sensitive,
}

/// The body of `POST /accounts/request-password-reset`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestPasswordResetRequest {
    /// The account's email.
    pub email: String,
}

/// The body of `POST /accounts/verify`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The token from the verification mail.
    pub token: String,
    /// The password of the account from now on: whoever uses the mailed link
    /// holds the account, with a password of their own.
    pub password: String,
}

impl std::fmt::Debug for VerifyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyRequest").field("token", &"<redacted>").field("password", &"<redacted>").finish()
    }
}

/// The body of `POST /accounts/reset-password`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The token from the reset mail.
    #[schema(value_type = String)]
    pub token: Sensitive,
    /// The new password.
    #[schema(value_type = String)]
    pub password: Sensitive,
}

/// Registers an account and makes it a member with `registration.defaultRoles`,
/// and mails a link that verifies the email. A taken email answers the same way
/// (nothing tells that the address has an account) and its owner gets a mail
/// instead. With a `connection` token, registers and accepts the invitation.
#[utoipa::path(post, path = "/{org}/v2/accounts/register", tag = "accounts", request_body = RegisterRequest,
    params(("org" = String, Path)),
    responses((status = 200, body = AccountResponse, description = "The new account"), (status = 400, body = Fault), (status = 403, body = Fault),
              (status = 409, body = Fault), (status = 429, body = Fault)))]
pub async fn register(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ClientIp(ip): ClientIp,
    JsonOrForm(body): JsonOrForm<RegisterRequest>,
) -> Result<Response, Fault> {
    let limited = Email::parse("email", &body.email).ok();
    state.limits.check(&state, "register", ip, limited.as_ref()).await?;
    let RegisterRequest { email, password, name: NameBody { first, last }, connection } = body;
    let new = Registration { email, name: PersonName { first, last }, password, connection };
    let account = register_account(&state, &ctx.org, new).await?;
    Ok(json(AccountResponse::from(&account)))
}

/// Logs in with email and password: sets the `md.sid` cookie and returns the
/// account, or, with `"bearer": true`, returns the account with a `token` for
/// `Authorization: Bearer` and sets no cookie.
#[utoipa::path(post, path = "/{org}/v2/accounts/login", tag = "accounts", request_body = LoginRequest,
    params(("org" = String, Path)),
    responses((status = 200, body = LoginResponse, description = "The account (with `token` when `bearer` is true)"), (status = 403, body = Fault),
              (status = 429, body = Fault)))]
pub async fn login(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ClientIp(ip): ClientIp,
    JsonOrForm(body): JsonOrForm<LoginRequest>,
) -> Result<Response, Fault> {
    let email = Email::parse("email", &body.email).ok();
    state.limits.check(&state, "login", ip, email.as_ref()).await?;
    let account = authenticate(&state, &ctx.org, email, body.password.into_inner()).await?;
    let (_, token) = auth::start_login_session(&state, &ctx.org, &account).await?;
    let mut res = json(LoginResponse::new(&account, body.bearer.then_some(token.as_str())));
    crate::context::private_no_cache(&mut res);
    if !body.bearer {
        auth::set_session(&mut res, &state, &ctx.org, &token);
    }
    Ok(res)
}

/// Revokes the caller's session and clears the cookie. Always answers `true`.
#[utoipa::path(post, path = "/{org}/v2/accounts/me/logout", tag = "accounts", params(("org" = String, Path)),
    responses((status = 200, body = DoneResponse)))]
pub async fn logout(State(state): State<AppState>, ctx: OrgCtx) -> Result<Response, Fault> {
    if let Some(session) = ctx.caller.session() {
        state.store.delete_login_session(session.id).await?;
    }
    let mut res = DoneResponse::done().into_response();
    res.headers_mut().insert(header::SET_COOKIE, auth::session_cookie(&state, &ctx.org, None));
    Ok(res)
}

fn me<'a>(ctx: &'a OrgCtx, account: &'a Account) -> MeResponse<'a> {
    MeResponse::new(account, ctx.caller.member(), ctx.level())
}

/// The logged-in account, its membership here and its roles.
#[utoipa::path(get, path = "/{org}/v2/accounts/me", tag = "accounts", params(("org" = String, Path)),
    responses((status = 200, body = MeResponse), (status = 403, body = Fault)))]
pub async fn get_me(ctx: OrgCtx) -> Result<Response, Fault> {
    let account = ctx.caller.account()?;
    Ok(json(me(&ctx, account)))
}

/// `{loggedin, account}`.
#[utoipa::path(get, path = "/{org}/v2/accounts/status", tag = "accounts", params(("org" = String, Path)),
    responses((status = 200, body = ResultResponse<StatusResponse>)))]
pub async fn get_status(ctx: OrgCtx) -> Response {
    let account = ctx.caller.account().ok().map(|a| me(&ctx, a));
    ResultResponse::of(StatusResponse { loggedin: account.is_some(), account }).into_response()
}

/// Changes the password and revokes the account's other sessions.
#[utoipa::path(post, path = "/{org}/v2/accounts/me/update-password", tag = "accounts",
    request_body = UpdatePasswordRequest, params(("org" = String, Path)),
    responses((status = 200, body = DoneResponse), (status = 400, body = Fault), (status = 403, body = Fault)))]
pub async fn update_password(
    State(state): State<AppState>,
    ctx: OrgCtx,
    JsonOrForm(body): JsonOrForm<UpdatePasswordRequest>,
) -> Result<Response, Fault> {
    let account = ctx.caller.account()?;
    if !verify_password(body.current.into_inner(), account.password_hash.clone()).await? {
        return Err(Fault::invalid_credentials().at("current"));
    }
    password::check_policy("password", body.password.expose(), ctx.org.props.security.password_min_length)
        .map_err(|e| Fault::validation(vec![e]))?;
    let hash = hash_password(body.password.into_inner()).await?;
    let keep = ctx.caller.session().map(|s| s.id);
    state.store.set_password(account.id, &hash, keep, state.clock.now()).await?;
    Ok(DoneResponse::done().into_response())
}

/// Mails a reset token when the account exists. Always answers `true`, so the
/// answer tells nothing about which emails have accounts.
#[utoipa::path(post, path = "/{org}/v2/accounts/request-password-reset", tag = "accounts",
    request_body = RequestPasswordResetRequest, params(("org" = String, Path)),
    responses((status = 200, body = DoneResponse), (status = 429, body = Fault)))]
pub async fn request_password_reset(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ClientIp(ip): ClientIp,
    JsonOrForm(body): JsonOrForm<RequestPasswordResetRequest>,
) -> Result<Response, Fault> {
    let email = Email::parse("email", &body.email).ok();
    state.limits.check(&state, "reset", ip, email.as_ref()).await?;
    // Answered at once, whether or not the address has an account: the lookup, the
    // token and the mail happen after, so the time to answer tells nothing.
    if let Some(email) = email {
        after_answer(send_reset(state.clone(), ctx.org.clone(), email));
    }
    Ok(DoneResponse::done().into_response())
}

/// Sets a new password with a reset token, and revokes every session.
#[utoipa::path(post, path = "/{org}/v2/accounts/reset-password", tag = "accounts",
    request_body = ResetPasswordRequest, params(("org" = String, Path)),
    responses((status = 200, body = DoneResponse), (status = 400, body = Fault), (status = 404, body = Fault),
              (status = 410, body = Fault)))]
pub async fn reset_password(
    State(state): State<AppState>,
    ctx: OrgCtx,
    JsonOrForm(body): JsonOrForm<ResetPasswordRequest>,
) -> Result<Response, Fault> {
    reset_with(&state, &ctx.org, body.token.expose(), body.password.into_inner()).await?;
    Ok(DoneResponse::done().into_response())
}

/// Verifies the email with the mailed token, and sets the password the holder of
/// the link chooses: if someone else registered the address first, they lose the
/// account. Every session of the account ends.
#[utoipa::path(post, path = "/{org}/v2/accounts/verify", tag = "accounts", request_body = VerifyRequest,
    params(("org" = String, Path)),
    responses((status = 200, body = AccountResponse, description = "The verified account"), (status = 400, body = Fault),
              (status = 404, body = Fault), (status = 410, body = Fault)))]
pub async fn verify_email(
    State(state): State<AppState>,
    ctx: OrgCtx,
    JsonOrForm(body): JsonOrForm<VerifyRequest>,
) -> Result<Response, Fault> {
    let account = verify_with(&state, &ctx.org, &body.token, body.password).await?;
    Ok(json(AccountResponse::from(&account)))
}
