//! Attacks found in review, each performed through HTTP: taking over an account by
//! registering someone's email first, values that break an org, and the small
//! holes around invitations, passwords and mail.

use orgbase_domain::app::App;
use orgbase_domain::roles::ADMINISTRATOR;
use orgbase_domain::{Clock, Id};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api_tests;
use crate::helpers::{TestApp, assert_fault, json, last_logged_token, logged_mails, token_in, wait_for_mails};

api_tests!(
    registering_a_ceos_email_first_no_longer_takes_over_the_org_made_for_them,
    a_mailed_verification_link_verifies_and_takes_the_account_from_a_squatter,
    an_org_that_requires_activation_refuses_unverified_logins,
    a_taken_email_registers_like_a_new_one_and_its_owner_is_told,
    an_operator_links_verified_and_new_accounts_but_invites_unverified_ones,
    mfa_required_is_refused_until_it_is_enforced,
    a_value_nested_too_deep_is_refused_and_the_org_stays_readable,
    lists_and_strings_of_the_org_are_bounded,
    an_anonymous_patch_is_refused_before_the_writer,
    an_expired_invitation_gives_no_connected_level_and_no_shared_flag,
    a_password_change_kills_an_outstanding_reset_token,
    names_that_go_into_mail_refuse_control_characters,
    the_token_pages_carry_no_token_and_a_strict_policy,
    invitation_twins_take_the_token_in_the_body,
);

const ATTACKER_PASSWORD: &str = "the attacker's password";
const OWNER_PASSWORD: &str = "the real owner's password";

async fn post(app: &TestApp, path: &str, key: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    json(app.api(Method::POST, path, key, token).json(&body).send().await.unwrap()).await
}

async fn post_page(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    json(app.request(Method::POST, path).json(&body).send().await.unwrap()).await
}

async fn login_status(app: &TestApp, org: &str, key: &str, email: &str, password: &str) -> (u16, Value) {
    post(app, &format!("/{org}/v2/accounts/login"), key, None, json!({"email": email, "password": password})).await
}

async fn me(app: &TestApp, org: &str, key: &str, token: &str) -> (u16, Value) {
    json(app.api(Method::GET, &format!("/{org}/v2/accounts/me"), key, Some(token)).send().await.unwrap()).await
}

async fn registering_a_ceos_email_first_no_longer_takes_over_the_org_made_for_them(app: &TestApp) {
    // 1. The attacker registers the CEO's address in any org with open registration.
    let (_, open_key) = app.seed_org_with("open", "Open", |p| p.registration.allow = true).await;
    let body = json!({"email": "ceo@newco.test", "password": ATTACKER_PASSWORD, "name": {"first": "Mallory"}});
    let (status, registered) = post(app, "/open/v2/accounts/register", &open_key.key, None, body).await;
    assert_eq!(status, 200, "{registered}");
    assert_eq!(registered["verified"], false);
    let attacker_session = app.login("open", &open_key.key, "ceo@newco.test", ATTACKER_PASSWORD).await;

    // 2. An operator creates the org for the CEO, naming their address.
    let res = app.platform(Method::POST, "/platform/v1/orgs").json(&json!({
        "code": "newco", "name": "NewCo", "adminEmail": "ceo@newco.test"
    }));
    let (status, created) = json(res.send().await.unwrap()).await;
    assert_eq!(status, 200, "{created}");
    assert!(created.get("admin").is_none(), "the unverified account is not linked: {created}");
    assert_eq!(created["invitation"]["email"], "ceo@newco.test");
    let newco = Id::parse(created["_id"].as_str().unwrap()).unwrap();
    let newco_key = App::new(newco, "web".into(), vec![], app.clock.now());
    app.state.store.insert_app(&newco_key).await.unwrap();

    // 3. With the password they chose, the attacker holds no role in the new org.
    let in_newco = app.login("newco", &newco_key.key, "ceo@newco.test", ATTACKER_PASSWORD).await;
    let (_, seen) = me(app, "newco", &newco_key.key, &in_newco).await;
    assert_eq!(seen["roles"], json!([]), "{seen}");
    let members = app.api(Method::GET, "/newco/v2/members", &newco_key.key, Some(&in_newco)).send().await.unwrap();
    assert_eq!(members.status(), 403);

    // 4. The real CEO opens the mailed invitation and chooses their own password.
    let mails = wait_for_mails(app, 1).await;
    let invitation =
        mails.iter().rev().find(|m| m["to"] == "ceo@newco.test" && m["subject"].as_str().unwrap().contains("invited"));
    let token = token_in(invitation.expect("the invitation mail")["body"].as_str().unwrap());
    let res = app.request(Method::POST, "/newco/accept").json(&json!({
        "token": token, "password": OWNER_PASSWORD, "name": {"first": "Real", "last": "Ceo"}
    }));
    let (status, accepted) = json(res.send().await.unwrap()).await;
    assert_eq!(status, 200, "{accepted}");

    // 5. The attacker holds no session and no way back in; the owner is the admin.
    for (org, key, token) in [("open", &open_key.key, &attacker_session), ("newco", &newco_key.key, &in_newco)] {
        assert_eq!(me(app, org, key, token).await.0, 403, "the squatter's sessions ended");
    }
    let (status, refused) = login_status(app, "newco", &newco_key.key, "ceo@newco.test", ATTACKER_PASSWORD).await;
    assert_fault(status, &refused, 403, "kInvalidCredentials");
    let owner = app.login("newco", &newco_key.key, "ceo@newco.test", OWNER_PASSWORD).await;
    let (_, seen) = me(app, "newco", &newco_key.key, &owner).await;
    assert_eq!(seen["roles"], json!([ADMINISTRATOR.to_string()]), "{seen}");
    assert_eq!(seen["verified"], true);
    assert_eq!(seen["name"]["first"], "Real");
}

