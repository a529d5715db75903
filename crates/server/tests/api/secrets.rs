//! No password, password hash, session token or app secret ever appears in a log
//! line, and none but the login's own token in a response. The test captures every
//! log line of the server (at TRACE) while it runs the whole account story.

use std::io::Write;
use std::sync::{Arc, Mutex};

use orgbase_domain::org::ADMINISTRATOR;
use orgbase_domain::{Clock, secret};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, TestApp};

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
