//! The org context of every `/{org}/v2` request: the org named by the URL, the app
//! named by the client key, and who the caller is (a session by cookie or bearer
//! token, a signed server-to-server request, or nobody). Resolved once by the
//! [`ResolveOrgLayer`] and read by handlers through [`OrgCtx`].

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use axum::extract::{FromRequestParts, MatchedPath, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use orgbase_domain::Id;
use orgbase_domain::access::{Operation, Subject, Target, decide};
use orgbase_domain::account::{Account, LoginSession, Member, MemberState};
use orgbase_domain::app::App;
use orgbase_domain::level::Level;
use orgbase_domain::org::{Org, OrgState};
use orgbase_domain::roles::{ADMINISTRATOR, DEVELOPER};

use crate::auth::{self, CSRF_HEADER};
use crate::fault::Fault;
use crate::state::AppState;

/// Why a request that carried credentials is treated as not logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthProblem {
    /// The token is unknown, revoked, or belongs to another org.
    NotLoggedIn,
    /// The session lapsed.
    Expired,
}

/// How an account proved who it is.
#[derive(Debug, Clone)]
pub enum Proof {
    /// A login session, by `md.sid` cookie or bearer token.
    LoginSession {
        /// The session.
        session: LoginSession,
        /// The session token as presented (for the CSRF token).
        token: String,
        /// True when it came as a cookie (writes then need the CSRF header).
        cookie: bool,
    },
    /// A request signed with the app's secret.
    Signature,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    /// Anyone holding the org's client key; `problem` says why presented
    /// credentials were not accepted.
    Public {
        /// Set when credentials were presented but refused.
        problem: Option<AuthProblem>,
    },
    /// A signed request acting as the app itself.
    App,
    /// A logged-in account, with its membership here (if any).
    Account {
        /// The account.
        account: Arc<Account>,
        /// Its active membership in this org.
        member: Option<Arc<Member>>,
        /// A non-member holding a pending invitation to this org.
        connected: bool,
        /// How it authenticated.
        proof: Proof,
    },
}

impl Caller {
    /// The active membership of the caller here, if any.
    pub fn member(&self) -> Option<&Member> {
        match self {
            Self::Account { member: Some(m), .. } if m.state == MemberState::Active => Some(m),
            _ => None,
        }
    }

    /// The logged-in account, or the fault that explains why there is none.
    pub fn account(&self) -> Result<&Arc<Account>, Fault> {
        match self {
            Self::Account { account, .. } => Ok(account),
            Self::Public { problem: Some(AuthProblem::Expired) } => Err(Fault::session_expired()),
            Self::Public { .. } | Self::App => Err(Fault::not_logged_in()),
        }
    }

    /// The login session, when the caller used one.
    pub fn session(&self) -> Option<&LoginSession> {
        match self {
            Self::Account { proof: Proof::LoginSession { session, .. }, .. } => Some(session),
            _ => None,
        }
    }

    /// The caller as the access policy sees it.
    pub fn subject(&self, org: &Org) -> Subject {
        match (self.member(), self) {
            (Some(member), _) => Subject::member(&member.roles, &org.roles()),
            (None, Self::Account { connected: true, .. }) => Subject::connected(),
            (None, _) => Subject::outsider(),
        }
    }

    /// The caller's account id, if logged in.
    pub fn account_id(&self) -> Option<Id> {
        match self {
            Self::Account { account, .. } => Some(account.id),
            _ => None,
        }
    }
}

/// The resolved context of an org-scoped request.
#[derive(Debug, Clone)]
pub struct OrgCtx {
    /// The org named by the URL.
    pub org: Arc<Org>,
    /// The app named by the client key.
    pub app: Arc<App>,
    /// The caller.
    pub caller: Caller,
}

impl OrgCtx {
    /// The caller as the access policy sees it.
    pub fn subject(&self) -> Subject {
        self.caller.subject(&self.org)
    }

    /// 404 unless `id` (from a `/orgs/{id}/…` URL) is this org's id.
    pub fn check_org_id(&self, id: &str) -> Result<(), Fault> {
        if Id::parse(id) == Some(self.org.id) { Ok(()) } else { Err(Fault::not_found("Org")) }
    }

