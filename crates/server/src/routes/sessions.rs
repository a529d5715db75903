//! Live sessions under `/{org}/v2/sessions`: create, read, list, edit, start, end,
//! delete; their participants; media join tokens; and `GET /accounts/me/sessions`.
//! Who may do what is decided by `domain::live_session::can` alone.
//!
//! Sessions of another org: a login is valid only in the org where it was made, so
//! a participant from another org reaches a session through its own org's URL,
//! `/{login org}/v2/sessions/{id}`, and only through the org its participation came
//! in by (its recorded home org), while an active member there
//! (`domain::live_session::Standing::through`). There its permissions apply, but admin
//! or member standing applies only in the owning org's URL. Org-scoped lists
//! (`/{org}/v2/sessions`) show that org's sessions; `/accounts/me/sessions` shows
//! every session the caller takes part in and can reach by these rules.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use orgbase_domain::account::MemberState;
use orgbase_domain::facility::resolve_place;
use orgbase_domain::level::Level;
use orgbase_domain::live_session::{
    self, LiveSession, Membership, NewSession, Participant, Permissions, SESSION_SORT_FIELDS, SessionOp, SessionPatch,
    SessionQuery, SessionScope, SessionState, Standing, can, check_grant, home_org,
};
use orgbase_domain::org::OrgState;
use orgbase_domain::time::Date;
use orgbase_domain::{DomainError, FieldError, Id, StoreError};
use serde::Deserialize;

use crate::context::OrgCtx;
use crate::extract::{ApiJson, MergePatch, Paging, QueryPairs, nullable, present};
use crate::fault::Fault;
use crate::media::{JOIN_TOKEN_TTL_SECONDS, JoinClaims};
use crate::responses::{DoneResponse, JoinTokenResponse, ListResponse, ParticipantResponse, SessionResponse, json};
use crate::routes::common::{active_member, path_id};
use crate::state::AppState;

/// The body of `POST /sessions`. Codes come from the session taxonomy.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSessionRequest {
    /// The label, 1–100 characters.
    pub name: String,
    /// A `/taxonomy/session/types` code.
    #[serde(rename = "type")]
    pub session_type: String,
    /// A `/taxonomy/user/specialities` code.
    pub speciality: Option<String>,
    /// A `/taxonomy/session/durations` code (`PT1H30M`).
    pub estimated_duration: Option<String>,
    /// `PRIVATE` (default: participants only) or `ORGANISATION` (every member reads it).
    pub access: Option<String>,
    /// A facility of this org.
    #[schema(value_type = Option<String>)]
    pub facility: Option<Id>,
    /// A room of that facility (it implies the facility).
    #[schema(value_type = Option<String>)]
    pub room: Option<Id>,
    /// RFC 3339; now when absent.
    pub scheduled_start: Option<String>,
}

/// The body of `PATCH /sessions/{id}`: the fields to change (`null` clears an
/// optional one), or `set`/`unset`/`remove` ops. A new facility without a room
/// clears the room.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateSessionRequest {
    /// A new label.
    #[serde(default, deserialize_with = "present")]
    pub name: Option<String>,
    /// A new session type code.
    #[serde(rename = "type", default, deserialize_with = "present")]
    pub session_type: Option<String>,
    /// A new speciality code, or `null`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub speciality: Option<Option<String>>,
    /// A new duration code, or `null`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub estimated_duration: Option<Option<String>>,
    /// `PRIVATE` or `ORGANISATION`.
    #[serde(default, deserialize_with = "present")]
    pub access: Option<String>,
    /// A facility of the session's org, or `null`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub facility: Option<Option<Id>>,
    /// A room of the facility, or `null`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub room: Option<Option<Id>>,
    /// A new planned start, RFC 3339.
    #[serde(default, deserialize_with = "present")]
    pub scheduled_start: Option<String>,
}

/// The six permissions of a participant, as a request grants them; absent ones
/// are false.
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
#[schema(as = PermissionGrant)]
pub struct PermissionGrant {
    /// Change the session's fields, and start it.
    pub can_edit_session: bool,
    /// Add participants, change their permissions, remove them.
    pub can_invite_participants: bool,
    /// Close a participant's video feed.
    pub can_close_video_feed: bool,
    /// End the session.
    pub can_end_session: bool,
    /// Clear every drawing.
    pub can_clear_all_drawings: bool,
    /// Record the session.
    pub can_record_session: bool,
}

