//! The org context of every `/{org}/v2` request: the org named by the URL, the app
//! named by the client key, and who the caller is. Resolved once by the
//! [`resolve_org`] middleware and read by handlers through [`OrgCtx`].

use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use orgbase_domain::access::Level;
use orgbase_domain::app::App;
use orgbase_domain::org::{Org, OrgState};

use crate::fault::Fault;
use crate::state::AppState;

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    /// Anyone holding the org's client key.
    Public,
}

impl Caller {
    /// The caller's access level on the org.
    pub fn level(&self) -> Level {
        match self {
            Self::Public => Level::Public,
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

/// Resolves the org and checks the client key: an unknown org is 404, a missing or
/// foreign key 400 `kInvalidClient`, a disabled org 400 `kOrgDisabled`.
pub async fn resolve_org(
    State(state): State<AppState>,
    params: RawPathParams,
    mut req: Request,
    next: Next,
) -> Result<Response, Fault> {
    let code = params.iter().find(|(k, _)| *k == "org").map(|(_, v)| v).unwrap_or_default();
    let org = state.store.org_by_code(code).await?.ok_or_else(|| Fault::not_found("Org"))?;
    let key = client_key(&req).ok_or_else(Fault::invalid_client)?;
    let app = state.store.app_by_key(key).await?.filter(|a| a.org == org.id && a.enabled);
    let app = app.ok_or_else(Fault::invalid_client)?;
    if org.state == OrgState::Disabled {
        return Err(Fault::org_disabled());
    }
    req.extensions_mut().insert(OrgCtx { org: Arc::new(org), app: Arc::new(app), caller: Caller::Public });
    Ok(next.run(req).await)
}
