//! Logs and metrics. Logs are JSON lines through `tracing`, each request in a span
//! that carries its request id. Metrics are Prometheus counters and histograms per
//! matched route, rendered at `/metrics`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, PoisonError, RwLock};
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method};
use axum::response::Response;
use metrics::Histogram;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::around::Around;

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

fn prometheus() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5],
                )
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// How often the histograms' samples are folded into their buckets. Until then
/// each sample is kept on its own, so without upkeep (with nobody scraping
/// `/metrics`) memory grows with every request.
const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(1);

/// Installs the metrics recorder and its upkeep thread (once per process).
pub fn init_metrics() {
    static UPKEEP: OnceLock<()> = OnceLock::new();
    let Some(handle) = prometheus() else { return };
    UPKEEP.get_or_init(|| {
        let started = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
            loop {
                std::thread::sleep(METRICS_UPKEEP);
                handle.run_upkeep();
            }
        });
        if let Err(e) = started {
            tracing::error!(error = %e, "could not start the metrics upkeep thread; /metrics scrapes still drain the samples");
        }
    });
}

/// The metrics in Prometheus' text format.
pub fn render_metrics() -> String {
    prometheus().map(PrometheusHandle::render).unwrap_or_default()
}

/// The histogram of each (route, method, status) seen so far: registering one
/// builds and hashes its labels, which a request should not pay for every time.
type Histograms = HashMap<String, HashMap<(Method, u16), Histogram>>;

fn histogram(route: &str, method: &Method, status: u16) -> Histogram {
    static HISTOGRAMS: OnceLock<RwLock<Histograms>> = OnceLock::new();
    let histograms = HISTOGRAMS.get_or_init(RwLock::default);
    let key = (method.clone(), status);
    if let Some(h) = histograms.read().unwrap_or_else(PoisonError::into_inner).get(route).and_then(|m| m.get(&key)) {
        return h.clone();
    }
    let labels = [("method", method.to_string()), ("route", route.to_owned()), ("status", status.to_string())];
    let h = metrics::histogram!("http_request_duration_seconds", &labels);
    let mut histograms = histograms.write().unwrap_or_else(PoisonError::into_inner);
    histograms.entry(route.to_owned()).or_default().insert(key, h.clone());
    h
}

/// Records the time an answered request took, labelled by method, route template
/// (none for a request that matched no route) and status; the histogram's
/// `_count` series counts them. Called by `edge::Edge`.
pub fn record_request(route: Option<&MatchedPath>, method: &Method, status: u16, elapsed: Duration) {
    let route = route.map_or("unmatched", MatchedPath::as_str);
    histogram(route, method, status).record(elapsed.as_secs_f64());
}

/// Puts the request's route template (`MatchedPath`, known only once the router
/// matched it) on its response, where `edge::Edge` reads it for the metrics. The
/// routes of `/{org}/v2` get it from `context::ResolveOrg` instead, so that they
/// need no layer of their own.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExposeRoute;

impl Around for ExposeRoute {
    type Seen = Option<MatchedPath>;

    fn before(&self, req: &Request) -> Self::Seen {
        req.extensions().get::<MatchedPath>().cloned()
    }

    fn after(&self, route: Self::Seen, mut res: Response) -> Response {
        if let Some(route) = route {
            res.extensions_mut().insert(route);
        }
        res
    }
}

/// Installs the global log subscriber: JSON lines (or `pretty`) on stderr, filtered
/// by `RUST_LOG` (default `info`). Returns the guard of the log writer, to be held
/// until the process ends (dropping it flushes what is queued); `None` when a
/// subscriber was already installed (tests).
///
/// A log that cannot be written never costs a request its answer: lines go to a
/// queue that a thread of its own writes out, and when the queue is full (stderr
/// blocked or slow) new lines are dropped rather than waited for; a write that
/// fails (a full disk) is dropped too, without the subscriber trying to report its
/// own failure on that same stderr.
#[must_use = "dropping the guard stops the log writer"]
pub fn init_logs(format: &str) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .thread_name("orgbase-log")
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).log_internal_errors(false);
    let result = if format == "pretty" {
        builder.try_init()
    } else {
        builder.json().with_current_span(true).with_span_list(false).flatten_event(true).try_init()
    };
    result.ok().map(|()| guard)
}

