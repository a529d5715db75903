//! What the fuzzers found (`scripts/api-fuzz`, `scripts/fuzz`), each attack kept as
//! a test through real HTTP so that it stays fixed.

use orgbase_domain::roles::ADMINISTRATOR;
use reqwest::Method;
use serde_json::json;

use crate::api_tests;
use crate::helpers::{TestApp, json};

api_tests!(
    a_stored_number_reads_back_exactly_as_it_was_written,
    a_nul_character_is_refused_in_posts_and_stored_values,
    an_object_is_not_read_from_the_array_of_its_fields,
    a_whole_number_is_read_in_either_spelling,
    a_nul_character_is_refused_in_the_orgs_text,
);

/// Found by the `stored_values` fuzz target: serde_json's default number parser
/// may miss the nearest double by one unit in the last place, so
/// `2.9999999999999997e37` was stored as `3e37`: the value a client wrote was not
/// the value it read back. serde_json's `float_roundtrip` parses exactly.
async fn a_stored_number_reads_back_exactly_as_it_was_written(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let declare = app
        .api(Method::POST, "/example/v2/schemas/org/properties", &key.key, Some(&admin))
        .json(&json!({"name": "c_doc", "type": "document"}));
    let (status, body) = json(declare.send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let written = [2.999_999_999_999_999_7e37, 9.007_199_254_740_993e15, 1.797_693_134_862_315_7e308, 5e-324];
    // The body as text, so that what the server parses is exactly these digits.
    let patch = r#"{"op": "set", "path": "c_doc", "value": {"n": [2.9999999999999997e37, 9007199254740993.0, 1.7976931348623157e308, 5e-324]}}"#;
    let res = app
        .api(Method::PATCH, "/example/v2", &key.key, Some(&admin))
        .header("Content-Type", "application/json")
        .body(patch)
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    let read = app.api(Method::GET, &format!("/example/v2/orgs/{}/c_doc", org.id), &key.key, Some(&admin));
    let (status, read) = json(read.send().await.unwrap()).await;
    assert_eq!(status, 200, "{read}");
    for answer in [&body["c_doc"]["n"], &read["data"]["n"]] {
        let numbers: Vec<f64> = answer.as_array().unwrap().iter().map(|n| n.as_f64().unwrap()).collect();
        assert_eq!(numbers, written, "{answer}");
    }
}

/// Found by `scripts/api-fuzz` on PostgreSQL: a post body holding U+0000 answered
/// 500 (PostgreSQL's text can't hold it; nor can jsonb, where the org's values
/// live), and so did a member search holding it. Both backends now refuse it with
/// a 400 and store nothing.
async fn a_nul_character_is_refused_in_posts_and_stored_values(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let posts = format!("/example/v2/orgs/{}/posts", org.id);
    let post = app.api(Method::POST, &posts, &key.key, Some(&admin)).json(&json!({"body": "a\u{0}b"}));
    let (status, body) = json(post.send().await.unwrap()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "kValidationError", "{body}");
    let (status, listed) = json(app.api(Method::GET, &posts, &key.key, Some(&admin)).send().await.unwrap()).await;
    assert_eq!((status, listed["data"].as_array().map(Vec::len)), (200, Some(0)), "{listed}");

    let declare = app
        .api(Method::POST, "/example/v2/schemas/org/properties", &key.key, Some(&admin))
        .json(&json!({"name": "c_doc", "type": "document"}));
    assert_eq!(declare.send().await.unwrap().status(), 200);
    for value in [json!({"note": "a\u{0}b"}), json!({"a\u{0}b": 1})] {
        let patch = app
            .api(Method::PATCH, "/example/v2", &key.key, Some(&admin))
            .json(&json!({"op": "set", "path": "c_doc", "value": value}));
        let (status, body) = json(patch.send().await.unwrap()).await;
        assert_eq!(status, 400, "{value}: {body}");
    }
    let search = app.api(Method::GET, "/example/v2/members?search=a%00b", &key.key, Some(&admin));
    let (status, body) = json(search.send().await.unwrap()).await;
    assert_eq!(status, 400, "{body}");
    let read = app.api(Method::GET, "/example/v2", &key.key, Some(&admin));
    let (status, org) = json(read.send().await.unwrap()).await;
    assert_eq!(status, 200, "{org}");
    assert!(org.get("c_doc").is_none_or(serde_json::Value::is_null), "{org}");
}

/// Found by `scripts/api-fuzz` (`negative_data_rejection`): serde reads a struct
/// from the array of its fields in order too, so `PUT /orgs/{id}/support` with
/// `[null, null]` answered 200, and so would a body of a POST that is an array of
/// its fields. The document says objects, and the server now holds to it.
async fn an_object_is_not_read_from_the_array_of_its_fields(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let support = format!("/example/v2/orgs/{}/support", org.id);
    for value in [json!([null, null]), json!([])] {
        let put = app.api(Method::PUT, &support, &key.key, Some(&admin)).json(&value);
        let (status, body) = json(put.send().await.unwrap()).await;
        assert_eq!(status, 400, "{value}: {body}");
        let patch = app
            .api(Method::PATCH, "/example/v2", &key.key, Some(&admin))
            .json(&json!({"op": "set", "path": "deployment", "value": value}));
        let (status, body) = json(patch.send().await.unwrap()).await;
        assert_eq!(status, 400, "{value}: {body}");
    }
    let post = app.api(Method::POST, "/example/v2/facilities", &key.key, Some(&admin)).json(&json!(["Theatre", true]));
    let (status, body) = json(post.send().await.unwrap()).await;
    assert_eq!((status, &body["code"]), (400, &json!("kValidationError")), "{body}");
    let (status, list) =
        json(app.api(Method::GET, "/example/v2/facilities", &key.key, Some(&admin)).send().await.unwrap()).await;
    assert_eq!((status, list["data"].as_array().map(Vec::len)), (200, Some(0)), "{list}");
    let put = app.api(Method::PUT, &support, &key.key, Some(&admin)).json(&json!({"phone": "+44 20 7946 0000"}));
    assert_eq!(put.send().await.unwrap().status(), 200);
}

/// Found by `scripts/api-fuzz` (`positive_data_acceptance`): JSON Schema's
/// `integer` takes `6.0` as well as `6`, and so does the server now for the integer
/// fields of a request (an ACL's `allow`, a lifetime in `security`); a fraction is
/// still refused.
async fn a_whole_number_is_read_in_either_spelling(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let declare = |name: &str, allow: serde_json::Value| {
        app.api(Method::POST, "/example/v2/schemas/org/properties", &key.key, Some(&admin)).json(&json!({
            "name": name, "type": "number", "array": true, "maxItems": 20.0, "readAccess": 4.0,
            "acl": [{"type": "role", "target": "provider", "allow": allow}]
        }))
    };
    let (status, body) = json(declare("c_whole", json!(6.0)).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = json(declare("c_half", json!(6.5)).send().await.unwrap()).await;
    assert_eq!(status, 400, "{body}");
    let set = app
        .api(Method::PATCH, "/example/v2", &key.key, Some(&admin))
        .json(&json!({"op": "set", "path": "security.passwordMinLength", "value": 14.0}));
    let (status, body) = json(set.send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let read = app.api(Method::GET, &format!("/example/v2/orgs/{}/security", org.id), &key.key, Some(&admin));
    let (status, security) = json(read.send().await.unwrap()).await;
    assert_eq!((status, &security["data"]["passwordMinLength"]), (200, &json!(14)), "{security}");
}

/// Found by `scripts/api-fuzz` on PostgreSQL, once the document described the
/// org's properties: `PUT /orgs/{id}/maintenanceMessage` with a text holding
/// U+0000 answered 500 (the org's properties live in jsonb, which can't hold it).
/// The org's free text (the maintenance message, the support phone, the URLs) now
/// refuses it with a 400 on both backends, as posts and custom values do.
async fn a_nul_character_is_refused_in_the_orgs_text(app: &TestApp) {
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let props = format!("/example/v2/orgs/{}", org.id);
    for (path, value) in [
        ("maintenanceMessage", json!("back\u{0} soon")),
        ("support", json!({"phone": "+44\u{0}20"})),
        ("website", json!("https://example.test/a\u{0}b")),
    ] {
        let put = app.api(Method::PUT, &format!("{props}/{path}"), &key.key, Some(&admin)).json(&value);
        let (status, body) = json(put.send().await.unwrap()).await;
        assert_eq!((status, &body["code"]), (400, &json!("kValidationError")), "{path}: {body}");
    }
    let put = app.api(Method::PUT, &format!("{props}/maintenanceMessage"), &key.key, Some(&admin)).json(&json!("soon"));
    let (status, body) = json(put.send().await.unwrap()).await;
    assert_eq!((status, &body["data"]), (200, &json!("soon")), "{body}");
}
