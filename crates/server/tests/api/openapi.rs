//! The OpenAPI document is generated from the handlers; the committed snapshot
//! makes every API change visible in review (`INSTA_UPDATE=always` to accept).

use reqwest::Method;

use crate::api_tests;
use crate::helpers::{TestApp, json};

#[test]
fn the_openapi_document_matches_the_committed_snapshot() {
    let doc = serde_json::to_value(orgbase_server::openapi::document()).unwrap();
    insta::assert_json_snapshot!("openapi", doc);
}

api_tests!(the_openapi_document_is_served);

async fn the_openapi_document_is_served(app: &TestApp) {
    let (status, body) = json(app.request(Method::GET, "/openapi.json").send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert!(body["paths"]["/{org}/v2"].is_object(), "{body}");
}