/// A new request id: 32 hex characters, a random prefix drawn once per process and
/// a counter. Unique across nodes and restarts without a system call per request
/// (a random UUID per request asked the kernel for entropy every time), and
/// written without `format!`.
pub fn new_request_id() -> HeaderValue {
    static NEXT_REQUEST: AtomicU64 = AtomicU64::new(0);
    let n = NEXT_REQUEST.fetch_add(1, Ordering::Relaxed);
    let mut id = [0u8; 32];
    let (prefix, count) = id.split_at_mut(16);
    // Each half fits its 16 characters exactly, and hex digits are a valid value.
    let _ = hex::encode_to_slice(request_prefix().to_be_bytes(), prefix);
    let _ = hex::encode_to_slice(n.to_be_bytes(), count);
    HeaderValue::from_bytes(&id).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

fn request_prefix() -> u64 {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    *PREFIX.get_or_init(rand::random)
}

/// The span of a request, at DEBUG: at the default INFO level a request costs no
/// span, and a failed request's log line carries its request id itself
/// (`edge::Edge`).
pub fn request_span(req: &Request) -> tracing::Span {
    let request_id = req.headers().get(crate::edge::X_REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default();
    // The path only: query strings may carry tokens; and tokens in the path hidden.
    let path = loggable_path(req.uri().path());
    tracing::debug_span!("request", request_id = %request_id, method = %req.method(), path = %path)
}

/// A request's path as logs may show it: the seed's invitation routes carry the
/// token in the path (`/{org}/v2/connections/{token}`, kept for its clients), so
/// the segment after `connections` is redacted unless it is an id or a named
/// route (`accept`, `decline`).
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    let mut segments = path.split('/');
    let Some(at) = segments.position(|s| s == "connections") else { return path.into() };
    let keep = |s: &str| s.is_empty() || matches!(s, "accept" | "decline") || orgbase_domain::Id::parse(s).is_some();
    match path.split('/').nth(at + 1) {
        Some(next) if !keep(next) => {
            let shown: Vec<&str> =
                path.split('/').enumerate().map(|(i, s)| if i == at + 1 { "[redacted]" } else { s }).collect();
            shown.join("/").into()
        }
        _ => path.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_paths_are_redacted_for_logs() {
        let token = "ab".repeat(32);
        assert_eq!(loggable_path(&format!("/example/v2/connections/{token}")), "/example/v2/connections/[redacted]");
        assert_eq!(loggable_path("/example/v2/connections/x/"), "/example/v2/connections/[redacted]/");
        for kept in [
            "/example/v2/connections/5516ee1b34d8d934281699e3/resend",
            "/example/v2/connections/accept",
            "/example/v2/connections",
            "/example/v2/orgs/5516ee1b34d8d934281699e3",
        ] {
            assert_eq!(loggable_path(kept), kept);
        }
    }

    #[test]
    fn request_ids_are_32_hex_characters_with_one_prefix_per_process() {
        let (first, second) = (new_request_id(), new_request_id());
        let (first, second) = (first.to_str().unwrap(), second.to_str().unwrap());
        for id in [first, second] {
            assert_eq!(id.len(), 32);
            assert!(id.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)), "{id}");
        }
        assert_eq!(first[..16], format!("{:016x}", request_prefix()));
        assert_eq!(first[..16], second[..16]);
        let (a, b) = (u64::from_str_radix(&first[16..], 16).unwrap(), u64::from_str_radix(&second[16..], 16).unwrap());
        assert!(b > a, "the counter counts up: {first} then {second}");
    }
}
