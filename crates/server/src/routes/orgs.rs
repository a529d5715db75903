//! The org object: the public read `GET /{org}/v2`, the full read
//! `GET /{org}/v2/orgs/{id}` (with `?paths=`, `ETag` and `If-None-Match`), one
//! property by path (GET and PUT), PATCH with the seed platform's ops, and the
//! declarations of custom properties.

use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use orgbase_domain::access::{Operation, Subject, Target};
use orgbase_domain::app::App;
use orgbase_domain::level::Level;
use orgbase_domain::org::{Org, OrgProps, Viewer, select_paths};
use orgbase_domain::patch::{Op, Path as PropPath, parse_ops};
use orgbase_domain::schema::{CustomProperty, DeclareProperty};
use orgbase_domain::store::OrgChange;
use orgbase_domain::{DomainError, FieldError, secret};
use serde_json::Value;

use crate::context::OrgCtx;
use crate::extract::{ApiJson, JsonOrForm, requested_paths};
use crate::fault::Fault;
use crate::responses::{OrgResponse, OrgSchemaResponse, PropertyDeclarationResponse, PropertyResponse, json};
use crate::routes::common::not_modified;
use crate::state::AppState;

/// Public read of the org.
#[utoipa::path(get, path = "/{org}/v2", tag = "org",
    params(("org" = String, Path, description = "The org code"),
           ("paths" = Option<String>, Query, description = "Comma-separated properties to return")),
    responses((status = 200, body = OrgResponse), (status = 304), (status = 400, body = Fault), (status = 404, body = Fault)))]
pub async fn get_public_org(State(state): State<AppState>, ctx: OrgCtx, read: OrgRead) -> Result<Response, Fault> {
    render_org(&state, &ctx, read).await
}

/// What an org read takes from the request: the selected `paths` and
/// `If-None-Match`, and nothing else (the `Parts` extractor would copy every
/// header and extension of the request).
pub struct OrgRead {
    paths: Option<Vec<String>>,
    conditions: HeaderMap,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for OrgRead {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut conditions = HeaderMap::new();
        if let Some(tags) = parts.headers.get(header::IF_NONE_MATCH) {
            conditions.insert(header::IF_NONE_MATCH, tags.clone());
        }
        Ok(Self { paths: requested_paths(parts), conditions })
    }
}

/// Full read of the org: every property the caller may read.
#[utoipa::path(get, path = "/{org}/v2/orgs/{id}", tag = "org",
    params(("org" = String, Path, description = "The org code"), ("id" = String, Path, description = "The org _id"),
           ("paths" = Option<String>, Query, description = "Comma-separated properties to return")),
    responses((status = 200, body = OrgResponse), (status = 304), (status = 404, body = Fault)))]
pub async fn get_org(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    read: OrgRead,
) -> Result<Response, Fault> {
    ctx.check_org_id(&id)?;
    render_org(&state, &ctx, read).await
}

/// The ETag of an org as one caller sees it: the version, the access level, the
/// selected paths and (for administrators) the apps all shape the body. Apps
/// change without the org's version ([`apps_tag`]).
fn org_etag(org: &Org, level: Level, paths: Option<&[String]>, apps: &[App]) -> String {
    // Written piece by piece: this runs for every org read (`format!` was ~1% of W1).
    let mut numbers = itoa::Buffer::new();
    let mut tag = String::with_capacity(48);
    tag.push('"');
    org.id.push_hex(&mut tag);
    tag.push('.');
    tag.push_str(numbers.format(org.version));
    tag.push('.');
    tag.push_str(numbers.format(level.as_u8()));
    if let Some(p) = paths {
        tag.push('.');
        tag.push_str(&secret::digest(&p.join(","))[..8]);
    }
    if !apps.is_empty() {
        tag.push('.');
        tag.push_str(&apps_tag(apps));
    }
    tag.push('"');
    tag
}

/// Eight hex characters that change whenever an app as the org shows it does.
fn apps_tag(apps: &[App]) -> String {
    let shown: Vec<_> = apps.iter().map(App::view).collect();
    secret::digest(&serde_json::to_string(&shown).unwrap_or_default())[..8].to_owned()
}

/// The version named by an ETag of [`org_etag`].
fn etag_version(tag: &str) -> Option<i64> {
    tag.trim().trim_start_matches("W/").trim_matches('"').split('.').nth(1)?.parse().ok()
}

