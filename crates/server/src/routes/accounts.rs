//! Accounts and authentication under `/{org}/v2/accounts`: register, login, logout,
//! me, status, and the password endpoints.

use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use orgbase_domain::account::{Account, Email, Member, PersonName};
use orgbase_domain::org::Org;
use orgbase_domain::{FieldError, StoreError, password, secret};
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::auth::{self, CSRF_HEADER};
pub use crate::client_addr::ClientIp;
use crate::context::OrgCtx;
use crate::extract::ApiJson;
use crate::fault::Fault;
use crate::mail::{self, Mail};
use crate::responses::{
    AccountResponse, DoneResponse, LoginResponse, MeResponse, ResultResponse, StatusResponse, json,
};
use crate::sensitive::Sensitive;
use crate::state::AppState;

/// A person's name in a request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameBody {
    /// Given name.
    #[serde(default)]
    pub first: String,
    /// Family name.
    #[serde(default)]
    pub last: String,
}

/// The body of `POST /accounts/register`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The email, unique on the platform.
    pub email: String,
    /// At least `security.passwordMinLength` characters.
    #[schema(value_type = String)]
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
    #[schema(value_type = String)]
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

/// Runs argon2 off the async workers (tens of milliseconds of CPU), one hash per
/// core at a time: each takes 19 MiB while it runs, and more at once than there
/// are cores adds memory, not throughput. A burst of logins queues here.
async fn argon2<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Fault> {
    static HASHING: OnceLock<Semaphore> = OnceLock::new();
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let _turn = HASHING.get_or_init(|| Semaphore::new(cores)).acquire().await.map_err(|e| Fault::internal(&e))?;
    tokio::task::spawn_blocking(work).await.map_err(|e| Fault::internal(&e))
}

pub(crate) async fn hash_password(password: String) -> Result<String, Fault> {
    argon2(move || password::hash(&password)).await?.map_err(Fault::from)
}