    /// The caller's access level on the org.
    pub fn level(&self) -> Level {
        self.subject().org_level()
    }

    /// Asks the access policy; a denial is 403 `kAccessDenied` (or, for a caller
    /// who is not logged in, the login fault).
    pub fn authorize(&self, target: Target<'_>, op: Operation, what: &str) -> Result<(), Fault> {
        if decide(&self.subject(), target, op).allowed {
            return Ok(());
        }
        if matches!(self.caller, Caller::Public { .. } | Caller::App) {
            self.caller.account()?;
        }
        Err(Fault::access_denied(format!("You may not {} {what}.", op_verb(op))))
    }
}

fn op_verb(op: Operation) -> &'static str {
    match op {
        Operation::Read => "read",
        Operation::Create => "create",
        Operation::Update => "update",
        Operation::Delete => "delete",
    }
}

impl<S: Send + Sync> FromRequestParts<S> for OrgCtx {
    type Rejection = Fault;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Self>().cloned().ok_or_else(|| Fault::internal(&"org context missing"))
    }
}

/// The client key of a request, from `Medable-Client-Key` or `Orgbase-Client-Key`.
fn client_key(req: &Request) -> Option<&str> {
    let headers = req.headers();
    headers.get("medable-client-key").or_else(|| headers.get("orgbase-client-key")).and_then(|v| v.to_str().ok())
}

/// Routes that stay open in maintenance mode, so that apps can show the message
/// and administrators can log in.
const MAINTENANCE_OPEN: &[&str] =
    &["/{org}/v2/accounts/login", "/{org}/v2/accounts/me/logout", "/{org}/v2/accounts/status"];

/// The public read stays open in maintenance mode.
fn open_in_maintenance(route: &str, method: &Method) -> bool {
    MAINTENANCE_OPEN.contains(&route) || (route.trim_end_matches('/') == "/{org}/v2" && *method == Method::GET)
}

/// Routes that authenticate by their body, not by a session: no CSRF check.
const CSRF_EXEMPT: &[&str] = &[
    "/accounts/login",
    "/accounts/register",
    "/accounts/request-password-reset",
    "/accounts/reset-password",
    "/accounts/verify",
];

/// The org code of an `/{org}/v2/…` request: the first segment of the path as the
/// client sent it (the nested router has stripped it from `req.uri()`), decoded.
fn org_code(req: &Request) -> Option<Cow<'_, str>> {
    let path = req.extensions().get::<OriginalUri>().map_or_else(|| req.uri().path(), |o| o.0.path());
    let segment = path.trim_start_matches('/').split('/').next()?;
    percent_encoding::percent_decode_str(segment).decode_utf8().ok()
}

/// Runs [`resolve`] before every org route: a tower layer, not axum's `from_fn`,
/// which per request also boxed the inner service again and copied the path's
/// parameters (W1 runs through it).
#[derive(Clone)]
pub struct ResolveOrgLayer(pub AppState);

impl<S> tower::Layer<S> for ResolveOrgLayer {
    type Service = ResolveOrg<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ResolveOrg { state: self.0.clone(), inner }
    }
}

/// A route behind [`ResolveOrgLayer`].
#[derive(Clone)]
pub struct ResolveOrg<S> {
    state: AppState,
    inner: S,
}

impl<S> tower::Service<Request> for ResolveOrg<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The service made ready goes with this request; its clone waits for the next.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let state = self.state.clone();
        // The route's template goes on the response for the metrics (`edge`), as
        // `telemetry::ExposeRoute` does for the routes outside `/{org}/v2`.
        let route = req.extensions().get::<MatchedPath>().cloned();
        Box::pin(async move {
            let mut res = match resolve(&state, route.as_ref(), req).await {
                Ok((req, csrf, authenticated)) => {
                    let mut res = inner.call(req).await?;
                    if authenticated {
                        private_no_cache(&mut res);
                    }
                    if let Some(csrf) = csrf
                        && !res.headers().contains_key(CSRF_HEADER)
                        && let Ok(value) = HeaderValue::from_str(&csrf)
                    {
                        res.headers_mut().insert(CSRF_HEADER, value);
                    }
                    res
                }
                Err(fault) => fault.into_response(),
            };
            if let Some(route) = route {
                res.extensions_mut().insert(route);
            }
            Ok(res)
        })
    }
}

