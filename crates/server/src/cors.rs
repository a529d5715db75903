//! CORS for browser clients (the seed's examples call with `withCredentials`): an
//! origin is allowed for `/{org}/v2/...` when one of the org's apps lists it. Allowed
//! origins get their exact origin back, credentials, the `Medable-*` request headers
//! and `Medable-Csrf-Token` exposed; any other origin gets no CORS header at all.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, request::Parts};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::state::AppState;

const ALLOWED_HEADERS: &[&str] = &[
    "content-type",
    "authorization",
    "if-match",
    "if-none-match",
    "medable-client-key",
    "medable-csrf-token",
    "medable-client-signature",
    "medable-client-nonce",
    "medable-client-timestamp",
    "medable-client-account",
    "orgbase-client-key",
    "x-request-id",
];

/// The CORS layer, judging each origin against the apps of the org named by the
/// path (`/{org}/v2/...`); any other path allows no origin.
pub fn layer(state: AppState) -> CorsLayer {
    let allow = AllowOrigin::async_predicate(move |origin: HeaderValue, parts: &Parts| {
        let state = state.clone();
        // Outside the router: the path is the whole path, `/{org}/v2/...`. Other
        // top-level paths (`/platform`, `/healthz`) are reserved org codes, so no
        // org answers to them and no origin is allowed there.
        let mut segments = parts.uri.path().split('/').skip(1);
        let (code, api) = (segments.next().unwrap_or_default().to_owned(), segments.next());
        let code = if api == Some("v2") { code } else { String::new() };
        async move {
            let Ok(origin) = origin.to_str() else { return false };
            let Ok(Some(org)) = state.store.org_by_code(&code).await else { return false };
            let Ok(apps) = state.store.apps_of_org(org.id).await else { return false };
            apps.iter().filter(|a| a.enabled).any(|a| a.cors_origins.iter().any(|o| o == origin))
        }
    });
    CorsLayer::new()
        .allow_origin(allow)
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers(ALLOWED_HEADERS.iter().map(|h| HeaderName::from_static(h)).collect::<Vec<_>>())
        .expose_headers([
            HeaderName::from_static("medable-csrf-token"),
            HeaderName::from_static("etag"),
            HeaderName::from_static("x-request-id"),
        ])
        .max_age(Duration::from_secs(600))
}

/// tower-http's layer adds credentials, methods and headers even for an origin it
/// refused; a refused origin must get no CORS header at all, so strip them when
/// the origin was not granted.
pub fn strip_refused<B>(mut res: axum::http::Response<B>) -> axum::http::Response<B> {
    if !res.headers().contains_key(axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        let names: Vec<HeaderName> =
            res.headers().keys().filter(|k| k.as_str().starts_with("access-control-")).cloned().collect();
        for name in names {
            res.headers_mut().remove(name);
        }
    }
    res
}
