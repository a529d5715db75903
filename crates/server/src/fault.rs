//! The API's one error shape, and the only place that knows HTTP status codes.
//!
//! Handlers return [`Fault`]. Its `IntoResponse` leaves the fault in the response's
//! extensions, and [`crate::edge::Edge`], which knows the request id,
//! writes the JSON body. The same middleware turns any bodiless or plain-text error
//! that a layer or axum itself produced (unknown route, wrong method, body limit) into
//! a fault, so no client ever sees anything but
//! `{"object":"fault","code":…,"status":…,"trace":…}`.

use axum::body::Body;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, IntoResponseParts, Response};
use orgbase_domain::{DomainError, FieldError, StoreError};
use serde::Serialize;
use serde_json::json;

/// `Retry-After` of a write refused because the storage is full: freeing space
/// takes an operator, so clients should not hammer.
const STORAGE_FULL_RETRY_AFTER: u64 = 30;
/// `Retry-After` of a request refused because the database is unreachable: a
/// restart or a failover usually takes seconds.
const UNAVAILABLE_RETRY_AFTER: u64 = 5;

/// One error of the API, rendered as SPEC's fault.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// Always `"fault"`.
    pub object: &'static str,
    /// Always `"error"`.
    pub name: &'static str,
    /// The `k…` code, e.g. `kAccessDenied`.
    pub code: &'static str,
    /// `cortex.<category>.<detail>`.
    pub err_code: String,
    /// The HTTP status, repeated for clients that read only the body.
    pub status: u16,
    /// What went wrong, for people.
    pub reason: String,
    /// The property concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Nested causes of a validation error.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub faults: Vec<Fault>,
    /// The request id, filled in by the middleware.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    /// Seconds to wait, for 429 and 503 (`Retry-After`).
    #[serde(skip)]
    pub retry_after: Option<u64>,
    /// What caused a 500, for the log (with the request id); never sent.
    #[serde(skip)]
    pub cause: Option<String>,
}

impl Fault {
    /// A fault with a status, code, errCode detail and reason. Private: every other
    /// file names the fault it means through a constructor below.
    fn new(status: StatusCode, code: &'static str, err_code: &str, reason: impl Into<String>) -> Self {
        Self {
            object: "fault",
            name: "error",
            code,
            err_code: format!("cortex.{err_code}"),
            status: status.as_u16(),
            reason: reason.into(),
            path: None,
            faults: Vec::new(),
            trace: None,
            retry_after: None,
            cause: None,
        }
    }