async fn a_mailed_verification_link_verifies_and_takes_the_account_from_a_squatter(app: &TestApp) {
    let (_, key) = app.seed_org_with("open", "Open", |p| p.registration.allow = true).await;
    let body = json!({"email": "someone@x.test", "password": ATTACKER_PASSWORD, "name": {"first": "M"}});
    assert_eq!(post(app, "/open/v2/accounts/register", &key.key, None, body).await.0, 200);
    let squatter = app.login("open", &key.key, "someone@x.test", ATTACKER_PASSWORD).await;
    let mails = wait_for_mails(app, 1).await;
    assert_eq!(mails[0]["to"], "someone@x.test");
    let body = mails[0]["body"].as_str().unwrap();
    assert!(body.contains("http://") && body.contains("/open/verify#token="), "{body}");
    let token = token_in(body);
    // A wrong token, then a short password, change nothing.
    let bad = json!({"token": "0".repeat(64), "password": OWNER_PASSWORD});
    assert_eq!(post(app, "/open/v2/accounts/verify", &key.key, None, bad).await.0, 404);
    let short = json!({"token": token, "password": "short"});
    assert_fault_status(post(app, "/open/v2/accounts/verify", &key.key, None, short).await, 400);
    // Whoever holds the mailed link holds the account, with their password.
    let (status, verified) =
        post(app, "/open/v2/accounts/verify", &key.key, None, json!({"token": token, "password": OWNER_PASSWORD}))
            .await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["verified"], true);
    assert_eq!(me(app, "open", &key.key, &squatter).await.0, 403, "every session ended");
    assert_eq!(login_status(app, "open", &key.key, "someone@x.test", ATTACKER_PASSWORD).await.0, 403);
    app.login("open", &key.key, "someone@x.test", OWNER_PASSWORD).await;
    let again = json!({"token": token, "password": "yet another password"});
    assert_eq!(post(app, "/open/v2/accounts/verify", &key.key, None, again).await.0, 404, "a link works once");
}

fn assert_fault_status((status, body): (u16, Value), want: u16) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["object"], "fault", "{body}");
}

