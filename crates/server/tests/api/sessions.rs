//! Live sessions, participants across orgs, join tokens, facilities and rooms, and
//! the taxonomy (seed 000).

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use orgbase_domain::Clock;
use orgbase_domain::account::Account;
use orgbase_domain::app::App;
use orgbase_domain::org::Org;
use orgbase_domain::roles::ADMINISTRATOR;
use reqwest::Method;
use serde_json::{Value, json};

use crate::api_tests;
use crate::helpers::{MEDIA_KEY, TestApp, assert_fault, json};

const PASSWORD: &str = "correct horse battery staple";

api_tests!(
    an_external_participant_acts_only_within_the_permissions_granted,
    only_members_of_orgs_that_allow_external_participants_can_be_added,
    the_join_token_verifies_with_the_configured_key_and_carries_the_permissions,
    participants_are_managed_without_escalation_and_may_leave,
    members_see_their_sessions_and_administrators_see_all_of_the_org,
    the_taxonomy_is_public_cacheable_and_lists_every_iso_country,
    facilities_and_rooms_are_written_by_administrators_and_kept_while_in_use,
    a_removed_member_loses_the_orgs_sessions_through_every_org,
    a_suspended_member_loses_the_orgs_sessions_through_every_org,
    adding_a_participant_reveals_neither_the_account_nor_its_org,
);

/// An org with its app, and a way to call it as someone.
struct OrgUnderTest<'a> {
    app: &'a TestApp,
    org: Org,
    key: App,
}

impl<'a> OrgUnderTest<'a> {
    async fn seed(app: &'a TestApp, code: &str, allow_external: bool) -> Self {
        let (org, key) =
            app.seed_org_with(code, code, |p| p.security.allow_external_participants = allow_external).await;
        Self { app, org, key }
    }

    /// Seeds an account that is a member here (with `roles`) and logs it in here.
    async fn member(&self, email: &str, roles: &[orgbase_domain::Id]) -> (Account, String) {
        let account = self.app.seed_account(email, PASSWORD, Some((&self.org, roles))).await;
        let token = self.login(email).await;
        (account, token)
    }

    async fn login(&self, email: &str) -> String {
        self.app.login(self.org.code.as_str(), &self.key.key, email, PASSWORD).await
    }

    /// Calls `/{code}/v2{path}` with a bearer token and an optional JSON body.
    async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let url = format!("/{}/v2{path}", self.org.code);
        let req = self.app.api(method, &url, &self.key.key, token);
        let req = match body {
            Some(body) => req.json(&body),
            None => req,
        };
        json(req.send().await.unwrap()).await
    }
}

fn surgery(name: &str) -> Value {
    json!({
        "name": name,
        "type": "SURGERY",
        "speciality": "NEUROSURGERY",
        "estimatedDuration": "PT2H",
        "access": "PRIVATE",
        "scheduledStart": "2026-05-01T09:30:00.000Z",
    })
}

fn only_drawings() -> Value {
    json!({"canClearAllDrawings": true})
}

fn ids(list: &Value) -> Vec<String> {
    list["data"].as_array().unwrap().iter().map(|s| s["_id"].as_str().unwrap().to_owned()).collect()
}

