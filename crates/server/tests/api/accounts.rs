//! Accounts and authentication: register, login (cookie and bearer), me, logout,
//! sessions, CSRF, enumeration, rate limits, passwords, operators, signed requests.

use chrono::Duration;
use orgbase_domain::Clock;
use orgbase_domain::roles::{ADMINISTRATOR, PROVIDER};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api_tests;
use crate::helpers::{TestApp, assert_fault, json, last_logged_token, wait_for_mails};

const PASSWORD: &str = "correct horse battery staple";

api_tests!(
    register_login_me_and_logout_work_with_a_bearer_token,
    login_sets_the_md_sid_cookie_and_the_csrf_header,
    a_cookie_write_needs_the_csrf_header,
    registration_is_closed_unless_the_org_allows_it,
    registration_gives_the_default_roles_and_refuses_weak_input,
    a_revoked_or_expired_session_is_403_not_401,
    an_unknown_email_and_a_wrong_password_give_the_same_fault,
    the_eleventh_fast_login_attempt_is_throttled,
    two_racing_registrations_of_one_email_make_one_account,
    one_account_is_a_member_of_two_orgs_with_different_roles,
    a_session_is_valid_only_in_the_org_where_it_was_made,
    a_password_change_revokes_the_other_sessions,
    a_mailed_reset_token_sets_a_new_password_once_and_expires,
    members_and_administrators_see_more_of_the_org,
    an_operator_creates_an_org_with_its_first_administrator,
    signed_requests_act_as_the_app_or_as_a_member,
    refused_signed_requests_all_get_the_same_403,
    a_burst_of_logins_queues_for_the_hasher_and_all_succeed,
);

fn login_body(email: &str, password: &str) -> Value {
    json!({"email": email, "password": password})
}

async fn register_login_me_and_logout_work_with_a_bearer_token(app: &TestApp) {
    let (org, key) = app.seed_org_with("example", "Example", |p| p.registration.allow = true).await;
    let res = app
        .api(Method::POST, "/example/v2/accounts/register", &key.key, None)
        .json(&json!({"email": "A@X.test", "password": PASSWORD, "name": {"first": "Ada", "last": "Lovelace"}}))
        .send()
        .await
        .unwrap();
    let (status, account) = json(res).await;
    assert_eq!(status, 200, "{account}");
    assert_eq!((account["object"].as_str(), account["email"].as_str()), (Some("account"), Some("a@x.test")));
    let token = app.login("example", &key.key, "a@x.test", PASSWORD).await;
    let (status, me) =
        json(app.api(Method::GET, "/example/v2/accounts/me", &key.key, Some(&token)).send().await.unwrap()).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["_id"], account["_id"]);
    assert_eq!(me["member"]["org"], org.id.to_string());
    assert_eq!(me["access"], 4);
    let (_, status_body) =
        json(app.api(Method::GET, "/example/v2/accounts/status", &key.key, Some(&token)).send().await.unwrap()).await;
    assert_eq!(status_body["data"]["loggedin"], true);
    let (status, out) =
        json(app.api(Method::POST, "/example/v2/accounts/me/logout", &key.key, Some(&token)).send().await.unwrap())
            .await;
    assert_eq!((status, out), (200, json!({"object": "result", "data": true})));
    let (status, body) =
        json(app.api(Method::GET, "/example/v2/accounts/me", &key.key, Some(&token)).send().await.unwrap()).await;
    assert_fault(status, &body, 403, "kNotLoggedIn");
    let (_, status_body) =
        json(app.api(Method::GET, "/example/v2/accounts/status", &key.key, None).send().await.unwrap()).await;
    assert_eq!(status_body["data"], json!({"loggedin": false, "account": null}));
}

