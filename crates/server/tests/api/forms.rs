//! Bodies as browsers send them (issue 19): a flat body as a form
//! (`application/x-www-form-urlencoded`, jQuery's default) is read as the JSON
//! object of its string fields and checked as that JSON is; bodies that need
//! nesting still need JSON (415); the session cookie's `SameSite` is configurable.

use orgbase_domain::roles::ADMINISTRATOR;
use orgbase_server::config::{Config, SameSite};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::api_tests;
use crate::helpers::{Backend, TestApp, assert_fault, json};

const PASSWORD: &str = "correct horse battery staple";
/// What jQuery sends for a plain-object `data` without a `contentType`.
const FORM: &str = "application/x-www-form-urlencoded; charset=UTF-8";
/// The seed's PATCH body, as jQuery encodes it.
const SEED_PUSH: &str = "op=push&path=%2Fconfiguration%2Femail%2FlocationBypass&value=john%40medable.com";

api_tests!(
    the_seeds_form_patch_pushes_with_a_cookie_login_from_a_form,
    a_form_write_needs_the_csrf_header_as_json_does,
    a_form_value_is_a_string_and_gets_the_fault_json_gets,
    a_form_for_a_body_that_needs_nesting_is_a_415_that_says_to_send_json,
    malformed_form_bodies_are_400_faults,
    a_form_keeps_the_body_limit_and_other_types_keep_their_415,
    invitations_and_password_routes_take_forms,
    the_patch_of_a_facility_takes_a_form,
);

/// A form request with the client key.
fn form(app: &TestApp, method: Method, path: &str, key: &str, body: impl Into<reqwest::Body>) -> RequestBuilder {
    app.api(method, path, key, None).header("content-type", FORM).body(body)
}

/// Logs in with a form body, as a page does; returns the cookie and CSRF token.
async fn form_login(app: &TestApp, key: &str, email: &str) -> (String, String) {
    let body = format!("email={}&password={}", email.replace('@', "%40"), PASSWORD.replace(' ', "+"));
    let res = form(app, Method::POST, "/example/v2/accounts/login", key, body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let sid = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let csrf = res.headers()["medable-csrf-token"].to_str().unwrap().to_owned();
    (sid, csrf)
}

async fn the_seeds_form_patch_pushes_with_a_cookie_login_from_a_form(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    app.seed_account("admin@x.test", PASSWORD, Some((&org, &[ADMINISTRATOR]))).await;
    let (sid, csrf) = form_login(app, &key.key, "admin@x.test").await;
    let res = form(app, Method::PATCH, &format!("/example/v2/orgs/{}", org.id), &key.key, SEED_PUSH)
        .header("cookie", &sid)
        .header("Medable-Csrf-Token", &csrf)
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["configuration"]["email"]["locationBypass"], json!(["john@medable.com"]));
    // `PATCH /{org}/v2` too, with one more address.
    let res = form(app, Method::PATCH, "/example/v2", &key.key, SEED_PUSH.replace("john", "jane"))
        .header("cookie", &sid)
        .header("Medable-Csrf-Token", &csrf)
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["configuration"]["email"]["locationBypass"], json!(["john@medable.com", "jane@medable.com"]));
}

async fn a_form_write_needs_the_csrf_header_as_json_does(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    app.seed_account("admin@x.test", PASSWORD, Some((&org, &[ADMINISTRATOR]))).await;
    let (sid, _) = form_login(app, &key.key, "admin@x.test").await;
    let path = format!("/example/v2/orgs/{}", org.id);
    for csrf in [None, Some("forged")] {
        let mut req = form(app, Method::PATCH, &path, &key.key, SEED_PUSH).header("cookie", &sid);
        if let Some(csrf) = csrf {
            req = req.header("Medable-Csrf-Token", csrf);
        }
        let (status, body) = json(req.send().await.unwrap()).await;
        assert_fault(status, &body, 403, "kCSRFTokenMismatch");
    }
    let body = format!("current={}&password=another+long+password", PASSWORD.replace(' ', "+"));
    let res = form(app, Method::POST, "/example/v2/accounts/me/update-password", &key.key, body)
        .header("cookie", &sid)
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_fault(status, &body, 403, "kCSRFTokenMismatch");
    // Nothing was written.
    let (_, read) = json(app.get_with_key(&path, &key.key).header("cookie", &sid).send().await.unwrap()).await;
    assert_eq!(read["configuration"]["email"]["locationBypass"], json!([]), "{read}");
}