async fn an_external_participant_acts_only_within_the_permissions_granted(app: &TestApp) {
    let a = OrgUnderTest::seed(app, "hospital-a", false).await;
    let b = OrgUnderTest::seed(app, "clinic-b", true).await;
    let (alice, alice_token) = a.member("alice@a.test", &[]).await;
    let (bob, bob_token) = b.member("bob@b.test", &[]).await;
    let (alice_t, bob_t) = (Some(alice_token.as_str()), Some(bob_token.as_str()));

    let (status, session) = a.call(Method::POST, "/sessions", alice_t, Some(surgery("Craniotomy"))).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["object"], "session");
    assert_eq!(session["owner"], alice.id.to_string());
    assert_eq!(session["org"], a.org.id.to_string());
    assert_eq!(session["state"], "scheduled");
    assert_eq!(session["scheduledStart"], "2026-05-01T09:30:00.000Z");
    let id = session["_id"].as_str().unwrap().to_owned();
    assert_eq!(session["mediaURL"], format!("{}/media/sessions/{id}", app.config().public_url()));
    assert_eq!(session["participants"][0]["owner"], true);
    assert_eq!(session["participants"][0]["permissions"]["canEndSession"], true);

    let invite = json!({"account": bob.id, "permissions": only_drawings()});
    let (status, added) = a.call(Method::POST, &format!("/sessions/{id}/participants"), alice_t, Some(invite)).await;
    assert_eq!(status, 200, "{added}");
    assert_eq!((added["object"].as_str(), added["org"].as_str()), (Some("participant"), Some(&*b.org.id.to_string())));
    assert_eq!(added["permissions"]["canClearAllDrawings"], true);
    assert_eq!(added["permissions"]["canInviteParticipants"], false);

    // Bob, logged in at his own org, finds the session and reads it through it.
    let (status, mine) = b.call(Method::GET, "/accounts/me/sessions", bob_t, None).await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!((ids(&mine), &mine["hasMore"]), (vec![id.clone()], &json!(false)));
    let (status, read) = b.call(Method::GET, &format!("/sessions/{id}"), bob_t, None).await;
    assert_eq!((status, read["participants"].as_array().unwrap().len()), (200, 2), "{read}");
    // His login is not valid at Alice's org.
    let (status, body) = a.call(Method::GET, &format!("/sessions/{id}"), bob_t, None).await;
    assert_fault(status, &body, 403, "kNotLoggedIn");

    let (status, body) = b.call(Method::POST, &format!("/sessions/{id}/start"), bob_t, None).await;
    assert_fault(status, &body, 403, "kAccessDenied");
    let (status, live) = a.call(Method::POST, &format!("/sessions/{id}/start"), alice_t, None).await;
    assert_eq!((status, &live["state"]), (200, &json!("live")), "{live}");
    assert!(live["started"].is_string());

    let (status, body) = b.call(Method::POST, &format!("/sessions/{id}/end"), bob_t, None).await;
    assert_fault(status, &body, 403, "kAccessDenied");
    let carl = app.seed_account("carl@a.test", PASSWORD, Some((&a.org, &[]))).await;
    let invite = json!({"account": carl.id, "permissions": {}});
    let (status, body) = b.call(Method::POST, &format!("/sessions/{id}/participants"), bob_t, Some(invite)).await;
    assert_fault(status, &body, 403, "kAccessDenied");
    let (status, body) = b.call(Method::PATCH, &format!("/sessions/{id}"), bob_t, Some(json!({"name": "x"}))).await;
    assert_fault(status, &body, 403, "kAccessDenied");

    let (status, ended) = a.call(Method::POST, &format!("/sessions/{id}/end"), alice_t, None).await;
    assert_eq!((status, &ended["state"]), (200, &json!("ended")), "{ended}");
    assert!(ended["ended"].is_string());

    // Illegal moves are conflicts: ended is final, and scheduled cannot end.
    for step in ["start", "end"] {
        let (status, body) = a.call(Method::POST, &format!("/sessions/{id}/{step}"), alice_t, None).await;
        assert_fault(status, &body, 409, "kInvalidState");
    }
    let (status, body) = a.call(Method::PATCH, &format!("/sessions/{id}"), alice_t, Some(json!({"name": "y"}))).await;
    assert_fault(status, &body, 409, "kInvalidState");
    let (_, fresh) = a.call(Method::POST, "/sessions", alice_t, Some(surgery("Later"))).await;
    let fresh = fresh["_id"].as_str().unwrap();
    let (status, body) = a.call(Method::POST, &format!("/sessions/{fresh}/end"), alice_t, None).await;
    assert_fault(status, &body, 409, "kInvalidState");
    let (status, body) = a.call(Method::POST, "/sessions/not-an-id/start", alice_t, None).await;
    assert_fault(status, &body, 404, "kNotFound");
}

async fn only_members_of_orgs_that_allow_external_participants_can_be_added(app: &TestApp) {
    let a = OrgUnderTest::seed(app, "hospital-a", false).await;
    let closed = OrgUnderTest::seed(app, "closed-c", false).await;
    let (_, alice_token) = a.member("alice@a.test", &[]).await;
    let alice_t = Some(alice_token.as_str());
    let dan = app.seed_account("dan@c.test", PASSWORD, Some((&closed.org, &[]))).await;
    let carol = app.seed_account("carol@nowhere.test", PASSWORD, None).await;
    let erin = app.seed_account("erin@a.test", PASSWORD, Some((&a.org, &[]))).await;
    let (_, session) = a.call(Method::POST, "/sessions", alice_t, Some(surgery("Spine"))).await;
    let path = format!("/sessions/{}/participants", session["_id"].as_str().unwrap());
    let add = |account: String| json!({"account": account, "permissions": only_drawings()});

    let (status, body) = a.call(Method::POST, &path, alice_t, Some(add(dan.id.to_string()))).await;
    assert_fault(status, &body, 404, "kNotFound");
    let (status, body) = a.call(Method::POST, &path, alice_t, Some(add(carol.id.to_string()))).await;
    assert_fault(status, &body, 404, "kNotFound");
    let (status, body) = a.call(Method::POST, &path, alice_t, Some(add("5516ee1b34d8d934281699e3".into()))).await;
    assert_fault(status, &body, 404, "kNotFound");

    let (status, added) = a.call(Method::POST, &path, alice_t, Some(add(erin.id.to_string()))).await;
    assert_eq!((status, added["org"].as_str()), (200, Some(&*a.org.id.to_string())), "{added}");
    let (status, body) = a.call(Method::POST, &path, alice_t, Some(add(erin.id.to_string()))).await;
    assert_fault(status, &body, 409, "kExists");

    let unknown_field = json!({"account": erin.id, "permissions": {"canFly": true}});
    let (status, body) = a.call(Method::POST, &path, alice_t, Some(unknown_field)).await;
    assert_fault(status, &body, 400, "kValidationError");
    let (status, body) = a.call(Method::POST, &path, alice_t, Some(json!({"account": "nope"}))).await;
    assert_fault(status, &body, 400, "kValidationError");
}

