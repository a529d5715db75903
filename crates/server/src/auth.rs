//! Authentication mechanics: session tokens (cookie `md.sid` or bearer), the CSRF
//! token derived from the session token, signed server-to-server requests, and the
//! login rate limits. What a caller may do is decided elsewhere (`domain::access`).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use chrono::Duration;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hmac::{Hmac, Mac};
use orgbase_domain::account::{Account, MemberState, Session};
use orgbase_domain::app::App;
use orgbase_domain::org::Org;
use orgbase_domain::{Id, secret};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::context::{AuthProblem, Caller, Proof};
use crate::fault::Fault;
use crate::state::AppState;

/// The session cookie, named as on the seed platform.
pub const SESSION_COOKIE: &str = "md.sid";
/// The CSRF header, sent on authenticated responses and echoed by cookie writes.
pub const CSRF_HEADER: &str = "medable-csrf-token";
/// How far a signed request's timestamp may be from the server's clock.
pub const SIGNATURE_WINDOW_MINUTES: i64 = 5;
/// A session's expiry is slid at most this often, to keep reads from writing.
const TOUCH_INTERVAL_SECONDS: i64 = 60;

/// 403 `kNotLoggedIn`.
pub fn not_logged_in() -> Fault {
    Fault::new(StatusCode::FORBIDDEN, "kNotLoggedIn", "accessDenied.notLoggedIn", "You are not logged in.")
}

/// 403 `kSessionExpired`.
pub fn session_expired() -> Fault {
    Fault::new(StatusCode::FORBIDDEN, "kSessionExpired", "accessDenied.sessionExpired", "Your session has expired.")
}

/// 403 `kCSRFTokenMismatch`.
pub fn csrf_mismatch() -> Fault {
    Fault::new(
        StatusCode::FORBIDDEN,
        "kCSRFTokenMismatch",
        "accessDenied.csrfTokenMismatch",
        "A write authenticated by cookie must send the Medable-Csrf-Token header.",
    )
}

/// 403 `kInvalidCredentials`: the same for an unknown email and a wrong password.
pub fn invalid_credentials() -> Fault {
    Fault::new(
        StatusCode::FORBIDDEN,
        "kInvalidCredentials",
        "accessDenied.invalidCredentials",
        "Invalid email or password.",
    )
}

/// The one fault of every refused signed request, whatever the cause.
pub fn invalid_signature() -> Fault {
    Fault::new(
        StatusCode::FORBIDDEN,
        "kAccessDenied",
        "accessDenied.invalidSignature",
        "The request signature is not valid.",
    )
}

/// The CSRF token of a session: derived from the session token, so it needs no
/// storage and cannot be computed without the (HttpOnly) cookie.
pub fn csrf_token(session_token: &str) -> String {
    secret::digest(&format!("csrf:{session_token}"))
}

/// True when the request echoes the expected CSRF token (constant-time).
pub fn csrf_matches(headers: &HeaderMap, expected: &str) -> bool {
    headers.get(CSRF_HEADER).is_some_and(|given| bool::from(given.as_bytes().ct_eq(expected.as_bytes())))
}

/// The session token of a request: `Authorization: Bearer`, else the `md.sid` cookie.
fn presented_token(headers: &HeaderMap) -> Option<(String, bool)> {
    if let Some(bearer) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some((bearer.trim().to_owned(), false));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| (value.trim().to_owned(), true))
}

