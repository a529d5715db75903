//! Members of an org: list (filters `role`, `state`, `search`, keyset paging), read,
//! change roles or state (administrators), and remove (administrators, or the member
//! themself). The last active Administrator can never be removed, demoted or
//! suspended; the store enforces that atomically. A member removed or suspended
//! leaves the org's sessions in the same transaction: the sessions it owns pass to
//! the acting administrator (else the earliest-joined active one).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use orgbase_domain::access::{Operation, Target};
use orgbase_domain::account::{MemberEntry, MemberState};
use orgbase_domain::store::{Admins, MemberFilter};
use orgbase_domain::{FieldError, Id};
use serde::Deserialize;

use crate::context::OrgCtx;
use crate::extract::{ApiJson, Paging, QueryPairs};
use crate::fault::Fault;
use crate::responses::{DoneResponse, ListResponse, MemberResponse, json};
use crate::state::AppState;

/// The body of `PATCH /members/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    /// Role ids, codes or names; replaces the member's roles.
    #[schema(schema_with = nullable_roles)]
    pub roles: Option<Vec<String>>,
    /// `active` or `suspended`.
    #[schema(schema_with = nullable_state)]
    pub state: Option<String>,
}

fn nullable_roles() -> utoipa::openapi::schema::Array {
    crate::openapi::fields::roles(true)
}

fn nullable_state() -> utoipa::openapi::Object {
    crate::openapi::fields::one_of(&["active", "suspended"], true)
}

fn member_id(id: &str) -> Result<Id, Fault> {
    Id::parse(id).ok_or_else(|| Fault::not_found("Member"))
}

/// The filter that a list's query names (`role`, `state`, `search`), and what
/// is wrong in it.
fn member_filter(ctx: &OrgCtx, query: Vec<(String, String)>) -> (MemberFilter, Vec<FieldError>) {
    let mut filter = MemberFilter::default();
    let mut faults = Vec::new();
    for (k, v) in query {
        match k.as_str() {
            "role" => match ctx.org.resolve_roles("role", &[v]) {
                Ok(ids) => filter.role = ids.first().copied(),
                Err(e) => faults.push(e),
            },
            "state" => match MemberState::parse(&v) {
                Some(s) => filter.state = Some(s),
                None => faults.push(FieldError::new("state", "state is active or suspended.")),
            },
            // No stored text holds U+0000 (`domain::limits::NUL`), and PostgreSQL can't take it.
            "search" if v.contains('\0') => faults.push(FieldError::new("search", orgbase_domain::limits::NUL)),
            "search" if !v.trim().is_empty() => filter.search = Some(v.trim().chars().take(100).collect()),
            _ => {}
        }
    }
    (filter, faults)
}

/// Lists the org's members.
#[utoipa::path(get, path = "/{org}/v2/members", tag = "members",
    params(("org" = String, Path), ("role" = Option<String>, Query), ("state" = Option<String>, Query),
           ("search" = Option<String>, Query, description = "Email or name prefix"), ("limit" = Option<u32>, Query),
           ("startingAfter" = Option<String>, Query), ("endingBefore" = Option<String>, Query)),
    responses((status = 200, body = ListResponse<MemberResponse>), (status = 403, body = Fault)))]
pub async fn list_members(
    State(state): State<AppState>,
    ctx: OrgCtx,
    QueryPairs(query): QueryPairs,
    Paging(params): Paging,
) -> Result<Response, Fault> {
    ctx.authorize(Target::Member { own: false }, Operation::Read, "the members")?;
    let (filter, mut faults) = member_filter(&ctx, query);
    let req = params.validate(&["_id"]).map_err(|e| {
        faults.extend(e);
        Fault::validation(faults.clone())
    })?;
    if !faults.is_empty() {
        return Err(Fault::validation(faults));
    }
    let page = state.store.list_members(ctx.org.id, &filter, &req).await?;
    Ok(ListResponse::of(&page, MemberResponse::from).into_response())
}

/// Reads one member.
#[utoipa::path(get, path = "/{org}/v2/members/{id}", tag = "members", params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = MemberResponse), (status = 404, body = Fault)))]
pub async fn get_member(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, Fault> {
    ctx.authorize(Target::Member { own: false }, Operation::Read, "the members")?;
    let entry =
        state.store.member_by_id(ctx.org.id, member_id(&id)?).await?.ok_or_else(|| Fault::not_found("Member"))?;
    Ok(json(MemberResponse::from(&entry)))
}

/// Sets a member's roles or state (administrators).
#[utoipa::path(patch, path = "/{org}/v2/members/{id}", tag = "members", request_body = UpdateMemberRequest,
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = MemberResponse), (status = 403, body = Fault), (status = 409, body = Fault)))]
pub async fn update_member(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateMemberRequest>,
) -> Result<Response, Fault> {
    ctx.authorize(Target::Member { own: false }, Operation::Update, "members")?;
    let roles = body.roles.as_deref().map(|r| ctx.org.resolve_roles("roles", r)).transpose()?;
    let new_state = body
        .state
        .as_deref()
        .map(|s| MemberState::parse(s).ok_or_else(|| FieldError::new("state", "state is active or suspended.")))
        .transpose()?;
    let id = member_id(&id)?;
    let roles_of_admins = ctx.org.admin_role_ids();
    let admins = Admins { roles: &roles_of_admins, acting: ctx.caller.account_id() };
    let now = state.clock.now();
    state.store.update_member(ctx.org.id, id, roles.as_deref(), new_state, admins, now).await?;
    get_member(State(state), ctx.clone(), Path((String::new(), id.to_string()))).await
}

/// Removes a member: an administrator, or the member themself.
#[utoipa::path(delete, path = "/{org}/v2/members/{id}", tag = "members", params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = DoneResponse), (status = 403, body = Fault), (status = 409, body = Fault)))]
pub async fn delete_member(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, Fault> {
    ctx.authorize(Target::Member { own: true }, Operation::Read, "the members")?;
    let MemberEntry { member, .. } =
        state.store.member_by_id(ctx.org.id, member_id(&id)?).await?.ok_or_else(|| Fault::not_found("Member"))?;
    let own = ctx.caller.account_id() == Some(member.account);
    ctx.authorize(Target::Member { own }, Operation::Delete, "this member")?;
    let roles_of_admins = ctx.org.admin_role_ids();
    let admins = Admins { roles: &roles_of_admins, acting: ctx.caller.account_id() };
    state.store.delete_member(ctx.org.id, member.id, admins, state.clock.now()).await?;
    Ok(DoneResponse::done().into_response())
}