    /// Names the property concerned.
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// 404 `kNotFound`. Also for things the caller may not know exist.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "kNotFound", "notFound.instance", format!("{what} not found."))
    }

    /// 400 `kInvalidClient`: a missing, unknown or foreign client key.
    pub fn invalid_client() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "kInvalidClient",
            "invalidArgument.invalidClient",
            "A valid client key for this org is required (Medable-Client-Key or Orgbase-Client-Key).",
        )
    }

    /// 400 `kInvalidArgument`.
    pub fn invalid_argument(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "kInvalidArgument", "invalidArgument.unspecified", reason)
    }

    /// 400 `kValidationError` with one nested fault per cause.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let path = match errors.as_slice() {
            [only] => Some(only.path.clone()).filter(|p| !p.is_empty()),
            _ => None,
        };
        let faults = errors
            .into_iter()
            .map(|e| {
                let f = Self::new(StatusCode::BAD_REQUEST, "kInvalidArgument", "invalidArgument.validation", e.reason);
                if e.path.is_empty() { f } else { f.at(e.path) }
            })
            .collect();
        Self {
            path,
            faults,
            ..Self::new(StatusCode::BAD_REQUEST, "kValidationError", "invalidArgument.validation", "Validation error.")
        }
    }

    /// 403 `kAccessDenied`.
    pub fn access_denied(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "kAccessDenied", "accessDenied.unspecified", reason)
    }

    /// 403 `kAccessDenied`: the org needs a verified email to log in, and this
    /// account's is not (a new link was mailed).
    pub fn email_not_verified() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "kAccessDenied",
            "accessDenied.emailNotVerified",
            "Verify your email first: a new link was mailed to you.",
        )
    }

    /// 403 `kNotLoggedIn`.
    pub fn not_logged_in() -> Self {
        Self::new(StatusCode::FORBIDDEN, "kNotLoggedIn", "accessDenied.notLoggedIn", "You are not logged in.")
    }

    /// 403 `kSessionExpired`.
    pub fn session_expired() -> Self {
        Self::new(StatusCode::FORBIDDEN, "kSessionExpired", "accessDenied.sessionExpired", "Your session has expired.")
    }

    /// 403 `kCSRFTokenMismatch`.
    pub fn csrf_mismatch() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "kCSRFTokenMismatch",
            "accessDenied.csrfTokenMismatch",
            "A write authenticated by cookie must send the Medable-Csrf-Token header.",
        )
    }

    /// 403 `kInvalidCredentials`: the same for an unknown email and a wrong password.
    pub fn invalid_credentials() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "kInvalidCredentials",
            "accessDenied.invalidCredentials",
            "Invalid email or password.",
        )
    }

    /// 403 `kAccessDenied`: the one fault of every refused signed request, whatever
    /// the cause.
    pub fn invalid_signature() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "kAccessDenied",
            "accessDenied.invalidSignature",
            "The request signature is not valid.",
        )
    }

    /// 403 `kMaintenance`: the org is in maintenance and the caller may not pass.
    pub fn maintenance(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "kMaintenance", "accessDenied.maintenance", reason)
    }

    /// 410 `kExpired`: an invitation past its expiry.
    pub fn invitation_expired() -> Self {
        Self::new(StatusCode::GONE, "kExpired", "expired.connection", "This invitation has expired.")
    }

    /// 410 `kTokenExpired`: a mailed link (verification, password reset) past its
    /// expiry, or used meanwhile.
    pub fn link_expired() -> Self {
        Self::new(StatusCode::GONE, "kTokenExpired", "expired.token", "This link has expired.")
    }

    /// 400 `kOrgDisabled`.
    pub fn org_disabled() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "kOrgDisabled", "invalidArgument.orgDisabled", "This org is disabled.")
    }

    /// 409 `kExists`.
    pub fn exists(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "kExists", "conflict.exists", reason)
    }

    /// 413 `kRequestTooLarge`.
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "kRequestTooLarge",
            "tooLarge.request",
            "The request body is too large.",
        )
    }

    /// 429 `kThrottled`, with `Retry-After` (whole seconds, at least 1).
    pub fn throttled(wait: std::time::Duration) -> Self {
        let mut fault = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "kThrottled",
            "throttled.tooManyAttempts",
            "Too many attempts. Try again later.",
        );
        fault.retry_after = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
        fault
    }

    /// 408 `kTimeout`: the request took longer than the configured timeout.
    pub fn timeout() -> Self {
        Self::for_status(StatusCode::REQUEST_TIMEOUT)
    }

    /// The fault of a request body that could not be read: 413 when it passed the
    /// body limit, else 400.
    pub fn unreadable_body(rejection: &BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::too_large()
        } else {
            Self::invalid_argument("The request body could not be read.")
        }
    }

    /// 415 `kUnsupportedMedia`.
    pub fn unsupported_media(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "kUnsupportedMedia", "unsupportedMedia.contentType", reason)
    }

    /// 500 `kError`. The cause goes to the log (by [`crate::edge::Edge`], with the
    /// request id), never to the client.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        let mut fault =
            Self::new(StatusCode::INTERNAL_SERVER_ERROR, "kError", "error.unspecified", "An internal error occurred.");
        fault.cause = Some(cause.to_string());
        fault
    }

    /// 503 `kStorageFull`: the database's storage is full, so writes fail until an
    /// operator frees space. The cause goes to the log, as for [`Self::internal`].
    pub fn storage_full(cause: &dyn std::fmt::Display) -> Self {
        let mut fault = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "kStorageFull",
            "unavailable.storageFull",
            "The server's storage is full. Try again later.",
        );
        fault.retry_after = Some(STORAGE_FULL_RETRY_AFTER);
        fault.cause = Some(cause.to_string());
        fault
    }

    /// 503 `kUnavailable`: the database cannot be reached now. The cause goes to
    /// the log, as for [`Self::internal`].
    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        let mut fault = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "kUnavailable",
            "unavailable.database",
            "The service is unavailable. Try again later.",
        );
        fault.retry_after = Some(UNAVAILABLE_RETRY_AFTER);
        fault.cause = Some(cause.to_string());
        fault
    }

    /// 503 `kUnavailable` of `/readyz`: this node should get no traffic now.
    pub fn not_ready(reason: impl Into<String>) -> Self {
        let mut fault = Self::new(StatusCode::SERVICE_UNAVAILABLE, "kUnavailable", "unavailable.notReady", reason);
        fault.retry_after = Some(UNAVAILABLE_RETRY_AFTER);
        fault
    }

    /// The fault that stands for a bare status from a layer or from axum's router.
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::not_found("Route"),
            StatusCode::METHOD_NOT_ALLOWED => Self::new(
                status,
                "kUnsupportedOperation",
                "unsupportedOperation.method",
                "This method is not supported here.",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => Self::too_large(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::unsupported_media("Send application/json."),
            StatusCode::REQUEST_TIMEOUT => {
                Self::new(status, "kTimeout", "timeout.request", "The request took too long.")
            }
            s if s.is_client_error() => Self::invalid_argument(s.canonical_reason().unwrap_or("Bad request.")),
            _ => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "kError",
                "error.unspecified",
                "An internal error occurred.",
            ),
        }
    }

    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<DomainError> for Fault {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Validation(errors) => Self::validation(errors),
            DomainError::Exists(reason) => Self::exists(reason),
            DomainError::NotFound => Self::not_found("Object"),
            DomainError::AccessDenied { path, reason } => {
                let f = Self::access_denied(reason);
                match path {
                    Some(p) => f.at(p),
                    None => f,
                }
            }
            DomainError::Conflict(reason) => Self::new(StatusCode::CONFLICT, "kInvalidState", "conflict.state", reason),
            DomainError::Expired => Self::new(StatusCode::GONE, "kExpired", "expired.token", "This has expired."),
            DomainError::PreconditionFailed => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "kPreconditionFailed",
                "preconditionFailed.etag",
                "The object changed since it was read (If-Match).",
            ),
            DomainError::Store(e @ StoreError::StorageFull(_)) => Self::storage_full(&e),
            DomainError::Store(e @ StoreError::Unavailable(_)) => Self::unavailable(&e),
            DomainError::Store(e) => Self::internal(&e),
        }
    }
}