async fn a_form_value_is_a_string_and_gets_the_fault_json_gets(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let declare = app
        .api(Method::POST, "/example/v2/schemas/org/properties", &key.key, Some(&admin))
        .json(&json!({"name": "c_counts", "type": "number", "array": true}));
    let (status, body) = json(declare.send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let patch = || app.api(Method::PATCH, "/example/v2", &key.key, Some(&admin));
    let from_form = patch().header("content-type", FORM).body("op=push&path=c_counts&value=5");
    let (status, form_fault) = json(from_form.send().await.unwrap()).await;
    assert_fault(status, &form_fault, 400, "kValidationError");
    let from_json = patch().json(&json!({"op": "push", "path": "c_counts", "value": "5"}));
    let (status, json_fault) = json(from_json.send().await.unwrap()).await;
    assert_fault(status, &json_fault, 400, "kValidationError");
    let without_trace = |mut fault: Value| {
        fault.as_object_mut().unwrap().remove("trace");
        fault
    };
    assert_eq!(without_trace(form_fault), without_trace(json_fault));
    let (status, body) =
        json(patch().json(&json!({"op": "push", "path": "c_counts", "value": 5})).send().await.unwrap()).await;
    assert_eq!((status, &body["c_counts"]), (200, &json!([5])), "{body}");
    // A boolean field gets no coercion either: `bearer=true` is the string "true".
    let body = format!("email=admin%40x.test&password={}&bearer=true", PASSWORD.replace(' ', "+"));
    let (status, fault) =
        json(form(app, Method::POST, "/example/v2/accounts/login", &key.key, body).send().await.unwrap()).await;
    assert_fault(status, &fault, 400, "kValidationError");
    assert_eq!(fault["path"], "bearer", "{fault}");
    // A NUL in a form value meets the same check as in JSON.
    let nul_form = patch().header("content-type", FORM).body("op=set&path=name&value=a%00b");
    let (status, form_fault) = json(nul_form.send().await.unwrap()).await;
    let nul_json = patch().json(&json!({"op": "set", "path": "name", "value": "a\u{0}b"}));
    let (_, json_fault) = json(nul_json.send().await.unwrap()).await;
    assert_eq!(status, 400, "{form_fault}");
    assert_eq!(without_trace(form_fault), without_trace(json_fault));
}

async fn a_form_for_a_body_that_needs_nesting_is_a_415_that_says_to_send_json(app: &TestApp) {
    let (org, key) = app.seed_org_with("example", "Example", |p| p.registration.allow = true).await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let cases = [
        // Arrays and documents, as jQuery writes them.
        (Method::POST, format!("/example/v2/orgs/{}/connections", org.id), "email=b%40x.test&roles%5B%5D=provider"),
        (Method::PATCH, "/example/v2".to_owned(), "op=push&path=c_x&value%5B%5D=1&value%5B%5D=2"),
        (Method::PATCH, "/example/v2".to_owned(), "op=set&value%5Bname%5D=Renamed"),
        (
            Method::POST,
            "/example/v2/accounts/register".to_owned(),
            "email=c%40x.test&password=a+long+password&name%5Bfirst%5D=C",
        ),
        // Routes whose bodies are JSON only (a bare value, arrays of rules).
        (Method::PUT, format!("/example/v2/orgs/{}/c_4providers", org.id), "-5=&-4="),
        (Method::POST, "/example/v2/schemas/org/properties".to_owned(), "name=c_y&type=string"),
    ];
    for (method, path, body) in cases {
        let req = app.api(method.clone(), &path, &key.key, Some(&admin)).header("content-type", FORM).body(body);
        let (status, fault) = json(req.send().await.unwrap()).await;
        assert_fault(status, &fault, 415, "kUnsupportedMedia");
        let reason = fault["reason"].as_str().unwrap();
        assert!(reason.contains("application/json"), "{method} {path}: {reason}");
    }
    let req = app
        .api(Method::POST, &format!("/example/v2/orgs/{}/connections", org.id), &key.key, Some(&admin))
        .header("content-type", FORM)
        .body("email=b%40x.test&roles%5B%5D=provider");
    let (_, fault) = json(req.send().await.unwrap()).await;
    assert!(fault["reason"].as_str().unwrap().contains("'roles[]'"), "{fault}");
}

async fn malformed_form_bodies_are_400_faults(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    app.seed_account("a@x.test", PASSWORD, Some((&org, &[]))).await;
    let login = |body: Vec<u8>| form(app, Method::POST, "/example/v2/accounts/login", &key.key, body);
    let cases: [(&[u8], &str, Option<&str>); 6] = [
        // Broken UTF-8, percent-encoded or raw.
        (b"email=a%FF%40x.test&password=x", "kInvalidArgument", None),
        (b"email=a\xff@x.test&password=x", "kInvalidArgument", None),
        // A field twice, an unknown field, a missing field.
        (b"email=a%40x.test&email=b%40x.test&password=x", "kValidationError", Some("email")),
        (b"email=a%40x.test&password=x&colour=red", "kValidationError", None),
        (b"email=a%40x.test", "kValidationError", None),
        (b"", "kValidationError", None),
    ];
    for (body, code, path) in cases {
        let shown = String::from_utf8_lossy(body).into_owned();
        let (status, fault) = json(login(body.to_vec()).send().await.unwrap()).await;
        assert_eq!((status, fault["code"].as_str()), (400, Some(code)), "{shown}: {fault}");
        if let Some(path) = path {
            assert_eq!(fault["faults"][0]["path"], path, "{shown}: {fault}");
        }
    }
    let (_, fault) = json(login(b"email=a%40x.test&password=x&colour=red".to_vec()).send().await.unwrap()).await;
    assert!(fault.to_string().contains("colour"), "{fault}");
    // The same JSON bodies get the same faults.
    let res = app
        .api(Method::POST, "/example/v2/accounts/login", &key.key, None)
        .header("content-type", "application/json")
        .body(r#"{"email":"a@x.test","email":"b@x.test","password":"x"}"#)
        .send()
        .await
        .unwrap();
    let (status, fault) = json(res).await;
    assert_fault(status, &fault, 400, "kValidationError");
}

async fn a_form_keeps_the_body_limit_and_other_types_keep_their_415(app: &TestApp) {
    let (_, key) = app.seed_org("example", "Example").await;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded; charset=ISO-8859-1",
        "multipart/form-data; boundary=x",
        "application/xml",
    ] {
        let res = app
            .api(Method::POST, "/example/v2/accounts/login", &key.key, None)
            .header("content-type", content_type)
            .body("email=a%40x.test&password=x")
            .send()
            .await
            .unwrap();
        let (status, fault) = json(res).await;
        assert_fault(status, &fault, 415, "kUnsupportedMedia");
    }
    let res = app
        .api(Method::POST, "/example/v2/accounts/login", &key.key, None)
        .body("email=a%40x.test")
        .send()
        .await
        .unwrap();
    let (status, fault) = json(res).await;
    assert_fault(status, &fault, 415, "kUnsupportedMedia");
    // Last: the server answers 413 without reading the body, and a request sent
    // after it on the same kept-alive connection could meet the closed socket.
    let huge = format!("email=a%40x.test&password={}", "x".repeat(app.config().body_limit + 10));
    let (status, fault) =
        json(form(app, Method::POST, "/example/v2/accounts/login", &key.key, huge).send().await.unwrap()).await;
    assert_fault(status, &fault, 413, "kRequestTooLarge");
}

async fn invitations_and_password_routes_take_forms(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    app.seed_account("admin@x.test", PASSWORD, Some((&org, &[ADMINISTRATOR]))).await;
    let admin = app.login("example", &key.key, "admin@x.test", PASSWORD).await;
    let invite = app
        .api(Method::POST, &format!("/example/v2/orgs/{}/connections", org.id), &key.key, Some(&admin))
        .header("content-type", FORM)
        .body("email=new%40x.test&name=New+Person");
    let (status, body) = json(invite.send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["object"].as_str(), body["state"].as_i64()), (Some("connection"), Some(0)), "{body}");
    let res = form(app, Method::POST, "/example/v2/accounts/request-password-reset", &key.key, "email=admin%40x.test")
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    let (sid, csrf) = form_login(app, &key.key, "admin@x.test").await;
    let body = format!("current={}&password=another+long+password", PASSWORD.replace(' ', "+"));
    let res = form(app, Method::POST, "/example/v2/accounts/me/update-password", &key.key, body)
        .header("cookie", &sid)
        .header("Medable-Csrf-Token", &csrf)
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    app.login("example", &key.key, "admin@x.test", "another long password").await;
}

