//! Facilities and their rooms under `/{org}/v2/facilities`: members read,
//! administrators write. Deleting what is non-removable or used by a session that
//! has not ended is a 409, decided atomically by the store.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use orgbase_domain::StoreError;
use orgbase_domain::facility::{FACILITY_SORT_FIELDS, Facility, PlaceChanges, Room};
use serde::Deserialize;

use crate::context::OrgCtx;
use crate::extract::{ApiJson, MergePatch, Paging, present};
use crate::fault::Fault;
use crate::responses::{DoneResponse, FacilityResponse, ListResponse, RoomResponse, json};
use crate::routes::common::{active_member, path_id, require_admin};
use crate::state::AppState;

/// The body of `POST /facilities` and `POST /facilities/{id}/rooms`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePlaceRequest {
    /// The label, 1–100 characters.
    pub name: String,
    /// False keeps it from being deleted (default true).
    pub is_removable: Option<bool>,
}

/// The body of a facility or room PATCH (plain fields, or `set` ops).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdatePlaceRequest {
    /// A new label.
    #[serde(default, deserialize_with = "present")]
    pub name: Option<String>,
    /// A new `isRemovable`.
    #[serde(default, deserialize_with = "present")]
    pub is_removable: Option<bool>,
}

impl UpdatePlaceRequest {
    fn changes(self) -> Result<PlaceChanges, Fault> {
        PlaceChanges::new(self.name, self.is_removable).map_err(Fault::from)
    }
}

async fn find_facility(state: &AppState, ctx: &OrgCtx, id: &str) -> Result<Facility, Fault> {
    let id = path_id(id, "Facility")?;
    state.store.facility(ctx.org.id, id).await?.ok_or_else(|| Fault::not_found("Facility"))
}

/// The room `room` of the facility `facility` (404 when either is not this org's,
/// or the room is in another facility).
async fn find_room(state: &AppState, ctx: &OrgCtx, facility: &str, room: &str) -> Result<Room, Fault> {
    let facility = path_id(facility, "Room")?;
    let room = path_id(room, "Room")?;
    let room = state.store.room(ctx.org.id, room).await?.filter(|r| r.facility == facility);
    room.ok_or_else(|| Fault::not_found("Room"))
}

/// Lists the org's facilities (members).
#[utoipa::path(get, path = "/{org}/v2/facilities", tag = "facilities",
    params(("org" = String, Path), ("limit" = Option<u32>, Query), ("skip" = Option<u64>, Query),
           ("startingAfter" = Option<String>, Query), ("endingBefore" = Option<String>, Query),
           ("sort" = Option<String>, Query, description = "_id, name or created; '-' for descending")),
    responses((status = 200, body = ListResponse<FacilityResponse>), (status = 403, body = Fault)))]
pub async fn list_facilities(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Paging(params): Paging,
) -> Result<Response, Fault> {
    active_member(&ctx)?;
    let page = params.validate(FACILITY_SORT_FIELDS).map_err(Fault::validation)?;
    let facilities = state.store.list_facilities(ctx.org.id, &page).await?;
    Ok(ListResponse::of(&facilities, FacilityResponse::from).into_response())
}

/// Creates a facility (administrators).
#[utoipa::path(post, path = "/{org}/v2/facilities", tag = "facilities", request_body = CreatePlaceRequest,
    params(("org" = String, Path)),
    responses((status = 200, body = FacilityResponse), (status = 400, body = Fault), (status = 403, body = Fault)))]
pub async fn create_facility(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ApiJson(body): ApiJson<CreatePlaceRequest>,
) -> Result<Response, Fault> {
    require_admin(&ctx)?;
    let facility = Facility::new(ctx.org.id, &body.name, body.is_removable, state.clock.now())?;
    state.store.insert_facility(&facility).await?;
    Ok(json(FacilityResponse::from(&facility)))
}

/// Reads a facility (members).
#[utoipa::path(get, path = "/{org}/v2/facilities/{id}", tag = "facilities",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = FacilityResponse), (status = 403, body = Fault), (status = 404, body = Fault)))]
pub async fn get_facility(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, Fault> {
    active_member(&ctx)?;
    Ok(json(FacilityResponse::from(&find_facility(&state, &ctx, &id).await?)))
}

/// Changes a facility's name or `isRemovable` (administrators).
#[utoipa::path(patch, path = "/{org}/v2/facilities/{id}", tag = "facilities", request_body = UpdatePlaceRequest,
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = FacilityResponse), (status = 400, body = Fault), (status = 403, body = Fault),
              (status = 404, body = Fault)))]
pub async fn patch_facility(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    MergePatch(body): MergePatch<UpdatePlaceRequest>,
) -> Result<Response, Fault> {
    require_admin(&ctx)?;
    let id = path_id(&id, "Facility")?;
    let facility = state.store.update_facility(ctx.org.id, id, &body.changes()?, state.clock.now()).await?;
    Ok(json(FacilityResponse::from(&facility)))
}

