//! Authentication mechanics: session tokens (cookie `md.sid` or bearer), the CSRF
//! token derived from the session token, signed server-to-server requests (the
//! seed's version 1 and the stronger version 2), and the login rate limits. What a
//! caller may do is decided elsewhere (`domain::access`).

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use orgbase_domain::account::{Account, LoginSession, MemberState};
use orgbase_domain::app::App;
use orgbase_domain::email::Email;
use orgbase_domain::org::Org;
use orgbase_domain::rate::Quota;
use orgbase_domain::{Id, secret};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::client_addr::ClientAddr;
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
/// The header that selects the signature version (absent: 1, the seed's).
pub const SIGNATURE_VERSION_HEADER: &str = "medable-client-signature-version";

/// The CSRF token of a session: derived from the session token, so it needs no
/// storage and cannot be computed without the (HttpOnly) cookie.
pub fn csrf_token(session_token: &str) -> String {
    secret::digest(&format!("csrf:{session_token}"))
}

/// True when the request echoes the expected CSRF token (constant-time).
pub fn csrf_matches(headers: &HeaderMap, expected: &str) -> bool {
    headers.get(CSRF_HEADER).is_some_and(|given| bool::from(given.as_bytes().ct_eq(expected.as_bytes())))
}

/// True when a cookie-authenticated write may go without the CSRF token: its app
/// has `csrf` off and the request's `Origin` is one the app lists. Browsers send
/// `Origin` with every write and a page can't change it, so a page of another
/// site can't write this way; without `Origin` (not a browser), the token is due.
pub fn csrf_waived(headers: &HeaderMap, app: &App) -> bool {
    !app.csrf
        && headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|origin| app.cors_origins.iter().any(|listed| listed == origin))
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
    let Some(session) = state.store.login_session_by_token_hash(&secret::digest(&token)).await? else {
        return refused(AuthProblem::NotLoggedIn);
    };
    if session.org != org.id {
        return refused(AuthProblem::NotLoggedIn);
    }
    let now = state.clock.now();
    let (_, max_end) = session_lifetimes(org, session.created);
    if session.expires <= now || max_end <= now {
        state.store.delete_login_session(session.id).await?;
        return refused(AuthProblem::Expired);
    }
    if now - session.last_seen >= Duration::seconds(TOUCH_INTERVAL_SECONDS) {
        let (ttl, max_end) = session_lifetimes(org, session.created);
        state.store.touch_login_session(session.id, now, (now + ttl).min(max_end)).await?;
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
    let proof = Proof::LoginSession { session, token, cookie };
    Ok(Caller::Account { account: Arc::new(account), member: member.map(Arc::new), connected, proof })
}

/// A session's sliding lifetime (`sessionTtl`) and the end of its absolute one
/// (`created` + `sessionMaxAge`), past which use no longer extends it.
fn session_lifetimes(org: &Org, created: DateTime<Utc>) -> (Duration, DateTime<Utc>) {
    let security = &org.props.security;
    let ttl = Duration::seconds(i64::from(security.session_ttl));
    (ttl, created + Duration::seconds(i64::from(security.session_max_age)))
}

/// Starts a session for `account` in `org` and returns it with its token.
pub async fn start_login_session(
    state: &AppState,
    org: &Org,
    account: &Account,
) -> Result<(LoginSession, String), Fault> {
    let token = secret::token();
    let now = state.clock.now();
    let (ttl, max_end) = session_lifetimes(org, now);
    let session = LoginSession {
        id: Id::generate(now),
        token_hash: secret::digest(&token),
        account: account.id,
        org: org.id,
        created: now,
        last_seen: now,
        expires: (now + ttl).min(max_end),
    };
    state.store.insert_login_session(&session).await?;
    Ok((session, token))
}

/// Puts a new session on a login's answer: the `md.sid` cookie of `token`, and
/// the CSRF token that writes authenticated by that cookie must send.
pub fn set_session(res: &mut Response, state: &AppState, org: &Org, token: &str) {
    res.headers_mut().insert(header::SET_COOKIE, session_cookie(state, org, Some(token)));
    if let Ok(csrf) = HeaderValue::from_str(&csrf_token(token)) {
        res.headers_mut().insert(CSRF_HEADER, csrf);
    }
}

