//! The public pages that mailed links open: `/{org}/accept` (an invitation),
//! `/{org}/verify` (an email verification) and `/{org}/reset` (a password reset).
//!
//! A mailed link carries its token in the URL fragment (`#token=…`), which browsers
//! never send to a server, so tokens reach no access log, proxy or `Referer`. The
//! page's script reads the fragment and posts the token, with what the form asks,
//! in the body of a `POST` to the same path. These handlers call the same functions
//! as the API's (`flows::account_links::verify_with`, `flows::account_links::reset_with`,
//! `flows::invitations::accept_with`): a page is another view, never another way in. The
//! pages are server-rendered (askama, checked at compile time) and served with a
//! strict Content-Security-Policy: no inline script, nothing from another origin.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use orgbase_domain::account::PersonName;
use orgbase_domain::org::{Org, OrgState};
use serde::Deserialize;
use serde_json::json;

use crate::client_addr::ClientIp;
use crate::extract::ApiJson;
use crate::fault::Fault;
use crate::flows::{account_links, invitations};
use crate::state::AppState;

/// The Content-Security-Policy of every page: scripts, styles and requests only
/// from orgbase itself, no framing, no plugins.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// One input of a page's form.
struct Field {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    required: bool,
}

#[derive(Template)]
#[template(path = "token_page.html")]
struct TokenPage<'a> {
    purpose: &'static str,
    org_name: &'a str,
    title: &'static str,
    intro: String,
    fields: Vec<Field>,
    submit: &'static str,
}

const NEW_PASSWORD: Field =
    Field { name: "password", label: "Password", kind: "password", autocomplete: "new-password", required: true };

/// The org of a page's URL: unknown or disabled orgs have no pages.
async fn org_of(state: &AppState, code: &str) -> Result<Arc<Org>, Fault> {
    let org = state.store.org_by_code(code).await?.ok_or_else(|| Fault::not_found("Org"))?;
    if org.state == OrgState::Disabled {
        return Err(Fault::org_disabled());
    }
    Ok(org)
}

fn html(page: &TokenPage<'_>) -> Result<Response, Fault> {
    let body = page.render().map_err(|e| Fault::internal(&e))?;
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(res)
}

fn done(message: String) -> Response {
    let mut res = axum::Json(json!({"object": "result", "data": {"message": message}})).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `GET /{org}/accept`: accept an invitation.
pub async fn accept_page(State(state): State<AppState>, Path(code): Path<String>) -> Result<Response, Fault> {
    let org = org_of(&state, &code).await?;
    html(&TokenPage {
        purpose: "accept",
        org_name: &org.props.name,
        title: "Accept your invitation",
        intro: format!(
            "Join {} with a name and a password of your choosing. If this address already has an account, \
             give its password and leave the name empty.",
            org.props.name
        ),
        fields: vec![
            Field { name: "first", label: "First name", kind: "text", autocomplete: "given-name", required: false },
            Field { name: "last", label: "Last name", kind: "text", autocomplete: "family-name", required: false },
            NEW_PASSWORD,
        ],
        submit: "Join",
    })
}

/// `GET /{org}/verify`: verify an email.
pub async fn verify_page(State(state): State<AppState>, Path(code): Path<String>) -> Result<Response, Fault> {
    let org = org_of(&state, &code).await?;
    html(&TokenPage {
        purpose: "verify",
        org_name: &org.props.name,
        title: "Verify your email",
        intro: "Choose the password of your account to finish. Whoever uses this link holds the account from now \
                on, so only you should have it."
            .to_owned(),
        fields: vec![NEW_PASSWORD],
        submit: "Verify",
    })
}

/// `GET /{org}/reset`: choose a new password.
pub async fn reset_page(State(state): State<AppState>, Path(code): Path<String>) -> Result<Response, Fault> {
    let org = org_of(&state, &code).await?;
    html(&TokenPage {
        purpose: "reset",
        org_name: &org.props.name,
        title: "Choose a new password",
        intro: "Every session of your account ends when the new password is set.".to_owned(),
        fields: vec![NEW_PASSWORD],
        submit: "Set password",
    })
}

/// The body a page posts: the token from the link's fragment and the form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageRequest {
    /// The token from the mailed link.
    pub token: String,
    /// The password to set (or, to accept with an existing account, its password).
    pub password: String,
    /// The name of a new account (accept only).
    pub name: Option<PersonName>,
}

impl std::fmt::Debug for PageRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageRequest")
            .field("token", &"<redacted>")
            .field("password", &"<redacted>")
            .field("name", &self.name)
            .finish()
    }
}

/// `POST /{org}/accept`.
pub async fn accept(
    State(state): State<AppState>,
    Path(code): Path<String>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<PageRequest>,
) -> Result<Response, Fault> {
    let org = org_of(&state, &code).await?;
    // A password may be checked here (an existing account's): limited like a login.
    state.limits.check(&state, "accept", ip, None).await?;
    let account = invitations::accept_with(&state, &org, &body.token, body.name, body.password).await?;
    Ok(done(format!("{} is now a member of {}. You can log in.", account.email, org.props.name)))
}

/// `POST /{org}/verify`.
pub async fn verify(
    State(state): State<AppState>,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<PageRequest>,
) -> Result<Response, Fault> {
    let org = org_of(&state, &code).await?;
    no_name(&body)?;
    let account = account_links::verify_with(&state, &org, &body.token, body.password).await?;
    Ok(done(format!("{} is verified. You can log in with your new password.", account.email)))
}

/// `POST /{org}/reset`.
pub async fn reset(
    State(state): State<AppState>,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<PageRequest>,
) -> Result<Response, Fault> {
    let org = org_of(&state, &code).await?;
    no_name(&body)?;
    account_links::reset_with(&state, &org, &body.token, body.password).await?;
    Ok(done("Your password is set. You can log in with it.".to_owned()))
}

fn no_name(body: &PageRequest) -> Result<(), Fault> {
    match body.name {
        Some(_) => Err(Fault::invalid_argument("This page takes no name.").at("name")),
        None => Ok(()),
    }
}

/// `GET /assets/pages.js`: the pages' one script.
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("../assets/pages.js"))
}

/// `GET /assets/pages.css`: the pages' style.
pub async fn style() -> Response {
    asset("text/css; charset=utf-8", include_str!("../assets/pages.css"))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}