pub(crate) async fn verify_password(password: String, stored: Option<String>) -> Result<bool, Fault> {
    argon2(move || password::verify(&password, stored.as_deref())).await
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
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<Response, Fault> {
    let limited = Email::parse("email", &body.email).ok();
    state.limits.check(&state, "register", ip, limited.as_ref()).await?;
    let registration = &ctx.org.props.registration;
    if body.connection.is_none() && (!registration.allow || registration.invitation_required) {
        return Err(Fault::access_denied("Registration is closed: joining this org needs an invitation."));
    }
    let mut faults = Vec::new();
    let email = Email::parse("email", &body.email).map_err(|e| faults.push(e)).ok();
    let name =
        PersonName { first: body.name.first, last: body.name.last }.validate("name").map_err(|e| faults.push(e)).ok();
    let min = ctx.org.props.security.password_min_length;
    let _ = password::check_policy("password", body.password.expose(), min).map_err(|e| faults.push(e));
    let (Some(email), Some(name), true) = (email, name, faults.is_empty()) else {
        return Err(Fault::validation(faults));
    };
    let hash = hash_password(body.password.into_inner()).await?;
    let now = state.clock.now();
    let account = Account::new(email, name, Some(hash), now);
    if let Some(token) = &body.connection {
        let account = crate::routes::connections::register_with_token(&state, &ctx, token.expose(), account).await?;
        return Ok(json(AccountResponse::from(&account)));
    }
    let member = Member::new(ctx.org.id, account.id, registration.default_roles.clone(), now);
    match state.store.insert_account(&account, Some(&member)).await {
        Ok(()) => after_answer(send_verification(state.clone(), ctx.org.clone(), account.clone())),
        // Answered as a new registration is: the owner of the address is told instead.
        Err(StoreError::Exists(_)) => {
            after_answer(mail_registration_attempt(state.clone(), ctx.org.clone(), account.email.clone()))
        }
        Err(e) => return Err(e.into()),
    }
    Ok(json(AccountResponse::from(&account)))
}

/// Runs work that must not make the caller wait, nor tell by its duration what it
/// did (mail, tokens of accounts that may not exist). Losing it (a crash) costs a
/// mail that the user asks for again.
fn after_answer(work: impl std::future::Future<Output = Result<(), Fault>> + Send + 'static) {
    tokio::spawn(async move {
        if let Err(fault) = work.await {
            tracing::error!(error = fault.cause.as_deref().unwrap_or(&fault.reason), "background account work failed");
        }
    });
}

/// How long an email verification link stays valid.
const VERIFY_TTL_HOURS: i64 = 48;

/// Gives `account` a fresh verification token and mails its link.
async fn send_verification(state: AppState, org: Arc<Org>, account: Account) -> Result<(), Fault> {
    let token = secret::token();
    let now = state.clock.now();
    let expires = now + Duration::hours(VERIFY_TTL_HOURS);
    state.store.set_verify_token(account.id, &secret::digest(&token), expires).await?;
    let link = mail::link(&state, &org, "verify", &token);
    let mail = Mail {
        to: account.email.to_string(),
        subject: format!("Verify your email for {}", org.props.name),
        body: format!(
            "Someone registered an account with this address at {name}.\n\n\
             If it was you, open this link within {VERIFY_TTL_HOURS} hours to verify your email and choose \
             your password:\n{link}\n\n\
             If it was not you, open it anyway and choose a password: the account becomes yours, and whoever \
             registered it loses it. Or ignore this mail.\n",
            name = org.props.name,
        ),
    };
    state.mailer.send(mail, now).await;
    Ok(())
}

/// Tells the owner of an address that someone tried to register it again.
async fn mail_registration_attempt(state: AppState, org: Arc<Org>, email: Email) -> Result<(), Fault> {
    let link = mail::link_page(&state, &org, "reset");
    let mail = Mail {
        to: email.to_string(),
        subject: format!("Someone tried to register with your address at {}", org.props.name),
        body: format!(
            "Someone tried to register a new account at {name} with this address, which already has one.\n\n\
             If it was you, log in instead; if you forgot your password, reset it ({link}).\n\
             If it was not you, you need not do anything: your account is unchanged.\n",
            name = org.props.name,
        ),
    };
    state.mailer.send(mail, state.clock.now()).await;
    Ok(())
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
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, Fault> {
    let email = Email::parse("email", &body.email).ok();
    state.limits.check(&state, "login", ip, email.as_ref()).await?;
    let account = match email {
        Some(email) => state.store.account_by_email(&email).await?,
        None => None,
    };
    let stored = account.as_ref().and_then(|a| a.password_hash.clone());
    // An unknown email still verifies (against a dummy hash), so both failures take
    // the same time and give the same fault.
    let ok = verify_password(body.password.into_inner(), stored).await?;
    let (true, Some(account)) = (ok, account) else {
        return Err(auth::invalid_credentials());
    };
    if ctx.org.props.registration.activation_required && !account.verified {
        // Only the holder of the password learns this; the mail goes to the address.
        after_answer(send_verification(state.clone(), ctx.org.clone(), account));
        return Err(Fault::email_not_verified());
    }
    let (_, token) = auth::start_session(&state, &ctx.org, &account).await?;
    let mut res = json(LoginResponse::new(&account, body.bearer.then_some(token.as_str())));
    crate::context::private_no_cache(&mut res);
    if !body.bearer {
        res.headers_mut().insert(header::SET_COOKIE, auth::session_cookie(&state, &ctx.org, Some(&token)));
        if let Ok(csrf) = HeaderValue::from_str(&auth::csrf_token(&token)) {
            res.headers_mut().insert(CSRF_HEADER, csrf);
        }
    }
    Ok(res)
}

/// Revokes the caller's session and clears the cookie. Always answers `true`.
#[utoipa::path(post, path = "/{org}/v2/accounts/me/logout", tag = "accounts", params(("org" = String, Path)),
    responses((status = 200, body = DoneResponse)))]
