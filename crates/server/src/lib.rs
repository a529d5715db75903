//! The orgbase server: the HTTP API (axum), its error mapping, OpenAPI, config,
//! telemetry and the `orgbase` command line. Business rules live in
//! `orgbase-domain`; SQL lives in the `store-*` crates.
//!
//! While [`serve`] runs, a task purges expired login sessions, signed-request
//! nonces and rate-limit state every minute.

pub mod around;
pub mod auth;
pub mod cli;
pub mod client_addr;
pub mod config;
pub mod context;
pub mod cors;
pub mod edge;
pub mod extract;
pub mod fault;
pub mod flows;
pub mod mail;
pub mod media;
pub mod openapi;
pub mod pages;
pub mod responses;
pub mod routes;
pub mod sensitive;
pub mod state;
pub mod telemetry;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request};
use axum::routing::{delete, get, patch, post};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::normalize_path::NormalizePathLayer;

use crate::around::AroundLayer;
use crate::fault::Fault;
use crate::routes::{
    accounts, apps, connections, facilities, health, members, orgs, platform, posts, sessions, taxonomy,
};
pub use crate::state::AppState;

/// The whole API as one router.
pub fn router(state: AppState) -> Router {
    let org_routes = Router::new()
        .route("/", get(orgs::get_public_org).patch(orgs::patch_public_org))
        .route("/orgs/{id}", get(orgs::get_org).patch(orgs::patch_org))
        .route("/orgs/{id}/posts", get(posts::list_posts).post(posts::create_post))
        .route("/orgs/{id}/posts/{post}", delete(posts::delete_post))
        .route("/orgs/{id}/connections", post(connections::create_connection))
        .route("/connections", get(connections::list_connections))
        .route("/connections/accept", post(connections::accept_connection_by_body))
        .route("/connections/decline", post(connections::decline_connection_by_body))
        .route("/connections/{key}", post(connections::accept_connection).delete(connections::delete_connection))
        .route("/connections/{id}/resend", post(connections::resend_connection))
        .route("/apps", get(apps::list_apps).post(apps::create_app))
        .route("/apps/{key}", get(apps::get_app).patch(apps::update_app).delete(apps::delete_app))
        .route("/apps/{key}/rotate-secret", post(apps::rotate_app_secret))
        .route("/members", get(members::list_members))
        .route("/members/{id}", get(members::get_member).patch(members::update_member).delete(members::delete_member))
        .route("/orgs/{id}/{*path}", get(orgs::get_org_property).put(orgs::put_org_property))
        .route("/schemas/org", get(orgs::get_org_schema))
        .route("/schemas/org/properties", post(orgs::declare_property))
        .route("/accounts/register", post(accounts::register))
        .route("/accounts/login", post(accounts::login))
        .route("/accounts/me", get(accounts::get_me))
        .route("/accounts/me/logout", post(accounts::logout))
        .route("/accounts/me/update-password", post(accounts::update_password))
        .route("/accounts/status", get(accounts::get_status))
        .route("/accounts/request-password-reset", post(accounts::request_password_reset))
        .route("/accounts/reset-password", post(accounts::reset_password))
        .route("/accounts/verify", post(accounts::verify_email))
        .route("/accounts/me/sessions", get(sessions::list_my_sessions))
        .route("/sessions", get(sessions::list_sessions).post(sessions::create_session))
        .route(
            "/sessions/{id}",
            get(sessions::get_session).patch(sessions::patch_session).delete(sessions::delete_session),
        )
        .route("/sessions/{id}/start", post(sessions::start_session))
        .route("/sessions/{id}/end", post(sessions::end_session))
        .route("/sessions/{id}/participants", get(sessions::list_participants).post(sessions::add_participant))
        .route(
            "/sessions/{id}/participants/{account}",
            patch(sessions::patch_participant).delete(sessions::remove_participant),
        )
        .route("/sessions/{id}/join-token", get(sessions::create_join_token).post(sessions::create_join_token))
        .route("/facilities", get(facilities::list_facilities).post(facilities::create_facility))
        .route(
            "/facilities/{id}",
            get(facilities::get_facility).patch(facilities::patch_facility).delete(facilities::delete_facility),
        )
        .route("/facilities/{id}/rooms", get(facilities::list_rooms).post(facilities::create_room))
        .route(
            "/facilities/{id}/rooms/{room}",
            get(facilities::get_room).patch(facilities::patch_room).delete(facilities::delete_room),
        )
        .route("/taxonomy/org/types", get(taxonomy::get_org_types))
        .route("/taxonomy/countries", get(taxonomy::get_countries))
        .route("/taxonomy/user/titles", get(taxonomy::get_user_titles))
        .route("/taxonomy/user/specialities", get(taxonomy::get_user_specialities))
        .route("/taxonomy/session/types", get(taxonomy::get_session_types))
        .route("/taxonomy/session/durations", get(taxonomy::get_session_durations))
        .layer(context::ResolveOrgLayer(state.clone()));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(health::openapi))
        .route("/platform/v1/orgs", get(platform::list_orgs).post(platform::create_org))
        .route("/platform/v1/orgs/{id}", patch(platform::update_org_state))
        .route("/assets/pages.js", get(pages::script))
        .route("/assets/pages.css", get(pages::style))
        .route("/{org}/accept", get(pages::accept_page).post(pages::accept))
        .route("/{org}/verify", get(pages::verify_page).post(pages::verify))
        .route("/{org}/reset", get(pages::reset_page).post(pages::reset))
        // Only on the routes above: the org routes' template reaches the metrics
        // through `ResolveOrgLayer`, with no layer of their own.
        .layer(AroundLayer(telemetry::ExposeRoute))
        .nest("/{org}/v2", org_routes)
        .fallback(|| async { Fault::not_found("Route") })
        .with_state(state)
}