/// Deletes a facility and its rooms (administrators): 409 when it or one of its
/// rooms is non-removable, or a session that has not ended uses it.
#[utoipa::path(delete, path = "/{org}/v2/facilities/{id}", tag = "facilities",
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = DoneResponse), (status = 403, body = Fault),
              (status = 404, body = Fault), (status = 409, body = Fault)))]
pub async fn delete_facility(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, Fault> {
    require_admin(&ctx)?;
    state.store.delete_facility(ctx.org.id, path_id(&id, "Facility")?).await?;
    Ok(DoneResponse::done().into_response())
}

/// Lists a facility's rooms (members).
#[utoipa::path(get, path = "/{org}/v2/facilities/{id}/rooms", tag = "facilities",
    params(("org" = String, Path), ("id" = String, Path), ("limit" = Option<u32>, Query),
           ("skip" = Option<u64>, Query), ("startingAfter" = Option<String>, Query),
           ("endingBefore" = Option<String>, Query), ("sort" = Option<String>, Query)),
    responses((status = 200, body = ListResponse<RoomResponse>), (status = 403, body = Fault),
              (status = 404, body = Fault)))]
pub async fn list_rooms(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    Paging(params): Paging,
) -> Result<Response, Fault> {
    active_member(&ctx)?;
    let facility = find_facility(&state, &ctx, &id).await?;
    let page = params.validate(FACILITY_SORT_FIELDS).map_err(Fault::validation)?;
    let rooms = state.store.list_rooms(ctx.org.id, facility.id, &page).await?;
    Ok(ListResponse::of(&rooms, RoomResponse::from).into_response())
}

/// Creates a room in a facility (administrators).
#[utoipa::path(post, path = "/{org}/v2/facilities/{id}/rooms", tag = "facilities", request_body = CreatePlaceRequest,
    params(("org" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = RoomResponse), (status = 400, body = Fault), (status = 403, body = Fault),
              (status = 404, body = Fault)))]
pub async fn create_room(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<CreatePlaceRequest>,
) -> Result<Response, Fault> {
    require_admin(&ctx)?;
    let facility = find_facility(&state, &ctx, &id).await?;
    let room = Room::new(&facility, &body.name, body.is_removable, state.clock.now())?;
    state.store.insert_room(&room).await.map_err(|e| match e {
        StoreError::NotFound => Fault::not_found("Facility"),
        other => other.into(),
    })?;
    Ok(json(RoomResponse::from(&room)))
}

/// Reads a room (members).
#[utoipa::path(get, path = "/{org}/v2/facilities/{id}/rooms/{room}", tag = "facilities",
    params(("org" = String, Path), ("id" = String, Path), ("room" = String, Path)),
    responses((status = 200, body = RoomResponse), (status = 403, body = Fault), (status = 404, body = Fault)))]
pub async fn get_room(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, facility, room)): Path<(String, String, String)>,
) -> Result<Response, Fault> {
    active_member(&ctx)?;
    Ok(json(RoomResponse::from(&find_room(&state, &ctx, &facility, &room).await?)))
}

/// Changes a room's name or `isRemovable` (administrators).
#[utoipa::path(patch, path = "/{org}/v2/facilities/{id}/rooms/{room}", tag = "facilities",
    request_body = UpdatePlaceRequest, params(("org" = String, Path), ("id" = String, Path), ("room" = String, Path)),
    responses((status = 200, body = RoomResponse), (status = 400, body = Fault), (status = 403, body = Fault),
              (status = 404, body = Fault)))]
pub async fn patch_room(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, facility, room)): Path<(String, String, String)>,
    MergePatch(body): MergePatch<UpdatePlaceRequest>,
) -> Result<Response, Fault> {
    require_admin(&ctx)?;
    let room = find_room(&state, &ctx, &facility, &room).await?;
    let room = state.store.update_room(ctx.org.id, room.id, &body.changes()?, state.clock.now()).await?;
    Ok(json(RoomResponse::from(&room)))
}

/// Deletes a room (administrators): 409 when it is non-removable or a session that
/// has not ended uses it.
#[utoipa::path(delete, path = "/{org}/v2/facilities/{id}/rooms/{room}", tag = "facilities",
    params(("org" = String, Path), ("id" = String, Path), ("room" = String, Path)),
    responses((status = 200, body = DoneResponse), (status = 403, body = Fault),
              (status = 404, body = Fault), (status = 409, body = Fault)))]
pub async fn delete_room(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, facility, room)): Path<(String, String, String)>,
) -> Result<Response, Fault> {
    require_admin(&ctx)?;
    let room = find_room(&state, &ctx, &facility, &room).await?.id;
    state.store.delete_room(ctx.org.id, room).await?;
    Ok(DoneResponse::done().into_response())
}
