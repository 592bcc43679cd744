//! The OpenAPI document: served, complete, and snapshotted so every API change shows in review.

use reqwest::Method;
use serde_json::Value;

use crate::support::TestApp;

#[tokio::test]
async fn the_served_document_matches_the_snapshot() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .request(Method::GET, "/api/docs/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    insta::assert_json_snapshot!("openapi", doc);
}

#[tokio::test]
async fn every_operation_documents_its_errors_and_security() {
    let doc = serde_json::to_value(crm_http::server::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 9, "{:?}", paths.keys());
    for (path, item) in paths {
        // The WebSocket gateway lives outside /api (ARCHITECTURE §4) and answers 101.
        assert!(path.starts_with("/api/") || path == "/websocket", "{path}");
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses
                    .keys()
                    .any(|s| s.starts_with('2') || (path == "/websocket" && s == "101")),
                "{method} {path} has no success response"
            );
            let public = path.starts_with("/api/health")
                || path.starts_with("/api/auth/")
                    && !path.ends_with("/me")
                    && !path.ends_with("/password");
            if !public {
                assert!(
                    op["security"].is_array(),
                    "{method} {path} declares no security"
                );
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} does not document 401"
                );
            }
        }
    }
}
