//! What every request goes through first, as one layer: its request id (the
//! client's `x-request-id`, or a new one), its span, the panic catcher, the
//! timeout, the fault renderer and the metrics. These were seven layers
//! (tower-http's request id, propagation, trace, panic catcher and timeout, the
//! fault renderer, and the metrics around each route); as one, a request pays for
//! one future around the rest instead of seven, on the path of every request
//! (`bench/` W1). The timeout's timer is armed only when the
//! answer is not ready at once: most reads answer from memory in one poll and
//! never touch tokio's timer wheel.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::header::HeaderName;
use axum::http::{HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tracing::Span;

use crate::fault::{self, Fault};
use crate::telemetry;

/// The request id's header, on requests and responses.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The layer of [`Edge`], with the time a request may take before it is answered
/// 408 `kTimeout`.
#[derive(Clone, Copy, Debug)]
pub struct EdgeLayer {
    /// The request timeout.
    pub timeout: Duration,
}

impl<S> tower::Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Edge { inner, timeout: self.timeout }
    }
}

/// The service inside, with a request id, a span, panics caught, a timeout and
/// faults rendered.
#[derive(Clone, Debug)]
pub struct Edge<S> {
    inner: S,
    timeout: Duration,
}

/// What the response needs from the request.
struct Seen {
    request_id: HeaderValue,
    method: Method,
    uri: Uri,
}

impl<S> tower::Service<Request> for Edge<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let request_id = match req.headers().get(X_REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                let id = telemetry::new_request_id();
                req.headers_mut().insert(X_REQUEST_ID, id.clone());
                id
            }
        };
        let span = telemetry::request_span(&req);
        let started = Instant::now();
        let seen = Seen { request_id, method: req.method().clone(), uri: req.uri().clone() };
        let called = {
            let _entered = span.enter();
            catch_unwind(AssertUnwindSafe(|| self.inner.call(req)))
        };
        let (inner, panicked) = match called {
            Ok(future) => (Some(future), None),
            Err(panic) => (None, Some(panic_message(&*panic))),
        };
        EdgeFuture { inner, deadline: None, timeout: self.timeout, panicked, seen: Some(seen), span, started }
    }
}

pin_project! {
    /// The response future of [`Edge`].
    pub struct EdgeFuture<F> {
        #[pin]
        inner: Option<F>,
        // Armed the first time `inner` is not ready.
        #[pin]
        deadline: Option<Sleep>,
        timeout: Duration,
        // Set when the service panicked in `call`, before any future.
        panicked: Option<String>,
        // There until the one time the future is ready.
        seen: Option<Seen>,
        span: Span,
        started: Instant,
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let span: &Span = this.span;
        let res = match this.inner.as_pin_mut() {
            Some(inner) => {
                let _entered = span.enter();
                match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
                    Ok(Poll::Pending) => {
                        let mut deadline = this.deadline;
                        if deadline.as_ref().get_ref().is_none() {
                            deadline.set(Some(tokio::time::sleep(*this.timeout)));
                        }
                        match deadline.as_pin_mut().map(|sleep| sleep.poll(cx)) {
                            // Dropped with this future, the inner one never runs again.
                            Some(Poll::Ready(())) => Fault::timeout().into_response(),
                            _ => return Poll::Pending,
                        }
                    }
                    Ok(Poll::Ready(Ok(res))) => res,
                    Ok(Poll::Ready(Err(never))) => match never {},
                    // The inner future is not polled again: this one is ready now.
                    Err(panic) => panicked(&panic_message(&*panic)),
                }
            }
            None => panicked(this.panicked.as_deref().unwrap_or("unknown")),
        };
        let Some(Seen { request_id, method, uri }) = this.seen.take() else {
            return Poll::Ready(Ok(res));
        };
        let mut res = fault::render_fault(&request_id, &method, &uri, res);
        if !res.headers().contains_key(X_REQUEST_ID) {
            res.headers_mut().insert(X_REQUEST_ID, request_id);
        }
        let (elapsed, status) = (this.started.elapsed(), res.status().as_u16());
        telemetry::record_request(res.extensions().get::<MatchedPath>(), &method, status, elapsed);
        if !span.is_disabled() {
            let latency_ms = elapsed.as_secs_f64() * 1000.0;
            tracing::debug!(parent: span, status, latency_ms, "finished processing request");
        }
        Poll::Ready(Ok(res))
    }
}