impl From<PermissionGrant> for Permissions {
    fn from(g: PermissionGrant) -> Self {
        Self {
            can_edit_session: g.can_edit_session,
            can_invite_participants: g.can_invite_participants,
            can_close_video_feed: g.can_close_video_feed,
            can_end_session: g.can_end_session,
            can_clear_all_drawings: g.can_clear_all_drawings,
            can_record_session: g.can_record_session,
        }
    }
}

/// The body of `POST /sessions/{id}/participants`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddParticipantRequest {
    /// The account: an active member of this org, or of an org that allows
    /// external participants.
    #[schema(value_type = String)]
    pub account: Id,
    /// What it may do; none of them when absent. The caller grants only what it holds.
    #[serde(default)]
    pub permissions: PermissionGrant,
}

/// The body of `PATCH /sessions/{id}/participants/{account}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateParticipantRequest {
    /// The new permissions, replacing the old ones.
    pub permissions: PermissionGrant,
}

impl CreateSessionRequest {
    fn into_new(self) -> NewSession {
        NewSession {
            name: self.name,
            session_type: self.session_type,
            speciality: self.speciality,
            estimated_duration: self.estimated_duration,
            access: self.access,
            scheduled_start: self.scheduled_start,
        }
    }
}

impl UpdateSessionRequest {
    fn into_patch(self) -> SessionPatch {
        SessionPatch {
            name: self.name,
            session_type: self.session_type,
            speciality: self.speciality,
            estimated_duration: self.estimated_duration,
            access: self.access,
            scheduled_start: self.scheduled_start,
        }
    }
}

/// A session that the caller may read, and how the caller stands towards it.
struct Visible {
    session: LiveSession,
    standing: Standing,
    account: Id,
}

impl Visible {
    /// Fails with 403 unless the caller may do `op`.
    fn allow(&self, op: SessionOp) -> Result<(), Fault> {
        if can(op, &self.standing, self.session.access) { Ok(()) } else { Err(Fault::access_denied(op.requirement())) }
    }
}

/// Loads a session for an active member of the org in the URL. One it may not read
/// is 404, as if it did not exist.
async fn visible(state: &AppState, ctx: &OrgCtx, id: &str) -> Result<Visible, Fault> {
    let (account, _) = active_member(ctx)?;
    let id = path_id(id, "Session")?;
    let session = state.store.live_session(id).await?.ok_or_else(|| Fault::not_found("Session"))?;
    let standing = Standing::through(&session, account.id, ctx.org.id, ctx.level() >= Level::Delete);
    if !can(SessionOp::Read, &standing, session.access) {
        return Err(Fault::not_found("Session"));
    }
    Ok(Visible { session, standing, account: account.id })
}

fn render(state: &AppState, session: &LiveSession) -> Response {
    json(SessionResponse::new(session, &state.config.media_base_url()))
}

/// Finds the requested facility and room among the org's: unknown ones, or a room
/// of another facility, are field errors.
async fn find_place(
    state: &AppState,
    org: Id,
    facility: Option<Id>,
    room: Option<Id>,
) -> Result<Result<(Option<Id>, Option<Id>), FieldError>, Fault> {
    if let Some(f) = facility
        && state.store.facility(org, f).await?.is_none()
    {
        return Ok(Err(FieldError::new("facility", "This org has no facility with this id.")));
    }
    let room = match room {
        None => None,
        Some(r) => match state.store.room(org, r).await? {
            Some(room) => Some(room),
            None => return Ok(Err(FieldError::new("room", "This org has no room with this id."))),
        },
    };
    Ok(resolve_place(facility, room.as_ref()))
}

/// Reports the place's fault with the other fields' faults, all at once.
fn with_place_fault<P, T>(place: Result<P, FieldError>, made: Result<T, Vec<FieldError>>) -> Result<T, Fault> {
    match (place, made) {
        (Ok(_), Ok(made)) => Ok(made),
        (place, made) => {
            let mut faults = made.err().unwrap_or_default();
            faults.extend(place.err());
            Err(Fault::validation(faults))
        }
    }
}

/// A facility or room deleted between the check and the write.
fn place_gone(e: StoreError) -> Fault {
    match e {
        StoreError::NotFound => Fault::validation(vec![FieldError::new("facility", "The facility or room is gone.")]),
        other => other.into(),
    }
}