fn etag_header(etag: &str) -> HeaderValue {
    HeaderValue::from_str(etag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// What the org's body depends on besides the org and the caller: the apps (only
/// administrators see them) and whether invitations are pending (only members see
/// `shared`); the queries are skipped for callers who would not see the result.
async fn render_inputs(state: &AppState, subject: &Subject, org: &Org) -> Result<(Vec<App>, bool), Fault> {
    let apps = visible_apps(state, subject, org).await?;
    Ok((apps, shared(state, subject, org).await?))
}

/// The apps of `org` if the caller sees them (administrators), else none.
async fn visible_apps(state: &AppState, subject: &Subject, org: &Org) -> Result<Vec<App>, Fault> {
    Ok(if subject.org_level() >= Level::Delete { state.store.apps_of_org(org.id).await? } else { Vec::new() })
}

/// Whether invitations are pending, if the caller sees it (members).
async fn shared(state: &AppState, subject: &Subject, org: &Org) -> Result<bool, Fault> {
    Ok(subject.org_level() >= Level::Read
        && state.store.has_pending_connection(org.id, None, state.clock.now()).await?)
}

/// Every property of `org` that the caller may read.
async fn visible(state: &AppState, ctx: &OrgCtx, org: &Org) -> Result<serde_json::Map<String, Value>, Fault> {
    let subject = ctx.subject();
    let (apps, shared) = render_inputs(state, &subject, org).await?;
    Ok(org.render(Viewer::Caller(&subject), &apps, shared))
}

/// The org rendered for the caller, with its ETag.
async fn org_response(state: &AppState, ctx: &OrgCtx, org: &Org, paths: Option<&[String]>) -> Result<Response, Fault> {
    let subject = ctx.subject();
    let apps = visible_apps(state, &subject, org).await?;
    let etag = org_etag(org, subject.org_level(), paths, &apps);
    respond(state, subject, org, paths, &etag, apps).await
}

/// The body of `org` for `subject` under `etag`. The whole body is rendered once
/// per org version and kind of caller ([`crate::state::OrgBodies`]).
async fn respond(
    state: &AppState,
    subject: Subject,
    org: &Org,
    paths: Option<&[String]>,
    etag: &str,
    apps: Vec<App>,
) -> Result<Response, Fault> {
    let shared = shared(state, &subject, org).await?;
    let etag = etag_header(etag);
    if let Some(paths) = paths {
        let body = select_paths(&org.render(Viewer::Caller(&subject), &apps, shared), paths);
        return Ok(([(header::ETAG, etag)], axum::Json(OrgResponse::Rendered(body))).into_response());
    }
    let body = match state.org_bodies.get(org, &subject, &apps, shared) {
        Some(body) => body,
        None => {
            let body = serde_json::to_vec(&OrgResponse::View(org.view(Viewer::Caller(&subject), &apps, shared)))
                .map_err(|e| Fault::internal(&e))?;
            state.org_bodies.put(org, subject, apps, shared, Bytes::from(body))
        }
    };
    let headers = [(header::CONTENT_TYPE, HeaderValue::from_static("application/json")), (header::ETAG, etag)];
    Ok((headers, body).into_response())
}

async fn render_org(state: &AppState, ctx: &OrgCtx, read: OrgRead) -> Result<Response, Fault> {
    let OrgRead { paths, conditions } = read;
    let subject = ctx.subject();
    let apps = visible_apps(state, &subject, &ctx.org).await?;
    let etag = org_etag(&ctx.org, subject.org_level(), paths.as_deref(), &apps);
    if not_modified(&conditions, &etag) {
        return Ok(crate::fault::not_modified([(header::ETAG, etag_header(&etag))]));
    }
    respond(state, subject, &ctx.org, paths.as_deref(), &etag, apps).await
}

/// Applies a change to the org atomically: `change` computes the new properties and
/// declarations from the current org, and the store writes them with nothing in
/// between (concurrent pushes are never lost). With `If-Match` naming another
/// version the answer is 412 and nothing is written.
async fn update_org(
    state: &AppState,
    ctx: &OrgCtx,
    headers: &HeaderMap,
    change: impl Fn(&Org) -> Result<(OrgProps, Vec<CustomProperty>), DomainError> + Send + Sync + 'static,
) -> Result<Org, Fault> {
    let if_match = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(str::trim);
    let pinned = match if_match {
        None | Some("*") => None,
        Some(tag) => Some(etag_version(tag).ok_or(DomainError::PreconditionFailed)?),
    };
    let change: OrgChange = Box::new(move |org: &Org| {
        if pinned.is_some_and(|v| v != org.version) {
            return Err(DomainError::PreconditionFailed);
        }
        change(org)
    });
    Ok(state.store.modify_org(ctx.org.id, change, ctx.caller.account_id(), state.clock.now()).await?)
}

async fn patch_with(state: &AppState, ctx: &OrgCtx, headers: &HeaderMap, body: Value) -> Result<Response, Fault> {
    let ops = parse_ops(body).map_err(Fault::validation)?;
    let subject = ctx.subject();
    // Refused before it waits for the writer: a caller who may not write never
    // reaches it (checked again on the org the write applies to).
    ctx.org.check_ops(&ops, &subject)?;
    let org =
        update_org(state, ctx, headers, move |org| Ok((org.patched(&ops, &subject)?, org.schema.clone()))).await?;
    org_response(state, ctx, &org, None).await
}

/// Updates the org with one op or an array of ops (`set`, `push`, `remove`, `pull`,
/// `unset`), all or none, and returns the updated org.
#[utoipa::path(patch, path = "/{org}/v2/orgs/{id}", tag = "org", request_body = crate::openapi::org::PatchOrgRequest,
    params(("org" = String, Path), ("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = OrgResponse), (status = 400, body = Fault), (status = 403, body = Fault),
              (status = 412, body = Fault)))]
pub async fn patch_org(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    JsonOrForm(body): JsonOrForm<Value>,
) -> Result<Response, Fault> {
    ctx.check_org_id(&id)?;
    patch_with(&state, &ctx, &headers, body).await
}

/// `PATCH /{org}/v2`: the same as `PATCH /{org}/v2/orgs/{id}`.
#[utoipa::path(patch, path = "/{org}/v2", tag = "org", request_body = crate::openapi::org::PatchOrgRequest, params(("org" = String, Path)),
    responses((status = 200, body = OrgResponse), (status = 400, body = Fault), (status = 403, body = Fault)))]
