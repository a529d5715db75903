//! CORS for the seed's browser examples: allowed origins get exact-origin,
//! credentialed answers; other origins get no CORS header.

use orgbase_domain::Clock;
use orgbase_domain::app::App;
use reqwest::Method;

use crate::api_tests;
use crate::helpers::TestApp;

api_tests!(
    an_allowed_origin_gets_a_credentialed_preflight_and_response,
    a_foreign_origin_gets_no_cors_headers,
    every_answer_varies_by_origin
);

const ALLOWED: &str = "https://app.example.test";

async fn with_browser_app(app: &TestApp) -> App {
    let (org, _) = app.seed_org("example", "Example").await;
    let web = App::new(org.id, "browser".into(), vec![ALLOWED.into()], app.clock.now());
    app.state.store.insert_app(&web).await.unwrap();
    web
}

async fn an_allowed_origin_gets_a_credentialed_preflight_and_response(app: &TestApp) {
    let web = with_browser_app(app).await;
    let res = app
        .request(Method::OPTIONS, "/example/v2/")
        .header("Origin", ALLOWED)
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "medable-client-key, medable-csrf-token")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], ALLOWED);
    assert_eq!(h["access-control-allow-credentials"], "true");
    let allowed = h["access-control-allow-headers"].to_str().unwrap().to_lowercase();
    assert!(allowed.contains("medable-client-key") && allowed.contains("medable-csrf-token"), "{allowed}");
    let res = app.get_with_key("/example/v2", &web.key).header("Origin", ALLOWED).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], ALLOWED);
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    assert!(
        res.headers()["access-control-expose-headers"].to_str().unwrap().to_lowercase().contains("medable-csrf-token")
    );
}

async fn a_foreign_origin_gets_no_cors_headers(app: &TestApp) {
    let web = with_browser_app(app).await;
    for res in [
        app.request(Method::OPTIONS, "/example/v2")
            .header("Origin", "https://evil.test")
            .header("Access-Control-Request-Method", "GET")
            .send()
            .await
            .unwrap(),
        app.get_with_key("/example/v2", &web.key).header("Origin", "https://evil.test").send().await.unwrap(),
    ] {
        for name in ["access-control-allow-origin", "access-control-allow-credentials", "access-control-expose-headers"]
        {
            assert!(!res.headers().contains_key(name), "{name} present");
        }
    }
}

/// The answer depends on `Origin`, so every answer says so (for caches), with or
/// without one; a request without `Origin` gets no other CORS header.
async fn every_answer_varies_by_origin(app: &TestApp) {
    let web = with_browser_app(app).await;
    let vary = |res: &reqwest::Response| {
        res.headers().get_all("vary").iter().map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>().join(", ")
    };
    let plain = app.get_with_key("/example/v2", &web.key).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(vary(&plain), "origin, access-control-request-method, access-control-request-headers");
    assert!(!plain.headers().keys().any(|k| k.as_str().starts_with("access-control-")), "{:?}", plain.headers());
    let missing = app.get_with_key("/example/v2/nope", &web.key).send().await.unwrap();
    assert_eq!((missing.status().as_u16(), vary(&missing).starts_with("origin")), (404, true));
    for origin in [ALLOWED, "https://evil.test"] {
        let res = app.get_with_key("/example/v2", &web.key).header("Origin", origin).send().await.unwrap();
        assert_eq!(vary(&res), vary(&plain), "{origin}");
    }
}