/// The list filters `state`, `owner` and `participant`.
fn session_query(scope: SessionScope, pairs: Vec<(String, String)>) -> Result<SessionQuery, Fault> {
    let mut query = SessionQuery { scope, state: None, owner: None, participant: None };
    let mut faults = Vec::new();
    for (key, value) in pairs {
        let id = |faults: &mut Vec<FieldError>| {
            let id = Id::parse(&value);
            if id.is_none() {
                faults.push(FieldError::new(key.as_str(), format!("{key} is an account _id.")));
            }
            id
        };
        match key.as_str() {
            "state" => {
                query.state = SessionState::parse(&value);
                if query.state.is_none() {
                    faults.push(FieldError::new("state", "state is scheduled, live or ended."));
                }
            }
            "owner" => query.owner = id(&mut faults),
            "participant" => query.participant = id(&mut faults),
            _ => {}
        }
    }
    if faults.is_empty() { Ok(query) } else { Err(Fault::validation(faults)) }
}

const LIST_PARAMS: &str = "state (scheduled|live|ended), owner and participant (account ids), \
    limit, skip, startingAfter, endingBefore, sort (_id, scheduledStart, created or name; '-' for descending)";

async fn list_in(state: &AppState, query: SessionQuery, paging: Paging) -> Result<Response, Fault> {
    let page = paging.0.validate(SESSION_SORT_FIELDS).map_err(Fault::validation)?;
    let media = state.config.media_base_url();
    let sessions = state.store.list_live_sessions(&query, &page).await?;
    Ok(ListResponse::of(&sessions, |s| SessionResponse::new(s, &media)).into_response())
}

/// Lists the org's sessions: all of them for an administrator, otherwise those the
/// member takes part in and those with `ORGANISATION` access.
#[utoipa::path(get, path = "/{org}/v2/sessions", tag = "sessions", params(("org" = String, Path)),
    description = LIST_PARAMS,
    responses((status = 200, body = ListResponse<SessionResponse>), (status = 400, body = Fault),
              (status = 403, body = Fault)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    ctx: OrgCtx,
    paging: Paging,
    QueryPairs(query): QueryPairs,
) -> Result<Response, Fault> {
    let (account, _) = active_member(&ctx)?;
    let scope = if ctx.level() >= Level::Delete {
        SessionScope::Org(ctx.org.id)
    } else {
        SessionScope::OrgMember { org: ctx.org.id, account: account.id }
    };
    list_in(&state, session_query(scope, query)?, paging).await
}

/// Lists every session the caller takes part in, of any org, that it can reach:
/// through the owning org or the org its participation came in by, where it is an
/// active member.
#[utoipa::path(get, path = "/{org}/v2/accounts/me/sessions", tag = "sessions", params(("org" = String, Path)),
    description = LIST_PARAMS,
    responses((status = 200, body = ListResponse<SessionResponse>), (status = 400, body = Fault),
              (status = 403, body = Fault)))]
pub async fn list_my_sessions(
    State(state): State<AppState>,
    ctx: OrgCtx,
    paging: Paging,
    QueryPairs(query): QueryPairs,
) -> Result<Response, Fault> {
    let account = ctx.caller.account()?;
    list_in(&state, session_query(SessionScope::Participant(account.id), query)?, paging).await
}

/// Creates a session in this org (any active member). The creator is its owner and
/// holds every permission.
#[utoipa::path(post, path = "/{org}/v2/sessions", tag = "sessions", request_body = CreateSessionRequest,
    params(("org" = String, Path)),
    responses((status = 200, body = SessionResponse), (status = 400, body = Fault), (status = 403, body = Fault)))]
pub async fn create_session(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ApiJson(body): ApiJson<CreateSessionRequest>,
) -> Result<Response, Fault> {
    let (account, _) = active_member(&ctx)?;
    let place = find_place(&state, ctx.org.id, body.facility, body.room).await?;
    let at = place.clone().unwrap_or_default();
    let made = LiveSession::create(body.into_new(), ctx.org.id, account.id, at, state.clock.now());
    let session = with_place_fault(place, made)?;
    state.store.insert_live_session(&session).await.map_err(place_gone)?;
    Ok(render(&state, &session))
}

/// Reads a session (its participants, the owning org's administrators, and its
/// members when `access` is `ORGANISATION`).
#[utoipa::path(get, path = "/{org}/v2/sessions/{id}", tag = "sessions",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = SessionResponse), (status = 403, body = Fault), (status = 404, body = Fault)))]
pub async fn get_session(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, Fault> {
    Ok(render(&state, &visible(&state, &ctx, &id).await?.session))
}

/// Changes a session's fields (`canEditSession`); an ended session is 409.
#[utoipa::path(patch, path = "/{org}/v2/sessions/{id}", tag = "sessions", request_body = UpdateSessionRequest,
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = SessionResponse), (status = 400, body = Fault), (status = 403, body = Fault),
              (status = 404, body = Fault), (status = 409, body = Fault)))]