async fn the_join_token_verifies_with_the_configured_key_and_carries_the_permissions(app: &TestApp) {
    let a = OrgUnderTest::seed(app, "hospital-a", false).await;
    let b = OrgUnderTest::seed(app, "clinic-b", true).await;
    let (alice, alice_token) = a.member("alice@a.test", &[]).await;
    let (bob, bob_token) = b.member("bob@b.test", &[]).await;
    let (_, frank_token) = a.member("frank@a.test", &[]).await;
    let (_, session) = a.call(Method::POST, "/sessions", Some(&alice_token), Some(surgery("Hip"))).await;
    let id = session["_id"].as_str().unwrap().to_owned();
    let invite = json!({"account": bob.id, "permissions": only_drawings()});
    let (status, _) =
        a.call(Method::POST, &format!("/sessions/{id}/participants"), Some(&alice_token), Some(invite)).await;
    assert_eq!(status, 200);

    let path = format!("/sessions/{id}/join-token");
    let (status, issued) = b.call(Method::POST, &path, Some(&bob_token), None).await;
    assert_eq!(status, 200, "{issued}");
    assert_eq!((issued["object"].as_str(), issued["session"].as_str()), (Some("joinToken"), Some(id.as_str())));
    assert_eq!(issued["mediaURL"], session["mediaURL"]);
    let token = issued["token"].as_str().unwrap();

    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["orgbase-media"]);
    let decoded =
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(MEDIA_KEY.as_bytes()), &validation).unwrap();
    let claims = decoded.claims;
    assert_eq!(claims["sub"], bob.id.to_string());
    assert_eq!(claims["session"], id);
    assert_eq!(claims["org"], a.org.id.to_string());
    assert_eq!(claims["homeOrg"], b.org.id.to_string());
    assert_eq!(claims["owner"], false);
    assert_eq!(claims["jti"], issued["_id"]);
    assert_eq!(
        claims["permissions"],
        json!({
            "canEditSession": false, "canInviteParticipants": false, "canCloseVideoFeed": false,
            "canEndSession": false, "canClearAllDrawings": true, "canRecordSession": false,
        })
    );
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 300);
    let wrong = jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(b"another key"), &validation);
    assert!(wrong.is_err(), "a token verifies only with the configured key");

    // GET works too; the owner's token carries every permission.
    let (status, owners) = a.call(Method::GET, &path, Some(&alice_token), None).await;
    assert_eq!(status, 200, "{owners}");
    let owner_claims = jsonwebtoken::decode::<Value>(
        owners["token"].as_str().unwrap(),
        &DecodingKey::from_secret(MEDIA_KEY.as_bytes()),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!((owner_claims["sub"].as_str(), &owner_claims["owner"]), (Some(&*alice.id.to_string()), &json!(true)));
    assert_eq!(owner_claims["permissions"]["canRecordSession"], true);

    // A member of the owning org who does not take part sees nothing to join.
    let (status, body) = a.call(Method::POST, &path, Some(&frank_token), None).await;
    assert_fault(status, &body, 404, "kNotFound");
    a.call(Method::POST, &format!("/sessions/{id}/start"), Some(&alice_token), None).await;
    a.call(Method::POST, &format!("/sessions/{id}/end"), Some(&alice_token), None).await;
    let (status, body) = b.call(Method::POST, &path, Some(&bob_token), None).await;
    assert_fault(status, &body, 409, "kInvalidState");
}

async fn participants_are_managed_without_escalation_and_may_leave(app: &TestApp) {
    let a = OrgUnderTest::seed(app, "hospital-a", false).await;
    let (alice, alice_token) = a.member("alice@a.test", &[]).await;
    let (bob, bob_token) = a.member("bob@a.test", &[]).await;
    let (cy, cy_token) = a.member("cy@a.test", &[]).await;
    let dee = app.seed_account("dee@a.test", PASSWORD, Some((&a.org, &[]))).await;
    let (alice_t, bob_t, cy_t) = (Some(alice_token.as_str()), Some(bob_token.as_str()), Some(cy_token.as_str()));
    let (_, session) = a.call(Method::POST, "/sessions", alice_t, Some(surgery("Knee"))).await;
    let id = session["_id"].as_str().unwrap().to_owned();
    let participants = format!("/sessions/{id}/participants");
    let inviter = json!({"canInviteParticipants": true});

    let (status, _) =
        a.call(Method::POST, &participants, alice_t, Some(json!({"account": bob.id, "permissions": inviter}))).await;
    assert_eq!(status, 200);
    let (status, _) =
        a.call(Method::POST, &participants, bob_t, Some(json!({"account": cy.id, "permissions": inviter}))).await;
    assert_eq!(status, 200);
    let escalate = json!({"account": dee.id, "permissions": {"canEndSession": true}});
    let (status, body) = a.call(Method::POST, &participants, bob_t, Some(escalate)).await;
    assert_fault(status, &body, 403, "kAccessDenied");

    let (status, changed) =
        a.call(Method::PATCH, &format!("{participants}/{}", cy.id), bob_t, Some(json!({"permissions": {}}))).await;
    assert_eq!((status, &changed["permissions"]["canInviteParticipants"]), (200, &json!(false)), "{changed}");
    let (status, body) =
        a.call(Method::PATCH, &format!("{participants}/{}", alice.id), bob_t, Some(json!({"permissions": {}}))).await;
    assert_fault(status, &body, 409, "kInvalidState");
    let (status, body) = a.call(Method::DELETE, &format!("{participants}/{}", alice.id), bob_t, None).await;
    assert_fault(status, &body, 409, "kInvalidState");
    let (status, body) = a.call(Method::DELETE, &format!("{participants}/{}", bob.id), cy_t, None).await;
    assert_fault(status, &body, 403, "kAccessDenied");

    // Cy leaves; Alice removes Bob, who then no longer sees the session.
    let (status, left) = a.call(Method::DELETE, &format!("{participants}/{}", cy.id), cy_t, None).await;
    assert_eq!((status, left), (200, json!({"object": "result", "data": true})));
    let (status, _) = a.call(Method::DELETE, &format!("{participants}/{}", bob.id), alice_t, None).await;
    assert_eq!(status, 200);
    let (status, body) = a.call(Method::GET, &format!("/sessions/{id}"), bob_t, None).await;
    assert_fault(status, &body, 404, "kNotFound");
    let (status, list) = a.call(Method::GET, &participants, alice_t, None).await;
    assert_eq!((status, list["data"].as_array().unwrap().len()), (200, 1), "{list}");
    let (status, body) = a.call(Method::DELETE, &format!("{participants}/{}", bob.id), alice_t, None).await;
    assert_fault(status, &body, 404, "kNotFound");
}

