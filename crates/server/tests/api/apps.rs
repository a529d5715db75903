//! Apps managed by the org's administrators: list, create (the secret once),
//! read, change, rotate the secret (the old one signs on for a grace period),
//! delete; a disabled app's key refused everywhere like an unknown one; and the
//! per-app CSRF setting, through cookies as a browser sends them.

use chrono::Duration;
use orgbase_domain::Clock;
use orgbase_domain::app::App;
use orgbase_domain::org::Org;
use orgbase_domain::roles::{ADMINISTRATOR, PROVIDER};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api_tests;
use crate::helpers::{TestApp, assert_fault, json};

api_tests!(
    an_admin_creates_lists_reads_changes_and_deletes_apps_and_the_org_shows_each_change,
    only_administrators_manage_apps,
    bad_app_input_gets_a_fault_and_changes_nothing,
    a_disabled_apps_key_is_refused_everywhere_like_an_unknown_key,
    a_rotated_secret_signs_during_its_grace_and_not_after,
    with_csrf_off_a_cookie_write_is_accepted_only_from_a_listed_origin,
    with_csrf_on_a_cookie_write_without_the_token_is_refused_from_any_origin,
    app_secrets_are_sealed_in_the_database_rows_and_still_sign,
);

const PASSWORD: &str = "member password 1";
const LISTED: &str = "http://127.0.0.1:9";
const ELSEWHERE: &str = "https://evil.example";

/// An org with its first app and a logged-in administrator (bearer token).
async fn org_with_admin(app: &TestApp) -> (Org, App, String) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    (org, key, admin)
}

async fn call(app: &TestApp, method: Method, path: &str, key: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let req = app.api(method, &format!("/example/v2{path}"), key, Some(token));
    let req = match body {
        Some(body) => req.json(&body),
        None => req,
    };
    json(req.send().await.unwrap()).await
}

/// The org's `apps` as the full read gives it to an administrator.
async fn org_apps(app: &TestApp, org: &Org, key: &str, token: &str) -> Value {
    let (status, body) = call(app, Method::GET, &format!("/orgs/{}", org.id), key, token, None).await;
    assert_eq!(status, 200, "{body}");
    body["apps"].clone()
}

/// An app as the org shows it: the API's app without `object`.
fn as_in_org(app: &Value) -> Value {
    let mut shown = app.clone();
    let fields = shown.as_object_mut().unwrap();
    fields.remove("object");
    fields.remove("secret");
    shown
}

async fn an_admin_creates_lists_reads_changes_and_deletes_apps_and_the_org_shows_each_change(app: &TestApp) {
    let (org, key, admin) = org_with_admin(app).await;
    let body = json!({"name": "Browser", "cors": {"origins": [LISTED]}, "csrf": false});
    let (status, created) = call(app, Method::POST, "/apps", &key.key, &admin, Some(body)).await;
    assert_eq!(status, 200, "{created}");
    let new_key = created["key"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert_eq!((new_key.len(), secret.len()), (22, 64));
    assert_eq!(
        (&created["object"], &created["name"], &created["csrf"], &created["enabled"], &created["actAs"]),
        (&json!("app"), &json!("Browser"), &json!(false), &json!(true), &json!("all"))
    );
    // Listed and read without the secret, as the org shows it.
    let (status, list) = call(app, Method::GET, "/apps", &key.key, &admin, None).await;
    assert_eq!((status, list["data"].as_array().unwrap().len()), (200, 2), "{list}");
    assert!(!list.to_string().contains(&secret) && !list.to_string().contains(&key.secret));
    let (status, read) = call(app, Method::GET, &format!("/apps/{new_key}"), &key.key, &admin, None).await;
    assert_eq!(status, 200);
    assert_eq!(read, list["data"][1]);
    assert_eq!(org_apps(app, &org, &key.key, &admin).await[1], as_in_org(&read));

    let change = json!({"name": "Renamed", "cors": {"origins": ["https://b.example"]}, "csrf": true,
        "requireSignatureV2": true, "actAs": "none"});
    let (status, changed) = call(app, Method::PATCH, &format!("/apps/{new_key}"), &key.key, &admin, Some(change)).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["cors"]["origins"], json!(["https://b.example"]));
    assert_eq!((&changed["requireSignatureV2"], &changed["actAs"]), (&json!(true), &json!([])));
    assert!(changed.get("secret").is_none());
    assert_eq!(org_apps(app, &org, &key.key, &admin).await[1], as_in_org(&changed));

    let (status, rotated) =
        call(app, Method::POST, &format!("/apps/{new_key}/rotate-secret"), &key.key, &admin, None).await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap();
    assert!(new_secret.len() == 64 && new_secret != secret);
    let grace_end = orgbase_domain::time::render_date(app.clock.now() + Duration::hours(24));
    assert_eq!(rotated["previousSecretExpires"], grace_end);
    let shown = org_apps(app, &org, &key.key, &admin).await;
    assert_eq!(shown[1], as_in_org(&rotated));
    assert!(!shown.to_string().contains(new_secret) && !shown.to_string().contains(&secret));

    let (status, done) = call(app, Method::DELETE, &format!("/apps/{new_key}"), &key.key, &admin, None).await;
    assert_eq!((status, done), (200, json!({"object": "result", "data": true})));
    let (status, body) = call(app, Method::GET, &format!("/apps/{new_key}"), &key.key, &admin, None).await;
    assert_fault(status, &body, 404, "kNotFound");
    assert_eq!(org_apps(app, &org, &key.key, &admin).await.as_array().unwrap().len(), 1);
    let (status, body) = json(app.get_with_key("/example/v2", &new_key).send().await.unwrap()).await;
    assert_fault(status, &body, 400, "kInvalidClient");
}