pub async fn patch_public_org(
    State(state): State<AppState>,
    ctx: OrgCtx,
    headers: HeaderMap,
    JsonOrForm(body): JsonOrForm<Value>,
) -> Result<Response, Fault> {
    patch_with(&state, &ctx, &headers, body).await
}

/// A value as the seed answers a property read or write: an array as a list
/// envelope, anything else as a result.
fn property_body(value: Value) -> Response {
    json(PropertyResponse::from(value))
}

fn value_at(map: &serde_json::Map<String, Value>, path: &PropPath) -> Option<Value> {
    let (first, rest) = path.segments().split_first()?;
    let mut cur = map.get(first)?;
    for seg in rest {
        cur = match cur {
            Value::Array(items) => items.get(seg.parse::<usize>().ok()?)?,
            other => other.get(seg)?,
        };
    }
    Some(cur.clone())
}

fn parse_prop_path(path: &str) -> Result<PropPath, Fault> {
    PropPath::parse(path).map_err(|e| Fault::validation(vec![FieldError::new("path", e)]))
}

/// Reads one property by path (`/orgs/{id}/configuration/email`).
#[utoipa::path(get, path = "/{org}/v2/orgs/{id}/{path}", tag = "org",
    params(("org" = String, Path), ("id" = String, Path), ("path" = String, Path, description = "A property path")),
    responses((status = 200, body = PropertyResponse, description = "A list envelope for arrays, else a result"), (status = 404, body = Fault)))]
pub async fn get_org_property(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id, path)): Path<(String, String, String)>,
) -> Result<Response, Fault> {
    ctx.check_org_id(&id)?;
    let path = parse_prop_path(&path)?;
    let readable = visible(&state, &ctx, &ctx.org).await?;
    let value = value_at(&readable, &path).ok_or_else(|| Fault::not_found("Property"))?;
    Ok(property_body(value))
}

/// Replaces the value at a property path and returns the new value. Each
/// top-level property the caller may write has a `PUT /orgs/{id}/{property}` of its
/// own in the document, with the schema of its value; this one is for the other
/// paths: a nested one (`configuration.email.sender`) or a declared custom property.
#[utoipa::path(put, path = "/{org}/v2/orgs/{id}/{path}", tag = "org", request_body = Value,
    params(("org" = String, Path), ("id" = String, Path), ("path" = String, Path, description = "A property path")),
    responses((status = 200, body = PropertyResponse, description = "A list envelope for arrays, else a result"), (status = 400, body = Fault),
              (status = 403, body = Fault)))]
