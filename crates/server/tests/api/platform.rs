//! The platform API: operator token, org creation, paging, enabling and disabling;
//! and the operations endpoints.

use reqwest::Method;
use serde_json::{Value, json};

use crate::api_tests;
use crate::helpers::{TestApp, assert_fault, json};

api_tests!(
    the_platform_api_needs_the_operator_token,
    an_operator_creates_an_org_that_serves_its_public_read,
    a_duplicate_or_invalid_code_is_refused,
    org_lists_page_with_cursors_skip_and_sort,
    a_disabled_org_answers_org_disabled_until_enabled_again,
    health_readiness_and_metrics_answer,
);

async fn the_platform_api_needs_the_operator_token(app: &TestApp) {
    let (status, body) = json(app.request(Method::GET, "/platform/v1/orgs").send().await.unwrap()).await;
    assert_fault(status, &body, 403, "kAccessDenied");
    let res = app.request(Method::GET, "/platform/v1/orgs").bearer_auth("wrong").send().await.unwrap();
    let (status, body) = json(res).await;
    assert_fault(status, &body, 403, "kAccessDenied");
    let (status, _) = json(app.platform(Method::GET, "/platform/v1/orgs").send().await.unwrap()).await;
    assert_eq!(status, 200);
}

async fn an_operator_creates_an_org_that_serves_its_public_read(app: &TestApp) {
    let res = app
        .platform(Method::POST, "/platform/v1/orgs")
        .json(&json!({"code": "clinic-1", "name": "Clinic One", "locale": "fr_FR", "tz": "Europe/Paris"}))
        .send()
        .await
        .unwrap();
    let (status, org) = json(res).await;
    assert_eq!(status, 200, "{org}");
    assert_eq!(org["code"], "clinic-1");
    assert_eq!(org["tz"], "Europe/Paris");
    assert_eq!(org["state"], "enabled");
    assert_eq!(org["security"]["invitationTtl"], 604_800);
    assert_eq!(org["roles"].as_array().unwrap().len(), 4);
    let stored = app.state.store.org_by_code("clinic-1").await.unwrap().unwrap();
    assert_eq!(org["_id"], stored.id.to_string());
}

async fn a_duplicate_or_invalid_code_is_refused(app: &TestApp) {
    app.seed_org("example", "Example").await;
    let res = app
        .platform(Method::POST, "/platform/v1/orgs")
        .json(&json!({"code": "example", "name": "Again"}))
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_fault(status, &body, 409, "kExists");
    let res = app
        .platform(Method::POST, "/platform/v1/orgs")
        .json(&json!({"code": "Bad Code", "name": "", "locale": "not a locale", "tz": "Mars/Base"}))
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_fault(status, &body, 400, "kValidationError");
    let paths: Vec<&str> = body["faults"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["code", "name", "locale", "tz"]);
}

fn codes(list: &Value) -> Vec<String> {
    list["data"].as_array().unwrap().iter().map(|o| o["code"].as_str().unwrap().to_owned()).collect()
}

async fn org_lists_page_with_cursors_skip_and_sort(app: &TestApp) {
    let mut ids = Vec::new();
    for code in ["org-c", "org-a", "org-e", "org-b", "org-d"] {
        let (org, _) = app.seed_org(code, code).await;
        ids.push(org.id.to_string());
    }
    let get = |q: String| async move {
        json(app.platform(Method::GET, &format!("/platform/v1/orgs{q}")).send().await.unwrap()).await.1
    };
    let page = get("?limit=2".into()).await;
    assert_eq!(page["object"], "list");
    assert_eq!(codes(&page), ["org-c", "org-a"]);
    assert_eq!(page["hasMore"], true);
    let page = get(format!("?limit=2&startingAfter={}", ids[1])).await;
    assert_eq!(codes(&page), ["org-e", "org-b"]);
    let page = get(format!("?limit=10&startingAfter={}", ids[3])).await;
    assert_eq!((codes(&page), page["hasMore"].clone()), (vec!["org-d".to_owned()], json!(false)));
    let page = get(format!("?limit=2&endingBefore={}", ids[4])).await;
    assert_eq!((codes(&page), page["hasMore"].clone()), (vec!["org-e".to_owned(), "org-b".to_owned()], json!(true)));
    let page = get("?sort=code&limit=3".into()).await;
    assert_eq!(codes(&page), ["org-a", "org-b", "org-c"]);
    let page = get("?sort=-code&limit=2&skip=1".into()).await;
    assert_eq!(codes(&page), ["org-d", "org-c"]);
    let org_b = &ids[3];
    let page = get(format!("?sort=-code&startingAfter={org_b}")).await;
    assert_eq!(codes(&page), ["org-a"]);
    let page = get(format!("?sort=code&endingBefore={org_b}")).await;
    assert_eq!(codes(&page), ["org-a"]);
    let (status, body) =
        json(app.platform(Method::GET, "/platform/v1/orgs?limit=5000&sort=secret").send().await.unwrap()).await;
    assert_fault(status, &body, 400, "kValidationError");
    assert_eq!(body["faults"].as_array().unwrap().len(), 2);
}

async fn a_disabled_org_answers_org_disabled_until_enabled_again(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let path = format!("/platform/v1/orgs/{}", org.id);
    let (status, body) =
        json(app.platform(Method::PATCH, &path).json(&json!({"state": "disabled"})).send().await.unwrap()).await;
    assert_eq!((status, body["state"].clone()), (200, json!("disabled")));
    let (status, body) = json(app.get_with_key("/example/v2", &key.key).send().await.unwrap()).await;
    assert_fault(status, &body, 400, "kOrgDisabled");
    let (status, body) =
        json(app.platform(Method::PATCH, &path).json(&json!({"state": "paused"})).send().await.unwrap()).await;
    assert_fault(status, &body, 400, "kValidationError");
    app.platform(Method::PATCH, &path).json(&json!({"state": "enabled"})).send().await.unwrap();
    let res = app.get_with_key("/example/v2", &key.key).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let missing = "/platform/v1/orgs/5516ee1b34d8d934281699e3";
    let (status, body) =
        json(app.platform(Method::PATCH, missing).json(&json!({"state": "enabled"})).send().await.unwrap()).await;
    assert_fault(status, &body, 404, "kNotFound");
}

async fn health_readiness_and_metrics_answer(app: &TestApp) {
    for path in ["/healthz", "/readyz"] {
        let (status, body) = json(app.request(Method::GET, path).send().await.unwrap()).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    app.request(Method::GET, "/nope").send().await.unwrap();
    // An org route, refused before its handler (no such org): still its template.
    app.request(Method::GET, "/no-such-org/v2/members").send().await.unwrap();
    let text = app.request(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
    assert!(text.contains("http_request_duration_seconds_count"), "{text}");
    for labels in [
        r#"method="GET",route="/healthz",status="200""#,
        r#"method="GET",route="unmatched",status="404""#,
        r#"method="GET",route="/{org}/v2/members",status="404""#,
    ] {
        assert!(text.contains(labels), "{labels} in {text}");
    }
}