async fn only_administrators_manage_apps(app: &TestApp) {
    let (org, key, _) = org_with_admin(app).await;
    let provider = app.member_token(&org, &key, "provider@x.test", &[PROVIDER]).await;
    let path = format!("/apps/{}", key.key);
    for (method, path, body) in [
        (Method::GET, "/apps".to_owned(), None),
        (Method::POST, "/apps".to_owned(), Some(json!({"name": "mine"}))),
        (Method::GET, path.clone(), None),
        (Method::PATCH, path.clone(), Some(json!({"enabled": false}))),
        (Method::POST, format!("{path}/rotate-secret"), None),
        (Method::DELETE, path.clone(), None),
    ] {
        let (status, fault) = call(app, method.clone(), &path, &key.key, &provider, body.clone()).await;
        assert_fault(status, &fault, 403, "kAccessDenied");
        let req = app.api(method, &format!("/example/v2{path}"), &key.key, None);
        let req = if let Some(body) = body { req.json(&body) } else { req };
        let (status, fault) = json(req.send().await.unwrap()).await;
        assert_fault(status, &fault, 403, "kNotLoggedIn");
    }
    let stored = app.state.store.app_by_key(&key.key).await.unwrap().unwrap();
    assert_eq!(*stored, key);
    assert_eq!(app.state.store.apps_of_org(org.id).await.unwrap().len(), 1);
}