/// The router inside what every request goes through: trailing slashes trimmed,
/// CORS, then `edge` (a request id, the request's span, panics caught, the
/// timeout, metrics, faults rendered) and the body limit. These wrap the router
/// once, rather than each route (`Router::layer`), so a request runs them once.
pub fn app(
    state: AppState,
) -> impl tower::Service<Request, Response = axum::response::Response, Error = std::convert::Infallible, Future: Send>
+ Clone
+ Send
+ 'static {
    let body_limit = state.config.body_limit;
    let timeout = Duration::from_secs(state.config.request_timeout.max(1));
    // Every layer here runs for every request: they are tower layers that
    // neither clone nor box what they wrap per request (`around`), and CORS runs
    // only for requests with an `Origin` (`cors`).
    ServiceBuilder::new()
        .map_response(axum::response::IntoResponse::into_response)
        .layer(NormalizePathLayer::trim_trailing_slash())
        .layer(cors::layer(state.clone()))
        .map_response(axum::response::IntoResponse::into_response)
        .layer(edge::EdgeLayer { timeout })
        // A `Content-Length` over the limit is refused at once, before the body
        // is read (a client announcing 8 MiB and sending nothing gets its 413 now,
        // not a 408 later); a body without one is cut off at the limit as it comes.
        .map_response(axum::response::IntoResponse::into_response)
        .layer(RequestBodyLimitLayer::new(body_limit))
        .map_request(|req: Request<tower_http::body::Limited<Body>>| req.map(Body::new))
        .layer(DefaultBodyLimit::max(body_limit))
        .service(router(state))
}

/// Serves the API on `listener` until `shutdown` completes, then lets the requests
/// in flight finish. Meanwhile expired rows are purged on a schedule.
///
/// Each connection is served by hyper (HTTP/1.1, or HTTP/2 with prior knowledge)
/// with the limits of the config, so that slow or idle clients cannot hold the
/// server's connections: `header_read_timeout` for a request's headers (hyper
/// starts it whenever the connection waits for a request), `idle_timeout` for a
/// connection that sends nothing while the server waits to read (which also bounds
/// the wait for the first bytes, before hyper knows the protocol), and at most
/// `max_connections` at once: at the cap the server stops accepting, and new
/// clients wait in the kernel's queue until a connection closes. Handlers get the
/// peer's address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    telemetry::init_metrics();
    let purger = tokio::spawn(purge_expired(state.clone()));
    let config = &state.config;
    let header_read_timeout = Duration::from_secs(config.header_read_timeout.max(1));
    let idle_timeout = Duration::from_secs(config.idle_timeout.max(1));
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(idle_timeout))
        .keep_alive_timeout(header_read_timeout);
    let builder = Arc::new(builder);
    let app = app(state);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A slot first: at the cap, nothing is accepted until a connection ends.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors (EMFILE/ENFILE) or a connection that
                    // went before it was accepted: wait a moment rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers are written whole; no need to wait for more to fill a packet.
        let _ = stream.set_nodelay(true);
        let mut stream = TimeoutStream::new(stream);
        stream.set_read_timeout(Some(idle_timeout));
        stream.set_write_timeout(Some(idle_timeout));
        let service = app.clone().map_request(move |req: Request<Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(Box::pin(stream)), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that hung up or timed out: nothing to tell anyone.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    purger.abort();
    Ok(())
}

/// How often expired login sessions, signed-request nonces and rate-limit state
/// are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// Deletes expired rows every [`PURGE_INTERVAL`] (a failure is logged and tried
/// again next time): the store then holds only what can still be used.
async fn purge_expired(state: AppState) {
    let mut tick = tokio::time::interval(PURGE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = state.clock.now();
        // Nonces are kept for twice the window in which a timestamp is accepted.
        let nonces_before = now - chrono::Duration::minutes(auth::SIGNATURE_WINDOW_MINUTES * 2);
        match state.store.purge_expired(now, nonces_before).await {
            Ok(0) => {}
            Ok(rows) => tracing::debug!(rows, "purged expired sessions, nonces and rate limits"),
            Err(e) => tracing::warn!(error = %e, "could not purge expired sessions, nonces and rate limits"),
        }
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
