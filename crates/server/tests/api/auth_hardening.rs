//! Issue 17, points 4, 5 and parts of 7, each attacked through HTTP: rate limits
//! behind proxies, per email and across nodes; signed requests of version 2 and
//! the apps' signing rules; extreme timestamps; the absolute session lifetime;
//! `Cache-Control` of authenticated answers; cookie or bearer login; redacted
//! `Debug` of request types.

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use orgbase_domain::app::{ActAs, App};
use orgbase_domain::roles::ADMINISTRATOR;
use orgbase_domain::{Clock, Id};
use orgbase_server::auth::{SignedRequest, signature, signature_v2, signed_text_v2};
use orgbase_server::config::{Config, TrustedProxies};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::api_tests;
use crate::helpers::{Backend, TestApp, assert_fault, json};

const PASSWORD: &str = "correct horse battery staple";

api_tests!(
    a_client_behind_a_trusted_proxy_is_limited_by_its_own_address,
    forwarding_headers_from_an_untrusted_peer_change_nothing,
    ipv6_clients_are_limited_by_their_64,
    guessing_at_an_email_never_locks_its_owner_out,
    one_address_spraying_many_emails_is_refused,
    a_v2_signature_binds_body_query_account_and_nonce,
    an_app_that_requires_v2_refuses_v1_and_v1_works_otherwise,
    an_app_acts_only_as_the_accounts_it_lists,
    the_documented_v2_example_is_exact,
    a_signed_request_dated_i64_min_is_refused_not_a_crash,
    a_session_ends_at_its_max_age_however_much_it_is_used,
    authenticated_json_answers_are_private_no_cache,
    login_answers_a_token_only_for_bearer_and_a_cookie_only_otherwise,
);

/// Runs `test` on a server of `backend` configured by `tweak`, then stops it.
async fn configured(backend: Backend, tweak: impl FnOnce(&mut Config), test: impl AsyncFnOnce(&TestApp)) {
    let app = TestApp::spawn_configured(backend, tweak).await;
    test(&app).await;
    app.finish().await;
}

/// Runs `test` on a server that trusts 127.0.0.1 as its reverse proxy, with 2
/// attempts a minute per (address, email): 10 per address, 6 per email per ten
/// minutes.
async fn behind_proxy(backend: Backend, test: impl AsyncFnOnce(&TestApp)) {
    let tweak = |c: &mut Config| {
        c.login_attempts_per_minute = 2;
        c.trusted_proxies = TrustedProxies::parse(["127.0.0.1"]).unwrap();
    };
    configured(backend, tweak, test).await;
}