/// Resolves the caller from a session token, sliding the session's expiry. Bad or
/// expired tokens make a public caller that remembers why.
pub async fn session_caller(state: &AppState, org: &Org, headers: &HeaderMap) -> Result<Caller, Fault> {
    let Some((token, cookie)) = presented_token(headers) else {
        return Ok(Caller::Public { problem: None });
    };
    let refused = |problem| Ok(Caller::Public { problem: Some(problem) });
    let Some(session) = state.store.session_by_token_hash(&secret::digest(&token)).await? else {
        return refused(AuthProblem::NotLoggedIn);
    };
    if session.org != org.id {
        return refused(AuthProblem::NotLoggedIn);
    }
    let now = state.clock.now();
    if session.expires <= now {
        state.store.delete_session(session.id).await?;
        return refused(AuthProblem::Expired);
    }
    if now - session.last_seen >= Duration::seconds(TOUCH_INTERVAL_SECONDS) {
        let ttl = Duration::seconds(i64::from(org.props.security.session_ttl));
        state.store.touch_session(session.id, now, now + ttl).await?;
    }
    let Some(account) = state.store.account_by_id(session.account).await? else {
        return refused(AuthProblem::NotLoggedIn);
    };
    if org.props.registration.activation_required && !account.verified {
        // Turned on after the login: the same rule as at login.
        return refused(AuthProblem::NotLoggedIn);
    }
    let member = state.store.member_of(org.id, account.id).await?.filter(|m| m.state == MemberState::Active);
    let connected = member.is_none() && state.store.has_pending_connection(org.id, Some(&account.email), now).await?;
    let proof = Proof::Session { session, token, cookie };
    Ok(Caller::Account { account: Arc::new(account), member: member.map(Arc::new), connected, proof })
}

/// Starts a session for `account` in `org` and returns it with its token.
pub async fn start_session(state: &AppState, org: &Org, account: &Account) -> Result<(Session, String), Fault> {
    let token = secret::token();
    let now = state.clock.now();
    let ttl = Duration::seconds(i64::from(org.props.security.session_ttl));
    let session = Session {
        id: Id::generate(now),
        token_hash: secret::digest(&token),
        account: account.id,
        org: org.id,
        created: now,
        last_seen: now,
        expires: now + ttl,
    };
    state.store.insert_session(&session).await?;
    Ok((session, token))
}