pub async fn patch_session(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    MergePatch(body): MergePatch<UpdateSessionRequest>,
) -> Result<Response, Fault> {
    let v = visible(&state, &ctx, &id).await?;
    v.allow(SessionOp::Edit)?;
    let place = match (body.facility, body.room) {
        (None, None) => Ok(None),
        (facility, room) => {
            let room = room.unwrap_or(if facility.is_some() { None } else { v.session.room });
            let facility = facility.unwrap_or(v.session.facility);
            find_place(&state, v.session.org, facility, room).await?.map(Some)
        }
    };
    let made = body.into_patch().validate(place.clone().ok().flatten());
    let changes = with_place_fault(place, made)?;
    let session =
        state.store.update_live_session(v.session.id, &changes, state.clock.now()).await.map_err(place_gone)?;
    Ok(render(&state, &session))
}

/// Deletes a session (an Administrator of the owning org).
#[utoipa::path(delete, path = "/{org}/v2/sessions/{id}", tag = "sessions",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = DoneResponse), (status = 403, body = Fault),
              (status = 404, body = Fault)))]
pub async fn delete_session(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, Fault> {
    let v = visible(&state, &ctx, &id).await?;
    v.allow(SessionOp::Delete)?;
    state.store.delete_live_session(v.session.id).await?;
    Ok(DoneResponse::done().into_response())
}

async fn move_session(
    state: &AppState,
    ctx: &OrgCtx,
    id: &str,
    op: SessionOp,
    to: SessionState,
) -> Result<Response, Fault> {
    let v = visible(state, ctx, id).await?;
    v.allow(op)?;
    v.session.state.check_move(to)?;
    let moved = state.store.move_live_session(v.session.id, to, state.clock.now()).await?;
    Ok(render(state, &moved))
}

/// Starts a scheduled session (`canEditSession`); any other state is 409.
#[utoipa::path(post, path = "/{org}/v2/sessions/{id}/start", tag = "sessions",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = SessionResponse), (status = 403, body = Fault), (status = 404, body = Fault),
              (status = 409, body = Fault)))]
pub async fn start_session(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, Fault> {
    move_session(&state, &ctx, &id, SessionOp::Start, SessionState::Live).await
}

/// Ends a live session (`canEndSession`); any other state is 409.
#[utoipa::path(post, path = "/{org}/v2/sessions/{id}/end", tag = "sessions",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = SessionResponse), (status = 403, body = Fault), (status = 404, body = Fault),
              (status = 409, body = Fault)))]
pub async fn end_session(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, Fault> {
    move_session(&state, &ctx, &id, SessionOp::End, SessionState::Ended).await
}

/// Lists a session's participants, owner first.
#[utoipa::path(get, path = "/{org}/v2/sessions/{id}/participants", tag = "sessions",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = ListResponse<ParticipantResponse>), (status = 403, body = Fault),
              (status = 404, body = Fault)))]
pub async fn list_participants(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, Fault> {
    let session = visible(&state, &ctx, &id).await?.session;
    let data = session.participants.iter().map(|p| ParticipantResponse::new(p, p.account == session.owner)).collect();
    Ok(ListResponse::all(data).into_response())
}

/// The home org of a new participant: see `domain::live_session::home_org`. An account
/// that cannot take part is one 404 whatever the reason, so that the answer tells
/// neither whether the account exists nor where it belongs.
async fn home_org_of(state: &AppState, owning_org: Id, account: Id) -> Result<Id, Fault> {
    let mut memberships = Vec::new();
    for member in state.store.memberships_of(account).await? {
        let org = state.store.org_by_id(member.org).await?;
        memberships.push(Membership {
            org: member.org,
            active: member.state == MemberState::Active && org.as_ref().is_some_and(|o| o.state == OrgState::Enabled),
            allows_external: org.is_some_and(|o| o.props.security.allow_external_participants),
        });
    }
    home_org(owning_org, &memberships).ok_or_else(|| Fault::not_found("Account").at("account"))
}

/// Adds a participant (`canInviteParticipants`, granting only permissions the caller
/// holds). The account must be an active member of this org, or of an org that
/// allows external participants; any other account (unknown ones too) is the same
/// 404.
#[utoipa::path(post, path = "/{org}/v2/sessions/{id}/participants", tag = "sessions",
    request_body = AddParticipantRequest, params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = ParticipantResponse), (status = 400, body = Fault),
              (status = 403, body = Fault), (status = 404, body = Fault), (status = 409, body = Fault)))]
