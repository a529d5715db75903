//! Invitations (the seed's *connections*) past their creation: mailing them,
//! finding the pending one a token names, and accepting or declining it, whether
//! the invitee is logged in (the API), registering (`accounts/register` with a
//! token) or neither (the accept page). Tokens are stored only as digests.

use std::sync::Arc;

use chrono::Duration;
use orgbase_domain::account::{Account, MemberEntry, PersonName};
use orgbase_domain::connection::{Connection, ConnectionState};
use orgbase_domain::org::Org;
use orgbase_domain::store::Acceptance;
use orgbase_domain::{FieldError, secret};

use crate::context::OrgCtx;
use crate::fault::Fault;
use crate::flows::passwords::{hash_password, verify_password};
use crate::mail::{self, Mail};
use crate::state::AppState;

/// How long an invitation of `org` stays valid.
pub fn ttl(org: &Org) -> Duration {
    Duration::seconds(i64::from(org.props.security.invitation_ttl))
}

/// Mails an invitation with the link of the accept page (the token rides in the
/// link's fragment, see `mail::link`). A failure is logged: the invitation stands
/// and can be resent.
pub async fn mail_invitation(state: &AppState, org: &Org, connection: &Connection, token: &str) {
    let link = mail::link(state, org, "accept", token);
    let expires = orgbase_domain::time::render_date(connection.expires);
    let text = mail::Invitation { org_name: &org.props.name, link: &link, expires: &expires };
    match Mail::render(connection.email.to_string(), &text) {
        Ok(mail) => state.mailer.send(mail, state.clock.now()).await,
        Err(e) => tracing::error!(error = %e, "could not render the invitation mail"),
    }
}

/// The pending, unexpired connection of this org holding `token`.
pub async fn pending_for_token(state: &AppState, org: &Org, token: &str) -> Result<Connection, Fault> {
    let connection = state.store.connection_by_token(&secret::digest(token)).await?;
    let connection = connection
        .filter(|c| c.org == org.id && c.state == ConnectionState::Pending)
        .ok_or_else(|| Fault::not_found("Invitation"))?;
    if connection.expires <= state.clock.now() {
        return Err(Fault::invitation_expired());
    }
    Ok(connection)
}

/// The pending invitation of the org in the URL that `token` names, if it is for
/// the logged-in caller's email; with that account.
async fn own_invitation(state: &AppState, ctx: &OrgCtx, token: &str) -> Result<(Arc<Account>, Connection), Fault> {
    let account = ctx.caller.account()?.clone();
    let connection = pending_for_token(state, &ctx.org, token).await?;
    if connection.email != account.email {
        return Err(Fault::access_denied("This invitation is for another email address."));
    }
    Ok((account, connection))
}

/// Accepts an invitation as the logged-in account whose email it names.
pub async fn accept_logged_in(state: &AppState, ctx: &OrgCtx, token: &str) -> Result<MemberEntry, Fault> {
    let (account, _) = own_invitation(state, ctx, token).await?;
    // The token proves the email; the session proves the account.
    let how = Acceptance::Existing { keep: ctx.caller.session().map(|s| s.id) };
    let member = state.store.accept_connection(&secret::digest(token), &account, &how, state.clock.now()).await?;
    Ok(MemberEntry::new(member, &account))
}

/// Declines an invitation as the logged-in account whose email it names.
pub async fn decline(state: &AppState, ctx: &OrgCtx, token: &str) -> Result<Connection, Fault> {
    let (_, connection) = own_invitation(state, ctx, token).await?;
    Ok(state.store.close_connection(ctx.org.id, connection.id, ConnectionState::Declined, state.clock.now()).await?)
}

/// Registers through an invitation, in one transaction: the token proves the
/// email, so the account is verified. An unverified account with that email (its
/// password chosen by whoever registered the address) becomes the acceptor's: it
/// takes `account`'s name and password and its sessions end. A verified one must
/// log in to accept (409). Returns the account as it now is.
pub async fn register_with_token(state: &AppState, org: &Org, token: &str, account: Account) -> Result<Account, Fault> {
    let connection = pending_for_token(state, org, token).await?;
    if connection.email != account.email {
        return Err(Fault::access_denied("This invitation is for another email address."));
    }
    accept_as_new_or_reclaimed(state, token, account, None).await
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
    let hash = hash_password(password).await?;
    let account = Account::new(connection.email, name, Some(hash), state.clock.now());
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
            if !verify_password(current, existing.password_hash.clone()).await? {
                return Err(Fault::invalid_credentials());
            }
            (existing, Acceptance::Existing { keep: None })
        }
    };
    state.store.accept_connection(&digest, &accepted, &how, now).await?;
    Ok(accepted)
}
