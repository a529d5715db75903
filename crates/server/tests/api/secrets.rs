//! No password, password hash, session token or app secret ever appears in a log
//! line, and none but the login's own token in a response. The test captures every
//! log line of the server (at TRACE) while it runs the whole account story.

use std::io::Write;
use std::sync::{Arc, Mutex};

use orgbase_domain::roles::ADMINISTRATOR;
use orgbase_domain::{Clock, secret};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, TestApp, last_logged_token, token_in, wait_for_mails};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> Captured {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("this test owns the process's log subscriber (run it with nextest)");
    captured
}

async fn the_account_story_leaks_no_secret(backend: Backend) {
    let logs = capture_logs();
    let app = TestApp::spawn(backend).await;
    let (org, key) = app.seed_org_with("example", "Example", |p| p.registration.allow = true).await;
    let password = "leak canary password 4711";
    let new_password = "second canary password 0815";
    let mut responses = Vec::new();
    let record = |res: reqwest::Response| async {
        let headers = format!("{:?}", res.headers());
        let body = res.text().await.unwrap();
        format!("{headers}\n{body}")
    };
    let res = app
        .api(Method::POST, "/example/v2/accounts/register", &key.key, None)
        .json(&json!({"email": "canary@x.test", "password": password, "name": {"first": "C"}}))
        .send()
        .await
        .unwrap();
    responses.push(record(res).await);
    let bad = app
        .api(Method::POST, "/example/v2/accounts/login", &key.key, None)
        .json(&json!({"email": "canary@x.test", "password": "wrong"}));
    responses.push(record(bad.send().await.unwrap()).await);
    let token = app.login("example", &key.key, "canary@x.test", password).await;
    for path in ["/example/v2/accounts/me", "/example/v2/accounts/status", "/example/v2"] {
        responses.push(record(app.api(Method::GET, path, &key.key, Some(&token)).send().await.unwrap()).await);
    }
    let change = app
        .api(Method::POST, "/example/v2/accounts/me/update-password", &key.key, Some(&token))
        .json(&json!({"current": password, "password": new_password}));
    responses.push(record(change.send().await.unwrap()).await);
    let reset = app
        .api(Method::POST, "/example/v2/accounts/request-password-reset", &key.key, None)
        .json(&json!({"email": "canary@x.test"}));
    responses.push(record(reset.send().await.unwrap()).await);
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let full = app.api(Method::GET, &format!("/example/v2/orgs/{}", org.id), &key.key, Some(&admin));
    responses.push(record(full.send().await.unwrap()).await);
    let signed = orgbase_server::auth::signature(
        &key.key,
        &key.secret,
        "/accounts/me",
        "GET",
        &app.clock.now().timestamp_millis().to_string(),
    );
    let res = app
        .api(Method::GET, "/example/v2/accounts/me", &key.key, None)
        .header("Medable-Client-Signature", &signed)
        .header("Medable-Client-Nonce", "canary-nonce")
        .header("Medable-Client-Timestamp", app.clock.now().timestamp_millis().to_string())
        .send()
        .await
        .unwrap();
    responses.push(record(res).await);
    app.finish().await;

    let log_text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(log_text.lines().count() > 10, "logs were captured");
    let secrets = [password, new_password, &token, &admin, &key.secret, &secret::digest(&token), "$argon2id$", &signed];
    for s in secrets {
        assert!(!log_text.contains(s), "a secret is in the logs: {s}");
        for r in &responses {
            assert!(!r.contains(s), "a secret is in a response: {s}\n{r}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_the_account_story_leaks_no_secret_in_logs_or_responses() {
    the_account_story_leaks_no_secret(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_account_story_leaks_no_secret_in_logs_or_responses() {
    the_account_story_leaks_no_secret(Backend::Postgres).await;
}

/// Invitation, verification and reset tokens reach no log line, whichever way they
/// travel: in the seed's paths (`/connections/{token}`), in bodies, or through the
/// public pages.
async fn the_token_story_leaks_no_token(backend: Backend) {
    let logs = capture_logs();
    let app = TestApp::spawn(backend).await;
    let (org, key) = app.seed_org_with("example", "Example", |p| p.registration.allow = true).await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let password = "token story password 1";
    let mut tokens = Vec::new();
    let post = |path: String, token: Option<String>, body: serde_json::Value| {
        let req = app.api(Method::POST, &path, &key.key, token.as_deref()).json(&body);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // A verification token, used through the API.
    let register = json!({"email": "new@x.test", "password": password, "name": {"first": "N"}});
    assert_eq!(post("/example/v2/accounts/register".into(), None, register).await, 200);
    let mails = wait_for_mails(&app, 1).await;
    let verify = token_in(mails[0]["body"].as_str().unwrap());
    let body = json!({"token": verify, "password": password});
    assert_eq!(post("/example/v2/accounts/verify".into(), None, body).await, 200);
    tokens.push(verify);
    // Invitations accepted and declined through the seed's token-in-path routes,
    // and one accepted through the page.
    let invite_path = format!("/example/v2/orgs/{}/connections", org.id);
    for (who, how) in [("yes@x.test", "path-accept"), ("no@x.test", "path-decline"), ("page@x.test", "page")] {
        if how != "page" {
            app.seed_account(who, password, None).await;
        }
        let invite = json!({"email": who, "roles": []});
        assert_eq!(post(invite_path.clone(), Some(admin.clone()), invite).await, 200);
        let token = last_logged_token(&app);
        let path = format!("/example/v2/connections/{token}");
        let status = match how {
            "path-accept" => {
                let session = app.login("example", &key.key, who, password).await;
                post(path, Some(session), json!({})).await
            }
            "path-decline" => {
                let session = app.login("example", &key.key, who, password).await;
                let req = app.api(Method::DELETE, &path, &key.key, Some(&session));
                req.send().await.unwrap().status().as_u16()
            }
            _ => {
                let body = json!({"token": token, "password": password, "name": {"first": "P"}});
                app.request(Method::POST, "/example/accept").json(&body).send().await.unwrap().status().as_u16()
            }
        };
        assert_eq!(status, 200, "{how}");
        tokens.push(token);
    }
    // A reset token, used through the page; and a bogus token in a path.
    let reset = json!({"email": "yes@x.test"});
    assert_eq!(post("/example/v2/accounts/request-password-reset".into(), None, reset).await, 200);
    let before = crate::helpers::logged_mails(&app).len();
    let mails = wait_for_mails(&app, before.max(5)).await;
    let reset_token = token_in(mails.last().unwrap()["body"].as_str().unwrap());
    let body = json!({"token": reset_token, "password": "a reset password 2"});
    assert_eq!(app.request(Method::POST, "/example/reset").json(&body).send().await.unwrap().status(), 200);
    tokens.push(reset_token);
    let bogus = "f00d".repeat(16);
    assert_eq!(post(format!("/example/v2/connections/{bogus}"), Some(admin.clone()), json!({})).await, 404);
    tokens.push(bogus);
    app.finish().await;

    let log_text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(log_text.contains("connections/[redacted]"), "the token routes were logged, redacted");
    for token in &tokens {
        assert!(!log_text.contains(token.as_str()), "a token is in the logs: {token}");
        assert!(!log_text.contains(&secret::digest(token)), "a token's digest is in the logs: {token}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_invitation_verification_and_reset_tokens_never_reach_a_log() {
    the_token_story_leaks_no_token(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_invitation_verification_and_reset_tokens_never_reach_a_log() {
    the_token_story_leaks_no_token(Backend::Postgres).await;
}