async fn members_see_their_sessions_and_administrators_see_all_of_the_org(app: &TestApp) {
    let a = OrgUnderTest::seed(app, "hospital-a", false).await;
    let (_, ada) = a.member("ada@a.test", &[ADMINISTRATOR]).await;
    let (_, mo) = a.member("mo@a.test", &[]).await;
    let (nia, nia_token) = a.member("nia@a.test", &[]).await;
    let (ada, mo, nia_t) = (Some(ada.as_str()), Some(mo.as_str()), Some(nia_token.as_str()));
    let mut made = Vec::new();
    for (who, name, access) in [(mo, "one", "PRIVATE"), (nia_t, "two", "PRIVATE"), (nia_t, "three", "ORGANISATION")] {
        let body = json!({"name": name, "type": "TEACHING", "access": access});
        let (status, s) = a.call(Method::POST, "/sessions", who, Some(body)).await;
        assert_eq!(status, 200, "{s}");
        made.push(s["_id"].as_str().unwrap().to_owned());
    }
    let (_, listed) = a.call(Method::GET, "/sessions", mo, None).await;
    assert_eq!(ids(&listed), [made[0].clone(), made[2].clone()]);
    let (_, listed) = a.call(Method::GET, "/sessions", ada, None).await;
    assert_eq!(ids(&listed), made);
    let (_, listed) = a.call(Method::GET, &format!("/sessions?owner={}", nia.id), ada, None).await;
    assert_eq!(ids(&listed), [made[1].clone(), made[2].clone()]);
    let (_, listed) = a.call(Method::GET, &format!("/sessions?participant={}", nia.id), mo, None).await;
    assert_eq!(ids(&listed), [made[2].clone()]);
    a.call(Method::POST, &format!("/sessions/{}/start", made[1]), nia_t, None).await;
    let (_, listed) = a.call(Method::GET, "/sessions?state=live", ada, None).await;
    assert_eq!(ids(&listed), [made[1].clone()]);
    let (_, page) = a.call(Method::GET, "/sessions?limit=1&sort=-name", ada, None).await;
    assert_eq!((ids(&page), &page["hasMore"]), (vec![made[1].clone()], &json!(true)));
    let (_, page) = a.call(Method::GET, &format!("/sessions?limit=2&startingAfter={}", made[0]), ada, None).await;
    assert_eq!((ids(&page), &page["hasMore"]), (vec![made[1].clone(), made[2].clone()], &json!(false)));
    let (status, body) = a.call(Method::GET, "/sessions?state=paused&owner=x", ada, None).await;
    assert_fault(status, &body, 400, "kValidationError");
    assert_eq!(body["faults"].as_array().unwrap().len(), 2, "{body}");

    let (status, body) = a.call(Method::GET, &format!("/sessions/{}", made[1]), mo, None).await;
    assert_fault(status, &body, 404, "kNotFound");
    let (status, _) = a.call(Method::GET, &format!("/sessions/{}", made[1]), ada, None).await;
    assert_eq!(status, 200);
    let (status, body) = a.call(Method::PATCH, &format!("/sessions/{}", made[2]), mo, Some(json!({"name": "x"}))).await;
    assert_fault(status, &body, 403, "kAccessDenied");
    let ops = json!([
        {"op": "set", "path": "name", "value": "Three"},
        {"op": "set", "path": "estimatedDuration", "value": "PT45M"},
    ]);
    let (status, patched) = a.call(Method::PATCH, &format!("/sessions/{}", made[2]), nia_t, Some(ops)).await;
    assert_eq!((status, &patched["name"], &patched["estimatedDuration"]), (200, &json!("Three"), &json!("PT45M")));
    let bad = json!({"type": "KARAOKE", "colour": "red"});
    let (status, body) = a.call(Method::PATCH, &format!("/sessions/{}", made[2]), nia_t, Some(bad)).await;
    assert_fault(status, &body, 400, "kValidationError");

    let (status, body) = a.call(Method::DELETE, &format!("/sessions/{}", made[0]), mo, None).await;
    assert_fault(status, &body, 403, "kAccessDenied");
    let (status, _) = a.call(Method::DELETE, &format!("/sessions/{}", made[0]), ada, None).await;
    assert_eq!(status, 200);
    let (status, body) = a.call(Method::GET, &format!("/sessions/{}", made[0]), mo, None).await;
    assert_fault(status, &body, 404, "kNotFound");

    let bad = json!({"name": "", "type": "KARAOKE", "scheduledStart": "soon", "room": "5516ee1b34d8d934281699e3"});
    let (status, body) = a.call(Method::POST, "/sessions", mo, Some(bad)).await;
    assert_fault(status, &body, 400, "kValidationError");
    let paths: Vec<&str> = body["faults"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["name", "type", "scheduledStart", "room"]);
    let (status, body) = a.call(Method::POST, "/sessions", None, Some(surgery("anonymous"))).await;
    assert_fault(status, &body, 403, "kNotLoggedIn");
}