pub async fn add_participant(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<AddParticipantRequest>,
) -> Result<Response, Fault> {
    let v = visible(&state, &ctx, &id).await?;
    v.allow(SessionOp::ManageParticipants)?;
    let permissions = Permissions::from(body.permissions);
    check_grant(&v.standing, permissions)?;
    let home = home_org_of(&state, v.session.org, body.account).await?;
    let participant = Participant::new(v.session.id, body.account, home, permissions, state.clock.now());
    state.store.insert_participant(&participant).await?;
    Ok(json(ParticipantResponse::new(&participant, false)))
}

fn participant_id(v: &Visible, raw: &str) -> Result<Id, Fault> {
    let account = path_id(raw, "Participant")?;
    if v.session.participant(account).is_none() {
        return Err(Fault::not_found("Participant"));
    }
    Ok(account)
}

/// Replaces a participant's permissions (`canInviteParticipants`, granting only
/// what the caller holds). The owner's never change (409).
#[utoipa::path(patch, path = "/{org}/v2/sessions/{id}/participants/{account}", tag = "sessions",
    request_body = UpdateParticipantRequest,
    params(("org" = String, Path), ("id" = String, Path), ("account" = String, Path)),
    responses((status = 200, body = ParticipantResponse), (status = 400, body = Fault),
              (status = 403, body = Fault), (status = 404, body = Fault), (status = 409, body = Fault)))]
pub async fn patch_participant(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id, account)): Path<(String, String, String)>,
    MergePatch(body): MergePatch<UpdateParticipantRequest>,
) -> Result<Response, Fault> {
    let v = visible(&state, &ctx, &id).await?;
    v.allow(SessionOp::ManageParticipants)?;
    let account = participant_id(&v, &account)?;
    if account == v.session.owner {
        return Err(DomainError::Conflict("The owner holds every permission, always.".into()).into());
    }
    let permissions = Permissions::from(body.permissions);
    check_grant(&v.standing, permissions)?;
    let participant = state.store.update_participant(v.session.id, account, permissions, state.clock.now()).await?;
    Ok(json(ParticipantResponse::new(&participant, false)))
}

/// Removes a participant (`canInviteParticipants`), or the caller itself. The owner
/// stays.
#[utoipa::path(delete, path = "/{org}/v2/sessions/{id}/participants/{account}", tag = "sessions",
    params(("org" = String, Path), ("id" = String, Path), ("account" = String, Path)),
    responses((status = 200, body = DoneResponse), (status = 403, body = Fault),
              (status = 404, body = Fault), (status = 409, body = Fault)))]
pub async fn remove_participant(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id, account)): Path<(String, String, String)>,
) -> Result<Response, Fault> {
    let v = visible(&state, &ctx, &id).await?;
    let account = participant_id(&v, &account)?;
    v.allow(if account == v.account { SessionOp::Leave } else { SessionOp::ManageParticipants })?;
    if account == v.session.owner {
        return Err(DomainError::Conflict("The owner cannot be removed from the session.".into()).into());
    }
    state.store.delete_participant(v.session.id, account).await?;
    Ok(DoneResponse::done().into_response())
}

/// A media join token for the caller: a JWT (HS256) with the session, the account,
/// its orgs and permissions, valid for five minutes (claims in `docs/API.md`). Any
/// participant of a session that has not ended who reaches it through this org; the
/// membership behind that is read again from the store just before signing, so a
/// token is never signed on the strength of a membership that ended meanwhile.
#[utoipa::path(method(get, post), path = "/{org}/v2/sessions/{id}/join-token", tag = "sessions",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = JoinTokenResponse),
              (status = 403, body = Fault), (status = 404, body = Fault), (status = 409, body = Fault)))]
pub async fn create_join_token(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, Fault> {
    let v = visible(&state, &ctx, &id).await?;
    v.allow(SessionOp::Join)?;
    if v.session.state == SessionState::Ended {
        return Err(DomainError::Conflict(live_session::ENDED.into()).into());
    }
    let participant = v.session.participant(v.account).ok_or_else(|| Fault::not_found("Participant"))?;
    let still = state.store.member_of(ctx.org.id, v.account).await?;
    if still.is_none_or(|m| m.state != MemberState::Active) {
        return Err(Fault::access_denied(SessionOp::Join.requirement()));
    }
    let now = state.clock.now();
    let claims = JoinClaims::new(&state.config, &v.session, participant, now);
    let token = state.media.sign(&claims).await?;
    Ok(json(JoinTokenResponse {
        id: claims.jti,
        expires: Date(now + Duration::seconds(JOIN_TOKEN_TTL_SECONDS)),
        media_url: claims.media_url,
        object: Default::default(),
        session: v.session.id,
        token,
    }))
}
