//! The taxonomy under `/{org}/v2/taxonomy`: the fixed values of org, user and
//! session fields, each a list envelope of `{code, name}`. Public (a client key is
//! enough), and cacheable: every response carries a strong `ETag` of its body, and
//! `If-None-Match` answers 304. The lists themselves live in `domain::taxonomy`.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use orgbase_domain::secret;
use orgbase_domain::taxonomy::Taxonomy;

use crate::context::OrgCtx;
use crate::fault::Fault;
use crate::responses::{ListResponse, TaxonomyTermResponse};
use crate::routes::common::not_modified;

/// One taxonomy's body and ETag, rendered once per process.
struct Rendered {
    body: Vec<u8>,
    etag: HeaderValue,
}

static RENDERED: LazyLock<HashMap<Taxonomy, Rendered>> = LazyLock::new(|| {
    Taxonomy::ALL
        .into_iter()
        .map(|t| {
            let terms = t.terms().into_iter().map(TaxonomyTermResponse::from).collect();
            // Static strings always serialise.
            let body = serde_json::to_string(&ListResponse::all(terms)).unwrap_or_default();
            // The digest of the body: it changes exactly when the list does.
            let etag = format!("\"{}\"", &secret::digest(&body)[..32]);
            let etag = HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
            (t, Rendered { body: body.into_bytes(), etag })
        })
        .collect()
});

fn respond(taxonomy: Taxonomy, headers: &HeaderMap) -> Result<Response, Fault> {
    let rendered = RENDERED.get(&taxonomy).ok_or_else(|| Fault::internal(&"taxonomy not rendered"))?;
    let cache =
        [(header::ETAG, rendered.etag.clone()), (header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600"))];
    let etag = rendered.etag.to_str().unwrap_or_default();
    if not_modified(headers, etag) {
        return Ok(crate::fault::not_modified(cache));
    }
    let json = [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))];
    Ok((cache, json, rendered.body.clone()).into_response())
}

macro_rules! taxonomy_route {
    ($(#[$doc:meta])* $name:ident, $taxonomy:expr, $path:literal) => {
        $(#[$doc])*
        #[utoipa::path(get, path = $path, tag = "taxonomy",
            params(("org" = String, Path, description = "The org code"),
                   ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer")),
            responses((status = 200, body = ListResponse<TaxonomyTermResponse>),
                      (status = 304), (status = 400, body = Fault)))]
        pub async fn $name(_ctx: OrgCtx, headers: HeaderMap) -> Result<Response, Fault> {
            respond($taxonomy, &headers)
        }
    };
}

taxonomy_route!(
    /// The org types (`HOSPITAL`, `CLINIC`, `UNIVERSITY`, `MEDICAL_DEVICE_COMPANY`…).
    get_org_types, Taxonomy::OrgTypes, "/{org}/v2/taxonomy/org/types"
);
taxonomy_route!(
    /// Every ISO 3166-1 country, by alpha-3 code (`GBR`, `FRA`…).
    get_countries, Taxonomy::Countries, "/{org}/v2/taxonomy/countries"
);
taxonomy_route!(
    /// The titles of people (`DR`, `PROF`…).
    get_user_titles, Taxonomy::UserTitles, "/{org}/v2/taxonomy/user/titles"
);
taxonomy_route!(
    /// The clinical specialities of people and sessions (`NEUROSURGERY`…).
    get_user_specialities, Taxonomy::UserSpecialities, "/{org}/v2/taxonomy/user/specialities"
);
taxonomy_route!(
    /// The session types (`SURGERY`, `TEACHING`…).
    get_session_types, Taxonomy::SessionTypes, "/{org}/v2/taxonomy/session/types"
);
taxonomy_route!(
    /// The estimated session durations, as ISO 8601 durations (`PT1H30M`…).
    get_session_durations, Taxonomy::SessionDurations, "/{org}/v2/taxonomy/session/durations"
);
