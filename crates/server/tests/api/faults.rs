//! Every error is one JSON fault with the request id: unknown routes, wrong methods,
//! malformed or oversized bodies, unknown fields.

use reqwest::Method;

use crate::api_tests;
use crate::helpers::{TestApp, assert_fault, json};

api_tests!(
    an_unknown_route_is_a_404_fault_with_the_request_id,
    a_wrong_method_is_a_405_fault,
    malformed_json_is_a_400_fault,
    broken_utf8_is_a_400_fault,
    an_unknown_field_is_refused_with_its_path,
    a_wrong_type_is_refused_with_its_path,
    a_body_over_the_limit_is_a_413_fault,
    a_body_that_is_not_json_is_a_415_fault,
);

async fn an_unknown_route_is_a_404_fault_with_the_request_id(app: &TestApp) {
    for path in ["/nope", "/example/v2/nope/deeper", "/platform/v9"] {
        let res = app.request(Method::GET, path).send().await.unwrap();
        let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(res.headers()["content-type"], "application/json");
        let (status, body) = json(res).await;
        assert_fault(status, &body, 404, "kNotFound");
        assert_eq!(body["trace"], request_id.as_str());
        assert!(body["errCode"].as_str().unwrap().starts_with("cortex."));
    }
}

async fn a_wrong_method_is_a_405_fault(app: &TestApp) {
    let (status, body) = json(app.request(Method::DELETE, "/healthz").send().await.unwrap()).await;
    assert_fault(status, &body, 405, "kUnsupportedOperation");
}

async fn malformed_json_is_a_400_fault(app: &TestApp) {
    let res = app
        .platform(Method::POST, "/platform/v1/orgs")
        .header("content-type", "application/json")
        .body("{\"code\":")
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_fault(status, &body, 400, "kInvalidArgument");
}

async fn broken_utf8_is_a_400_fault(app: &TestApp) {
    let bytes = b"{\"code\":\"ab\xff\xfe\",\"name\":\"x\"}".to_vec();
    let res = app
        .platform(Method::POST, "/platform/v1/orgs")
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["object"], "fault");
}

async fn an_unknown_field_is_refused_with_its_path(app: &TestApp) {
    let res = app
        .platform(Method::POST, "/platform/v1/orgs")
        .json(&serde_json::json!({"code": "abc", "name": "A", "colour": "red"}))
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_fault(status, &body, 400, "kValidationError");
    assert!(body["faults"][0]["reason"].as_str().unwrap().contains("colour"), "{body}");
    let (_, list) = json(app.platform(Method::GET, "/platform/v1/orgs").send().await.unwrap()).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "nothing was created");
}

async fn a_wrong_type_is_refused_with_its_path(app: &TestApp) {
    let res = app
        .platform(Method::POST, "/platform/v1/orgs")
        .json(&serde_json::json!({"code": "abc", "name": 5}))
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_fault(status, &body, 400, "kValidationError");
    assert_eq!(body["path"], "name", "{body}");
}

async fn a_body_over_the_limit_is_a_413_fault(app: &TestApp) {
    let huge = format!("{{\"code\":\"abc\",\"name\":\"{}\"}}", "x".repeat(app.config().body_limit + 10));
    let res = app
        .platform(Method::POST, "/platform/v1/orgs")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_fault(status, &body, 413, "kRequestTooLarge");
}

async fn a_body_that_is_not_json_is_a_415_fault(app: &TestApp) {
    let res = app
        .platform(Method::POST, "/platform/v1/orgs")
        .header("content-type", "text/plain")
        .body("code=abc")
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_fault(status, &body, 415, "kUnsupportedMedia");
}