/// The `Set-Cookie` value of a session (or, with `None`, of its removal). `Secure`
/// only when the public URL is https, so local development over http works;
/// `SameSite` as configured (`Lax` by default; `None` only with `Secure`, which
/// `Config::check` ensures at start).
pub fn session_cookie(state: &AppState, org: &Org, token: Option<&str>) -> HeaderValue {
    let secure = if state.config.secure_cookies() { "; Secure" } else { "" };
    let same_site = state.config.cookie_samesite.attribute();
    let value = match token {
        Some(token) => format!("{SESSION_COOKIE}={token}; Path=/{}; HttpOnly; SameSite={same_site}{secure}", org.code),
        None => format!("{SESSION_COOKIE}=; Path=/{}; HttpOnly; SameSite={same_site}; Max-Age=0{secure}", org.code),
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

/// The hex HMAC-SHA256 of `text`, keyed with key + secret.
fn hmac_hex(key: &str, secret: &str, text: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(format!("{key}{secret}").as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Version 1 (the seed's): the hex HMAC-SHA256 of `{path};{METHOD};{timestamp}`,
/// keyed with key + secret.
pub fn signature(key: &str, secret: &str, path: &str, method: &str, timestamp: &str) -> String {
    hmac_hex(key, secret, &format!("{path};{method};{timestamp}"))
}

/// What a version 2 signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The method, upper case.
    pub method: &'a str,
    /// The path as [`signed_path`] gives it.
    pub path: &'a str,
    /// The query exactly as sent (after `?`; empty when there is none).
    pub query: &'a str,
    /// `Medable-Client-Timestamp`.
    pub timestamp: &'a str,
    /// `Medable-Client-Nonce`.
    pub nonce: &'a str,
    /// `Medable-Client-Account` (empty when absent).
    pub account: &'a str,
    /// The body's bytes (empty when there is none).
    pub body: &'a [u8],
}

/// The text a version 2 signature covers: `v2`, the method, the path, the query,
/// the timestamp, the nonce, the account and the lowercase hex SHA-256 of the
/// body, one per line (`\n`), no newline at the end.
pub fn signed_text_v2(req: &SignedRequest<'_>) -> String {
    let body = hex::encode(Sha256::digest(req.body));
    ["v2", req.method, req.path, req.query, req.timestamp, req.nonce, req.account, &body].join("\n")
}

/// Version 2: the hex HMAC-SHA256 of [`signed_text_v2`], keyed with key + secret.
pub fn signature_v2(key: &str, secret: &str, req: &SignedRequest<'_>) -> String {
    hmac_hex(key, secret, &signed_text_v2(req))
}

/// The signature version a signed request asks for: `Some(1)` without the header,
/// `Some(2)` for `2`, `None` for anything else (refused).
pub fn signature_version(headers: &HeaderMap) -> Option<u8> {
    match headers.get(SIGNATURE_VERSION_HEADER).map(|v| v.as_bytes().trim_ascii()) {
        None | Some(b"1") => Some(1),
        Some(b"2") => Some(2),
        Some(_) => None,
    }
}

/// True when `timestamp` (ms) is within the signature window of `now`; extreme
/// values do not overflow, they are just out of it.
fn within_window(now: DateTime<Utc>, timestamp: i64) -> bool {
    now.timestamp_millis()
        .checked_sub(timestamp)
        .is_some_and(|d| d.unsigned_abs() <= (SIGNATURE_WINDOW_MINUTES * 60 * 1000).unsigned_abs())
}

/// The request line of a signed request: method, path and query as sent.
#[derive(Debug, Clone, Copy)]
pub struct RequestLine<'a> {
    /// The method.
    pub method: &'a Method,
    /// The full path (with `/{org}/v2`).
    pub path: &'a str,
    /// The query as sent, without `?` (empty when none).
    pub query: &'a str,
}

/// Verifies a signed request, of version 1 or (when `body` is given, as the
/// caller reads it for version 2 requests) version 2. Every failure is the same
/// 403 fault: a bad signature, a version the app does not accept, a timestamp more
/// than five minutes off, a replayed nonce, or an account that the app may not act
/// as or that is not an active member of the org.
pub async fn verify_signed_request(
    state: &AppState,
    org: &Org,
    app: &App,
    line: RequestLine<'_>,
    headers: &HeaderMap,
    body: Option<&[u8]>,
) -> Result<Caller, Fault> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let (Some(given), Some(nonce), Some(timestamp)) =
        (header("medable-client-signature"), header("medable-client-nonce"), header("medable-client-timestamp"))
    else {
        return Err(Fault::invalid_signature());
    };
    let account = header("medable-client-account").unwrap_or_default();
    let now = state.clock.now();
    let Ok(millis) = timestamp.parse::<i64>() else { return Err(Fault::invalid_signature()) };
    if !within_window(now, millis) {
        return Err(Fault::invalid_signature());
    }
    let path = signed_path(line.path, org.code.as_str());
    let version = signature_version(headers);
    let expected = |secret: &str| match (version, body) {
        (Some(2), Some(body)) => {
            let signed = SignedRequest {
                method: line.method.as_str(),
                path: &path,
                query: line.query,
                timestamp,
                nonce,
                account,
                body,
            };
            Some(signature_v2(&app.key, secret, &signed))
        }
        (Some(1), _) if !app.require_signature_v2 => {
            Some(signature(&app.key, secret, &path, line.method.as_str(), timestamp))
        }
        _ => None,
    };
    // The current secret, and a rotated-out one during its grace period.
    let given = given.to_ascii_lowercase();
    let signed_by = |secret: &str| expected(secret).is_some_and(|e| bool::from(e.as_bytes().ct_eq(given.as_bytes())));
    if !app.signing_secrets(now).any(signed_by) {
        return Err(Fault::invalid_signature());
    }
    if nonce.is_empty() || nonce.len() > 128 {
        return Err(Fault::invalid_signature());
    }
    let window = Duration::minutes(SIGNATURE_WINDOW_MINUTES * 2);
    if !state.store.record_nonce(app.id, nonce, now, now - window).await? {
        return Err(Fault::invalid_signature());
    }
    if account.is_empty() {
        return Ok(Caller::App);
    }
    let account_id = Id::parse(account).ok_or_else(Fault::invalid_signature)?;
    if !app.act_as.allows(account_id) {
        return Err(Fault::invalid_signature());
    }
    let member = state.store.member_of(org.id, account_id).await?.filter(|m| m.state == MemberState::Active);
    let Some(member) = member else { return Err(Fault::invalid_signature()) };
    let account = state.store.account_by_id(account_id).await?.ok_or_else(Fault::invalid_signature)?;
    Ok(Caller::Account {
        account: Arc::new(account),
        member: Some(Arc::new(member)),
        connected: false,
        proof: Proof::Signature,
    })
}

/// How long past the per-email budget an answer waits, at most.
pub const EMAIL_DELAY_CAP: std::time::Duration = std::time::Duration::from_secs(2);

/// Rate limits of login, registration and password reset, shared by every node
/// through the store (`RateLimitStore`). Chosen after Auth0's brute-force
/// protection, so that nobody can lock a person out by guessing at their email:
/// - per (client address, email): `per_minute` attempts a minute, then 429 — stops
///   one client guessing one person's password;
/// - per client address, across emails: five times that, then 429 — stops one
///   client spraying many accounts;
/// - per email, across addresses: three times `per_minute` per ten minutes, past
///   which answers are delayed (up to [`EMAIL_DELAY_CAP`]), never refused — slows
///   a guess spread over many addresses without locking the owner out.
#[derive(Debug)]
pub struct Limits {
    pair: Quota,
    address: Quota,
    email: Quota,
}

impl Limits {
    /// The limits for `per_minute` attempts per (address, email).
    pub fn new(per_minute: u32) -> Arc<Self> {
        let n = per_minute.max(1);
        let minute = std::time::Duration::from_secs(60);
        Arc::new(Self {
            pair: Quota::new(n, minute),
            address: Quota::new(n.saturating_mul(5), minute),
            email: Quota::new(n.saturating_mul(3), minute * 10),
        })
    }

    /// Counts one `action` attempt from `client`, for `email` when it is a valid
    /// address (validate first: only a parsed email becomes a key). Refuses with
    /// 429 `kThrottled` and `Retry-After`, or waits when the email's budget is
    /// spent.
    pub async fn check(
        &self,
        state: &AppState,
        action: &str,
        client: ClientAddr,
        email: Option<&Email>,
    ) -> Result<(), Fault> {
        let now = state.clock.now();
        // Keys are digests: fixed length, and no address book in the table.
        let key = |parts: String| secret::digest(&format!("{action}:{parts}"));
        if let Some(email) = email
            && let Some(wait) = state.store.rate_limit(&key(format!("pair:{client}:{email}")), self.pair, now).await?
        {
            return Err(Fault::throttled(wait));
        }
        if let Some(wait) = state.store.rate_limit(&key(format!("addr:{client}")), self.address, now).await? {
            return Err(Fault::throttled(wait));
        }
        if let Some(email) = email
            && let Some(wait) = state.store.rate_limit(&key(format!("email:{email}")), self.email, now).await?
        {
            tokio::time::sleep(wait.min(EMAIL_DELAY_CAP)).await;
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
    fn a_version_2_signature_covers_every_part() {
        let base = SignedRequest {
            method: "PATCH",
            path: "/",
            query: "paths=name",
            timestamp: "1767225600000",
            nonce: "n-1",
            account: "5516ee1b34d8d934281699e3",
            body: b"{}",
        };
        let text = signed_text_v2(&base);
        assert_eq!(
            text,
            "v2\nPATCH\n/\npaths=name\n1767225600000\nn-1\n5516ee1b34d8d934281699e3\n\
             44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        let sig = signature_v2("k", "s", &base);
        let changed = [
            SignedRequest { method: "POST", ..base },
            SignedRequest { path: "/orgs", ..base },
            SignedRequest { query: "", ..base },
            SignedRequest { timestamp: "1767225600001", ..base },
            SignedRequest { nonce: "n-2", ..base },
            SignedRequest { account: "", ..base },
            SignedRequest { body: b"{ }", ..base },
        ];
        for other in changed {
            assert_ne!(signature_v2("k", "s", &other), sig, "{other:?}");
        }
    }

    #[test]
    fn the_signature_window_survives_extreme_timestamps() {
        let now = DateTime::<Utc>::from_timestamp_millis(1_767_225_600_000).unwrap();
        assert!(within_window(now, 1_767_225_600_000 - 5 * 60 * 1000));
        assert!(!within_window(now, 1_767_225_600_000 - 5 * 60 * 1000 - 1));
        assert!(!within_window(now, i64::MIN));
        assert!(!within_window(now, i64::MAX));
    }
}
