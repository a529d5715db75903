//! The org reads: the seed's public read, the full read, paths, ETags, client keys.

use reqwest::Method;
use serde_json::json;

use crate::api_tests;
use crate::helpers::{TestApp, assert_fault, json};

api_tests!(
    public_read_returns_the_seeds_shape_with_public_properties_only,
    public_read_accepts_a_trailing_slash_like_the_seeds_example,
    full_read_by_id_returns_what_a_public_caller_may_read,
    a_malformed_or_foreign_org_id_is_not_found,
    paths_narrow_the_public_and_the_full_read,
    if_none_match_with_the_etag_answers_304,
    a_missing_unknown_or_foreign_client_key_is_refused,
    an_unknown_org_is_not_found,
    the_orgbase_client_key_header_is_accepted_too,
);

async fn public_read_returns_the_seeds_shape_with_public_properties_only(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let (status, body) = json(app.get_with_key("/example/v2", &key.key).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let id = body["_id"].as_str().unwrap();
    assert_eq!(id, org.id.to_string());
    assert!(id.len() == 24 && id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(body["access"], 1);
    assert_eq!(body["code"], "example");
    assert_eq!(body["locale"], "en_US");
    assert_eq!(body["name"], "Example");
    assert_eq!(body["object"], "org");
    assert!(body["schemasETag"].as_str().is_some_and(|s| !s.is_empty()));
    for hidden in [
        "apps",
        "configuration",
        "connections",
        "deployment",
        "registration",
        "security",
        "updater",
        "roles",
        "created",
        "support",
    ] {
        assert!(body.get(hidden).is_none(), "{hidden} must not be public: {body}");
    }
}

async fn public_read_accepts_a_trailing_slash_like_the_seeds_example(app: &TestApp) {
    let (_, key) = app.seed_org("example", "Example").await;
    let (s1, without) = json(app.get_with_key("/example/v2", &key.key).send().await.unwrap()).await;
    let (s2, with) = json(app.get_with_key("/example/v2/", &key.key).send().await.unwrap()).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(without, with);
}

async fn full_read_by_id_returns_what_a_public_caller_may_read(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let (status, body) =
        json(app.get_with_key(&format!("/example/v2/orgs/{}", org.id), &key.key).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let (_, public) = json(app.get_with_key("/example/v2", &key.key).send().await.unwrap()).await;
    assert_eq!(body, public);
}

async fn a_malformed_or_foreign_org_id_is_not_found(app: &TestApp) {
    let (_, key) = app.seed_org("example", "Example").await;
    let (other, _) = app.seed_org("other", "Other").await;
    for id in ["xyz".to_owned(), "5516ee1b34d8d934281699e".to_owned(), other.id.to_string()] {
        let (status, body) =
            json(app.get_with_key(&format!("/example/v2/orgs/{id}"), &key.key).send().await.unwrap()).await;
        assert_fault(status, &body, 404, "kNotFound");
    }
}

async fn paths_narrow_the_public_and_the_full_read(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    for path in
        ["/example/v2?paths=name,locale".to_owned(), format!("/example/v2/orgs/{}?paths[]=name&paths[]=locale", org.id)]
    {
        let (status, body) = json(app.get_with_key(&path, &key.key).send().await.unwrap()).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"_id": org.id.to_string(), "object": "org", "access": 1, "name": "Example", "locale": "en_US"})
        );
    }
    // A property above the caller's level stays hidden when asked for by name.
    let (_, body) = json(app.get_with_key("/example/v2?paths=security,name", &key.key).send().await.unwrap()).await;
    assert!(body.get("security").is_none(), "{body}");
}

async fn if_none_match_with_the_etag_answers_304(app: &TestApp) {
    let (_, key) = app.seed_org("example", "Example").await;
    let res = app.get_with_key("/example/v2", &key.key).send().await.unwrap();
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"'));
    let res = app.get_with_key("/example/v2", &key.key).header("If-None-Match", &etag).send().await.unwrap();
    assert_eq!(res.status(), 304);
    let res = app.get_with_key("/example/v2", &key.key).header("If-None-Match", "\"stale\"").send().await.unwrap();
    assert_eq!(res.status(), 200);
    // The narrowed read is another representation, with another ETag.
    let res = app.get_with_key("/example/v2?paths=name", &key.key).send().await.unwrap();
    assert_ne!(res.headers()["etag"].to_str().unwrap(), etag);
}

async fn a_missing_unknown_or_foreign_client_key_is_refused(app: &TestApp) {
    app.seed_org("example", "Example").await;
    let (_, other_key) = app.seed_org("other", "Other").await;
    let (status, body) = json(app.request(Method::GET, "/example/v2").send().await.unwrap()).await;
    assert_fault(status, &body, 400, "kInvalidClient");
    for key in ["GsAqlhnIMzrDeD8V2MBQWq", other_key.key.as_str()] {
        let (status, body) = json(app.get_with_key("/example/v2", key).send().await.unwrap()).await;
        assert_fault(status, &body, 400, "kInvalidClient");
    }
}

async fn an_unknown_org_is_not_found(app: &TestApp) {
    let (_, key) = app.seed_org("example", "Example").await;
    let (status, body) = json(app.get_with_key("/nope/v2", &key.key).send().await.unwrap()).await;
    assert_fault(status, &body, 404, "kNotFound");
}

async fn the_orgbase_client_key_header_is_accepted_too(app: &TestApp) {
    let (_, key) = app.seed_org("example", "Example").await;
    let res = app.request(Method::GET, "/example/v2").header("orgbase-client-key", &key.key).send().await.unwrap();
    assert_eq!(res.status(), 200);
}