async fn bad_app_input_gets_a_fault_and_changes_nothing(app: &TestApp) {
    let (org, key, admin) = org_with_admin(app).await;
    let path = format!("/apps/{}", key.key);
    for bad in [
        json!({"cors": {"origins": ["*"]}}),
        json!({"name": "ok", "cors": {"origins": ["https://a.example/path"]}}),
        json!({"actAs": ["not-an-id"]}),
        json!({"actAs": 5}),
        json!({"name": ""}),
        json!({"enabled": "no"}),
        json!({"secret": "mine"}),
        json!({"key": "mine"}),
    ] {
        let (status, fault) = call(app, Method::PATCH, &path, &key.key, &admin, Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {fault}");
        assert_eq!((&fault["object"], &fault["status"]), (&json!("fault"), &json!(400)), "{fault}");
        let (status, fault) = call(app, Method::POST, "/apps", &key.key, &admin, Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {fault}");
    }
    // The app the request comes through can't disable or delete itself: a
    // conflict with the request's own key, not a malformed request.
    let (status, fault) = call(app, Method::PATCH, &path, &key.key, &admin, Some(json!({"enabled": false}))).await;
    assert_fault(status, &fault, 409, "kInvalidState");
    let (status, fault) = call(app, Method::DELETE, &path, &key.key, &admin, None).await;
    assert_fault(status, &fault, 409, "kInvalidState");
    assert_eq!(*app.state.store.app_by_key(&key.key).await.unwrap().unwrap(), key);
    assert_eq!(app.state.store.apps_of_org(org.id).await.unwrap().len(), 1);
    // Another org's app is not found, and unknown keys neither.
    let (_, foreign) = app.seed_org("other", "Other").await;
    for missing in [foreign.key.as_str(), "nope"] {
        let (status, fault) =
            call(app, Method::PATCH, &format!("/apps/{missing}"), &key.key, &admin, Some(json!({"enabled": false})))
                .await;
        assert_fault(status, &fault, 404, "kNotFound");
    }
    assert!(app.state.store.app_by_key(&foreign.key).await.unwrap().unwrap().enabled);
}

fn signed(app: &TestApp, path: &str, key: &str, secret: &str, nonce: &str) -> reqwest::RequestBuilder {
    let ts = app.clock.now().timestamp_millis().to_string();
    let below = path.splitn(4, '/').nth(3).map_or("/".to_owned(), |rest| format!("/{rest}"));
    let sig = orgbase_server::auth::signature(key, secret, &below, "GET", &ts);
    app.request(Method::GET, path)
        .header("Medable-Client-Key", key)
        .header("Medable-Client-Signature", sig)
        .header("Medable-Client-Nonce", nonce)
        .header("Medable-Client-Timestamp", ts)
}

/// A cookie login through `key`: the `md.sid=…` pair and the CSRF token.
async fn cookie_login(app: &TestApp, key: &str, email: &str) -> (String, String) {
    let res = app
        .api(Method::POST, "/example/v2/accounts/login", key, None)
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let sid = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let csrf = res.headers()["medable-csrf-token"].to_str().unwrap().to_owned();
    (sid, csrf)
}

async fn a_disabled_apps_key_is_refused_everywhere_like_an_unknown_key(app: &TestApp) {
    let (org, key, admin) = org_with_admin(app).await;
    let body = json!({"name": "Browser", "cors": {"origins": [LISTED]}});
    let (_, web) = call(app, Method::POST, "/apps", &key.key, &admin, Some(body)).await;
    let (web_key, web_secret) = (web["key"].as_str().unwrap().to_owned(), web["secret"].as_str().unwrap().to_owned());
    let (sid, _) = cookie_login(app, &web_key, "admin@x.test").await;
    let bearer = app.login("example", &web_key, "admin@x.test", PASSWORD).await;
    let me = "/example/v2/accounts/me";
    // Before: each works.
    assert_eq!(app.get_with_key(me, &web_key).header("Cookie", &sid).send().await.unwrap().status(), 200);
    let org_path = format!("/example/v2/orgs/{}", org.id);
    assert_eq!(signed(app, &org_path, &web_key, &web_secret, "n1").send().await.unwrap().status(), 200);
    let cors = app.get_with_key("/example/v2", &web_key).header("Origin", LISTED).send().await.unwrap();
    assert_eq!(cors.headers()["access-control-allow-origin"], LISTED);

    let off = json!({"enabled": false});
    let (status, _) = call(app, Method::PATCH, &format!("/apps/{web_key}"), &key.key, &admin, Some(off)).await;
    assert_eq!(status, 200);
    let (_, unknown) = json(app.get_with_key("/example/v2", "UnknownKey0123456789ab").send().await.unwrap()).await;
    let same_as_unknown = |(status, mut body): (u16, Value)| {
        assert_fault(status, &body, 400, "kInvalidClient");
        body["trace"] = Value::Null;
        let mut want = unknown.clone();
        want["trace"] = Value::Null;
        assert_eq!(body, want);
    };
    same_as_unknown(json(app.get_with_key("/example/v2", &web_key).send().await.unwrap()).await);
    same_as_unknown(json(app.get_with_key(me, &web_key).header("Cookie", &sid).send().await.unwrap()).await);
    same_as_unknown(json(app.api(Method::GET, me, &web_key, Some(&bearer)).send().await.unwrap()).await);
    same_as_unknown(json(signed(app, &org_path, &web_key, &web_secret, "n2").send().await.unwrap()).await);
    let login = app
        .api(Method::POST, "/example/v2/accounts/login", &web_key, None)
        .json(&json!({"email": "admin@x.test", "password": PASSWORD}));
    same_as_unknown(json(login.send().await.unwrap()).await);
    // Its origins are no longer allowed by CORS: no preflight, no headers.
    let preflight = app
        .request(Method::OPTIONS, "/example/v2")
        .header("Origin", LISTED)
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert!(preflight.headers().get("access-control-allow-origin").is_none());
    let res = app.get_with_key("/example/v2", &key.key).header("Origin", LISTED).send().await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());

    // Enabled again, it works again.
    let on = json!({"enabled": true});
    let (status, _) = call(app, Method::PATCH, &format!("/apps/{web_key}"), &key.key, &admin, Some(on)).await;
    assert_eq!(status, 200);
    assert_eq!(app.get_with_key(me, &web_key).header("Cookie", &sid).send().await.unwrap().status(), 200);
}

async fn a_rotated_secret_signs_during_its_grace_and_not_after(app: &TestApp) {
    let (org, key, admin) = org_with_admin(app).await;
    let path = format!("/example/v2/orgs/{}", org.id);
    let old = key.secret.clone();
    let (status, rotated) =
        call(app, Method::POST, &format!("/apps/{}/rotate-secret", key.key), &key.key, &admin, None).await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_eq!(signed(app, &path, &key.key, &old, "a").send().await.unwrap().status(), 200);
    assert_eq!(signed(app, &path, &key.key, &new, "b").send().await.unwrap().status(), 200);
    app.clock.advance(Duration::hours(24));
    let (status, fault) = json(signed(app, &path, &key.key, &old, "c").send().await.unwrap()).await;
    assert_fault(status, &fault, 403, "kAccessDenied");
    assert_eq!(signed(app, &path, &key.key, &new, "d").send().await.unwrap().status(), 200);
    // The secret never reaches the org's document.
    let admin = app.login("example", &key.key, "admin@x.test", PASSWORD).await;
    let shown = org_apps(app, &org, &key.key, &admin).await.to_string();
    assert!(!shown.contains(&new) && !shown.contains(&old), "{shown}");
}

/// A browser app listing [`LISTED`] with `csrf` as given, and its org's admin
/// logged in by cookie through it: the org, the first app, the admin's bearer
/// token, the browser app's key and the cookie.
async fn browser_app(app: &TestApp, csrf: bool) -> (Org, App, String, String, String) {
    let (org, key, admin) = org_with_admin(app).await;
    let body = json!({"name": "Browser", "cors": {"origins": [LISTED]}, "csrf": csrf});
    let (_, web) = call(app, Method::POST, "/apps", &key.key, &admin, Some(body)).await;
    let web_key = web["key"].as_str().unwrap().to_owned();
    let (sid, _) = cookie_login(app, &web_key, "admin@x.test").await;
    (org, key, admin, web_key, sid)
}

/// The seed's PATCH push, by cookie, from `origin` (if any), without the CSRF token.
async fn cookie_push(app: &TestApp, key: Option<&str>, sid: &str, origin: Option<&str>) -> (u16, Value) {
    let op = json!({"op": "push", "path": "/configuration/email/locationBypass", "value": "john@medable.com"});
    let mut req = app.request(Method::PATCH, "/example/v2").header("Cookie", sid).json(&op);
    if let Some(key) = key {
        req = req.header("Medable-Client-Key", key);
    }
    if let Some(origin) = origin {
        req = req.header("Origin", origin);
    }
    json(req.send().await.unwrap()).await
}

/// The stored `configuration.email.locationBypass` (empty when unset).
async fn bypass_list(app: &TestApp, org: &Org) -> Vec<Value> {
    let org = app.state.store.org_by_code(org.code.as_str()).await.unwrap().unwrap();
    let configuration = serde_json::to_value(&org.props.configuration).unwrap();
    configuration["email"]["locationBypass"].as_array().cloned().unwrap_or_default()
}

async fn with_csrf_off_a_cookie_write_is_accepted_only_from_a_listed_origin(app: &TestApp) {
    let (org, first, admin, key, sid) = browser_app(app, false).await;
    for (origin, why) in [(Some(ELSEWHERE), "an unlisted origin"), (None, "no origin")] {
        let (status, fault) = cookie_push(app, Some(&key), &sid, origin).await;
        assert_fault(status, &fault, 403, "kCSRFTokenMismatch");
        assert!(bypass_list(app, &org).await.is_empty(), "{why}");
    }
    // A plain form from another site can't send the client key header.
    let (status, fault) = cookie_push(app, None, &sid, Some(LISTED)).await;
    assert_fault(status, &fault, 400, "kInvalidClient");
    let (status, body) = cookie_push(app, Some(&key), &sid, Some(LISTED)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(bypass_list(app, &org).await, [json!("john@medable.com")]);
    // Turned back on, the token is due again from every origin.
    let on = json!({"csrf": true});
    let (status, _) = call(app, Method::PATCH, &format!("/apps/{key}"), &first.key, &admin, Some(on)).await;
    assert_eq!(status, 200);
    let (status, fault) = cookie_push(app, Some(&key), &sid, Some(LISTED)).await;
    assert_fault(status, &fault, 403, "kCSRFTokenMismatch");
}

async fn with_csrf_on_a_cookie_write_without_the_token_is_refused_from_any_origin(app: &TestApp) {
    let (org, _, _, key, sid) = browser_app(app, true).await;
    for origin in [Some(LISTED), Some(ELSEWHERE), None] {
        let (status, fault) = cookie_push(app, Some(&key), &sid, origin).await;
        assert_fault(status, &fault, 403, "kCSRFTokenMismatch");
    }
    assert!(bypass_list(app, &org).await.is_empty());
    // With the token, as today, it goes through.
    let (sid, csrf) = cookie_login(app, &key, "admin@x.test").await;
    let op = json!({"op": "push", "path": "/configuration/email/locationBypass", "value": "john@medable.com"});
    let res = app
        .api(Method::PATCH, "/example/v2", &key, None)
        .header("Cookie", &sid)
        .header("Medable-Csrf-Token", csrf)
        .json(&op)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Every app's `(secret, previous_secret)` as the database holds them.
async fn stored_secrets(app: &TestApp) -> Vec<(String, Option<String>)> {
    let query = "SELECT secret, previous_secret FROM apps";
    match app.backend {
        crate::helpers::Backend::Sqlite => {
            let file = app.config().data_dir.join("orgbase.db");
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display())).await.unwrap();
            sqlx::query_as(query).fetch_all(&pool).await.unwrap()
        }
        crate::helpers::Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.config().database_url.as_ref().unwrap().0).await.unwrap();
            sqlx::query_as(query).fetch_all(&pool).await.unwrap()
        }
    }
}