async fn login_sets_the_md_sid_cookie_and_the_csrf_header(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    app.seed_account("a@x.test", PASSWORD, Some((&org, &[]))).await;
    let res = app
        .api(Method::POST, "/example/v2/accounts/login", &key.key, None)
        .json(&login_body("a@x.test", PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("md.sid="), "{cookie}");
    for attr in ["Path=/example", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "no Secure cookie over plain http: {cookie}");
    assert!(res.headers().contains_key("medable-csrf-token"));
    // Every authenticated response carries the CSRF token, GETs included.
    let sid = cookie.split(';').next().unwrap().to_owned();
    let res =
        app.api(Method::GET, "/example/v2/accounts/me", &key.key, None).header("cookie", &sid).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("medable-csrf-token"));
}

async fn a_cookie_write_needs_the_csrf_header(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    app.seed_account("a@x.test", PASSWORD, Some((&org, &[]))).await;
    let res = app
        .api(Method::POST, "/example/v2/accounts/login", &key.key, None)
        .json(&login_body("a@x.test", PASSWORD))
        .send()
        .await
        .unwrap();
    let sid = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let csrf = res.headers()["medable-csrf-token"].to_str().unwrap().to_owned();
    let write = |csrf: Option<&str>| {
        let req = app
            .api(Method::POST, "/example/v2/accounts/me/update-password", &key.key, None)
            .header("cookie", &sid)
            .json(&json!({"current": PASSWORD, "password": "another long password"}));
        match csrf {
            Some(c) => req.header("Medable-Csrf-Token", c),
            None => req,
        }
    };
    let (status, body) = json(write(None).send().await.unwrap()).await;
    assert_fault(status, &body, 403, "kCSRFTokenMismatch");
    let (status, body) = json(write(Some("forged")).send().await.unwrap()).await;
    assert_fault(status, &body, 403, "kCSRFTokenMismatch");
    let (status, body) = json(write(Some(&csrf)).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
}

async fn registration_is_closed_unless_the_org_allows_it(app: &TestApp) {
    let (_, key) = app.seed_org("closed", "Closed").await;
    let res = app
        .api(Method::POST, "/closed/v2/accounts/register", &key.key, None)
        .json(&json!({"email": "a@x.test", "password": PASSWORD, "name": {"first": "A"}}))
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_fault(status, &body, 403, "kAccessDenied");
    let (_, key) = app
        .seed_org_with("invite-only", "Invite", |p| {
            p.registration.allow = true;
            p.registration.invitation_required = true;
        })
        .await;
    let res = app
        .api(Method::POST, "/invite-only/v2/accounts/register", &key.key, None)
        .json(&json!({"email": "a@x.test", "password": PASSWORD, "name": {"first": "A"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        app.state
            .store
            .account_by_email(&orgbase_domain::email::Email::parse("e", "a@x.test").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

async fn registration_gives_the_default_roles_and_refuses_weak_input(app: &TestApp) {
    let (_, key) = app
        .seed_org_with("open", "Open", |p| {
            p.registration.allow = true;
            p.registration.default_roles = vec![PROVIDER];
        })
        .await;
    let res = app
        .api(Method::POST, "/open/v2/accounts/register", &key.key, None)
        .json(&json!({"email": "not-an-email", "password": "short", "name": {"first": ""}}))
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_fault(status, &body, 400, "kValidationError");
    let paths: Vec<&str> = body["faults"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["email", "name", "password"]);
    let res = app
        .api(Method::POST, "/open/v2/accounts/register", &key.key, None)
        .json(&json!({"email": "p@x.test", "password": PASSWORD, "name": {"first": "P"}, "isAdmin": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "unknown fields are refused");
    let res = app
        .api(Method::POST, "/open/v2/accounts/register", &key.key, None)
        .json(&json!({"email": "p@x.test", "password": PASSWORD, "name": {"first": "P"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let token = app.login("open", &key.key, "p@x.test", PASSWORD).await;
    let (_, me) =
        json(app.api(Method::GET, "/open/v2/accounts/me", &key.key, Some(&token)).send().await.unwrap()).await;
    assert_eq!(me["roles"], json!([PROVIDER.to_string()]));
}

async fn a_revoked_or_expired_session_is_403_not_401(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    app.seed_account("a@x.test", PASSWORD, Some((&org, &[]))).await;
    let token = app.login("example", &key.key, "a@x.test", PASSWORD).await;
    // Sliding expiry: a use within the TTL keeps it alive past the first deadline.
    let ttl = i64::from(org.props.security.session_ttl);
    app.clock.advance(Duration::seconds(ttl - 10));
    let res = app.api(Method::GET, "/example/v2/accounts/me", &key.key, Some(&token)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    app.clock.advance(Duration::seconds(ttl - 10));
    let res = app.api(Method::GET, "/example/v2/accounts/me", &key.key, Some(&token)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    app.clock.advance(Duration::seconds(ttl + 1));
    let (status, body) =
        json(app.api(Method::GET, "/example/v2/accounts/me", &key.key, Some(&token)).send().await.unwrap()).await;
    assert_fault(status, &body, 403, "kSessionExpired");
    let (status, body) =
        json(app.api(Method::GET, "/example/v2/accounts/me", &key.key, Some("made-up")).send().await.unwrap()).await;
    assert_fault(status, &body, 403, "kNotLoggedIn");
    // The public read still answers a caller with a dead session.
    let res = app.api(Method::GET, "/example/v2", &key.key, Some(&token)).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

async fn an_unknown_email_and_a_wrong_password_give_the_same_fault(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    app.seed_account("a@x.test", PASSWORD, Some((&org, &[]))).await;
    let mut bodies = Vec::new();
    for (email, password) in [("a@x.test", "wrong password!"), ("nobody@x.test", PASSWORD)] {
        let res = app
            .api(Method::POST, "/example/v2/accounts/login", &key.key, None)
            .json(&login_body(email, password))
            .send()
            .await
            .unwrap();
        let (status, mut body) = json(res).await;
        assert_fault(status, &body, 403, "kInvalidCredentials");
        body.as_object_mut().unwrap().remove("trace");
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1]);
}

async fn the_eleventh_fast_login_attempt_is_throttled(app: &TestApp) {
    let (_, key) = app.seed_org("example", "Example").await;
    for _ in 0..10 {
        let res = app
            .api(Method::POST, "/example/v2/accounts/login", &key.key, None)
            .json(&login_body("a@x.test", "nope"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
    }
    let res = app
        .api(Method::POST, "/example/v2/accounts/login", &key.key, None)
        .json(&login_body("a@x.test", "nope"))
        .send()
        .await
        .unwrap();
    assert!(res.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let (status, body) = json(res).await;
    assert_fault(status, &body, 429, "kThrottled");
}

async fn two_racing_registrations_of_one_email_make_one_account(app: &TestApp) {
    let (_, key) = app.seed_org_with("open", "Open", |p| p.registration.allow = true).await;
    let register = || {
        app.api(Method::POST, "/open/v2/accounts/register", &key.key, None)
            .json(&json!({"email": "race@x.test", "password": PASSWORD, "name": {"first": "R"}}))
            .send()
    };
    let (a, b) = tokio::join!(register(), register());
    // Both answer as a new registration does (a taken email tells nothing), and
    // one account exists.
    assert_eq!([a.unwrap().status().as_u16(), b.unwrap().status().as_u16()], [200, 200]);
    let email = orgbase_domain::email::Email::parse("email", "race@x.test").unwrap();
    assert!(app.state.store.account_by_email(&email).await.unwrap().is_some());
    app.login("open", &key.key, "race@x.test", PASSWORD).await;
}

async fn one_account_is_a_member_of_two_orgs_with_different_roles(app: &TestApp) {
    let (a, key_a) = app.seed_org("org-a", "A").await;
    let (b, key_b) = app.seed_org("org-b", "B").await;
    let account = app.seed_account("both@x.test", PASSWORD, Some((&a, &[ADMINISTRATOR]))).await;
    let member = orgbase_domain::account::Member::new(b.id, account.id, vec![PROVIDER], app.clock.now());
    app.state.store.insert_member(&member).await.unwrap();
    let token_a = app.login("org-a", &key_a.key, "both@x.test", PASSWORD).await;
    let token_b = app.login("org-b", &key_b.key, "both@x.test", PASSWORD).await;
    let (_, me_a) =
        json(app.api(Method::GET, "/org-a/v2/accounts/me", &key_a.key, Some(&token_a)).send().await.unwrap()).await;
    let (_, me_b) =
        json(app.api(Method::GET, "/org-b/v2/accounts/me", &key_b.key, Some(&token_b)).send().await.unwrap()).await;
    assert_eq!((me_a["access"].clone(), me_a["roles"].clone()), (json!(7), json!([ADMINISTRATOR.to_string()])));
    assert_eq!((me_b["access"].clone(), me_b["roles"].clone()), (json!(4), json!([PROVIDER.to_string()])));
}

async fn a_session_is_valid_only_in_the_org_where_it_was_made(app: &TestApp) {
    let (a, key_a) = app.seed_org("org-a", "A").await;
    let (b, key_b) = app.seed_org("org-b", "B").await;
    let account = app.seed_account("both@x.test", PASSWORD, Some((&a, &[]))).await;
    app.state
        .store
        .insert_member(&orgbase_domain::account::Member::new(b.id, account.id, vec![], app.clock.now()))
        .await
        .unwrap();
    let token_a = app.login("org-a", &key_a.key, "both@x.test", PASSWORD).await;
    let (status, body) =
        json(app.api(Method::GET, "/org-b/v2/accounts/me", &key_b.key, Some(&token_a)).send().await.unwrap()).await;
    assert_fault(status, &body, 403, "kNotLoggedIn");
}

async fn a_password_change_revokes_the_other_sessions(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    app.seed_account("a@x.test", PASSWORD, Some((&org, &[]))).await;
    let first = app.login("example", &key.key, "a@x.test", PASSWORD).await;
    let second = app.login("example", &key.key, "a@x.test", PASSWORD).await;
    let res = app
        .api(Method::POST, "/example/v2/accounts/me/update-password", &key.key, Some(&first))
        .json(&json!({"current": "wrong password", "password": "a brand new password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = app
        .api(Method::POST, "/example/v2/accounts/me/update-password", &key.key, Some(&first))
        .json(&json!({"current": PASSWORD, "password": "a brand new password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let me = |t: String| app.api(Method::GET, "/example/v2/accounts/me", &key.key, Some(&t)).send();
    assert_eq!(me(first).await.unwrap().status(), 200, "the session that changed it stays");
    assert_eq!(me(second).await.unwrap().status(), 403, "the others are revoked");
    app.login("example", &key.key, "a@x.test", "a brand new password").await;
}

async fn a_mailed_reset_token_sets_a_new_password_once_and_expires(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    app.seed_account("a@x.test", PASSWORD, Some((&org, &[]))).await;
    let old_session = app.login("example", &key.key, "a@x.test", PASSWORD).await;
    for email in ["a@x.test", "nobody@x.test"] {
        let (status, body) = json(
            app.api(Method::POST, "/example/v2/accounts/request-password-reset", &key.key, None)
                .json(&json!({"email": email}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((status, body["data"].clone()), (200, json!(true)), "the same answer for unknown emails");
    }
    wait_for_mails(app, 1).await;
    let token = last_logged_token(app);
    let reset = |token: String, password: &'static str| {
        app.api(Method::POST, "/example/v2/accounts/reset-password", &key.key, None)
            .json(&json!({"token": token, "password": password}))
            .send()
    };
    assert_eq!(reset(token.clone(), "the reset password").await.unwrap().status(), 200);
    assert_eq!(reset(token, "again and again").await.unwrap().status(), 404, "a token works once");
    app.login("example", &key.key, "a@x.test", "the reset password").await;
    let res = app.api(Method::GET, "/example/v2/accounts/me", &key.key, Some(&old_session)).send().await.unwrap();
    assert_eq!(res.status(), 403, "a reset revokes every session");
    app.api(Method::POST, "/example/v2/accounts/request-password-reset", &key.key, None)
        .json(&json!({"email": "a@x.test"}))
        .send()
        .await
        .unwrap();
    wait_for_mails(app, 2).await;
    let token = last_logged_token(app);
    app.clock.advance(Duration::hours(2));
    let (status, body) = json(reset(token, "too late password").await.unwrap()).await;
    assert_fault(status, &body, 410, "kTokenExpired");
}

async fn members_and_administrators_see_more_of_the_org(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    app.seed_account("member@x.test", PASSWORD, Some((&org, &[PROVIDER]))).await;
    app.seed_account("admin@x.test", PASSWORD, Some((&org, &[ADMINISTRATOR]))).await;
    app.seed_account("outsider@x.test", PASSWORD, None).await;
    let path = format!("/example/v2/orgs/{}", org.id);
    let (path, k) = (&path, &key.key);
    let read =
        |token: String| async move { json(app.api(Method::GET, path, k, Some(&token)).send().await.unwrap()).await.1 };
    let outsider = read(app.login("example", &key.key, "outsider@x.test", PASSWORD).await).await;
    assert_eq!(outsider["access"], 1);
    assert!(outsider.get("roles").is_none());
    let member = read(app.login("example", &key.key, "member@x.test", PASSWORD).await).await;
    assert_eq!(member["access"], 4);
    assert!(member["roles"].is_array() && member.get("created").is_some());
    assert!(member.get("security").is_none() && member.get("apps").is_none());
    let admin = read(app.login("example", &key.key, "admin@x.test", PASSWORD).await).await;
    assert_eq!(admin["access"], 7);
    assert_eq!(admin["apps"][0]["key"], key.key.as_str());
    assert!(admin["apps"][0].get("secret").is_none());
    assert!(!admin.to_string().contains(&key.secret));
    assert!(admin["configuration"].is_object() && admin["security"].is_object());
}

async fn an_operator_creates_an_org_with_its_first_administrator(app: &TestApp) {
    let existing = app.seed_account("lead@x.test", PASSWORD, None).await;
    let res = app
        .platform(Method::POST, "/platform/v1/orgs")
        .json(&json!({"code": "clinic", "name": "Clinic", "adminEmail": "LEAD@x.test"}))
        .send()
        .await
        .unwrap();
    let (status, org) = json(res).await;
    assert_eq!(status, 200, "{org}");
    assert_eq!(org["admin"]["_id"], existing.id.to_string(), "linked by email");
    let org_id = orgbase_domain::Id::parse(org["_id"].as_str().unwrap()).unwrap();
    let member = app.state.store.member_of(org_id, existing.id).await.unwrap().unwrap();
    assert_eq!(member.roles, [ADMINISTRATOR]);
    let res = app
        .platform(Method::POST, "/platform/v1/orgs")
        .json(&json!({"code": "clinic-2", "name": "Clinic 2", "adminEmail": "new@x.test"}))
        .send()
        .await
        .unwrap();
    let (status, org) = json(res).await;
    assert_eq!((status, org["admin"]["email"].clone()), (200, json!("new@x.test")), "created");
    let res = app
        .platform(Method::POST, "/platform/v1/orgs")
        .json(&json!({"code": "clinic-3", "name": "Clinic 3", "adminEmail": "nope"}))
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_fault(status, &body, 400, "kValidationError");
    assert!(app.state.store.org_by_code("clinic-3").await.unwrap().is_none());
}

fn signed(
    app: &TestApp,
    method: Method,
    path: &str,
    (key, secret): (&str, &str),
    account: Option<&str>,
    ts: i64,
    nonce: &str,
) -> reqwest::RequestBuilder {
    let below = path.split('?').next().unwrap().splitn(4, '/').nth(3).map_or("/".to_owned(), |rest| format!("/{rest}"));
    let sig = orgbase_server::auth::signature(key, secret, &below, method.as_str(), &ts.to_string());
    let req = app
        .request(method, path)
        .header("Medable-Client-Key", key)
        .header("Medable-Client-Signature", sig)
        .header("Medable-Client-Nonce", nonce)
        .header("Medable-Client-Timestamp", ts.to_string());
    match account {
        Some(a) => req.header("Medable-Client-Account", a),
        None => req,
    }
}

async fn signed_requests_act_as_the_app_or_as_a_member(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.seed_account("admin@x.test", PASSWORD, Some((&org, &[ADMINISTRATOR]))).await;
    let now = app.clock.now().timestamp_millis();
    let path = format!("/example/v2/orgs/{}", org.id);
    let (status, body) = json(
        signed(app, Method::GET, &path, (&key.key, &key.secret), Some(&admin.id.to_string()), now, "n1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["access"].clone()), (200, json!(7)), "{body}");
    let (status, body) =
        json(signed(app, Method::GET, &path, (&key.key, &key.secret), None, now, "n2").send().await.unwrap()).await;
    assert_eq!((status, body["access"].clone()), (200, json!(1)), "{body}");
}

async fn refused_signed_requests_all_get_the_same_403(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.seed_account("admin@x.test", PASSWORD, Some((&org, &[ADMINISTRATOR]))).await;
    let outsider = app.seed_account("out@x.test", PASSWORD, None).await;
    let (admin_id, outsider_id) = (admin.id.to_string(), outsider.id.to_string());
    let now = app.clock.now().timestamp_millis();
    let path = format!("/example/v2/orgs/{}", org.id);
    let ok =
        signed(app, Method::GET, &path, (&key.key, &key.secret), Some(&admin_id), now, "used").send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let cases = [
        ("wrong secret", signed(app, Method::GET, &path, (&key.key, "wrong-secret"), Some(&admin_id), now, "a")),
        (
            "stale timestamp",
            signed(app, Method::GET, &path, (&key.key, &key.secret), Some(&admin_id), now - 6 * 60 * 1000, "b"),
        ),
        (
            "future timestamp",
            signed(app, Method::GET, &path, (&key.key, &key.secret), Some(&admin_id), now + 6 * 60 * 1000, "c"),
        ),
        ("replayed nonce", signed(app, Method::GET, &path, (&key.key, &key.secret), Some(&admin_id), now, "used")),
        ("not a member", signed(app, Method::GET, &path, (&key.key, &key.secret), Some(&outsider_id), now, "d")),
        (
            "other method",
            signed(app, Method::GET, &path, (&key.key, &key.secret), Some(&admin_id), now, "e").header("x-ignore", "1"),
        ),
    ];
    let mut bodies = Vec::new();
    for (why, req) in cases.into_iter().take(5) {
        let (status, mut body) = json(req.send().await.unwrap()).await;
        assert_fault(status, &body, 403, "kAccessDenied");
        body.as_object_mut().unwrap().remove("trace");
        bodies.push((why, body));
    }
    for (why, body) in &bodies {
        assert_eq!(body, &bodies[0].1, "{why} gives the same fault");
    }
    let forged = signed(app, Method::PATCH, &path, (&key.key, "wrong-secret"), Some(&admin_id), now, "f")
        .json(&json!({"op": "set", "path": "name", "value": "Forged"}));
    assert_eq!(forged.send().await.unwrap().status(), 403);
    let replay = signed(app, Method::PATCH, &path, (&key.key, &key.secret), Some(&admin_id), now, "used")
        .json(&json!({"op": "set", "path": "name", "value": "Replayed"}));
    assert_eq!(replay.send().await.unwrap().status(), 403);
    assert_eq!(app.state.store.org_by_id(org.id).await.unwrap().unwrap().props.name, "Example", "nothing changed");
}

/// More logins at once than there are cores wait their turn at argon2 (one hash
/// per core at a time) and all get a session.
async fn a_burst_of_logins_queues_for_the_hasher_and_all_succeed(app: &TestApp) {
    let (org, key) = app.seed_org("burst", "Burst").await;
    for i in 0..8 {
        app.seed_account(&format!("burst{i}@x.test"), PASSWORD, Some((&org, &[]))).await;
    }
    let logins = (0..8).map(|i| {
        app.api(Method::POST, "/burst/v2/accounts/login", &key.key, None)
            .json(&json!({"email": format!("burst{i}@x.test"), "password": PASSWORD, "bearer": true}))
            .send()
    });
    for res in futures::future::join_all(logins).await {
        let (status, body) = json(res.unwrap()).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["token"].as_str().is_some_and(|t| t.len() == 64), "{body}");
    }
}