async fn the_taxonomy_is_public_cacheable_and_lists_every_iso_country(app: &TestApp) {
    let a = OrgUnderTest::seed(app, "hospital-a", false).await;
    let (status, countries) = a.call(Method::GET, "/taxonomy/countries", None, None).await;
    assert_eq!(status, 200, "{countries}");
    assert_eq!((&countries["object"], &countries["hasMore"]), (&json!("list"), &json!(false)));
    let data = countries["data"].as_array().unwrap();
    assert_eq!(data.len(), rust_iso3166::ALL.len());
    assert!(data.len() >= 249);
    let name_of = |code: &str| data.iter().find(|c| c["code"] == code).map(|c| c["name"].clone());
    assert_eq!(name_of("FRA"), Some(json!("France")));
    assert!(name_of("GBR").unwrap().as_str().unwrap().starts_with("United Kingdom"));
    assert_eq!(name_of("gbr"), None);

    let url = format!("/{}/v2/taxonomy/countries", a.org.code);
    let res = app.get_with_key(&url, &a.key.key).send().await.unwrap();
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let res = app.get_with_key(&url, &a.key.key).header("If-None-Match", &etag).send().await.unwrap();
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), etag);
    assert!(res.bytes().await.unwrap().is_empty());
    let res = app.get_with_key(&url, &a.key.key).header("If-None-Match", "\"stale\"").send().await.unwrap();
    assert_eq!(res.status(), 200);

    let (_, types) = a.call(Method::GET, "/taxonomy/org/types", None, None).await;
    let codes: Vec<&str> = types["data"].as_array().unwrap().iter().map(|t| t["code"].as_str().unwrap()).collect();
    for code in ["HOSPITAL", "CLINIC", "UNIVERSITY", "MEDICAL_DEVICE_COMPANY"] {
        assert!(codes.contains(&code), "{code}");
    }
    let mut etags = vec![etag];
    for path in ["org/types", "user/titles", "user/specialities", "session/types", "session/durations"] {
        let res = app.get_with_key(&format!("/{}/v2/taxonomy/{path}", a.org.code), &a.key.key).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        etags.push(res.headers()["etag"].to_str().unwrap().to_owned());
        let (_, body) = json(res).await;
        let first = &body["data"][0];
        assert!(first["code"].is_string() && first["name"].is_string(), "{path}: {body}");
    }
    etags.sort();
    etags.dedup();
    assert_eq!(etags.len(), 6, "each list has its own ETag");
    let res = app.request(Method::GET, &url).send().await.unwrap();
    let (status, body) = json(res).await;
    assert_fault(status, &body, 400, "kInvalidClient");
}

