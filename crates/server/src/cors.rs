//! CORS for browser clients (the seed's examples call with `withCredentials`): an
//! origin is allowed for `/{org}/v2/...` when one of the org's apps lists it. Allowed
//! origins get their exact origin back, credentials, the `Medable-*` request headers
//! and `Medable-Csrf-Token` exposed; any other origin gets no CORS header at all.

use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, header, request::Parts};
use axum::response::Response;
use tower_http::cors::{AllowOrigin, Cors, CorsLayer, ResponseFuture};

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

/// CORS for the requests that carry `Origin` (see [`cors_layer`]); the others go
/// straight to the service inside, and their answers get the `Vary` header that
/// the CORS layer would have added (nothing else of it would have stayed: see
/// [`strip_refused`]).
#[derive(Clone)]
pub struct IfOrigin<S>(Cors<S>);

/// Wraps a service in [`IfOrigin`].
#[derive(Clone)]
pub struct Layer(CorsLayer);

/// CORS for `/{org}/v2/...`, as [`cors_layer`] decides it, run only for requests
/// with an `Origin` header.
pub fn layer(state: AppState) -> Layer {
    Layer(cors_layer(state))
}

impl<S> tower::Layer<S> for Layer {
    type Service = IfOrigin<S>;

    fn layer(&self, inner: S) -> Self::Service {
        IfOrigin(self.0.layer(inner))
    }
}

/// What every answer to a request without `Origin` gets: the CORS layer's `Vary`.
fn vary() -> HeaderValue {
    HeaderValue::from_static("origin, access-control-request-method, access-control-request-headers")
}

/// A plain function that maps an answer.
type MapFn<E> = fn(Result<Response, E>) -> Result<Response, E>;

/// A future whose answer is mapped by a plain function.
type Mapped<F, E> = futures::future::Map<F, MapFn<E>>;

impl<S> tower::Service<Request> for IfOrigin<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = futures::future::Either<Mapped<ResponseFuture<S::Future>, S::Error>, Mapped<S::Future, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        use futures::FutureExt;
        if req.headers().contains_key(header::ORIGIN) {
            let strip: MapFn<S::Error> = |r| r.map(strip_refused);
            return futures::future::Either::Left(self.0.call(req).map(strip));
        }
        let add_vary: MapFn<S::Error> = |r| {
            r.map(|mut res| {
                res.headers_mut().append(header::VARY, vary());
                res
            })
        };
        futures::future::Either::Right(self.0.get_mut().call(req).map(add_vary))
    }
}

/// The CORS layer, judging each origin against the apps of the org named by the
/// path (`/{org}/v2/...`); any other path allows no origin.
fn cors_layer(state: AppState) -> CorsLayer {
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
fn strip_refused(mut res: Response) -> Response {
    if !res.headers().contains_key(axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        let names: Vec<HeaderName> =
            res.headers().keys().filter(|k| k.as_str().starts_with("access-control-")).cloned().collect();
        for name in names {
            res.headers_mut().remove(name);
        }
    }
    res
}