/// The 500 fault of a panic; its message goes to the log, not to the client.
fn panicked(message: &str) -> Response {
    Fault::internal(&format_args!("panic: {message}")).into_response()
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(s), _) => (*s).to_owned(),
        (None, Some(s)) => s.clone(),
        (None, None) => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use tower::{Layer, ServiceExt};

    use super::*;

    async fn call<F, Fut>(handler: F, req: Request) -> (Response, serde_json::Value)
    where
        F: FnMut(Request) -> Fut,
        Fut: Future<Output = Result<Response, Infallible>>,
    {
        let res = EDGE.layer(tower::service_fn(handler)).oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (Response::from_parts(parts, Body::empty()), json)
    }

    const EDGE: EdgeLayer = EdgeLayer { timeout: Duration::from_secs(30) };

    fn get() -> Request {
        Request::builder().uri("/example/v2").body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn each_request_gets_an_id_that_the_handler_and_the_response_see() {
        let (res, _) = call(
            |req: Request| async move {
                let id = req.headers()[X_REQUEST_ID].to_str().unwrap().to_owned();
                Ok(id.into_response())
            },
            get(),
        )
        .await;
        let id = res.headers()[X_REQUEST_ID].to_str().unwrap();
        assert_eq!(id.len(), 32);
        let (other, _) = call(|_| async { Ok(StatusCode::NO_CONTENT.into_response()) }, get()).await;
        assert_ne!(other.headers()[X_REQUEST_ID], res.headers()[X_REQUEST_ID]);
    }

    #[tokio::test]
    async fn a_client_request_id_is_kept() {
        let mut req = get();
        req.headers_mut().insert(X_REQUEST_ID, HeaderValue::from_static("client-chosen"));
        let (res, _) = call(|_| async { Ok(StatusCode::NO_CONTENT.into_response()) }, req).await;
        assert_eq!(res.headers()[X_REQUEST_ID], "client-chosen");
    }

    #[tokio::test]
    async fn faults_are_rendered_with_the_request_id() {
        let (res, body) = call(|_| async { Ok(Fault::not_found("Org").into_response()) }, get()).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(body["object"], "fault");
        assert_eq!(body["code"], "kNotFound");
        assert_eq!(body["trace"], res.headers()[X_REQUEST_ID].to_str().unwrap());
    }

    #[tokio::test]
    async fn a_panic_while_answering_is_a_500_fault_without_its_message() {
        let (res, body) = call(
            |_| async {
                if std::hint::black_box(true) {
                    panic!("secret detail");
                }
                Ok(StatusCode::OK.into_response())
            },
            get(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["code"], "kError");
        assert_eq!(body["trace"], res.headers()[X_REQUEST_ID].to_str().unwrap());
        assert!(!body.to_string().contains("secret detail"), "{body}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_over_the_timeout_is_a_408_fault() {
        let edge = EdgeLayer { timeout: Duration::from_secs(2) };
        let slow = tower::service_fn(|_: Request| async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok::<_, Infallible>(StatusCode::OK.into_response())
        });
        let res = edge.layer(slow).oneshot(get()).await.unwrap();
        assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
        let fast = tower::service_fn(|_: Request| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, Infallible>(StatusCode::OK.into_response())
        });
        assert_eq!(edge.layer(fast).oneshot(get()).await.unwrap().status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_panic_before_any_future_is_a_500_fault_too() {
        let service = tower::service_fn(|_: Request| -> std::future::Ready<Result<Response, Infallible>> {
            panic!("in call");
        });
        let res = EDGE.layer(service).oneshot(get()).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(res.headers().contains_key(X_REQUEST_ID));
    }
}