impl From<FieldError> for Fault {
    fn from(e: FieldError) -> Self {
        Fault::validation(vec![e])
    }
}

impl From<StoreError> for Fault {
    fn from(e: StoreError) -> Self {
        DomainError::from(e).into()
    }
}

/// 304 Not Modified with `headers` (the `ETag`, caching): the answer to an
/// `If-None-Match` that names the current version. Not a fault, but a status, so
/// it is chosen here.
pub fn not_modified(headers: impl IntoResponseParts) -> Response {
    (StatusCode::NOT_MODIFIED, headers, ()).into_response()
}

/// Marks a response as carrying a fault that [`crate::edge::Edge`] must render.
#[derive(Clone)]
struct PendingFault(Box<Fault>);

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = self.status_code();
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res.extensions_mut().insert(PendingFault(Box::new(self)));
        res
    }
}

/// Writes a fault's body with the request id as `trace`, and turns any other error
/// response that is not JSON into the matching fault (by [`crate::edge::Edge`]).
pub(crate) fn render_fault(trace: &HeaderValue, method: &Method, uri: &Uri, mut res: Response) -> Response {
    let pending = res.extensions_mut().remove::<PendingFault>();
    let fault = match pending {
        Some(PendingFault(fault)) => *fault,
        None => {
            let status = res.status();
            let is_json =
                res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            if !(status.is_client_error() || status.is_server_error()) || is_json {
                return res;
            }
            Fault::for_status(status)
        }
    };
    let status = res.status();
    let mut fault = fault;
    fault.trace = trace.to_str().ok().map(str::to_owned);
    if status.is_server_error() {
        // The path only: query strings may carry tokens.
        let (request_id, path) =
            (fault.trace.as_deref().unwrap_or_default(), crate::telemetry::loggable_path(uri.path()));
        let cause = fault.cause.as_deref().unwrap_or("-");
        tracing::error!(request_id, %method, path = %path, status = status.as_u16(), error = cause, "request failed");
    }
    let body = serde_json::to_vec(&fault).unwrap_or_else(|_| json!({"object": "fault"}).to_string().into_bytes());
    let (mut parts, _) = res.into_parts();
    parts.status = status;
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
