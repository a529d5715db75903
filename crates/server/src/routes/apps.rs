//! The org's apps, for its administrators: list, create (the secret shown once),
//! read, change (name, CORS origins, `csrf`, `enabled`, the signing settings),
//! rotate the secret, delete. An app is named by its client key. Every change
//! shows in the org's `apps` at once. A request can't disable or delete the app
//! whose key it carries. The work is `flows::apps`, shared with the
//! CLI.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use orgbase_domain::app::RawAppChange;
use serde::Deserialize;
use serde_json::Value;

use crate::context::OrgCtx;
use crate::extract::ApiJson;
use crate::fault::Fault;
use crate::flows::apps;
use crate::responses::{AppResponse, DoneResponse, ListResponse, json};
use crate::routes::common::require_admin;
use crate::state::AppState;

/// An app's CORS settings in a write.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppCorsRequest {
    /// Browser origins allowed by CORS; replaces the list.
    pub origins: Vec<String>,
}

/// The body of `POST /apps`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateAppRequest {
    /// The label.
    #[schema(schema_with = crate::openapi::fields::name)]
    pub name: String,
    /// Allowed browser origins (default none).
    pub cors: Option<AppCorsRequest>,
    /// Cookie writes need `Medable-Csrf-Token` (default true).
    pub csrf: Option<bool>,
    /// Default true.
    pub enabled: Option<bool>,
    /// Refuse signed requests of version 1 (default false).
    pub require_signature_v2: Option<bool>,
    /// `"all"` (default), `"none"`, or an array of account ids.
    #[schema(schema_with = crate::openapi::fields::act_as)]
    pub act_as: Option<Value>,
}

/// The body of `PATCH /apps/{key}`: what it names changes, the rest stays.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateAppRequest {
    /// The label.
    #[schema(schema_with = crate::openapi::fields::nullable_name)]
    pub name: Option<String>,
    /// Allowed browser origins.
    pub cors: Option<AppCorsRequest>,
    /// Cookie writes need `Medable-Csrf-Token`.
    pub csrf: Option<bool>,
    /// A disabled app's key, sessions and signatures are refused.
    pub enabled: Option<bool>,
    /// Refuse signed requests of version 1.
    pub require_signature_v2: Option<bool>,
    /// `"all"`, `"none"`, or an array of account ids.
    #[schema(schema_with = crate::openapi::fields::act_as)]
    pub act_as: Option<Value>,
}

impl From<UpdateAppRequest> for RawAppChange {
    fn from(b: UpdateAppRequest) -> Self {
        Self {
            name: b.name,
            origins: b.cors.map(|c| c.origins),
            csrf: b.csrf,
            enabled: b.enabled,
            require_signature_v2: b.require_signature_v2,
            act_as: b.act_as,
        }
    }
}

/// Refuses to disable or delete the app whose key the request carries: that
/// would lock its caller out mid-way. Another app's key, or the CLI, can.
fn not_this_app(ctx: &OrgCtx, key: &str) -> Result<(), Fault> {
    if ctx.app.key == key {
        // 409: the request is well formed; the key it carries is the conflict.
        let reason = "An app can't disable or delete itself: use another app's key, or `orgbase app`.";
        return Err(Fault::from(orgbase_domain::DomainError::Conflict(reason.into())).at("key"));
    }
    Ok(())
}

/// Lists the org's apps, oldest first (administrators).
#[utoipa::path(get, path = "/{org}/v2/apps", tag = "apps", params(("org" = String, Path)),
    responses((status = 200, body = ListResponse<AppResponse>), (status = 403, body = Fault)))]
pub async fn list_apps(State(state): State<AppState>, ctx: OrgCtx) -> Result<Response, Fault> {
    require_admin(&ctx)?;
    let apps = state.store.apps_of_org(ctx.org.id).await?;
    Ok(ListResponse::all(apps.iter().map(AppResponse::from).collect()).into_response())
}

/// Creates an app (administrators); the answer shows its secret, this once.
#[utoipa::path(post, path = "/{org}/v2/apps", tag = "apps", request_body = CreateAppRequest,
    params(("org" = String, Path)),
    responses((status = 200, body = AppResponse), (status = 400, body = Fault), (status = 403, body = Fault)))]
pub async fn create_app(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ApiJson(body): ApiJson<CreateAppRequest>,
) -> Result<Response, Fault> {
    require_admin(&ctx)?;
    let CreateAppRequest { name, cors, csrf, enabled, require_signature_v2, act_as } = body;
    let raw = UpdateAppRequest { name: None, cors, csrf, enabled, require_signature_v2, act_as };
    let app = apps::create_app(&state, &ctx.org, name, raw.into()).await?;
    Ok(json(AppResponse::with_secret(&app)))
}

/// Reads an app (administrators).
#[utoipa::path(get, path = "/{org}/v2/apps/{key}", tag = "apps", params(("org" = String, Path), ("key" = String, Path)),
    responses((status = 200, body = AppResponse), (status = 403, body = Fault), (status = 404, body = Fault)))]
pub async fn get_app(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, key)): Path<(String, String)>,
) -> Result<Response, Fault> {
    require_admin(&ctx)?;
    let app = apps::app_of_org(&state, &ctx.org, &key).await?;
    Ok(json(AppResponse::from(&*app)))
}

/// Changes an app (administrators); an invalid part changes nothing.
#[utoipa::path(patch, path = "/{org}/v2/apps/{key}", tag = "apps", request_body = UpdateAppRequest,
    params(("org" = String, Path), ("key" = String, Path)),
    responses((status = 200, body = AppResponse), (status = 400, body = Fault), (status = 403, body = Fault),
              (status = 404, body = Fault),
              (status = 409, description = "The request would disable the app it comes through", body = Fault)))]
pub async fn update_app(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateAppRequest>,
) -> Result<Response, Fault> {
    require_admin(&ctx)?;
    if body.enabled == Some(false) {
        not_this_app(&ctx, &key)?;
    }
    let app = apps::update_app(&state, &ctx.org, &key, body.into()).await?;
    Ok(json(AppResponse::from(&app)))
}

/// Gives an app a new secret, shown this once (administrators). The old secret
/// keeps signing until `previousSecretExpires` (`app_secret_grace`, one day by
/// default).
#[utoipa::path(post, path = "/{org}/v2/apps/{key}/rotate-secret", tag = "apps",
    params(("org" = String, Path), ("key" = String, Path)),
    responses((status = 200, body = AppResponse), (status = 403, body = Fault), (status = 404, body = Fault)))]
pub async fn rotate_app_secret(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, key)): Path<(String, String)>,
) -> Result<Response, Fault> {
    require_admin(&ctx)?;
    let app = apps::rotate_secret(&state, &ctx.org, &key).await?;
    Ok(json(AppResponse::with_secret(&app)))
}

/// Deletes an app (administrators): its key stops working at once.
#[utoipa::path(delete, path = "/{org}/v2/apps/{key}", tag = "apps", params(("org" = String, Path), ("key" = String, Path)),
    responses((status = 200, body = DoneResponse), (status = 403, body = Fault), (status = 404, body = Fault),
              (status = 409, description = "The request would delete the app it comes through", body = Fault)))]
pub async fn delete_app(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, key)): Path<(String, String)>,
) -> Result<Response, Fault> {
    require_admin(&ctx)?;
    not_this_app(&ctx, &key)?;
    apps::delete_app(&state, &ctx.org, &key).await?;
    Ok(DoneResponse::done().into_response())
}