pub async fn put_org_property(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id, path)): Path<(String, String, String)>,
    headers: HeaderMap,
    ApiJson(value): ApiJson<Value>,
) -> Result<Response, Fault> {
    ctx.check_org_id(&id)?;
    let path = parse_prop_path(&path)?;
    let ops = [Op::SetAt(path.clone(), value)];
    let subject = ctx.subject();
    ctx.org.check_ops(&ops, &subject)?;
    let org =
        update_org(&state, &ctx, &headers, move |org| Ok((org.patched(&ops, &subject)?, org.schema.clone()))).await?;
    let Value::Object(doc) = org.props.to_value() else { return Err(Fault::internal(&"org document")) };
    Ok(property_body(value_at(&doc, &path).unwrap_or(Value::Null)))
}

/// Declares a custom `c_…` property and changes `schemasETag`.
#[utoipa::path(post, path = "/{org}/v2/schemas/org/properties", tag = "org",
    request_body = crate::openapi::org::DeclarePropertyRequest,
    params(("org" = String, Path)),
    responses((status = 200, body = PropertyDeclarationResponse), (status = 400, body = Fault), (status = 403, body = Fault),
              (status = 409, body = Fault)))]
pub async fn declare_property(
    State(state): State<AppState>,
    ctx: OrgCtx,
    headers: HeaderMap,
    ApiJson(body): ApiJson<DeclareProperty>,
) -> Result<Response, Fault> {
    ctx.authorize(Target::Schema, Operation::Create, "the org's schemas")?;
    let name = body.name.clone();
    let org = update_org(&state, &ctx, &headers, move |org| declare(org, body.clone())).await?;
    let declared = org.schema.iter().find(|p| p.name == name).ok_or_else(|| Fault::internal(&"declaration lost"))?;
    Ok(json(PropertyDeclarationResponse::from(declared).declared()))
}

/// The org with `declaration` added to its custom properties and a new
/// `schemasETag`. A name already declared is 409 `kExists`, whatever else is wrong.
fn declare(org: &Org, declaration: DeclareProperty) -> Result<(OrgProps, Vec<CustomProperty>), DomainError> {
    if org.schema.iter().any(|p| p.name == declaration.name) {
        return Err(DomainError::Exists(format!("{} is already declared.", declaration.name)));
    }
    let declared = declaration.validate(&org.roles(), &org.schema).map_err(DomainError::Validation)?;
    let mut props = org.props.clone();
    props.schemas_etag = secret::token()[..32].to_owned();
    let mut schema = org.schema.clone();
    schema.push(declared);
    Ok((props, schema))
}

/// The org's custom property declarations.
#[utoipa::path(get, path = "/{org}/v2/schemas/org", tag = "org", params(("org" = String, Path)),
    responses((status = 200, body = OrgSchemaResponse), (status = 403, body = Fault)))]
pub async fn get_org_schema(ctx: OrgCtx) -> Result<Response, Fault> {
    ctx.authorize(Target::Schema, Operation::Read, "the org's schemas")?;
    Ok(json(OrgSchemaResponse::new(&ctx.org.schema, &ctx.org.props.schemas_etag)))
}

#[cfg(test)]
mod tests {
    use orgbase_domain::Clock;
    use orgbase_domain::org::NewOrg;

    use super::*;

    #[test]
    fn etags_name_the_org_version_level_and_paths() {
        let new = NewOrg { code: "example".into(), name: "Example".into(), locale: None, tz: None };
        let mut org = Org::create(new, orgbase_domain::SystemClock.now()).unwrap();
        org.version = 1234;
        let tag = org_etag(&org, Level::Read, None, &[]);
        assert_eq!(tag, format!("\"{}.1234.{}\"", org.id, Level::Read.as_u8()));
        assert_eq!(etag_version(&tag), Some(1234));
        assert_eq!(etag_version(&format!("W/{tag}")), Some(1234));
        let paths = ["name".to_owned(), "locale".to_owned()];
        let narrowed = org_etag(&org, Level::Read, Some(&paths), &[]);
        let digest = &secret::digest("name,locale")[..8];
        assert_eq!(narrowed, format!("\"{}.1234.{}.{digest}\"", org.id, Level::Read.as_u8()));
        assert_ne!(org_etag(&org, Level::Delete, None, &[]), tag);
    }
}