async fn app_secrets_are_sealed_in_the_database_rows_and_still_sign(app: &TestApp) {
    let (org, key, admin) = org_with_admin(app).await;
    let (_, created) = call(app, Method::POST, "/apps", &key.key, &admin, Some(json!({"name": "server"}))).await;
    let created_key = created["key"].as_str().unwrap().to_owned();
    let first = created["secret"].as_str().unwrap().to_owned();
    let rotate = format!("/apps/{created_key}/rotate-secret");
    let (_, rotated) = call(app, Method::POST, &rotate, &key.key, &admin, None).await;
    let second = rotated["secret"].as_str().unwrap().to_owned();

    let rows = stored_secrets(app).await;
    assert_eq!(rows.len(), 2);
    let dump = format!("{rows:?}");
    for secret in [&key.secret, &first, &second] {
        assert!(!dump.contains(secret.as_str()), "a secret is stored in the clear: {dump}");
    }
    for (secret, previous) in &rows {
        assert!(secret.starts_with("sealed1:"), "{secret}");
        assert!(previous.as_deref().is_none_or(|p| p.starts_with("sealed1:")), "{previous:?}");
    }
    assert_eq!(rows.iter().filter(|(_, previous)| previous.is_some()).count(), 1);
    // Sealed, they sign as before: the seeded app's, the new one, and the old one in its grace.
    let path = format!("/example/v2/orgs/{}", org.id);
    assert_eq!(signed(app, &path, &key.key, &key.secret, "s1").send().await.unwrap().status(), 200);
    assert_eq!(signed(app, &path, &created_key, &second, "s2").send().await.unwrap().status(), 200);
    assert_eq!(signed(app, &path, &created_key, &first, "s3").send().await.unwrap().status(), 200);
}
