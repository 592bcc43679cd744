//! API keys: created by an admin, shown once, stored hashed, accepted as bearer, revocable.

use std::time::Duration;

use crm_core::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem};

async fn create_key(app: &TestApp, admin: &str, body: Value) -> reqwest::Response {
    app.post("/api/api-keys", admin, body).await
}

#[tokio::test]
async fn a_key_acts_with_its_role_until_revoked() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let res = create_key(&app, &admin, json!({"name": "reporting", "role": "VIEWER"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    let key = created["data"]["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("crm_") && key.len() > 40);
    assert_eq!(created["data"]["role"], "VIEWER");
    assert!(key.starts_with(created["data"]["prefix"].as_str().unwrap()));
    // Reads as a viewer, writes nothing.
    assert_eq!(app.get("/api/users", &key).await.status(), 200);
    let res = app
        .post(
            "/api/users",
            &key,
            json!({"email": "k@example.com", "password": "long enough pw", "role": "ADMIN"}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    // The list never shows the secret again.
    let list = app.get("/api/api-keys", &admin).await.text().await.unwrap();
    assert!(!list.contains(&key) && list.contains("reporting"), "{list}");
    let id = created["data"]["id"].as_str().unwrap();
    let res = app.delete(&format!("/api/api-keys/{id}"), &admin).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get("/api/users", &key).await, 401, "invalid_token").await;
    let res = app
        .delete(&format!("/api/api-keys/{}", uuid::Uuid::now_v7()), &admin)
        .await;
    assert_problem(res, 404, "not_found").await;
}

#[tokio::test]
async fn keys_expire_and_past_expiries_are_refused() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let res = create_key(
        &app,
        &admin,
        json!({"name": "old", "role": "VIEWER", "expiresAt": "2020-01-01T00:00:00Z"}),
    )
    .await;
    let body = assert_problem(res, 400, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "expiresAt");
    let soon = (chrono::Utc::now() + chrono::TimeDelta::seconds(2)).to_rfc3339();
    let created: Value = create_key(
        &app,
        &admin,
        json!({"name": "short", "role": "MANAGER", "expiresAt": soon}),
    )
    .await
    .json()
    .await
    .unwrap();
    let key = created["data"]["key"].as_str().unwrap();
    assert_eq!(app.get("/api/users", key).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_problem(app.get("/api/users", key).await, 401, "invalid_token").await;
}

#[tokio::test]
async fn invalid_key_requests_are_400() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    for body in [
        json!({"name": "", "role": "VIEWER"}),
        json!({"name": "x", "role": "GOD"}),
        json!({"role": "VIEWER"}),
    ] {
        let res = create_key(&app, &admin, body).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
}