async fn an_org_that_requires_activation_refuses_unverified_logins(app: &TestApp) {
    let (_, key) = app
        .seed_org_with("strict", "Strict", |p| {
            p.registration.allow = true;
            p.registration.activation_required = true;
        })
        .await;
    let body = json!({"email": "new@x.test", "password": OWNER_PASSWORD, "name": {"first": "N"}});
    assert_eq!(post(app, "/strict/v2/accounts/register", &key.key, None, body).await.0, 200);
    wait_for_mails(app, 1).await;
    let (status, refused) = login_status(app, "strict", &key.key, "new@x.test", OWNER_PASSWORD).await;
    assert_fault(status, &refused, 403, "kAccessDenied");
    assert_eq!(refused["errCode"], "cortex.accessDenied.emailNotVerified");
    // The refused login mailed a fresh link; the first one was replaced by it.
    let mails = wait_for_mails(app, 2).await;
    let token = token_in(mails[1]["body"].as_str().unwrap());
    let done = post_page(app, "/strict/verify", json!({"token": token, "password": OWNER_PASSWORD})).await;
    assert_eq!(done.0, 200, "{}", done.1);
    app.login("strict", &key.key, "new@x.test", OWNER_PASSWORD).await;
}

async fn a_taken_email_registers_like_a_new_one_and_its_owner_is_told(app: &TestApp) {
    let (org, key) = app.seed_org_with("open", "Open", |p| p.registration.allow = true).await;
    app.seed_account("owner@x.test", OWNER_PASSWORD, Some((&org, &[]))).await;
    let fresh = json!({"email": "fresh@x.test", "password": ATTACKER_PASSWORD, "name": {"first": "F"}});
    let (status, new_one) = post(app, "/open/v2/accounts/register", &key.key, None, fresh).await;
    let taken = json!({"email": "Owner@x.test", "password": ATTACKER_PASSWORD, "name": {"first": "F"}});
    let (taken_status, taken_one) = post(app, "/open/v2/accounts/register", &key.key, None, taken).await;
    assert_eq!((status, taken_status), (200, 200), "{taken_one}");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&new_one), keys(&taken_one), "both answers have one shape");
    assert_eq!(taken_one["email"], "owner@x.test");
    // Nothing changed for the owner, who is told by mail.
    app.login("open", &key.key, "owner@x.test", OWNER_PASSWORD).await;
    assert_eq!(login_status(app, "open", &key.key, "owner@x.test", ATTACKER_PASSWORD).await.0, 403);
    let mails = wait_for_mails(app, 2).await;
    let told = mails.iter().find(|m| m["to"] == "owner@x.test").expect("a mail to the owner");
    assert!(told["subject"].as_str().unwrap().contains("tried to register"), "{told}");
    assert!(!told["body"].as_str().unwrap().contains("#token="), "no token goes to a taken address");
}

async fn an_operator_links_verified_and_new_accounts_but_invites_unverified_ones(app: &TestApp) {
    let (_, open_key) = app.seed_org_with("open", "Open", |p| p.registration.allow = true).await;
    let squat = json!({"email": "squatted@x.test", "password": ATTACKER_PASSWORD, "name": {"first": "M"}});
    assert_eq!(post(app, "/open/v2/accounts/register", &open_key.key, None, squat).await.0, 200);
    app.seed_account("vouched@x.test", OWNER_PASSWORD, None).await;
    for (code, email, linked) in
        [("one", "squatted@x.test", false), ("two", "vouched@x.test", true), ("three", "brand-new@x.test", true)]
    {
        let res = app.platform(Method::POST, "/platform/v1/orgs").json(&json!({
            "code": code, "name": code, "adminEmail": email
        }));
        let (status, created) = json(res.send().await.unwrap()).await;
        assert_eq!(status, 200, "{created}");
        assert_eq!(created.get("admin").is_some(), linked, "{email}: {created}");
        assert_eq!(created.get("invitation").is_some(), !linked, "{email}: {created}");
        if linked {
            assert_eq!(created["admin"]["verified"], true, "the operator vouches for a new account");
        }
    }
}

async fn mfa_required_is_refused_until_it_is_enforced(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let path = format!("/example/v2/orgs/{}", org.id);
    let op = json!({"op": "set", "path": "security.mfaRequired", "value": true});
    let (status, body) =
        json(app.api(Method::PATCH, &path, &key.key, Some(&admin)).json(&op).send().await.unwrap()).await;
    assert_fault(status, &body, 400, "kValidationError");
    assert_eq!(body["path"], "security.mfaRequired");
}