/// Marks an answer to an authenticated caller (every answer is JSON, faults too,
/// which `edge` renders later) `Cache-Control: private, no-cache`: no shared
/// cache keeps it, and a browser revalidates it (`ETag`). An answer that sets its
/// own policy (public data such as the taxonomy) keeps it.
pub fn private_no_cache(res: &mut Response) {
    if !res.headers().contains_key(axum::http::header::CACHE_CONTROL) {
        res.headers_mut().insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    }
}

/// Resolves the org and checks the client key: an unknown org is 404, a missing,
/// foreign or disabled app's key 400 `kInvalidClient`, a disabled org 400
/// `kOrgDisabled`. Then resolves the caller and, for a cookie-authenticated write,
/// checks the CSRF token (or, for an app with `csrf` off, the request's `Origin`).
/// Returns the request carrying its [`OrgCtx`], for a session the CSRF token
/// that authenticated responses carry as `Medable-Csrf-Token`, and whether the
/// caller is authenticated (a session or a signature).
async fn resolve(
    state: &AppState,
    matched: Option<&MatchedPath>,
    mut req: Request,
) -> Result<(Request, Option<String>, bool), Fault> {
    let code = org_code(&req).ok_or_else(|| Fault::not_found("Org"))?;
    let org = state.store.org_by_code(&code).await?.ok_or_else(|| Fault::not_found("Org"))?;
    let key = client_key(&req).ok_or_else(Fault::invalid_client)?;
    let app = state.store.app_by_key(key).await?.filter(|a| a.org == org.id && a.enabled);
    let app = app.ok_or_else(Fault::invalid_client)?;
    if org.state == OrgState::Disabled {
        return Err(Fault::org_disabled());
    }
    let caller = if auth::is_signed(req.headers()) {
        // The nested router strips `/{org}/v2`; sign over the original path.
        let uri = req.extensions().get::<OriginalUri>().map_or_else(|| req.uri().clone(), |o| o.0.clone());
        let method = req.method().clone();
        let line = auth::RequestLine { method: &method, path: uri.path(), query: uri.query().unwrap_or_default() };
        if auth::signature_version(req.headers()) == Some(2) {
            // Version 2 covers the body: read it (within the body limit) and put it back.
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, state.config.body_limit).await.map_err(|_| Fault::too_large())?;
            let caller = auth::verify_signed_request(state, &org, &app, line, &parts.headers, Some(&bytes)).await?;
            req = Request::from_parts(parts, axum::body::Body::from(bytes));
            caller
        } else {
            auth::verify_signed_request(state, &org, &app, line, req.headers(), None).await?
        }
    } else {
        auth::session_caller(state, &org, req.headers()).await?
    };
    let route = matched.map_or("", MatchedPath::as_str);
    let exempt = CSRF_EXEMPT.iter().any(|suffix| route.ends_with(suffix));
    let csrf = match &caller {
        Caller::Account { proof: Proof::LoginSession { token, cookie, .. }, .. } => {
            let expected = auth::csrf_token(token);
            let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
            let waived = auth::csrf_waived(req.headers(), &app);
            if *cookie && !safe && !exempt && !waived && !auth::csrf_matches(req.headers(), &expected) {
                return Err(Fault::csrf_mismatch());
            }
            Some(expected)
        }
        _ => None,
    };
    if org.props.maintenance && !open_in_maintenance(route, req.method()) {
        let subject = caller.subject(&org);
        if !(subject.has_role(ADMINISTRATOR) || subject.has_role(DEVELOPER)) {
            let reason = org.props.maintenance_message.clone().unwrap_or_else(|| "The org is in maintenance.".into());
            return Err(Fault::maintenance(reason));
        }
    }
    let authenticated = !matches!(caller, Caller::Public { .. });
    req.extensions_mut().insert(OrgCtx { org, app, caller });
    Ok((req, csrf, authenticated))
}
