//! Helpers of the session, facility and taxonomy routes: who the caller must be
//! (an active member, or an Administrator, of the org in the URL), `If-None-Match`,
//! and ids in paths. No business rule lives here. The list and result envelopes
//! are response types (`crate::responses`).

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use orgbase_domain::Id;
use orgbase_domain::account::{Account, Member};
use orgbase_domain::level::Level;

use crate::context::OrgCtx;
use crate::fault::Fault;

/// The logged-in account and its active membership of the org in the URL.
pub fn active_member(ctx: &OrgCtx) -> Result<(&Arc<Account>, &Member), Fault> {
    let account = ctx.caller.account()?;
    let member =
        ctx.caller.member().ok_or_else(|| Fault::access_denied("Only active members of this org may do this."))?;
    Ok((account, member))
}

/// Fails unless the caller is an active Administrator of the org in the URL.
pub fn require_admin(ctx: &OrgCtx) -> Result<(), Fault> {
    active_member(ctx)?;
    if ctx.level() >= Level::Delete { Ok(()) } else { Err(Fault::access_denied("Only administrators may do this.")) }
}

/// An id from the path; a malformed one finds nothing (404 naming `what`).
pub fn path_id(raw: &str, what: &str) -> Result<Id, Fault> {
    Id::parse(raw).ok_or_else(|| Fault::not_found(what))
}

/// True when `If-None-Match` names `etag` (or `*`), weak or strong.
pub fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',').map(str::trim).any(|t| t == etag || t == "*" || t.strip_prefix("W/") == Some(etag))
    })
}