async fn declare_document(app: &TestApp, org: &orgbase_domain::org::Org, key: &App, admin: &str) {
    let declaration = json!({"name": "c_doc", "type": "document"});
    let res = app.api(Method::POST, "/example/v2/schemas/org/properties", &key.key, Some(admin)).json(&declaration);
    assert_eq!(res.send().await.unwrap().status(), 200);
    let _ = org;
}

fn nested(levels: usize) -> Value {
    let mut v = json!({"leaf": true});
    for _ in 1..levels {
        v = json!({ "a": v });
    }
    v
}

async fn a_value_nested_too_deep_is_refused_and_the_org_stays_readable(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    declare_document(app, &org, &key, &admin).await;
    let path = format!("/example/v2/orgs/{}/c_doc", org.id);
    // 127 levels broke every later read of the org (serde_json reads at most 128).
    for levels in [127, 33] {
        let res = app.api(Method::PUT, &path, &key.key, Some(&admin)).json(&nested(levels)).send().await.unwrap();
        let (status, body) = json(res).await;
        assert_fault(status, &body, 400, "kValidationError");
        assert!(body["path"].as_str().unwrap().starts_with("c_doc"), "{body}");
    }
    let res = app.api(Method::PUT, &path, &key.key, Some(&admin)).json(&nested(32)).send().await.unwrap();
    assert_eq!(res.status(), 200, "32 levels are fine");
    for read in [format!("/example/v2/orgs/{}", org.id), "/example/v2".to_owned()] {
        let res = app.api(Method::GET, &read, &key.key, Some(&admin)).send().await.unwrap();
        assert_eq!(res.status(), 200, "the org stays readable");
    }
}

async fn lists_and_strings_of_the_org_are_bounded(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    declare_document(app, &org, &key, &admin).await;
    let path = format!("/example/v2/orgs/{}", org.id);
    let many: Vec<String> = (0..1001).map(|i| format!("u{i}@x.test")).collect();
    let cases = [
        (
            json!({"op": "push", "path": "configuration.email.locationBypass", "value": many}),
            "configuration.email.locationBypass",
        ),
        (json!({"op": "set", "path": "c_doc", "value": {"s": "x".repeat(17 * 1024)}}), "c_doc.s"),
    ];
    for (op, at) in cases {
        let res = app.api(Method::PATCH, &path, &key.key, Some(&admin)).json(&op).send().await.unwrap();
        let (status, body) = json(res).await;
        assert_fault(status, &body, 400, "kValidationError");
        assert_eq!(body["path"], at, "{body}");
    }
}

async fn an_anonymous_patch_is_refused_before_the_writer(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let op = json!({"op": "set", "path": "name", "value": "Owned"});
    for path in ["/example/v2".to_owned(), format!("/example/v2/orgs/{}", org.id)] {
        let res = app.api(Method::PATCH, &path, &key.key, None).json(&op).send().await.unwrap();
        assert_eq!(res.status(), 403);
    }
    let (_, read) = json(app.get_with_key("/example/v2", &key.key).send().await.unwrap()).await;
    assert_eq!(read["name"], "Example");
}

async fn an_expired_invitation_gives_no_connected_level_and_no_shared_flag(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    app.seed_account("guest@x.test", OWNER_PASSWORD, None).await;
    let invite = json!({"email": "guest@x.test", "roles": []});
    let (status, _) =
        post(app, &format!("/example/v2/orgs/{}/connections", org.id), &key.key, Some(&admin), invite).await;
    assert_eq!(status, 200);
    let guest = app.login("example", &key.key, "guest@x.test", OWNER_PASSWORD).await;
    let (path, k) = (&format!("/example/v2/orgs/{}", org.id), &key.key);
    let read =
        |token: String| async move { json(app.api(Method::GET, path, k, Some(&token)).send().await.unwrap()).await.1 };
    assert_eq!(read(guest.clone()).await["access"], 2);
    assert_eq!(read(admin.clone()).await["shared"], true);
    app.clock.advance(chrono::Duration::days(8));
    let guest = app.login("example", &key.key, "guest@x.test", OWNER_PASSWORD).await;
    let admin = app.login("example", &key.key, "admin@x.test", "member password 1").await;
    assert_eq!(read(guest).await["access"], 1, "an expired invitation connects nobody");
    assert_eq!(read(admin).await["shared"], false, "nor shares the org");
}