async fn facilities_and_rooms_are_written_by_administrators_and_kept_while_in_use(app: &TestApp) {
    let a = OrgUnderTest::seed(app, "hospital-a", false).await;
    let (_, ada) = a.member("ada@a.test", &[ADMINISTRATOR]).await;
    let (_, mo) = a.member("mo@a.test", &[]).await;
    let (ada, mo) = (Some(ada.as_str()), Some(mo.as_str()));

    let (status, body) = a.call(Method::POST, "/facilities", mo, Some(json!({"name": "St Mary's"}))).await;
    assert_fault(status, &body, 403, "kAccessDenied");
    let (status, site) = a.call(Method::POST, "/facilities", ada, Some(json!({"name": "St Mary's"}))).await;
    assert_eq!(status, 200, "{site}");
    assert_eq!(
        (&site["object"], &site["name"], &site["isRemovable"]),
        (&json!("facility"), &json!("St Mary's"), &json!(true))
    );
    let f = site["_id"].as_str().unwrap().to_owned();
    let (_, other) = a.call(Method::POST, "/facilities", ada, Some(json!({"name": "Annex"}))).await;
    let (status, listed) = a.call(Method::GET, "/facilities?sort=name", mo, None).await;
    assert_eq!((status, ids(&listed)), (200, vec![other["_id"].as_str().unwrap().to_owned(), f.clone()]));

    let rooms = format!("/facilities/{f}/rooms");
    let (status, body) = a.call(Method::POST, &rooms, mo, Some(json!({"name": "Theatre 1"}))).await;
    assert_fault(status, &body, 403, "kAccessDenied");
    let (_, one) = a.call(Method::POST, &rooms, ada, Some(json!({"name": "Theatre 1"}))).await;
    let (_, two) = a.call(Method::POST, &rooms, ada, Some(json!({"name": "Theatre 2", "isRemovable": false}))).await;
    assert_eq!((&one["object"], &one["facility"], &two["isRemovable"]), (&json!("room"), &json!(f), &json!(false)));
    let (one, two) = (one["_id"].as_str().unwrap().to_owned(), two["_id"].as_str().unwrap().to_owned());
    let (status, listed) = a.call(Method::GET, &rooms, mo, None).await;
    assert_eq!((status, ids(&listed)), (200, vec![one.clone(), two.clone()]));
    let (status, body) =
        a.call(Method::GET, &format!("/facilities/{}/rooms/{one}", other["_id"].as_str().unwrap()), mo, None).await;
    assert_fault(status, &body, 404, "kNotFound");

    // A session in Theatre 1 (the room implies its facility) holds it while live.
    let in_room = json!({"name": "Knee", "type": "SURGERY", "room": one});
    let (status, session) = a.call(Method::POST, "/sessions", mo, Some(in_room)).await;
    assert_eq!((status, &session["facility"], &session["room"]), (200, &json!(f), &json!(one)), "{session}");
    let id = session["_id"].as_str().unwrap().to_owned();
    let elsewhere = json!({"name": "Hip", "type": "SURGERY", "facility": other["_id"], "room": one});
    let (status, body) = a.call(Method::POST, "/sessions", mo, Some(elsewhere)).await;
    assert_fault(status, &body, 400, "kValidationError");
    assert_eq!(body["path"], "room");
    // An id of no facility or room of the org is a conflict with what the org holds.
    for (field, nothing) in [("facility", id.as_str()), ("room", f.as_str()), ("room", "5516ee1b34d8d934281699e3")] {
        let (status, body) = a
            .call(Method::POST, "/sessions", mo, Some(json!({"name": "Hip", "type": "SURGERY", field: nothing})))
            .await;
        assert_fault(status, &body, 409, "kInvalidState");
        assert_eq!(body["path"], field, "{body}");
        let (status, body) = a.call(Method::PATCH, &format!("/sessions/{id}"), mo, Some(json!({field: nothing}))).await;
        assert_fault(status, &body, 409, "kInvalidState");
        assert_eq!(body["path"], field, "{body}");
    }
    a.call(Method::POST, &format!("/sessions/{id}/start"), mo, None).await;

    let (status, body) = a.call(Method::DELETE, &format!("{rooms}/{one}"), ada, None).await;
    assert_fault(status, &body, 409, "kInvalidState");
    let (status, body) = a.call(Method::DELETE, &format!("{rooms}/{two}"), ada, None).await;
    assert_fault(status, &body, 409, "kInvalidState");
    let (status, body) = a.call(Method::DELETE, &format!("/facilities/{f}"), ada, None).await;
    assert_fault(status, &body, 409, "kInvalidState");
    let (status, body) = a.call(Method::DELETE, &format!("{rooms}/{one}"), mo, None).await;
    assert_fault(status, &body, 403, "kAccessDenied");

    a.call(Method::POST, &format!("/sessions/{id}/end"), mo, None).await;
    let (status, done) = a.call(Method::DELETE, &format!("{rooms}/{one}"), ada, None).await;
    assert_eq!((status, done), (200, json!({"object": "result", "data": true})));
    let unlock = json!([{"op": "set", "path": "isRemovable", "value": true}]);
    let (status, two_now) = a.call(Method::PATCH, &format!("{rooms}/{two}"), ada, Some(unlock)).await;
    assert_eq!((status, &two_now["isRemovable"]), (200, &json!(true)), "{two_now}");
    let (status, body) = a.call(Method::PATCH, &format!("/facilities/{f}"), mo, Some(json!({"name": "X"}))).await;
    assert_fault(status, &body, 403, "kAccessDenied");
    let (status, renamed) = a.call(Method::PATCH, &format!("/facilities/{f}"), ada, Some(json!({"name": "X"}))).await;
    assert_eq!((status, &renamed["name"]), (200, &json!("X")));
    let (status, body) = a.call(Method::PATCH, &format!("/facilities/{f}"), ada, Some(json!({"name": null}))).await;
    assert_fault(status, &body, 400, "kValidationError");
    let (status, _) = a.call(Method::DELETE, &format!("/facilities/{f}"), ada, None).await;
    assert_eq!(status, 200);
    let (status, body) = a.call(Method::GET, &format!("/facilities/{f}"), mo, None).await;
    assert_fault(status, &body, 404, "kNotFound");
    let (_, ended) = a.call(Method::GET, &format!("/sessions/{id}"), mo, None).await;
    assert_eq!((&ended["facility"], &ended["room"]), (&Value::Null, &Value::Null));
}

/// Makes an existing account a member of another org too.
async fn also_member(app: &TestApp, org: &Org, account: &Account) {
    let member = orgbase_domain::account::Member::new(org.id, account.id, vec![], app.clock.now());
    app.state.store.insert_member(&member).await.unwrap();
}

/// Every session route, for a caller who should reach nothing of session `id`:
/// each answer is a fault (403 or 404), and nothing changed.
async fn every_session_route_is_refused(org: &OrgUnderTest<'_>, token: &str, id: &str, someone: &Account) {
    let token = Some(token);
    let s = format!("/sessions/{id}");
    let p = format!("{s}/participants");
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, s.clone(), None),
        (Method::PATCH, s.clone(), Some(json!({"name": "Taken over"}))),
        (Method::POST, format!("{s}/start"), None),
        (Method::POST, format!("{s}/end"), None),
        (Method::GET, p.clone(), None),
        (Method::POST, p.clone(), Some(json!({"account": someone.id, "permissions": {}}))),
        (Method::PATCH, format!("{p}/{}", someone.id), Some(json!({"permissions": {}}))),
        (Method::DELETE, format!("{p}/{}", someone.id), None),
        (Method::GET, format!("{s}/join-token"), None),
        (Method::POST, format!("{s}/join-token"), None),
        (Method::DELETE, s.clone(), None),
    ];
    for (method, path, body) in routes {
        let what = format!("{method} /{}/v2{path}", org.org.code);
        let (status, body) = org.call(method, &path, token, body).await;
        assert!(matches!(status, 403 | 404), "{what} answered {status}: {body}");
        assert_eq!(body["object"], "fault", "{what}: {body}");
    }
}

