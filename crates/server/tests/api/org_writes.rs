//! Org writes: the seed's PUT and PATCH examples, schemas and validation, custom
//! properties with ACLs, concurrency, If-Match, maintenance, and posts.

use orgbase_domain::Id;
use orgbase_domain::roles::{ADMINISTRATOR, DEVELOPER, PROVIDER, SUPPORT};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api_tests;
use crate::helpers::{TestApp, assert_fault, json};

api_tests!(
    a_provider_puts_the_seeds_c_4providers_values_but_cannot_rename_the_org,
    the_seeds_patch_push_appends_and_a_non_email_changes_nothing,
    fifty_concurrent_pushes_all_land,
    a_stale_if_match_is_refused_with_412,
    a_multi_op_patch_whose_last_op_is_invalid_changes_nothing,
    org_fields_are_validated_with_the_failing_path,
    server_kept_and_unknown_properties_refuse_writes,
    patch_on_the_org_root_and_property_reads_by_path,
    maintenance_blocks_everyone_but_administrators_and_developers,
    members_post_and_authors_or_admins_delete,
);

async fn patch(app: &TestApp, key: &str, token: &str, org: Id, body: Value) -> (u16, Value) {
    json(app.api(Method::PATCH, &format!("/example/v2/orgs/{org}"), key, Some(token)).json(&body).send().await.unwrap())
        .await
}

async fn a_provider_puts_the_seeds_c_4providers_values_but_cannot_rename_the_org(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let provider = app.member_token(&org, &key, "provider@x.test", &[PROVIDER]).await;
    let declaration = json!({"name": "c_4providers", "type": "number", "array": true,
        "acl": [{"type": "role", "target": "provider", "allow": 6}]});
    let res = app
        .api(Method::POST, "/example/v2/schemas/org/properties", &key.key, Some(&provider))
        .json(&declaration)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "only admins declare");
    let (status, declared) = json(
        app.api(Method::POST, "/example/v2/schemas/org/properties", &key.key, Some(&admin))
            .json(&declaration)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{declared}");
    let (status, body) = json(
        app.api(Method::POST, "/example/v2/schemas/org/properties", &key.key, Some(&admin))
            .json(&declaration)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_fault(status, &body, 409, "kExists");
    let (_, after) = json(app.api(Method::GET, "/example/v2", &key.key, None).send().await.unwrap()).await;
    assert_ne!(after["schemasETag"], org.props.schemas_etag.as_str(), "declaring changes schemasETag");

    let values = json!([-5, -4, -3, -2, -1, 0, 11, 22, 33, 44, 55]);
    let path = format!("/example/v2/orgs/{}/c_4providers", org.id);
    let (status, body) =
        json(app.api(Method::PUT, &path, &key.key, Some(&provider)).json(&values).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"hasMore": false, "object": "list", "data": values}));
    let (_, read) = json(app.api(Method::GET, &path, &key.key, Some(&provider)).send().await.unwrap()).await;
    assert_eq!(read["data"], values);
    let (status, body) =
        json(app.api(Method::PUT, &path, &key.key, Some(&provider)).json(&json!([1, "two"])).send().await.unwrap())
            .await;
    assert_fault(status, &body, 400, "kValidationError");
    let name = format!("/example/v2/orgs/{}/name", org.id);
    let (status, body) =
        json(app.api(Method::PUT, &name, &key.key, Some(&provider)).json(&json!("Renamed")).send().await.unwrap())
            .await;
    assert_fault(status, &body, 403, "kAccessDenied");
    assert_eq!(body["path"], "name");
    let (status, body) =
        json(app.api(Method::PUT, &name, &key.key, Some(&admin)).json(&json!("Renamed")).send().await.unwrap()).await;
    assert_eq!((status, body), (200, json!({"object": "result", "data": "Renamed"})));
}

async fn the_seeds_patch_push_appends_and_a_non_email_changes_nothing(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let push = json!({"op": "push", "path": "/configuration/email/locationBypass", "value": "john@medable.com"});
    let (status, body) = patch(app, &key.key, &admin, org.id, push).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["configuration"]["email"]["locationBypass"], json!(["john@medable.com"]));
    assert_eq!(body["object"], "org");
    let bad = json!({"op": "push", "path": "/configuration/email/locationBypass", "value": "not an email"});
    let (status, body) = patch(app, &key.key, &admin, org.id, bad).await;
    assert_fault(status, &body, 400, "kValidationError");
    assert!(body["path"].as_str().unwrap().starts_with("configuration.email.locationBypass"), "{body}");
    let stored = app.state.store.org_by_id(org.id).await.unwrap().unwrap();
    assert_eq!(stored.props.configuration.email.location_bypass, ["john@medable.com"]);
}