/// The `Set-Cookie` value of a session (or, with `None`, of its removal). `Secure`
/// only when the public URL is https, so local development over http works.
pub fn session_cookie(state: &AppState, org: &Org, token: Option<&str>) -> HeaderValue {
    let secure = if state.config.public_url().starts_with("https://") { "; Secure" } else { "" };
    let value = match token {
        Some(token) => format!("{SESSION_COOKIE}={token}; Path=/{}; HttpOnly; SameSite=Lax{secure}", org.code),
        None => format!("{SESSION_COOKIE}=; Path=/{}; HttpOnly; SameSite=Lax; Max-Age=0{secure}", org.code),
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// True when the request carries a signature.
pub fn is_signed(headers: &HeaderMap) -> bool {
    headers.contains_key("medable-client-signature")
}

/// The path that a signature covers: below `/{org}/v2`, without the query, with
/// single slashes, one leading slash and no trailing one.
pub fn signed_path(full_path: &str, org_code: &str) -> String {
    let prefix = format!("/{org_code}/v2");
    let rest = full_path.strip_prefix(&prefix).unwrap_or(full_path);
    let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

/// The hex HMAC-SHA256 of `{path};{METHOD};{timestamp}`, keyed with key + secret.
pub fn signature(key: &str, secret: &str, path: &str, method: &str, timestamp: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(format!("{key}{secret}").as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(format!("{path};{method};{timestamp}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Verifies a signed request. Every failure is the same 403 fault: a bad signature,
/// a timestamp more than five minutes off, a replayed nonce, or an account that is
/// not an active member of the org.
pub async fn verify_signed_request(
    state: &AppState,
    org: &Org,
    app: &App,
    method: &Method,
    uri_path: &str,
    headers: &HeaderMap,
) -> Result<Caller, Fault> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let (Some(given), Some(nonce), Some(timestamp)) =
        (header("medable-client-signature"), header("medable-client-nonce"), header("medable-client-timestamp"))
    else {
        return Err(invalid_signature());
    };
    let now = state.clock.now();
    let Ok(millis) = timestamp.parse::<i64>() else { return Err(invalid_signature()) };
    if (now.timestamp_millis() - millis).abs() > SIGNATURE_WINDOW_MINUTES * 60 * 1000 {
        return Err(invalid_signature());
    }
    let path = signed_path(uri_path, org.code.as_str());
    let expected = signature(&app.key, &app.secret, &path, method.as_str(), timestamp);
    if !bool::from(expected.as_bytes().ct_eq(given.to_ascii_lowercase().as_bytes())) {
        return Err(invalid_signature());
    }
    if nonce.is_empty() || nonce.len() > 128 {
        return Err(invalid_signature());
    }
    let window = Duration::minutes(SIGNATURE_WINDOW_MINUTES * 2);
    if !state.store.record_nonce(app.id, nonce, now, now - window).await? {
        return Err(invalid_signature());
    }
    let Some(account_id) = header("medable-client-account").filter(|s| !s.is_empty()) else {
        return Ok(Caller::App);
    };
    let account_id = Id::parse(account_id).ok_or_else(invalid_signature)?;
    let member = state.store.member_of(org.id, account_id).await?.filter(|m| m.state == MemberState::Active);
    let Some(member) = member else { return Err(invalid_signature()) };
    let account = state.store.account_by_id(account_id).await?.ok_or_else(invalid_signature)?;
    Ok(Caller::Account {
        account: Arc::new(account),
        member: Some(Arc::new(member)),
        connected: false,
        proof: Proof::Signature,
    })
}

/// Rate limits of login and registration, per client IP and per account email.
pub struct Limits {
    limiter: DefaultKeyedRateLimiter<String>,
    checks: AtomicU64,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits").finish_non_exhaustive()
    }
}

impl Limits {
    /// `per_minute` attempts per key, all of which may come at once.
    pub fn new(per_minute: u32) -> Arc<Self> {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Arc::new(Self { limiter: RateLimiter::keyed(Quota::per_minute(n)), checks: AtomicU64::new(0) })
    }

    /// Counts one attempt from `ip` (and for `email`, when known). Over the limit,
    /// 429 `kThrottled` with `Retry-After`.
    pub fn check(&self, action: &str, ip: IpAddr, email: Option<&str>) -> Result<(), Fault> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.limiter.retain_recent();
        }
        let mut keys = vec![format!("{action}:ip:{ip}")];
        if let Some(email) = email {
            keys.push(format!("{action}:account:{}", email.trim().to_lowercase()));
        }
        for key in keys {
            if let Err(not_until) = self.limiter.check_key(&key) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let mut fault = Fault::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "kThrottled",
                    "throttled.tooManyAttempts",
                    "Too many attempts. Try again later.",
                );
                fault.retry_after = Some(wait.as_secs().max(1));
                return Err(fault);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_paths_are_normalised() {
        assert_eq!(
            signed_path("/example/v2/orgs/5516ee1b34d8d934281699e3", "example"),
            "/orgs/5516ee1b34d8d934281699e3"
        );
        assert_eq!(signed_path("/example/v2//orgs///x/", "example"), "/orgs/x");
        assert_eq!(signed_path("/example/v2", "example"), "/");
    }

    #[test]
    fn signatures_are_lowercase_hex_hmac_sha256() {
        let sig = signature("key", "secret", "/orgs/x", "GET", "1700000000000");
        assert_eq!(sig.len(), 64);
        assert!(sig.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(sig, signature("key", "secret", "/orgs/x", "POST", "1700000000000"));
    }

    #[test]
    fn the_eleventh_fast_attempt_is_throttled() {
        let limits = Limits::new(10);
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..10 {
            assert!(limits.check("login", ip, Some("a@x.test")).is_ok());
        }
        let fault = limits.check("login", ip, Some("b@x.test")).unwrap_err();
        assert_eq!((fault.status, fault.code), (429, "kThrottled"));
        assert!(fault.retry_after.is_some());
    }
}