async fn the_patch_of_a_facility_takes_a_form(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let create =
        app.api(Method::POST, "/example/v2/facilities", &key.key, Some(&admin)).json(&json!({"name": "Theatre"}));
    let (status, facility) = json(create.send().await.unwrap()).await;
    assert_eq!(status, 200, "{facility}");
    let path = format!("/example/v2/facilities/{}", facility["_id"].as_str().unwrap());
    for (body, name) in [("name=Theatre+2", "Theatre 2"), ("op=set&path=name&value=Theatre+3", "Theatre 3")] {
        let patch = app.api(Method::PATCH, &path, &key.key, Some(&admin)).header("content-type", FORM).body(body);
        let (status, patched) = json(patch.send().await.unwrap()).await;
        assert_eq!((status, patched["name"].as_str()), (200, Some(name)), "{body}: {patched}");
    }
    let nested =
        app.api(Method::PATCH, &path, &key.key, Some(&admin)).header("content-type", FORM).body("name%5B%5D=x");
    let (status, fault) = json(nested.send().await.unwrap()).await;
    assert_fault(status, &fault, 415, "kUnsupportedMedia");
}

/// The `Set-Cookie` of a cookie login on a server configured by `tweak`.
async fn login_cookie(tweak: impl FnOnce(&mut Config)) -> String {
    let app = TestApp::spawn_configured(Backend::Sqlite, tweak).await;
    let (org, key) = app.seed_org("example", "Example").await;
    app.seed_account("a@x.test", PASSWORD, Some((&org, &[]))).await;
    let res = app
        .api(Method::POST, "/example/v2/accounts/login", &key.key, None)
        .json(&json!({"email": "a@x.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    app.finish().await;
    cookie
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_takes_the_configured_samesite() {
    let lax = login_cookie(|_| {}).await;
    assert!(lax.contains("; SameSite=Lax") && !lax.contains("Secure"), "{lax}");
    let strict = login_cookie(|c| c.cookie_samesite = SameSite::Strict).await;
    assert!(strict.contains("; SameSite=Strict") && !strict.contains("Secure"), "{strict}");
    let none = login_cookie(|c| {
        c.cookie_samesite = SameSite::None;
        c.public_url = Some("https://orgs.example".into());
    })
    .await;
    assert!(none.contains("; SameSite=None") && none.contains("; Secure"), "{none}");
}

#[test]
fn serve_refuses_samesite_none_without_an_https_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orgbase"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ORGBASE_DATA_DIR", dir.path())
        .env("ORGBASE_COOKIE_SAMESITE", "none")
        .env("ORGBASE_PUBLIC_URL", "http://orgs.example")
        .args(["serve", "--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("ORGBASE_COOKIE_SAMESITE") && stderr.contains("https"), "{stderr}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orgbase"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ORGBASE_DATA_DIR", dir.path())
        .env("ORGBASE_COOKIE_SAMESITE", "sometimes")
        .args(["serve", "--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("not lax, strict or none"), "{stderr}");
}
