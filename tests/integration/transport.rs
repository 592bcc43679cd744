//! What a hostile client can send below the handlers: slow, huge, malformed request heads and
//! over-long query strings are answered with problem+json, like every other error, and
//! oversized inputs are refused before any work that grows with them.

use std::time::Duration;

use crm_core::Role;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{TestApp, assert_problem};

/// Sends `raw` on a fresh connection and reads everything the server sends until it closes.
async fn exchange(app: &TestApp, raw: &[u8]) -> String {
    let addr = app.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut out))
        .await
        .expect("the server closes the connection")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// The last response of a raw exchange: its status and its problem body.
fn last_problem(answer: &str, status: u16) -> Value {
    let at = answer.rfind("HTTP/1.1 ").expect("a response");
    let last = &answer[at..];
    assert!(
        last.starts_with(&format!("HTTP/1.1 {status} ")),
        "expected {status}: {last}"
    );
    let (head, body) = last.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{head}"
    );
    let problem: Value = serde_json::from_str(body).unwrap();
    assert_eq!(problem["status"], status);
    problem
}

#[tokio::test]
async fn a_head_that_arrives_too_slowly_gets_408_problem_json() {
    let app =
        TestApp::spawn_with(|_, http| http.head_limits.timeout = Duration::from_secs(1)).await;
    let answer = exchange(&app, b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
    assert_eq!(last_problem(&answer, 408)["code"], "request_timeout");
    // A connection that sends nothing at all is timed out the same way.
    let answer = exchange(&app, b"").await;
    assert_eq!(last_problem(&answer, 408)["code"], "request_timeout");
}

#[tokio::test]
async fn oversized_heads_and_request_lines_get_431_and_414_problem_json() {
    let app = TestApp::spawn().await;
    let big = format!(
        "GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let answer = exchange(&app, big.as_bytes()).await;
    assert_eq!(last_problem(&answer, 431)["code"], "headers_too_large");

    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    let answer = exchange(
        &app,
        format!("GET /api/health HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
    )
    .await;
    assert_eq!(last_problem(&answer, 431)["code"], "headers_too_large");

    let long = format!(
        "GET /api/contacts?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(40 * 1024)
    );
    let answer = exchange(&app, long.as_bytes()).await;
    assert_eq!(last_problem(&answer, 414)["code"], "uri_too_long");

    let answer = exchange(&app, b"NOT AN HTTP REQUEST\r\n\r\n").await;
    assert_eq!(last_problem(&answer, 400)["code"], "malformed_request");
}

#[tokio::test]
async fn a_bad_head_after_good_requests_on_one_connection_ends_with_its_problem() {
    let app = TestApp::spawn().await;
    let good = "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n";
    let post = "POST /api/auth/logout HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n  ";
    let bad = format!(
        "GET /api/health HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "b".repeat(80 * 1024)
    );
    let answer = exchange(&app, format!("{good}{post}{good}{bad}").as_bytes()).await;
    assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), 2, "{answer}");
    assert_eq!(
        answer.matches("HTTP/1.1 204 No Content").count(),
        1,
        "{answer}"
    );
    assert_eq!(last_problem(&answer, 431)["code"], "headers_too_large");
}

#[tokio::test]
async fn a_query_string_over_the_limit_gets_414_problem_json() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let path = format!("/api/contacts?q={}", "a".repeat(9 * 1024));
    let res = app.get(&path, &token).await;
    assert_problem(res, 414, "uri_too_long").await;
    let res = app.get("/api/contacts?q=ada", &token).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn huge_lists_in_a_body_are_refused_by_count_and_change_nothing() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    app.custom_field(json!({
        "entityType": "contact", "key": "level", "name": "Level", "type": "MULTI_SELECT",
        "options": ["bronze", "silver", "gold"]
    }))
    .await;
    let tags: Vec<String> = (0..50_000).map(|i| format!("t{i}")).collect();
    let picked: Vec<&str> = (0..100_000).map(|_| "GOLD").collect();
    let keys: serde_json::Map<String, Value> =
        (0..50_000).map(|i| (format!("k{i}"), json!(1))).collect();
    let batch: Vec<Value> = (0..150_000).map(|_| json!({})).collect();
    for (path, body, field) in [
        (
            "/api/contacts",
            json!({"fullName": "T", "tags": tags}),
            "tags",
        ),
        (
            "/api/contacts",
            json!({"fullName": "M", "customFields": {"level": picked}}),
            "customFields.level",
        ),
        (
            "/api/contacts",
            json!({"fullName": "K", "customFields": keys}),
            "customFields",
        ),
        ("/api/contacts/batch", json!({"items": batch}), "items"),
    ] {
        let res = app.post(path, &token, body).await;
        let problem = assert_problem(res, 400, "validation_failed").await;
        let errors = problem["errors"].as_array().unwrap();
        assert!(errors.len() <= 50, "{path}: {} errors", errors.len());
        assert_eq!(errors[0]["field"], field, "{problem}");
    }
    let list: Value = app.get("/api/contacts", &token).await.json().await.unwrap();
    assert_eq!(list["meta"]["total"], 0);
}

#[tokio::test]
async fn many_bad_options_get_one_error_not_one_per_option() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let options: Vec<&str> = (0..100_000).map(|_| "").collect();
    let res = app
        .post(
            "/api/custom-fields",
            &token,
            json!({
                "entityType": "deal", "key": "many", "name": "Many", "type": "SELECT",
                "options": options
            }),
        )
        .await;
    let problem = assert_problem(res, 400, "validation_failed").await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 1, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "options");
}
