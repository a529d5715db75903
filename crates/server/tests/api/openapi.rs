//! The OpenAPI document is generated from the handlers; the committed snapshot
//! makes every API change visible in review (`INSTA_UPDATE=always` to accept).

use orgbase_domain::roles::ADMINISTRATOR;
use reqwest::Method;
use serde_json::Value;

use crate::api_tests;
use crate::helpers::{TestApp, json};

#[test]
fn the_openapi_document_matches_the_committed_snapshot() {
    let doc = serde_json::to_value(orgbase_server::openapi::document()).unwrap();
    insta::assert_json_snapshot!("openapi", doc);
}

/// Every operation has an id of its own (generated clients name their functions
/// by it) and declares the schema of its 200 answer, and every operation of the org
/// API lists the faults the layers in front of its handler can answer.
#[test]
fn every_operation_has_a_unique_id_a_documented_body_and_the_shared_faults() {
    let doc = serde_json::to_value(orgbase_server::openapi::document()).unwrap();
    let mut ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "operation id {id} is used twice");
            let ok = op["responses"]["200"]["content"].as_object();
            let described = ok.is_some_and(|c| !c.is_empty() && c.values().all(|m| m["schema"].is_object()));
            assert!(described, "{method} {path} documents no body for 200");
            if path.starts_with("/{org}/v2") {
                for status in ["400", "403", "404", "408", "429", "503"] {
                    assert!(op["responses"][status].is_object(), "{method} {path} does not list {status}");
                }
            }
        }
    }
}

api_tests!(the_openapi_document_is_served, a_narrowed_org_read_matches_its_documented_schema);

async fn the_openapi_document_is_served(app: &TestApp) {
    let (status, body) = json(app.request(Method::GET, "/openapi.json").send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert!(body["paths"]["/{org}/v2"].is_object(), "{body}");
}

/// Checks `body` against the schema that the served document gives for the
/// `status` answer of `method path`: the required properties are there and every
/// documented property has its documented type (what schemathesis'
/// `response_schema_conformance` checks in `scripts/api-fuzz`).
fn assert_documented(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let answer = &doc["paths"][path][method]["responses"][status.to_string()];
    let schema = &answer["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} documents no JSON body for {status}");
    conforms(doc, schema, body, "");
}

fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return conforms(doc, &doc["components"]["schemas"][name], value, at);
    }
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let allowed: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let fits = allowed.is_empty() || allowed.contains(&kind) || (kind == "integer" && allowed.contains(&"number"));
    assert!(fits, "{at}: {value} is not of the documented type {allowed:?}");
    for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        assert!(value.get(name).is_some(), "{at}: the documented required property {name} is missing from {value}");
    }
    if let (Some(properties), Value::Object(map)) = (schema["properties"].as_object(), value) {
        for (name, property) in properties {
            if let Some(item) = map.get(name) {
                conforms(doc, property, item, &format!("{at}.{name}"));
            }
        }
    }
    if let (Value::Array(items), item_schema @ Value::Object(_)) = (value, &schema["items"]) {
        for (i, item) in items.iter().enumerate() {
            conforms(doc, item_schema, item, &format!("{at}.{i}"));
        }
    }
}

/// Found by schemathesis: `?paths=` narrows an org read to `_id`, `object`,
/// `access` and the paths asked for (none, when they name nothing), which the
/// document said always held `code`, `name`, `locale` and `schemasETag`.
async fn a_narrowed_org_read_matches_its_documented_schema(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let (_, doc) = json(app.request(Method::GET, "/openapi.json").send().await.unwrap()).await;
    let reads = [
        ("/{org}/v2", "/example/v2?paths=%7B%C2%BA".to_owned()),
        ("/{org}/v2", "/example/v2?paths=name".to_owned()),
        ("/{org}/v2/orgs/{id}", format!("/example/v2/orgs/{}?paths=%C2%BBU", org.id)),
        ("/{org}/v2/orgs/{id}", format!("/example/v2/orgs/{}?paths=locale,security", org.id)),
        ("/{org}/v2/orgs/{id}", format!("/example/v2/orgs/{}", org.id)),
    ];
    for (template, url) in reads {
        let (status, body) = json(app.api(Method::GET, &url, &key.key, Some(&admin)).send().await.unwrap()).await;
        assert_eq!(status, 200, "{url}: {body}");
        assert_documented(&doc, "get", template, status, &body);
    }
}