/// A login attempt from `client` (as the proxy reports it in `X-Forwarded-For`).
async fn attempt(app: &TestApp, key: &str, client: &str, email: &str, password: &str) -> (u16, Value) {
    let res = app
        .api(Method::POST, "/example/v2/accounts/login", key, None)
        .header("X-Forwarded-For", format!("203.0.113.250, {client}"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    json(res).await
}

async fn a_client_behind_a_trusted_proxy_is_limited_by_its_own_address(app: &TestApp) {
    behind_proxy(app.backend, async |app: &TestApp| {
        let (_, key) = app.seed_org("example", "Example").await;
        for _ in 0..2 {
            assert_eq!(attempt(app, &key.key, "198.51.100.1", "victim@x.test", "nope").await.0, 403);
        }
        let (status, body) = attempt(app, &key.key, "198.51.100.1", "victim@x.test", "nope").await;
        assert_fault(status, &body, 429, "kThrottled");
        // Another client behind the same proxy is not held back by the first.
        assert_eq!(attempt(app, &key.key, "198.51.100.2", "victim@x.test", "nope").await.0, 403);
        // Nor by a hop the first client wrote itself, left of the proxy's.
        let res = app
            .api(Method::POST, "/example/v2/accounts/login", &key.key, None)
            .header("X-Forwarded-For", "198.51.100.9, 198.51.100.1")
            .json(&json!({"email": "victim@x.test", "password": "nope"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 429, "the rightmost untrusted hop is the client");
        // RFC 7239 `Forwarded` names the client too.
        let res = app
            .api(Method::POST, "/example/v2/accounts/login", &key.key, None)
            .header("Forwarded", "for=198.51.100.1;proto=https")
            .json(&json!({"email": "victim@x.test", "password": "nope"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 429);
    })
    .await;
}

async fn forwarding_headers_from_an_untrusted_peer_change_nothing(app: &TestApp) {
    configured(
        app.backend,
        |c| c.login_attempts_per_minute = 2,
        async |app: &TestApp| {
            let (_, key) = app.seed_org("example", "Example").await;
            for i in 0..2 {
                assert_eq!(attempt(app, &key.key, &format!("198.51.100.{i}"), "v@x.test", "nope").await.0, 403);
            }
            let (status, body) = attempt(app, &key.key, "198.51.100.77", "v@x.test", "nope").await;
            assert_fault(status, &body, 429, "kThrottled");
        },
    )
    .await;
}

async fn ipv6_clients_are_limited_by_their_64(app: &TestApp) {
    behind_proxy(app.backend, async |app: &TestApp| {
        let (_, key) = app.seed_org("example", "Example").await;
        for host in ["2001:db8:1:2::1", "2001:db8:1:2:ffff::2"] {
            assert_eq!(attempt(app, &key.key, host, "v6@x.test", "nope").await.0, 403);
        }
        let (status, body) = attempt(app, &key.key, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "v6@x.test", "nope").await;
        assert_fault(status, &body, 429, "kThrottled");
        assert_eq!(attempt(app, &key.key, "2001:db8:1:3::1", "v6@x.test", "nope").await.0, 403, "another /64");
    })
    .await;
}

/// The old per-email lockout let anyone refuse a person's logins. Now guesses
/// spread over many addresses spend the email's budget, past which answers are
/// delayed; the owner still logs in.
async fn guessing_at_an_email_never_locks_its_owner_out(app: &TestApp) {
    behind_proxy(app.backend, async |app: &TestApp| {
        let (org, key) = app.seed_org("example", "Example").await;
        app.seed_account("owner@x.test", PASSWORD, Some((&org, &[]))).await;
        for i in 0..6 {
            let (status, _) = attempt(app, &key.key, &format!("198.51.100.{}", i / 2), "owner@x.test", "guess").await;
            assert_eq!(status, 403);
        }
        let started = Instant::now();
        let (status, body) = attempt(app, &key.key, "192.0.2.10", "owner@x.test", PASSWORD).await;
        assert_eq!(status, 200, "the owner is not locked out: {body}");
        assert!(started.elapsed() >= std::time::Duration::from_millis(1500), "but waits: {:?}", started.elapsed());
        let started = Instant::now();
        assert_eq!(attempt(app, &key.key, "198.51.100.200", "guess@x.test", "nope").await.0, 403);
        assert!(started.elapsed() < std::time::Duration::from_millis(1500), "other emails are not slowed");
    })
    .await;
}

async fn one_address_spraying_many_emails_is_refused(app: &TestApp) {
    behind_proxy(app.backend, async |app: &TestApp| {
        let (_, key) = app.seed_org("example", "Example").await;
        for i in 0..10 {
            assert_eq!(attempt(app, &key.key, "198.51.100.5", &format!("user{i}@x.test"), "nope").await.0, 403);
        }
        let (status, body) = attempt(app, &key.key, "198.51.100.5", "user99@x.test", "nope").await;
        assert_fault(status, &body, 429, "kThrottled");
        // A bad email is not a key of its own: it still counts for the address.
        let (status, _) = attempt(app, &key.key, "198.51.100.5", &format!("{}@x.test", "a".repeat(300)), "nope").await;
        assert_eq!(status, 429);
        // The limit refills with time (the injected clock).
        app.clock.advance(Duration::seconds(60));
        assert_eq!(attempt(app, &key.key, "198.51.100.5", "user99@x.test", "nope").await.0, 403);
    })
    .await;
}

/// Guesses spread over three PostgreSQL nodes of one deployment get no more than
/// on one node: the limiter's state is in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_hold_across_three_postgres_nodes() {
    let first = TestApp::spawn_configured(Backend::Postgres, |c| c.login_attempts_per_minute = 2).await;
    let (org, key) = first.seed_org("example", "Example").await;
    first.seed_account("owner@x.test", PASSWORD, Some((&org, &[]))).await;
    let (second, third) = (first.spawn_node().await, first.spawn_node().await);
    let mut statuses = Vec::new();
    for i in 0..9 {
        let node = [&first, &second, &third][i % 3];
        let res = node
            .api(Method::POST, "/example/v2/accounts/login", &key.key, None)
            .json(&json!({"email": "owner@x.test", "password": "guess"}))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 403).count(), 2, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 7, "{statuses:?}");
    second.finish().await;
    third.finish().await;
    first.finish().await;
}

/// A signed request of version 2.
struct V2<'a> {
    method: Method,
    /// The full path with its query.
    url: String,
    account: Option<String>,
    nonce: &'a str,
    body: String,
    ts: i64,
}

impl V2<'_> {
    fn signature(&self, app: &App) -> String {
        let (path, query) = self.url.split_once('?').unwrap_or((&self.url, ""));
        let below = path.splitn(4, '/').nth(3).map_or("/".to_owned(), |rest| format!("/{rest}"));
        let ts = self.ts.to_string();
        let signed = SignedRequest {
            method: self.method.as_str(),
            path: &below,
            query,
            timestamp: &ts,
            nonce: self.nonce,
            account: self.account.as_deref().unwrap_or(""),
            body: self.body.as_bytes(),
        };
        signature_v2(&app.key, &app.secret, &signed)
    }

    /// The request with `sig` (this one's own, or another's for a replay).
    fn send_with(&self, app: &TestApp, key: &App, sig: &str) -> RequestBuilder {
        self.send_as(app, key, sig, "2")
    }

    /// The request with `sig`, claiming signature version `version`.
    fn send_as(&self, app: &TestApp, key: &App, sig: &str, version: &str) -> RequestBuilder {
        let mut req = app
            .request(self.method.clone(), &self.url)
            .header("Medable-Client-Key", &key.key)
            .header("Medable-Client-Signature-Version", version)
            .header("Medable-Client-Signature", sig)
            .header("Medable-Client-Nonce", self.nonce)
            .header("Medable-Client-Timestamp", self.ts.to_string())
            .header("content-type", "application/json")
            .body(self.body.clone());
        if let Some(account) = &self.account {
            req = req.header("Medable-Client-Account", account);
        }
        req
    }
}

fn rename(name: &str) -> String {
    json!({"op": "set", "path": "name", "value": name}).to_string()
}

async fn org_name(app: &TestApp, org: Id) -> String {
    app.state.store.org_by_id(org).await.unwrap().unwrap().props.name
}

async fn a_v2_signature_binds_body_query_account_and_nonce(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.seed_account("admin@x.test", PASSWORD, Some((&org, &[ADMINISTRATOR]))).await;
    let other = app.seed_account("other@x.test", PASSWORD, Some((&org, &[ADMINISTRATOR]))).await;
    let ts = app.clock.now().timestamp_millis();
    let good = V2 {
        method: Method::PATCH,
        url: "/example/v2?paths=name".into(),
        account: Some(admin.id.to_string()),
        nonce: "n-1",
        body: rename("Signed"),
        ts,
    };
    let sig = good.signature(&key);
    let replays = [
        ("another body", V2 { body: rename("Forged"), nonce: "r-1", ..clone_of(&good) }),
        ("another query", V2 { url: "/example/v2?paths=apps".into(), nonce: "r-2", ..clone_of(&good) }),
        ("another account", V2 { account: Some(other.id.to_string()), nonce: "r-3", ..clone_of(&good) }),
        ("no account", V2 { account: None, nonce: "r-4", ..clone_of(&good) }),
        ("another nonce", V2 { nonce: "r-5", ..clone_of(&good) }),
    ];
    let mut bodies = Vec::new();
    for (why, replay) in &replays {
        let (status, mut body) = json(replay.send_with(app, &key, &sig).send().await.unwrap()).await;
        assert_fault(status, &body, 403, "kAccessDenied");
        body.as_object_mut().unwrap().remove("trace");
        bodies.push((why, body));
    }
    assert!(bodies.iter().all(|(_, b)| *b == bodies[0].1), "one fault for every refusal: {bodies:?}");
    assert_eq!(org_name(app, org.id).await, "Example", "no replay changed anything");
    let (status, body) = json(good.send_with(app, &key, &sig).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(org_name(app, org.id).await, "Signed");
    // The same request again is a replayed nonce.
    let (status, body) = json(good.send_with(app, &key, &sig).send().await.unwrap()).await;
    assert_fault(status, &body, 403, "kAccessDenied");
    // An unknown version is refused.
    let v3 = V2 { nonce: "v3", ..clone_of(&good) };
    let res = v3.send_as(app, &key, &v3.signature(&key), "3");
    assert_eq!(res.send().await.unwrap().status(), 403);
}

fn clone_of<'a>(v: &V2<'a>) -> V2<'a> {
    V2 {
        method: v.method.clone(),
        url: v.url.clone(),
        account: v.account.clone(),
        nonce: v.nonce,
        body: v.body.clone(),
        ts: v.ts,
    }
}

/// A version 1 request (the seed's scheme).
fn v1(app: &TestApp, key: &App, method: Method, path: &str, account: Option<&str>, nonce: &str) -> RequestBuilder {
    let ts = app.clock.now().timestamp_millis().to_string();
    let below = path.splitn(4, '/').nth(3).map_or("/".to_owned(), |rest| format!("/{rest}"));
    let req = app
        .request(method.clone(), path)
        .header("Medable-Client-Key", &key.key)
        .header("Medable-Client-Signature", signature(&key.key, &key.secret, &below, method.as_str(), &ts))
        .header("Medable-Client-Nonce", nonce)
        .header("Medable-Client-Timestamp", ts);
    match account {
        Some(a) => req.header("Medable-Client-Account", a),
        None => req,
    }
}

async fn an_app_that_requires_v2_refuses_v1_and_v1_works_otherwise(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.seed_account("admin@x.test", PASSWORD, Some((&org, &[ADMINISTRATOR]))).await;
    let mut strict = App::new(org.id, "strict".into(), vec![], app.clock.now());
    strict.require_signature_v2 = true;
    app.state.store.insert_app(&strict).await.unwrap();
    let path = format!("/example/v2/orgs/{}", org.id);
    let id = admin.id.to_string();
    let (status, body) = json(v1(app, &key, Method::GET, &path, Some(&id), "a").send().await.unwrap()).await;
    assert_eq!((status, body["access"].clone()), (200, json!(7)), "v1 still works: {body}");
    let (status, body) = json(v1(app, &strict, Method::GET, &path, Some(&id), "b").send().await.unwrap()).await;
    assert_fault(status, &body, 403, "kAccessDenied");
    let v2 = V2 {
        method: Method::GET,
        url: path.clone(),
        account: Some(id.clone()),
        nonce: "c",
        body: String::new(),
        ts: app.clock.now().timestamp_millis(),
    };
    let (status, body) = json(v2.send_with(app, &strict, &v2.signature(&strict)).send().await.unwrap()).await;
    assert_eq!((status, body["access"].clone()), (200, json!(7)), "{body}");
}

async fn an_app_acts_only_as_the_accounts_it_lists(app: &TestApp) {
    let (org, _) = app.seed_org("example", "Example").await;
    let listed = app.seed_account("listed@x.test", PASSWORD, Some((&org, &[ADMINISTRATOR]))).await;
    let unlisted = app.seed_account("unlisted@x.test", PASSWORD, Some((&org, &[ADMINISTRATOR]))).await;
    let mut some = App::new(org.id, "some".into(), vec![], app.clock.now());
    some.act_as = ActAs::Only(vec![listed.id]);
    let mut none = App::new(org.id, "none".into(), vec![], app.clock.now());
    none.act_as = ActAs::Only(vec![]);
    for a in [&some, &none] {
        app.state.store.insert_app(a).await.unwrap();
    }
    let path = "/example/v2/accounts/me";
    let (listed_id, unlisted_id) = (listed.id.to_string(), unlisted.id.to_string());
    let (status, me) = json(v1(app, &some, Method::GET, path, Some(&listed_id), "1").send().await.unwrap()).await;
    assert_eq!((status, me["_id"].clone()), (200, json!(listed_id)), "{me}");
    let (status, body) = json(v1(app, &some, Method::GET, path, Some(&unlisted_id), "2").send().await.unwrap()).await;
    assert_fault(status, &body, 403, "kAccessDenied");
    let (status, body) = json(v1(app, &none, Method::GET, path, Some(&listed_id), "3").send().await.unwrap()).await;
    assert_fault(status, &body, 403, "kAccessDenied");
    // Acting as nobody (the app itself) stays possible.
    let res = v1(app, &none, Method::GET, "/example/v2", None, "4").send().await.unwrap();
    assert_eq!(res.status(), 200);
}

/// The worked example of docs/API.md, byte for byte: the signed text and the
/// signature written there, and a server that accepts that very request.
async fn the_documented_v2_example_is_exact(app: &TestApp) {
    const KEY: &str = "Xk3vQ9pL2mN7rT5wY8zA1b";
    const SECRET: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01";
    const BODY: &str = r#"{"op":"set","path":"name","value":"Example Health"}"#;
    const TEXT: &str = "v2\nPATCH\n/\npaths=name\n1767225600000\n7f1c2b9e\n5516ee1b34d8d934281699e3\n\
                        410e8a5dda4c3f6c99a9c993d9ad894881c7fca795362557d5a0276c0b208e4c";
    const SIGNATURE: &str = "6138d0b3982db920cf4419b55ce0b276e041b91bcb58b8b98995bf7c4a4985ba";
    let doc = include_str!("../../../../docs/API.md");
    for (what, text) in [("key", KEY), ("secret", SECRET), ("body", BODY), ("signature", SIGNATURE)] {
        assert!(doc.contains(text), "docs/API.md shows the example's {what}");
    }
    assert!(doc.contains(&format!("```\n{TEXT}\n```")), "docs/API.md shows the signed text");
    let example = SignedRequest {
        method: "PATCH",
        path: "/",
        query: "paths=name",
        timestamp: "1767225600000",
        nonce: "7f1c2b9e",
        account: "5516ee1b34d8d934281699e3",
        body: BODY.as_bytes(),
    };
    assert_eq!(signed_text_v2(&example), TEXT);
    assert_eq!(signature_v2(KEY, SECRET, &example), SIGNATURE);

    let (org, _) = app.seed_org("example", "Example").await;
    let mut documented = App::new(org.id, "documented".into(), vec![], app.clock.now());
    (documented.key, documented.secret) = (KEY.into(), SECRET.into());
    app.state.store.insert_app(&documented).await.unwrap();
    let mut admin = orgbase_domain::account::Account::new(
        orgbase_domain::email::Email::parse("email", "admin@x.test").unwrap(),
        orgbase_domain::account::PersonName { first: "Ada".into(), last: "Admin".into() },
        None,
        app.clock.now(),
    );
    admin.id = Id::parse("5516ee1b34d8d934281699e3").unwrap();
    let member = orgbase_domain::account::Member::new(org.id, admin.id, vec![ADMINISTRATOR], app.clock.now());
    app.state.store.insert_account(&admin, Some(&member)).await.unwrap();
    let at = Utc.timestamp_millis_opt(1_767_225_600_000).unwrap();
    app.clock.advance(at - app.clock.now());
    let res = app
        .request(Method::PATCH, "/example/v2?paths=name")
        .header("Medable-Client-Key", KEY)
        .header("Medable-Client-Signature-Version", "2")
        .header("Medable-Client-Timestamp", "1767225600000")
        .header("Medable-Client-Nonce", "7f1c2b9e")
        .header("Medable-Client-Account", "5516ee1b34d8d934281699e3")
        .header("Medable-Client-Signature", SIGNATURE)
        .header("content-type", "application/json")
        .body(BODY)
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(org_name(app, org.id).await, "Example Health");
}

async fn a_signed_request_dated_i64_min_is_refused_not_a_crash(app: &TestApp) {
    let (_, key) = app.seed_org("example", "Example").await;
    for ts in [i64::MIN, i64::MAX, i64::MIN + 1] {
        let ts = ts.to_string();
        let res = app
            .request(Method::GET, "/example/v2")
            .header("Medable-Client-Key", &key.key)
            .header("Medable-Client-Signature", signature(&key.key, &key.secret, "/", "GET", &ts))
            .header("Medable-Client-Nonce", format!("n{ts}"))
            .header("Medable-Client-Timestamp", &ts)
            .send()
            .await
            .unwrap();
        let (status, body) = json(res).await;
        assert_fault(status, &body, 403, "kAccessDenied");
    }
}

async fn a_session_ends_at_its_max_age_however_much_it_is_used(app: &TestApp) {
    let (org, key) = app
        .seed_org_with("example", "Example", |p| {
            p.security.session_ttl = 3600;
            p.security.session_max_age = 3 * 3600;
        })
        .await;
    app.seed_account("a@x.test", PASSWORD, Some((&org, &[]))).await;
    let token = app.login("example", &key.key, "a@x.test", PASSWORD).await;
    let me = || app.api(Method::GET, "/example/v2/accounts/me", &key.key, Some(&token)).send();
    // Used every 50 minutes, it slides past its first hour...
    for _ in 0..3 {
        app.clock.advance(Duration::minutes(50));
        assert_eq!(me().await.unwrap().status(), 200);
    }
    // ...but not past three hours from the login.
    app.clock.advance(Duration::minutes(20));
    let (status, body) = json(me().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    app.clock.advance(Duration::minutes(11));
    let (status, body) = json(me().await.unwrap()).await;
    assert_fault(status, &body, 403, "kSessionExpired");
    // The setting is validated like sessionTtl.
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let res = app
        .api(Method::PATCH, "/example/v2", &key.key, Some(&admin))
        .json(&json!({"op": "set", "path": "security.sessionMaxAge", "value": 10}))
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_fault(status, &body, 400, "kValidationError");
}

async fn authenticated_json_answers_are_private_no_cache(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    app.seed_account("a@x.test", PASSWORD, Some((&org, &[]))).await;
    let cache_control =
        |res: &reqwest::Response| res.headers().get("cache-control").map(|v| v.to_str().unwrap().to_owned());
    let public = app.api(Method::GET, "/example/v2", &key.key, None).send().await.unwrap();
    assert_eq!(cache_control(&public), None);
    let login = app
        .api(Method::POST, "/example/v2/accounts/login", &key.key, None)
        .json(&json!({"email": "a@x.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(cache_control(&login).as_deref(), Some("private, no-cache"));
    let sid = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let token = app.login("example", &key.key, "a@x.test", PASSWORD).await;
    let by_cookie = app.api(Method::GET, "/example/v2", &key.key, None).header("cookie", sid).send().await.unwrap();
    let by_bearer = app.api(Method::GET, "/example/v2/accounts/me", &key.key, Some(&token)).send().await.unwrap();
    let signed = v1(app, &key, Method::GET, "/example/v2", None, "cc").send().await.unwrap();
    for res in [by_cookie, by_bearer, signed] {
        assert_eq!(res.status(), 200);
        assert_eq!(cache_control(&res).as_deref(), Some("private, no-cache"), "{}", res.url());
    }
    // A fault to an authenticated caller is private too.
    let missing = app.api(Method::GET, "/example/v2/members/nope", &key.key, Some(&token)).send().await.unwrap();
    assert_eq!(cache_control(&missing).as_deref(), Some("private, no-cache"));
}

async fn login_answers_a_token_only_for_bearer_and_a_cookie_only_otherwise(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    app.seed_account("a@x.test", PASSWORD, Some((&org, &[]))).await;
    let login = |bearer: Option<bool>| {
        let mut body = json!({"email": "a@x.test", "password": PASSWORD});
        if let Some(bearer) = bearer {
            body["bearer"] = json!(bearer);
        }
        app.api(Method::POST, "/example/v2/accounts/login", &key.key, None).json(&body).send()
    };
    for bearer in [None, Some(false)] {
        let res = login(bearer).await.unwrap();
        assert!(res.headers()["set-cookie"].to_str().unwrap().starts_with("md.sid="));
        assert!(res.headers().contains_key("medable-csrf-token"));
        let (status, body) = json(res).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["email"], "a@x.test");
        assert!(body.get("token").is_none(), "no token for the page's JavaScript: {body}");
    }
    let res = login(Some(true)).await.unwrap();
    assert!(!res.headers().contains_key("set-cookie"), "no cookie for a bearer login");
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap();
    let res = app.api(Method::GET, "/example/v2/accounts/me", &key.key, Some(token)).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[test]
fn request_types_redact_passwords_and_tokens_in_debug() {
    use orgbase_server::routes::accounts::{
        LoginRequest, RegisterRequest, ResetPasswordRequest, UpdatePasswordRequest,
    };
    let shown = [
        format!(
            "{:?}",
            serde_json::from_value::<LoginRequest>(json!({"email": "a@x.test", "password": "canary-1"})).unwrap()
        ),
        format!(
            "{:?}",
            serde_json::from_value::<RegisterRequest>(json!({
                "email": "a@x.test", "password": "canary-2", "name": {"first": "A"}, "connection": "canary-3"
            }))
            .unwrap()
        ),
        format!(
            "{:?}",
            serde_json::from_value::<UpdatePasswordRequest>(json!({"current": "canary-4", "password": "canary-5"}))
                .unwrap()
        ),
        format!(
            "{:?}",
            serde_json::from_value::<ResetPasswordRequest>(json!({"token": "canary-6", "password": "canary-7"}))
                .unwrap()
        ),
    ];
    for text in &shown {
        assert!(!text.contains("canary"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
    assert!(shown[0].contains("a@x.test"), "the rest still shows: {}", shown[0]);
}