pub async fn logout(State(state): State<AppState>, ctx: OrgCtx) -> Result<Response, Fault> {
    if let Some(session) = ctx.caller.session() {
        state.store.delete_session(session.id).await?;
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
    ApiJson(body): ApiJson<UpdatePasswordRequest>,
) -> Result<Response, Fault> {
    let account = ctx.caller.account()?;
    if !verify_password(body.current.into_inner(), account.password_hash.clone()).await? {
        return Err(auth::invalid_credentials().at("current"));
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
    ApiJson(body): ApiJson<RequestPasswordResetRequest>,
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

/// How long a password-reset link stays valid.
const RESET_TTL_MINUTES: i64 = 60;

/// Mails a reset link to the account with this email, if there is one.
async fn send_reset(state: AppState, org: Arc<Org>, email: Email) -> Result<(), Fault> {
    let Some(account) = state.store.account_by_email(&email).await? else { return Ok(()) };
    let token = secret::token();
    let now = state.clock.now();
    state
        .store
        .set_reset_token(account.id, &secret::digest(&token), now + Duration::minutes(RESET_TTL_MINUTES))
        .await?;
    let link = mail::link(&state, &org, "reset", &token);
    let mail = Mail {
        to: account.email.to_string(),
        subject: format!("Reset your {} password", org.props.name),
        body: format!(
            "Someone asked to reset the password of your account at {name}.\n\n\
             Open this link within {RESET_TTL_MINUTES} minutes to choose a new password:\n{link}\n\n\
             If it was not you, ignore this mail: your password is unchanged.\n",
            name = org.props.name,
        ),
    };
    state.mailer.send(mail, now).await;
    Ok(())
}

/// Sets a new password with a reset token, and revokes every session.
#[utoipa::path(post, path = "/{org}/v2/accounts/reset-password", tag = "accounts",
    request_body = ResetPasswordRequest, params(("org" = String, Path)),
    responses((status = 200, body = DoneResponse), (status = 400, body = Fault), (status = 404, body = Fault),
              (status = 410, body = Fault)))]
pub async fn reset_password(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ApiJson(body): ApiJson<ResetPasswordRequest>,
) -> Result<Response, Fault> {
    reset_with(&state, &ctx.org, body.token.expose(), body.password.into_inner()).await?;
    Ok(DoneResponse::done().into_response())
}

/// Sets a new password with a reset token and revokes every session: the API's
/// and the reset page's way.
pub async fn reset_with(state: &AppState, org: &Org, token: &str, new_password: String) -> Result<(), Fault> {
    redeem(state, org, Mailed::Reset, token, new_password).await.map(drop)
}

/// The two kinds of mailed account tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mailed {
    /// A password reset.
    Reset,
    /// An email verification.
    Verify,
}

/// Uses a mailed token: whoever holds it sets the account's password, the email
/// counts as verified, and every session of the account ends (in one store call).
/// An unknown or used token is 404, an expired one 410 `kTokenExpired`.
async fn redeem(
    state: &AppState,
    org: &Org,
    kind: Mailed,
    token: &str,
    new_password: String,
) -> Result<Account, Fault> {
    let digest = secret::digest(token);
    let expired = || Fault::new(StatusCode::GONE, "kTokenExpired", "expired.token", "This link has expired.");
    let found = match kind {
        Mailed::Reset => state.store.account_by_reset_token(&digest).await?,
        Mailed::Verify => state.store.account_by_verify_token(&digest).await?,
    };
    let what = if kind == Mailed::Reset { "Reset token" } else { "Verification token" };
    let (account, expires) = found.ok_or_else(|| Fault::not_found(what))?;
    let now = state.clock.now();
    if expires <= now {
        return Err(expired());
    }
    password::check_policy("password", &new_password, org.props.security.password_min_length)
        .map_err(|e| Fault::validation(vec![e]))?;
    let hash = hash_password(new_password).await?;
    let done = match kind {
        Mailed::Reset => state.store.reset_password(&digest, &hash, now).await?,
        Mailed::Verify => state.store.verify_account(&digest, &hash, now).await?,
    };
    match done {
        Some(_) => Ok(Account { password_hash: Some(hash), verified: true, ..account }),
        None => Err(expired()),
    }
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
    ApiJson(body): ApiJson<VerifyRequest>,
) -> Result<Response, Fault> {
    let account = verify_with(&state, &ctx.org, &body.token, body.password).await?;
    Ok(json(AccountResponse::from(&account)))
}

/// [`verify_email`]'s work, shared with the verification page.
pub async fn verify_with(state: &AppState, org: &Org, token: &str, new_password: String) -> Result<Account, Fault> {
    redeem(state, org, Mailed::Verify, token, new_password).await
}

impl From<FieldError> for Fault {
    fn from(e: FieldError) -> Self {
        Fault::validation(vec![e])
    }
}