async fn fifty_concurrent_pushes_all_land(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let pushes = (0..50).map(|i| {
        let body =
            json!({"op": "push", "path": "configuration.email.locationBypass", "value": format!("user{i}@x.test")});
        patch(app, &key.key, &admin, org.id, body)
    });
    for (status, body) in futures::future::join_all(pushes).await {
        assert_eq!(status, 200, "{body}");
    }
    let stored = app.state.store.org_by_id(org.id).await.unwrap().unwrap();
    let mut got = stored.props.configuration.email.location_bypass.clone();
    got.sort();
    let mut want: Vec<String> = (0..50).map(|i| format!("user{i}@x.test")).collect();
    want.sort();
    assert_eq!(got, want);
}

async fn a_stale_if_match_is_refused_with_412(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let path = format!("/example/v2/orgs/{}", org.id);
    let res = app.api(Method::GET, &path, &key.key, Some(&admin)).send().await.unwrap();
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let set = |name: &str| json!({"op": "set", "path": "name", "value": name});
    let res = app
        .api(Method::PATCH, &path, &key.key, Some(&admin))
        .header("If-Match", &etag)
        .json(&set("First"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, body) = json(
        app.api(Method::PATCH, &path, &key.key, Some(&admin))
            .header("If-Match", &etag)
            .json(&set("Second"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_fault(status, &body, 412, "kPreconditionFailed");
    let stored = app.state.store.org_by_id(org.id).await.unwrap().unwrap();
    assert_eq!(stored.props.name, "First");
}

async fn a_multi_op_patch_whose_last_op_is_invalid_changes_nothing(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let before = app.state.store.org_by_id(org.id).await.unwrap().unwrap();
    let body = json!([
        {"op": "set", "path": "name", "value": "Changed"},
        {"op": "push", "path": "configuration.email.locationBypass", "value": "ok@x.test"},
        {"op": "set", "path": "tz", "value": "Mars/Olympus"},
    ]);
    let (status, body) = patch(app, &key.key, &admin, org.id, body).await;
    assert_fault(status, &body, 400, "kValidationError");
    assert_eq!(body["path"], "tz");
    let after = app.state.store.org_by_id(org.id).await.unwrap().unwrap();
    assert_eq!(after, before);
    let (status, body) =
        patch(app, &key.key, &admin, org.id, json!([{"op": "set", "path": "name", "value": "X"}, {"op": "explode"}]))
            .await;
    assert_fault(status, &body, 400, "kValidationError");
    let (status, _) = patch(app, &key.key, &admin, org.id, json!([])).await;
    assert_eq!(status, 400);
}

async fn org_fields_are_validated_with_the_failing_path(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let cases = [
        ("locale", json!("not a locale")),
        ("tz", json!("Nowhere/City")),
        ("website", json!("ftp://x.test")),
        ("name", json!("")),
        ("name", json!("x".repeat(101))),
        ("security.sessionTtl", json!(1)),
        ("security.sessionTtl", json!("long")),
        ("registration.allow", json!("yes")),
        ("support.email", json!("nope")),
        ("country", json!("XXX")),
        ("type", json!("SPACESHIP")),
    ];
    for (path, value) in cases {
        let (status, body) =
            patch(app, &key.key, &admin, org.id, json!({"op": "set", "path": path, "value": value})).await;
        assert_fault(status, &body, 400, "kValidationError");
        assert!(body.to_string().contains(path.split('.').next_back().unwrap()), "{path}: {body}");
    }
    for country in ["GBR", "FRA"] {
        let (status, body) =
            patch(app, &key.key, &admin, org.id, json!({"op": "set", "path": "country", "value": country})).await;
        assert_eq!((status, body["country"].as_str()), (200, Some(country)), "{body}");
    }
    let (status, body) =
        patch(app, &key.key, &admin, org.id, json!({"op": "set", "path": "type", "value": "HOSPITAL"})).await;
    assert_eq!(status, 200, "{body}");
    let ok = json!({"op": "set", "value": {"locale": "fr_CA", "tz": "US/Pacific", "website": "https://example.org", "name": "Renamed"}});
    let (status, body) = patch(app, &key.key, &admin, org.id, ok).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["tz"].as_str(), body["locale"].as_str()), (Some("US/Pacific"), Some("fr_CA")));
    let two =
        json!([{"op": "set", "path": "locale", "value": "??"}, {"op": "set", "path": "website", "value": "nope"}]);
    let (status, body) = patch(app, &key.key, &admin, org.id, two).await;
    assert_fault(status, &body, 400, "kValidationError");
    assert_eq!(body["faults"].as_array().unwrap().len(), 2, "{body}");
}

async fn server_kept_and_unknown_properties_refuse_writes(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    for path in
        ["created", "updated", "updater", "schemasETag", "_id", "code", "c_undeclared", "colour", "security.bogus"]
    {
        let (status, body) =
            patch(app, &key.key, &admin, org.id, json!({"op": "set", "path": path, "value": "x"})).await;
        assert_fault(status, &body, 400, "kValidationError");
    }
}

async fn patch_on_the_org_root_and_property_reads_by_path(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let (status, body) = json(
        app.api(Method::PATCH, "/example/v2", &key.key, Some(&admin))
            .json(&json!([{"op": "set", "path": "maintenanceMessage", "value": "Back soon"}]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["maintenanceMessage"].clone()), (200, json!("Back soon")));
    let (status, body) = json(
        app.api(Method::GET, &format!("/example/v2/orgs/{}/security/sessionTtl", org.id), &key.key, Some(&admin))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body), (200, json!({"object": "result", "data": 86400})));
    let (status, body) = json(
        app.api(Method::GET, &format!("/example/v2/orgs/{}/security", org.id), &key.key, None).send().await.unwrap(),
    )
    .await;
    assert_fault(status, &body, 404, "kNotFound");
    let (status, body) = json(
        app.api(Method::PATCH, "/example/v2", &key.key, None)
            .json(&json!({"op": "set", "path": "name", "value": "X"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
}

async fn maintenance_blocks_everyone_but_administrators_and_developers(app: &TestApp) {
    let (org, key) = app
        .seed_org_with("example", "Example", |p| {
            p.maintenance = true;
            p.maintenance_message = Some("Upgrading until noon".into());
        })
        .await;
    let path = format!("/example/v2/orgs/{}", org.id);
    for (email, roles, open) in [
        ("admin@x.test", vec![ADMINISTRATOR], true),
        ("dev@x.test", vec![DEVELOPER], true),
        ("provider@x.test", vec![PROVIDER], false),
        ("support@x.test", vec![SUPPORT], false),
        ("plain@x.test", vec![], false),
    ] {
        let token = app.member_token(&org, &key, email, &roles).await;
        let (status, body) = json(app.api(Method::GET, &path, &key.key, Some(&token)).send().await.unwrap()).await;
        if open {
            assert_eq!(status, 200, "{email}: {body}");
        } else {
            assert_fault(status, &body, 403, "kMaintenance");
            assert_eq!(body["reason"], "Upgrading until noon");
        }
    }
    let (status, body) = json(app.api(Method::GET, "/example/v2", &key.key, None).send().await.unwrap()).await;
    assert_eq!((status, body["maintenance"].clone()), (200, json!(true)), "the public read stays open");
    let (status, body) = json(app.api(Method::GET, &path, &key.key, None).send().await.unwrap()).await;
    assert_fault(status, &body, 403, "kMaintenance");
}

async fn members_post_and_authors_or_admins_delete(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let alice = app.member_token(&org, &key, "alice@x.test", &[PROVIDER]).await;
    let bob = app.member_token(&org, &key, "bob@x.test", &[]).await;
    app.seed_account("outsider@x.test", "member password 1", None).await;
    let outsider = app.login("example", &key.key, "outsider@x.test", "member password 1").await;
    let posts = format!("/example/v2/orgs/{}/posts", org.id);
    let mut ids = Vec::new();
    for i in 0..3 {
        let (status, post) = json(
            app.api(Method::POST, &posts, &key.key, Some(&alice))
                .json(&json!({"body": format!("post {i}")}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{post}");
        ids.push(post["_id"].as_str().unwrap().to_owned());
    }
    let (status, _) = json(
        app.api(Method::POST, &posts, &key.key, Some(&outsider)).json(&json!({"body": "hi"})).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = json(app.api(Method::GET, &posts, &key.key, Some(&outsider)).send().await.unwrap()).await;
    assert_eq!(status, 403);
    let (_, page) =
        json(app.api(Method::GET, &format!("{posts}?limit=2"), &key.key, Some(&bob)).send().await.unwrap()).await;
    assert_eq!((page["data"].as_array().unwrap().len(), page["hasMore"].clone()), (2, json!(true)));
    let (_, next) = json(
        app.api(Method::GET, &format!("{posts}?limit=2&startingAfter={}", ids[1]), &key.key, Some(&bob))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(next["data"][0]["_id"], ids[2].as_str());
    let one = |i: usize| format!("{posts}/{}", ids[i]);
    let (status, body) = json(app.api(Method::DELETE, &one(0), &key.key, Some(&bob)).send().await.unwrap()).await;
    assert_fault(status, &body, 403, "kAccessDenied");
    let (status, body) = json(app.api(Method::DELETE, &one(0), &key.key, Some(&alice)).send().await.unwrap()).await;
    assert_eq!((status, body), (200, json!({"object": "result", "data": true})));
    let (status, _) = json(app.api(Method::DELETE, &one(1), &key.key, Some(&admin)).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let (status, body) = json(app.api(Method::DELETE, &one(1), &key.key, Some(&admin)).send().await.unwrap()).await;
    assert_fault(status, &body, 404, "kNotFound");
}