async fn a_password_change_kills_an_outstanding_reset_token(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    app.seed_account("a@x.test", OWNER_PASSWORD, Some((&org, &[]))).await;
    let reset = json!({"email": "a@x.test"});
    assert_eq!(post(app, "/example/v2/accounts/request-password-reset", &key.key, None, reset).await.0, 200);
    wait_for_mails(app, 1).await;
    let token = last_logged_token(app);
    let session = app.login("example", &key.key, "a@x.test", OWNER_PASSWORD).await;
    let change = json!({"current": OWNER_PASSWORD, "password": "a changed password"});
    assert_eq!(post(app, "/example/v2/accounts/me/update-password", &key.key, Some(&session), change).await.0, 200);
    let late = json!({"token": token, "password": "the thief's password"});
    assert_eq!(post(app, "/example/v2/accounts/reset-password", &key.key, None, late).await.0, 404);
    app.login("example", &key.key, "a@x.test", "a changed password").await;
}

async fn names_that_go_into_mail_refuse_control_characters(app: &TestApp) {
    let (org, key) = app.seed_org_with("open", "Open", |p| p.registration.allow = true).await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let op = json!({"op": "set", "path": "name", "value": "Evil\r\nBcc: victim@x.test"});
    let res = app.api(Method::PATCH, "/open/v2", &key.key, Some(&admin)).json(&op).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let body = json!({"email": "n@x.test", "password": OWNER_PASSWORD, "name": {"first": "A\nB"}});
    assert_eq!(post(app, "/open/v2/accounts/register", &key.key, None, body).await.0, 400);
    let res = app.platform(Method::POST, "/platform/v1/orgs").json(&json!({"code": "ctl", "name": "Bad\u{7}Name"}));
    assert_eq!(res.send().await.unwrap().status(), 400);
}

async fn the_token_pages_carry_no_token_and_a_strict_policy(app: &TestApp) {
    app.seed_org("example", "Example").await;
    for page in ["accept", "verify", "reset"] {
        let res = app.request(Method::GET, &format!("/example/{page}")).send().await.unwrap();
        assert_eq!(res.status(), 200, "{page}");
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(res.headers()["referrer-policy"], "no-referrer");
        let html = res.text().await.unwrap();
        assert!(html.contains("/assets/pages.js") && !html.contains("<script>"), "no inline script");
    }
    let script = app.request(Method::GET, "/assets/pages.js").send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.text().await.unwrap().contains("location.hash"));
    let unknown = app.request(Method::GET, "/nowhere/accept").send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    let bogus = json!({"token": "0".repeat(64), "password": OWNER_PASSWORD});
    assert_eq!(post_page(app, "/example/reset", bogus).await.0, 404);
}

async fn invitation_twins_take_the_token_in_the_body(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let invite_path = format!("/example/v2/orgs/{}/connections", org.id);
    for (who, twin) in [("yes@x.test", "accept"), ("no@x.test", "decline")] {
        app.seed_account(who, OWNER_PASSWORD, None).await;
        assert_eq!(post(app, &invite_path, &key.key, Some(&admin), json!({"email": who, "roles": []})).await.0, 200);
        let token = last_logged_token(app);
        let session = app.login("example", &key.key, who, OWNER_PASSWORD).await;
        let path = format!("/example/v2/connections/{twin}");
        let (status, body) = post(app, &path, &key.key, Some(&session), json!({"token": token})).await;
        assert_eq!(status, 200, "{twin}: {body}");
        let want = if twin == "accept" { "member" } else { "connection" };
        assert_eq!(body["object"], want, "{body}");
    }
    assert_eq!(logged_mails(app).len(), 2);
}
