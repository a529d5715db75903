//! Middleware that looks at a request before the service inside runs and at its
//! response after, as a plain tower layer. axum's `from_fn` is simpler to write,
//! but per request it clones the service inside, boxes it and boxes the future;
//! on the hottest paths (every request goes through the fault renderer and the
//! metrics) that was measurable in `bench/` W1.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;

/// What a middleware does around the service inside.
pub trait Around: Clone {
    /// What it takes from the request for later.
    type Seen;
    /// Looks at the request before it runs.
    fn before(&self, req: &Request) -> Self::Seen;
    /// Makes the response, from what it saw and the inner service's response.
    fn after(&self, seen: Self::Seen, res: Response) -> Response;
}

/// The layer of an [`Around`].
#[derive(Clone, Copy, Debug, Default)]
pub struct AroundLayer<A>(pub A);

impl<S, A: Around> tower::Layer<S> for AroundLayer<A> {
    type Service = AroundService<S, A>;

    fn layer(&self, inner: S) -> Self::Service {
        AroundService { inner, around: self.0.clone() }
    }
}

/// A service wrapped by an [`Around`].
#[derive(Clone, Debug)]
pub struct AroundService<S, A> {
    inner: S,
    around: A,
}

impl<S, A> tower::Service<Request> for AroundService<S, A>
where
    S: tower::Service<Request>,
    S::Response: IntoResponse,
    A: Around,
{
    type Response = Response;
    type Error = S::Error;
    type Future = AroundFuture<S::Future, A>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let seen = self.around.before(&req);
        AroundFuture { inner: self.inner.call(req), after: Some((self.around.clone(), seen)) }
    }
}

pin_project! {
    /// The response future of an [`AroundService`].
    pub struct AroundFuture<F, A: Around> {
        #[pin]
        inner: F,
        after: Option<(A, A::Seen)>,
    }
}

impl<F, R, E, A> Future for AroundFuture<F, A>
where
    F: Future<Output = Result<R, E>>,
    R: IntoResponse,
    A: Around,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = ready!(this.inner.poll(cx))?.into_response();
        // `after` is there until the one time the inner future is ready.
        Poll::Ready(Ok(match this.after.take() {
            Some((around, seen)) => around.after(seen, res),
            None => res,
        }))
    }
}