/// The attack of issue 17 point 3, through removal: Mallory, a member of
/// hospital A and of clinic B, owns one of A's sessions, takes part in another,
/// and came into one of C's through A. A's administrator removes her. Through A
/// and through B she then reaches none of them (no read, edit, start, end,
/// participant change or join token), `/accounts/me/sessions` lists none, and the
/// session she owned belongs to the administrator who removed her.
async fn a_removed_member_loses_the_orgs_sessions_through_every_org(app: &TestApp) {
    let a = OrgUnderTest::seed(app, "hospital-a", true).await;
    let b = OrgUnderTest::seed(app, "clinic-b", false).await;
    let c = OrgUnderTest::seed(app, "centre-c", false).await;
    let (_, first_admin_token) = a.member("first-admin@a.test", &[ADMINISTRATOR]).await;
    let (admin, admin_token) = a.member("admin@a.test", &[ADMINISTRATOR]).await;
    let (alice, alice_token) = a.member("alice@a.test", &[]).await;
    let (mallory, mallory_a) = a.member("mallory@x.test", &[]).await;
    let mallory_member = app.state.store.member_of(a.org.id, mallory.id).await.unwrap().unwrap();
    also_member(app, &b.org, &mallory).await;
    let mallory_b = b.login("mallory@x.test").await;
    let (_, carl_token) = c.member("carl@c.test", &[]).await;
    let (mallory_a, mallory_b) = (Some(mallory_a.as_str()), Some(mallory_b.as_str()));

    // Mallory owns a live session of A, takes part in Alice's, and in Carl's at C
    // (through A, the org of hers that allows external participants).
    let (_, owned) = a.call(Method::POST, "/sessions", mallory_a, Some(surgery("Owned"))).await;
    let owned = owned["_id"].as_str().unwrap().to_owned();
    let invite = json!({"account": alice.id, "permissions": only_drawings()});
    let (status, _) = a.call(Method::POST, &format!("/sessions/{owned}/participants"), mallory_a, Some(invite)).await;
    assert_eq!(status, 200);
    let (status, _) = a.call(Method::POST, &format!("/sessions/{owned}/start"), mallory_a, None).await;
    assert_eq!(status, 200);
    let (_, joined) = a.call(Method::POST, "/sessions", Some(&alice_token), Some(surgery("Joined"))).await;
    let joined = joined["_id"].as_str().unwrap().to_owned();
    let invite = json!({"account": mallory.id, "permissions": {"canEditSession": true, "canEndSession": true}});
    let (status, _) =
        a.call(Method::POST, &format!("/sessions/{joined}/participants"), Some(&alice_token), Some(invite)).await;
    assert_eq!(status, 200);
    let (_, at_c) = c.call(Method::POST, "/sessions", Some(&carl_token), Some(surgery("At C"))).await;
    let at_c = at_c["_id"].as_str().unwrap().to_owned();
    let invite = json!({"account": mallory.id, "permissions": {"canEditSession": true}});
    let (status, added) =
        c.call(Method::POST, &format!("/sessions/{at_c}/participants"), Some(&carl_token), Some(invite)).await;
    assert_eq!((status, added["org"].as_str()), (200, Some(&*a.org.id.to_string())), "{added}");

    // Before: all three reachable, through A; A's sessions through B too (today's hole).
    let (_, mine) = a.call(Method::GET, "/accounts/me/sessions", mallory_a, None).await;
    assert_eq!(ids(&mine).len(), 3, "{mine}");

    let (status, body) =
        a.call(Method::DELETE, &format!("/members/{}", mallory_member.id), Some(&admin_token), None).await;
    assert_eq!(status, 200, "{body}");

    for id in [&owned, &joined, &at_c] {
        every_session_route_is_refused(&a, mallory_a.unwrap(), id, &alice).await;
        every_session_route_is_refused(&b, mallory_b.unwrap(), id, &alice).await;
    }
    let (status, mine) = b.call(Method::GET, "/accounts/me/sessions", mallory_b, None).await;
    assert_eq!((status, ids(&mine)), (200, Vec::<String>::new()), "{mine}");

    // The session she owned is the acting administrator's, still live, with Alice
    // still in it; Mallory takes part in nothing of A's or C's.
    let (status, taken) = a.call(Method::GET, &format!("/sessions/{owned}"), Some(&admin_token), None).await;
    assert_eq!((status, &taken["owner"], &taken["state"]), (200, &json!(admin.id), &json!("live")), "{taken}");
    let people: Vec<(&str, &Value, &Value)> = taken["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["account"].as_str().unwrap(), &p["owner"], &p["permissions"]["canRecordSession"]))
        .collect();
    let (admin_id, alice_id) = (admin.id.to_string(), alice.id.to_string());
    assert_eq!(people, [(&*admin_id, &json!(true), &json!(true)), (&*alice_id, &json!(false), &json!(false))]);
    let (status, _) = a.call(Method::GET, &format!("/sessions/{owned}/join-token"), Some(&admin_token), None).await;
    assert_eq!(status, 200, "the new owner joins");
    let (_, listed) =
        a.call(Method::GET, &format!("/sessions?participant={}", mallory.id), Some(&first_admin_token), None).await;
    assert_eq!(ids(&listed), Vec::<String>::new(), "{listed}");
    let (_, at_c) = c.call(Method::GET, &format!("/sessions/{at_c}"), Some(&carl_token), None).await;
    assert_eq!(at_c["participants"].as_array().unwrap().len(), 1, "{at_c}");
}

/// The same attack through suspension, with Mallory coming into C's session
/// through A while also a member of B: suspended at A, she reaches nothing through
/// A or B, and the session she owned passes to the administrator who suspended her.
async fn a_suspended_member_loses_the_orgs_sessions_through_every_org(app: &TestApp) {
    let a = OrgUnderTest::seed(app, "hospital-a", true).await;
    let b = OrgUnderTest::seed(app, "clinic-b", true).await;
    let (admin, admin_token) = a.member("admin@a.test", &[ADMINISTRATOR]).await;
    let (alice, alice_token) = a.member("alice@a.test", &[]).await;
    let (mallory, mallory_a) = a.member("mallory@x.test", &[]).await;
    let mallory_member = app.state.store.member_of(a.org.id, mallory.id).await.unwrap().unwrap();
    also_member(app, &b.org, &mallory).await;
    let mallory_b = b.login("mallory@x.test").await;
    let (mallory_a, mallory_b) = (Some(mallory_a.as_str()), Some(mallory_b.as_str()));

    let (_, owned) = a.call(Method::POST, "/sessions", mallory_a, Some(surgery("Owned"))).await;
    let owned = owned["_id"].as_str().unwrap().to_owned();
    let (_, joined) = a.call(Method::POST, "/sessions", Some(&alice_token), Some(surgery("Joined"))).await;
    let joined = joined["_id"].as_str().unwrap().to_owned();
    let invite = json!({"account": mallory.id, "permissions": {"canEditSession": true}});
    let (status, _) =
        a.call(Method::POST, &format!("/sessions/{joined}/participants"), Some(&alice_token), Some(invite)).await;
    assert_eq!(status, 200);
    let (status, _) = a.call(Method::POST, &format!("/sessions/{joined}/join-token"), mallory_a, None).await;
    assert_eq!(status, 200, "before: Mallory joins through A");

    let suspend = json!({"state": "suspended"});
    let (status, body) =
        a.call(Method::PATCH, &format!("/members/{}", mallory_member.id), Some(&admin_token), Some(suspend)).await;
    assert_eq!((status, &body["state"]), (200, &json!("suspended")), "{body}");

    for id in [&owned, &joined] {
        every_session_route_is_refused(&a, mallory_a.unwrap(), id, &alice).await;
        every_session_route_is_refused(&b, mallory_b.unwrap(), id, &alice).await;
    }
    let (status, mine) = b.call(Method::GET, "/accounts/me/sessions", mallory_b, None).await;
    assert_eq!((status, ids(&mine)), (200, Vec::<String>::new()), "{mine}");
    let (status, taken) = a.call(Method::GET, &format!("/sessions/{owned}"), Some(&admin_token), None).await;
    assert_eq!((status, &taken["owner"]), (200, &json!(admin.id)), "{taken}");
    assert_eq!(taken["participants"].as_array().unwrap().len(), 1, "{taken}");

    // Active again, she is a member with no sessions: the ones she left stay left.
    let (status, _) = a
        .call(
            Method::PATCH,
            &format!("/members/{}", mallory_member.id),
            Some(&admin_token),
            Some(json!({"state": "active"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = a.call(Method::GET, &format!("/sessions/{joined}"), mallory_a, None).await;
    assert_fault(status, &body, 404, "kNotFound");
}

/// Issue 17 point 7: inviting an account that does not exist, one that is a member
/// nowhere, one whose orgs keep their members home, and one suspended in the only
/// org that would let it out all get the same fault, which names no org.
async fn adding_a_participant_reveals_neither_the_account_nor_its_org(app: &TestApp) {
    let a = OrgUnderTest::seed(app, "hospital-a", false).await;
    let closed = OrgUnderTest::seed(app, "closed-c", false).await;
    let open = OrgUnderTest::seed(app, "open-o", true).await;
    let (_, alice_token) = a.member("alice@a.test", &[]).await;
    let kept_home = app.seed_account("dan@c.test", PASSWORD, Some((&closed.org, &[]))).await;
    let nowhere = app.seed_account("carol@nowhere.test", PASSWORD, None).await;
    let (_, open_admin) = open.member("admin@o.test", &[ADMINISTRATOR]).await;
    let suspended = app.seed_account("sue@o.test", PASSWORD, Some((&open.org, &[]))).await;
    let sue = app.state.store.member_of(open.org.id, suspended.id).await.unwrap().unwrap();
    let (status, _) = open
        .call(Method::PATCH, &format!("/members/{}", sue.id), Some(&open_admin), Some(json!({"state": "suspended"})))
        .await;
    assert_eq!(status, 200);

    let (_, session) = a.call(Method::POST, "/sessions", Some(&alice_token), Some(surgery("Spine"))).await;
    let path = format!("/sessions/{}/participants", session["_id"].as_str().unwrap());
    let mut answers = Vec::new();
    for account in
        [kept_home.id.to_string(), nowhere.id.to_string(), suspended.id.to_string(), "5516ee1b34d8d934281699e3".into()]
    {
        let (status, mut body) =
            a.call(Method::POST, &path, Some(&alice_token), Some(json!({"account": account, "permissions": {}}))).await;
        assert_fault(status, &body, 404, "kNotFound");
        body.as_object_mut().unwrap().remove("trace");
        for org in [&closed.org, &open.org] {
            assert!(!body.to_string().contains(&org.id.to_string()), "{body}");
            assert!(!body.to_string().contains(org.code.as_str()), "{body}");
        }
        answers.push(body);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "the answers differ: {answers:#?}");
}
