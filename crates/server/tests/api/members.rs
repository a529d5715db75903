//! Members, invitations (connections) and roles: seed 000's story end to end, with
//! mail through a real SMTP server, and every rule around it.

use orgbase_domain::roles::{ADMINISTRATOR, PROVIDER, SUPPORT};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api_tests;
use crate::helpers::{Backend, TestApp, assert_fault, json, last_logged_token, token_in};

const PASSWORD: &str = "invited user password";

async fn the_whole_story(backend: Backend) {
    let (app, smtp) = TestApp::spawn_with_smtp(backend).await;
    let (org1, key1) = app.seed_org("hospital", "Hospital").await;
    let (org2, key2) = app.seed_org("clinic", "Clinic").await;
    let admin1 = app.member_token(&org1, &key1, "admin1@x.test", &[ADMINISTRATOR]).await;
    let admin2 = app.member_token(&org2, &key2, "admin2@x.test", &[ADMINISTRATOR]).await;

    // 1. An admin invites a@x.test as a Provider.
    let invite = json!({"email": "a@x.test", "roles": ["provider"]});
    let res = app
        .api(Method::POST, &format!("/hospital/v2/orgs/{}/connections", org1.id), &key1.key, Some(&admin1))
        .json(&invite);
    let (status, connection) = json(res.send().await.unwrap()).await;
    assert_eq!(status, 200, "{connection}");
    assert_eq!((connection["object"].as_str(), connection["state"].as_i64()), (Some("connection"), Some(0)));
    assert!(!connection.to_string().contains("token"), "the response never shows the token");
    // 2. The mail arrives at the SMTP server.
    let mails = smtp.messages(1).await;
    assert!(mails[0].contains("a@x.test") && mails[0].contains("Hospital"), "{}", mails[0]);
    let token = token_in(&mails[0]);
    // 3. The link's token registers the account and accepts the invitation.
    let register = json!({"email": "a@x.test", "password": PASSWORD, "name": {"first": "Ada"}, "connection": token});
    let (status, body) = json(
        app.api(Method::POST, "/hospital/v2/accounts/register", &key1.key, None).json(&register).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // 4. /accounts/me shows Provider.
    let token_a1 = app.login("hospital", &key1.key, "a@x.test", PASSWORD).await;
    let (_, me) =
        json(app.api(Method::GET, "/hospital/v2/accounts/me", &key1.key, Some(&token_a1)).send().await.unwrap()).await;
    assert_eq!(me["roles"], json!([PROVIDER.to_string()]));
    // 5. The same account joins a second org as an Administrator.
    let invite = json!({"email": "A@x.test", "roles": ["administrator"]});
    let res = app
        .api(Method::POST, &format!("/clinic/v2/orgs/{}/connections", org2.id), &key2.key, Some(&admin2))
        .json(&invite);
    assert_eq!(res.send().await.unwrap().status(), 200);
    let mails = smtp.messages(2).await;
    let token2 = token_in(mails.iter().find(|m| m.contains("Clinic")).unwrap());
    let token_a2 = app.login("clinic", &key2.key, "a@x.test", PASSWORD).await;
    let (_, pending) = json(app.api(Method::GET, "/clinic/v2", &key2.key, Some(&token_a2)).send().await.unwrap()).await;
    assert_eq!(pending["access"], 2, "a pending connection gives Connected");
    let (status, member) = json(
        app.api(Method::POST, &format!("/clinic/v2/connections/{token2}"), &key2.key, Some(&token_a2))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, member["roles"].clone()), (200, json!([ADMINISTRATOR.to_string()])), "{member}");
    let (_, me2) =
        json(app.api(Method::GET, "/clinic/v2/accounts/me", &key2.key, Some(&token_a2)).send().await.unwrap()).await;
    assert_eq!(me2["access"], 7);
    // 6. The admin of org 1 cannot see org 2's members.
    let (status, body) =
        json(app.api(Method::GET, "/clinic/v2/members", &key2.key, Some(&admin1)).send().await.unwrap()).await;
    assert_eq!(status, 403, "{body}");
    let (_, own) =
        json(app.api(Method::GET, "/hospital/v2/members", &key1.key, Some(&admin1)).send().await.unwrap()).await;
    let emails: Vec<&str> = own["data"].as_array().unwrap().iter().map(|m| m["email"].as_str().unwrap()).collect();
    assert!(emails.contains(&"a@x.test") && !emails.contains(&"admin2@x.test"), "{emails:?}");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_invited_user_registers_by_mailed_token_and_joins_a_second_org() {
    the_whole_story(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_invited_user_registers_by_mailed_token_and_joins_a_second_org() {
    the_whole_story(Backend::Postgres).await;
}

api_tests!(
    an_expired_invitation_is_gone,
    resend_issues_a_new_token_and_kills_the_old_one,
    revoke_and_decline_close_an_invitation,
    duplicate_invitations_and_invitations_of_members_are_refused,
    two_racing_accepts_make_one_member,
    shared_is_true_while_an_invitation_is_pending,
    members_list_with_filters_and_keyset_paging,
    an_admin_changes_roles_and_state_and_members_may_leave,
    the_last_administrator_can_never_be_removed_demoted_or_suspended,
    two_admins_demoting_each_other_at_once_leave_one_admin,
);

async fn invite(app: &TestApp, org: &orgbase_domain::org::Org, key: &str, admin: &str, email: &str) -> (u16, Value) {
    let path = format!("/{}/v2/orgs/{}/connections", org.code, org.id);
    json(
        app.api(Method::POST, &path, key, Some(admin))
            .json(&json!({"email": email, "roles": ["support"]}))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn register_with(app: &TestApp, key: &str, email: &str, token: &str) -> (u16, Value) {
    let body = json!({"email": email, "password": PASSWORD, "name": {"first": "I"}, "connection": token});
    json(app.api(Method::POST, "/example/v2/accounts/register", key, None).json(&body).send().await.unwrap()).await
}

async fn an_expired_invitation_is_gone(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    invite(app, &org, &key.key, &admin, "late@x.test").await;
    let token = last_logged_token(app);
    app.clock.advance(chrono::Duration::days(7) + chrono::Duration::seconds(1));
    let (status, body) = register_with(app, &key.key, "late@x.test", &token).await;
    assert_fault(status, &body, 410, "kExpired");
}

async fn resend_issues_a_new_token_and_kills_the_old_one(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let (_, connection) = invite(app, &org, &key.key, &admin, "b@x.test").await;
    let old = last_logged_token(app);
    let path = format!("/example/v2/connections/{}/resend", connection["_id"].as_str().unwrap());
    assert_eq!(app.api(Method::POST, &path, &key.key, Some(&admin)).send().await.unwrap().status(), 200);
    let new = last_logged_token(app);
    assert_ne!(old, new);
    let (status, body) = register_with(app, &key.key, "b@x.test", &old).await;
    assert_fault(status, &body, 404, "kNotFound");
    let (status, _) = register_with(app, &key.key, "b@x.test", &new).await;
    assert_eq!(status, 200);
}

async fn revoke_and_decline_close_an_invitation(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let (_, connection) = invite(app, &org, &key.key, &admin, "r@x.test").await;
    let revoked_token = last_logged_token(app);
    let id = connection["_id"].as_str().unwrap();
    let (status, closed) = json(
        app.api(Method::DELETE, &format!("/example/v2/connections/{id}"), &key.key, Some(&admin)).send().await.unwrap(),
    )
    .await;
    assert_eq!((status, closed["state"].clone()), (200, json!(3)));
    let (status, _) = register_with(app, &key.key, "r@x.test", &revoked_token).await;
    assert_eq!(status, 404);
    // The invitee declines while logged in.
    app.seed_account("d@x.test", PASSWORD, None).await;
    invite(app, &org, &key.key, &admin, "d@x.test").await;
    let token = last_logged_token(app);
    let session = app.login("example", &key.key, "d@x.test", PASSWORD).await;
    let (status, closed) = json(
        app.api(Method::DELETE, &format!("/example/v2/connections/{token}"), &key.key, Some(&session))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, closed["state"].clone()), (200, json!(2)));
    let (_, list) =
        json(app.api(Method::GET, "/example/v2/connections?state=2", &key.key, Some(&admin)).send().await.unwrap())
            .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (status, _) =
        json(app.api(Method::GET, "/example/v2/connections", &key.key, Some(&session)).send().await.unwrap()).await;
    assert_eq!(status, 403, "only admins list invitations");
}

async fn duplicate_invitations_and_invitations_of_members_are_refused(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    assert_eq!(invite(app, &org, &key.key, &admin, "dup@x.test").await.0, 200);
    let (status, body) = invite(app, &org, &key.key, &admin, "DUP@x.test").await;
    assert_fault(status, &body, 409, "kExists");
    let (status, body) = invite(app, &org, &key.key, &admin, "admin@x.test").await;
    assert_fault(status, &body, 409, "kExists");
}

async fn two_racing_accepts_make_one_member(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    app.seed_account("race@x.test", PASSWORD, None).await;
    invite(app, &org, &key.key, &admin, "race@x.test").await;
    let token = last_logged_token(app);
    let session = app.login("example", &key.key, "race@x.test", PASSWORD).await;
    let path = format!("/example/v2/connections/{token}");
    let accept = || app.api(Method::POST, &path, &key.key, Some(&session)).send();
    let (a, b) = tokio::join!(accept(), accept());
    let mut statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses[0], 200);
    assert!(statuses[1] == 404 || statuses[1] == 409, "{statuses:?}");
    let (_, list) =
        json(app.api(Method::GET, "/example/v2/members?search=race", &key.key, Some(&admin)).send().await.unwrap())
            .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

async fn shared_is_true_while_an_invitation_is_pending(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let read =
        || async { json(app.api(Method::GET, "/example/v2", &key.key, Some(&admin)).send().await.unwrap()).await.1 };
    assert_eq!(read().await["shared"], false);
    let (_, connection) = invite(app, &org, &key.key, &admin, "s@x.test").await;
    assert_eq!(read().await["shared"], true);
    let id = connection["_id"].as_str().unwrap();
    app.api(Method::DELETE, &format!("/example/v2/connections/{id}"), &key.key, Some(&admin)).send().await.unwrap();
    assert_eq!(read().await["shared"], false);
}

async fn members_list_with_filters_and_keyset_paging(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    for i in 0..5 {
        app.seed_account(&format!("p{i}@x.test"), PASSWORD, Some((&org, &[PROVIDER]))).await;
    }
    app.seed_account("zed@x.test", PASSWORD, Some((&org, &[SUPPORT]))).await;
    let (k, t) = (&key.key, &admin);
    let get = |q: String| async move {
        json(app.api(Method::GET, &format!("/example/v2/members{q}"), k, Some(t)).send().await.unwrap()).await
    };
    let (_, all) = get(String::new()).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 7);
    let (_, providers) = get("?role=provider".into()).await;
    assert_eq!(providers["data"].as_array().unwrap().len(), 5);
    let (_, search) = get("?search=ZE".into()).await;
    assert_eq!(search["data"][0]["email"], "zed@x.test");
    let (_, page1) = get("?role=provider&limit=2".into()).await;
    assert_eq!(page1["hasMore"], true);
    let last = page1["data"][1]["_id"].as_str().unwrap().to_owned();
    let (_, page2) = get(format!("?role=provider&limit=2&startingAfter={last}")).await;
    assert_eq!(page2["data"][0]["email"], "p2@x.test");
    let (status, body) = get("?state=gone".into()).await;
    assert_fault(status, &body, 400, "kValidationError");
    let (_, wild) = get("?search=%25".into()).await;
    assert_eq!(wild["data"].as_array().unwrap().len(), 0, "LIKE wildcards are escaped");
}

async fn an_admin_changes_roles_and_state_and_members_may_leave(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let p = app.member_token(&org, &key, "p@x.test", &[PROVIDER]).await;
    let (_, me) = json(app.api(Method::GET, "/example/v2/accounts/me", &key.key, Some(&p)).send().await.unwrap()).await;
    let id = me["member"]["_id"].as_str().unwrap().to_owned();
    let path = format!("/example/v2/members/{id}");
    let (status, body) = json(
        app.api(Method::PATCH, &path, &key.key, Some(&p))
            .json(&json!({"roles": ["administrator"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_fault(status, &body, 403, "kAccessDenied");
    let (status, body) = json(
        app.api(Method::PATCH, &path, &key.key, Some(&admin))
            .json(&json!({"roles": ["provider", "support"], "state": "suspended"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["roles"].as_array().unwrap().len(), body["state"].as_str()), (2, Some("suspended")));
    let (status, _) = json(app.api(Method::GET, "/example/v2/members", &key.key, Some(&p)).send().await.unwrap()).await;
    assert_eq!(status, 403, "a suspended member acts as a non-member");
    let (status, body) = json(
        app.api(Method::PATCH, &path, &key.key, Some(&admin)).json(&json!({"roles": ["ghost"]})).send().await.unwrap(),
    )
    .await;
    assert_fault(status, &body, 400, "kValidationError");
    app.api(Method::PATCH, &path, &key.key, Some(&admin)).json(&json!({"state": "active"})).send().await.unwrap();
    let (status, _) = json(app.api(Method::DELETE, &path, &key.key, Some(&p)).send().await.unwrap()).await;
    assert_eq!(status, 200, "a member may leave");
    let (status, _) = json(app.api(Method::GET, &path, &key.key, Some(&admin)).send().await.unwrap()).await;
    assert_eq!(status, 404);
}

async fn the_last_administrator_can_never_be_removed_demoted_or_suspended(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let (_, me) =
        json(app.api(Method::GET, "/example/v2/accounts/me", &key.key, Some(&admin)).send().await.unwrap()).await;
    let path = format!("/example/v2/members/{}", me["member"]["_id"].as_str().unwrap());
    for body in [json!({"roles": ["provider"]}), json!({"state": "suspended"})] {
        let (status, fault) =
            json(app.api(Method::PATCH, &path, &key.key, Some(&admin)).json(&body).send().await.unwrap()).await;
        assert_eq!(status, 409, "{fault}");
    }
    let (status, _) = json(app.api(Method::DELETE, &path, &key.key, Some(&admin)).send().await.unwrap()).await;
    assert_eq!(status, 409);
    let (_, me) =
        json(app.api(Method::GET, "/example/v2/accounts/me", &key.key, Some(&admin)).send().await.unwrap()).await;
    assert_eq!(me["access"], 7);
}

async fn two_admins_demoting_each_other_at_once_leave_one_admin(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let a = app.member_token(&org, &key, "a@x.test", &[ADMINISTRATOR]).await;
    let b = app.member_token(&org, &key, "b@x.test", &[ADMINISTRATOR]).await;
    let k = &key.key;
    let member_of = |t: String| async move {
        let (_, me) = json(app.api(Method::GET, "/example/v2/accounts/me", k, Some(&t)).send().await.unwrap()).await;
        format!("/example/v2/members/{}", me["member"]["_id"].as_str().unwrap())
    };
    let (path_a, path_b) = (member_of(a.clone()).await, member_of(b.clone()).await);
    let demote = |who: &str, path: &str| {
        app.api(Method::PATCH, path, &key.key, Some(who)).json(&json!({"roles": ["provider"]})).send()
    };
    let (x, y) = tokio::join!(demote(&a, &path_b), demote(&b, &path_a));
    let mut statuses = [x.unwrap().status().as_u16(), y.unwrap().status().as_u16()];
    statuses.sort_unstable();
    assert!(statuses == [200, 409] || statuses == [200, 403], "{statuses:?}");
    let (_, admins) =
        json(app.api(Method::GET, "/example/v2/members?role=administrator", &key.key, Some(&a)).send().await.unwrap())
            .await;
    let count = admins.get("data").map_or(0, |d| d.as_array().unwrap().len());
    let (_, admins_b) =
        json(app.api(Method::GET, "/example/v2/members?role=administrator", &key.key, Some(&b)).send().await.unwrap())
            .await;
    let count_b = admins_b.get("data").map_or(0, |d| d.as_array().unwrap().len());
    assert_eq!(count.max(count_b), 1, "exactly one administrator remains");
}
