//! The org object's reads: the public read `GET /{org}/v2` and the full read
//! `GET /{org}/v2/orgs/{id}`, with `?paths=`, `ETag` and `If-None-Match`.

use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orgbase_domain::Id;
use orgbase_domain::access::Level;
use orgbase_domain::org::select_paths;

use crate::context::OrgCtx;
use crate::extract::requested_paths;
use crate::fault::Fault;
use crate::state::AppState;

/// The org as the caller may read it.
#[derive(utoipa::ToSchema)]
#[schema(as = Org)]
#[expect(dead_code, reason = "documents the dynamic org body in OpenAPI")]
pub struct OrgDoc {
    /// 24 hex characters.
    #[schema(rename = "_id")]
    id: String,
    /// Always `org`.
    object: String,
    /// The caller's access level (1 public … 7 administrator).
    access: u8,
    /// The unique org code.
    code: String,
    /// The label.
    name: String,
    /// The default locale (`en_US`).
    locale: String,
    /// Changes when custom properties change.
    #[schema(rename = "schemasETag")]
    schemas_etag: String,
}

/// Public read of the org.
#[utoipa::path(get, path = "/{org}/v2", tag = "org",
    params(("org" = String, Path, description = "The org code"),
           ("paths" = Option<String>, Query, description = "Comma-separated properties to return")),
    responses((status = 200, body = OrgDoc), (status = 304), (status = 400, body = Fault), (status = 404, body = Fault)))]
pub async fn get_public_org(State(state): State<AppState>, ctx: OrgCtx, parts: Parts) -> Result<Response, Fault> {
    render_org(&state, &ctx, &parts).await
}

/// Full read of the org: every property the caller may read.
#[utoipa::path(get, path = "/{org}/v2/orgs/{id}", tag = "org",
    params(("org" = String, Path, description = "The org code"), ("id" = String, Path, description = "The org _id"),
           ("paths" = Option<String>, Query, description = "Comma-separated properties to return")),
    responses((status = 200, body = OrgDoc), (status = 304), (status = 404, body = Fault)))]
pub async fn get_org(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    parts: Parts,
) -> Result<Response, Fault> {
    if Id::parse(&id) != Some(ctx.org.id) {
        return Err(Fault::not_found("Org"));
    }
    render_org(&state, &ctx, &parts).await
}

/// The ETag of an org as one caller sees it: the version, the access level and the
/// selected paths all shape the body.
fn org_etag(ctx: &OrgCtx, paths: Option<&[String]>) -> String {
    let level = ctx.level().as_u8();
    match paths {
        None => format!("\"{}.{}.{level}\"", ctx.org.id, ctx.org.version),
        Some(p) => format!(
            "\"{}.{}.{level}.{}\"",
            ctx.org.id,
            ctx.org.version,
            orgbase_domain::secret::digest(&p.join(","))[..8].to_owned()
        ),
    }
}

fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',').any(|t| t.trim() == etag || t.trim() == "*" || t.trim().strip_prefix("W/") == Some(etag))
    })
}

async fn render_org(state: &AppState, ctx: &OrgCtx, parts: &Parts) -> Result<Response, Fault> {
    let paths = requested_paths(parts);
    let etag = org_etag(ctx, paths.as_deref());
    let etag_value = HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    if not_modified(&parts.headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    let level = ctx.level();
    // Only administrators see `apps`; skip the query for everyone else.
    let apps = if level >= Level::Delete { state.store.apps_of_org(ctx.org.id).await? } else { Vec::new() };
    let full = ctx.org.render(level, &apps, false);
    let body = match &paths {
        Some(p) => select_paths(&full, p),
        None => full,
    };
    Ok(([(header::ETAG, etag_value)], axum::Json(body)).into_response())
}
