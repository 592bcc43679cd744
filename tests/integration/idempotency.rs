//! `Idempotency-Key` on POST: replay, conflicting reuse, scoping.

use crm_core::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem};

#[tokio::test]
async fn a_repeated_post_with_the_same_key_and_body_is_replayed_not_repeated() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let before = app.user_count().await;
    let body = json!({"email": "once@example.com", "password": "long enough pw", "role": "VIEWER"});
    let send = |body: Value, key: &str| {
        app.authed(Method::POST, "/api/users", &token)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let first = send(body.clone(), "k-1").await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(!first.headers().contains_key("idempotent-replayed"));
    let location = first.headers()["location"].clone();
    let first_body: Value = first.json().await.unwrap();

    let again = send(body.clone(), "k-1").await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], location);
    assert_eq!(again.headers()["content-type"], "application/json");
    assert_eq!(again.json::<Value>().await.unwrap(), first_body);
    assert_eq!(app.user_count().await, before + 1);

    let mut other = body.clone();
    other["email"] = json!("twice@example.com");
    assert_problem(
        send(other, "k-1").await.unwrap(),
        422,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(app.user_count().await, before + 1);

    // Errors below 500 are replayed too: the outcome of a key never changes.
    let dup = send(body.clone(), "k-2").await.unwrap();
    assert_problem(dup, 409, "duplicate_email").await;
    let dup_again = send(body, "k-2").await.unwrap();
    assert_eq!(dup_again.headers()["idempotent-replayed"], "true");
    assert_problem(dup_again, 409, "duplicate_email").await;
}

#[tokio::test]
async fn keys_are_scoped_to_the_caller_and_must_be_sane() {
    let (app, [alice, bob]) = TestApp::spawn_signed_in([Role::Admin, Role::Admin]).await;
    let create = |token: &str, email: &str| {
        app.authed(Method::POST, "/api/users", token)
            .header("idempotency-key", "shared")
            .json(&json!({"email": email, "password": "long enough pw", "role": "VIEWER"}))
            .send()
    };
    assert_eq!(
        create(&alice, "a1@example.com").await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(
        create(&bob, "b1@example.com").await.unwrap().status(),
        StatusCode::CREATED
    );
    let res = app
        .authed(Method::POST, "/api/users", &alice)
        .header("idempotency-key", "x".repeat(300))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "invalid_idempotency_key").await;
}

#[tokio::test]
async fn a_credential_that_does_not_authenticate_leaves_no_stored_key() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn().await;
    for i in 0..5 {
        let res = app
            .authed(Method::POST, "/api/contacts", &format!("crm_forged{i}"))
            .header("idempotency-key", format!("k{i}"))
            .json(&json!({"fullName": "Nobody"}))
            .send()
            .await
            .unwrap();
        assert_problem(res, 401, "invalid_token").await;
    }
    let mut conn = app.pool.get().await.unwrap();
    let stored: i64 = crm_db::schema::idempotency_keys::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}
