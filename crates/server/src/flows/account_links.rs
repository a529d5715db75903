//! The mailed account links: email verification and password reset. Mints their
//! tokens (stored only as digests), mails the links, and redeems them: whoever
//! holds a link sets the account's password. Also the notice to the owner of an
//! address that someone tried to register it again.

use std::sync::Arc;

use chrono::Duration;
use orgbase_domain::account::Account;
use orgbase_domain::email::Email;
use orgbase_domain::org::Org;
use orgbase_domain::{password, secret};

use crate::fault::Fault;
use crate::flows::passwords::hash_password;
use crate::mail::{self, Mail};
use crate::state::AppState;

/// How long an email verification link stays valid.
const VERIFY_TTL_HOURS: i64 = 48;
/// How long a password-reset link stays valid.
const RESET_TTL_MINUTES: i64 = 60;

/// Runs work that must not make the caller wait, nor tell by its duration what it
/// did (mail, tokens of accounts that may not exist). Losing it (a crash) costs a
/// mail that the user asks for again.
pub fn after_answer(work: impl std::future::Future<Output = Result<(), Fault>> + Send + 'static) {
    tokio::spawn(async move {
        if let Err(fault) = work.await {
            tracing::error!(error = fault.cause.as_deref().unwrap_or(&fault.reason), "background account work failed");
        }
    });
}

/// Renders `template` into a mail to `to` and sends it.
async fn send(state: &AppState, to: String, template: &impl askama::Template) -> Result<(), Fault> {
    let mail = Mail::render(to, template).map_err(|e| Fault::internal(&e))?;
    state.mailer.send(mail, state.clock.now()).await;
    Ok(())
}

/// Gives `account` a fresh verification token and mails its link.
pub async fn send_verification(state: AppState, org: Arc<Org>, account: Account) -> Result<(), Fault> {
    let token = secret::token();
    let expires = state.clock.now() + Duration::hours(VERIFY_TTL_HOURS);
    state.store.set_verify_token(account.id, &secret::digest(&token), expires).await?;
    let link = mail::link(&state, &org, "verify", &token);
    let text = mail::Verification { org_name: &org.props.name, link: &link, ttl_hours: VERIFY_TTL_HOURS };
    send(&state, account.email.to_string(), &text).await
}

/// Tells the owner of an address that someone tried to register it again.
pub async fn mail_registration_attempt(state: AppState, org: Arc<Org>, email: Email) -> Result<(), Fault> {
    let reset_page = mail::link_page(&state, &org, "reset");
    send(&state, email.to_string(), &mail::AccountExists { org_name: &org.props.name, reset_page: &reset_page }).await
}

/// Mails a reset link to the account with this email, if there is one.
pub async fn send_reset(state: AppState, org: Arc<Org>, email: Email) -> Result<(), Fault> {
    let Some(account) = state.store.account_by_email(&email).await? else { return Ok(()) };
    let token = secret::token();
    let expires = state.clock.now() + Duration::minutes(RESET_TTL_MINUTES);
    state.store.set_reset_token(account.id, &secret::digest(&token), expires).await?;
    let link = mail::link(&state, &org, "reset", &token);
    let text = mail::PasswordReset { org_name: &org.props.name, link: &link, ttl_minutes: RESET_TTL_MINUTES };
    send(&state, account.email.to_string(), &text).await
}

/// Sets a new password with a reset token and revokes every session: the API's
/// and the reset page's way.
pub async fn reset_with(state: &AppState, org: &Org, token: &str, new_password: String) -> Result<(), Fault> {
    redeem(state, org, Mailed::Reset, token, new_password).await.map(drop)
}

/// Verifies the email with the mailed token and sets the password that the holder
/// of the link chooses: the API's and the verification page's way.
pub async fn verify_with(state: &AppState, org: &Org, token: &str, new_password: String) -> Result<Account, Fault> {
    redeem(state, org, Mailed::Verify, token, new_password).await
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
    let found = match kind {
        Mailed::Reset => state.store.account_by_reset_token(&digest).await?,
        Mailed::Verify => state.store.account_by_verify_token(&digest).await?,
    };
    let what = if kind == Mailed::Reset { "Reset token" } else { "Verification token" };
    let (account, expires) = found.ok_or_else(|| Fault::not_found(what))?;
    let now = state.clock.now();
    if expires <= now {
        return Err(Fault::link_expired());
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
        None => Err(Fault::link_expired()),
    }
}
