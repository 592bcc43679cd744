//! The API conventions: envelopes, problem+json for every kind of bad request, request ids,
//! security headers, CORS, health and readiness.

use crm_core::Role;
use crm_testkit::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem};

#[tokio::test]
async fn health_answers_in_the_data_envelope() {
    let app = TestApp::spawn().await;
    let res = app.send_anonymous(Method::GET, "/api/health", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["status"], "ok");
    let ready: Value = app
        .send_anonymous(Method::GET, "/api/health/ready", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ready["data"]["status"], "ready");
}

#[tokio::test]
async fn readiness_is_503_while_the_database_is_unreachable_and_recovers_by_itself() {
    // A server whose database does not exist yet cannot reach it, exactly as when it is down.
    let app = TestApp::spawn_on(TestDb::not_yet_created(), |_, _| {}).await;
    let res = app
        .send_anonymous(Method::GET, "/api/health/ready", None)
        .await;
    assert_problem(res, 503, "database_unavailable").await;
    // Liveness does not depend on the database.
    let res = app.send_anonymous(Method::GET, "/api/health", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    // A request that needs the database is 503 too, never 500.
    let res = app
        .send_anonymous(
            Method::POST,
            "/api/auth/login",
            Some(json!({"email": "a@example.com", "password": "whatever1"})),
        )
        .await;
    let body = assert_problem(res, 503, "database_unavailable").await;
    assert!(
        !body["detail"].as_str().unwrap().contains("does not exist"),
        "no internals: {body}"
    );
    // The database appears: the same server becomes ready without a restart.
    app.db.create().await;
    let res = app
        .send_anonymous(Method::GET, "/api/health/ready", None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_with_allow() {
    let app = TestApp::spawn().await;
    let res = app
        .send_anonymous(Method::GET, "/api/no-such-thing", None)
        .await;
    assert_problem(res, 404, "not_found").await;
    let res = app.send_anonymous(Method::GET, "/nowhere", None).await;
    assert_problem(res, 404, "not_found").await;
    let res = app
        .send_anonymous(Method::DELETE, "/api/health", None)
        .await;
    assert_eq!(res.headers()["allow"], "GET");
    assert_problem(res, 405, "method_not_allowed").await;
    let res = app
        .send_anonymous(
            Method::PUT,
            &format!("/api/users/{}", uuid::Uuid::now_v7()),
            None,
        )
        .await;
    assert_eq!(res.headers()["allow"], "DELETE, GET, PATCH");
    assert_problem(res, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn every_malformed_body_is_a_4xx_problem_and_changes_nothing() {
    let app = TestApp::spawn_with(|_, http| http.max_body_bytes = 16 * 1024).await;
    let (_, token) = app.signed_in(Role::Admin).await;
    let before = app.user_count().await;
    let post = || app.authed(Method::POST, "/api/users", &token);
    let cases = [
        (post().header("content-type", "application/json").body("{\"email\": "), 400, "malformed_json"),
        (post().header("content-type", "application/json").body("[1, 2]"), 400, "invalid_body"),
        (
            post().json(&json!({"email": "x@example.com", "password": "long enough", "role": "ADMIN", "isAdmin": true})),
            400,
            "invalid_body",
        ),
        (post().json(&json!({"email": 42, "password": "long enough", "role": "ADMIN"})), 400, "invalid_body"),
        (post().json(&json!({"email": "x@example.com", "password": "long enough", "role": "ROOT"})), 400, "invalid_body"),
        (post().json(&json!({"email": "x@example.com", "password": "long enough"})), 400, "invalid_body"),
        (post().json(&json!({"email": "not an e-mail", "password": "long enough", "role": "VIEWER"})), 400, "validation_failed"),
        (post().header("content-type", "text/plain").body("{}"), 415, "unsupported_media_type"),
        (post().body("{}"), 415, "unsupported_media_type"),
        (
            post().json(&json!({"email": "x@example.com", "password": "a".repeat(32 * 1024), "role": "VIEWER"})),
            413,
            "payload_too_large",
        ),
    ];
    for (request, status, code) in cases {
        let res = request.send().await.unwrap();
        assert_problem(res, status, code).await;
    }
    assert_eq!(app.user_count().await, before);
}

#[tokio::test]
async fn validation_problems_name_each_field() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let res = app.post("/api/users", &token, json!({"email": "nope", "password": "short", "role": "VIEWER", "firstName": "x".repeat(101)})).await;
    let body = assert_problem(res, 400, "validation_failed").await;
    let mut fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(fields, ["email", "firstName", "password"]);
}

#[tokio::test]
async fn bad_query_strings_paths_and_headers_are_400() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    for (path, code) in [
        ("/api/users?colour=blue", "invalid_query"),
        ("/api/users?limit=abc", "invalid_query"),
        ("/api/users?isActive=maybe", "invalid_query"),
        ("/api/users?limit=101", "validation_failed"),
        ("/api/users?page=0", "validation_failed"),
        ("/api/users?sort=passwordHash", "validation_failed"),
        ("/api/users/not-a-uuid", "invalid_path"),
    ] {
        let res = app.get(path, &token).await;
        let body = assert_problem(res, 400, code).await;
        assert!(
            !body["detail"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("sql"),
            "{body}"
        );
    }
    let (other, _) = app.signed_in(Role::Viewer).await;
    let res = app
        .authed(
            Method::PATCH,
            &format!("/api/users/{}", other.user.id),
            &token,
        )
        .header("if-match", "three")
        .json(&json!({"firstName": "X"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "invalid_if_match").await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::spawn().await;
    let res = app
        .request(Method::GET, "/api/health")
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let res = app.send_anonymous(Method::GET, "/api/health", None).await;
    let generated = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&generated).is_ok());
    // Ids that would pollute logs are replaced.
    let res = app
        .request(Method::GET, "/api/health")
        .header("x-request-id", "x".repeat(500))
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"].len(), 500);
    // Errors carry one as well.
    let res = app.send_anonymous(Method::GET, "/api/missing", None).await;
    assert!(res.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let app = TestApp::spawn().await;
    for path in ["/api/health", "/api/missing"] {
        let res = app.send_anonymous(Method::GET, path, None).await;
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        assert_eq!(h["cache-control"], "no-store");
    }
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app =
        TestApp::spawn_with(|_, http| http.cors_origins = vec!["https://app.example.com".into()])
            .await;
    let preflight = |origin: &str| {
        app.request(Method::OPTIONS, "/api/users")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let res = preflight("https://app.example.com").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    let res = preflight("https://evil.example.com").await.unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    let res = app
        .request(Method::GET, "/api/health")
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn swagger_ui_is_served_offline() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client.get(app.url("/api/docs")).send().await.unwrap();
    assert!(res.status().is_redirection());
    assert_eq!(res.headers()["location"], "/api/docs/");
    let html = app
        .send_anonymous(Method::GET, "/api/docs/", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let res = app
        .send_anonymous(Method::GET, "/api/docs/swagger-ui-bundle.js", None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.bytes().await.unwrap().len() > 100_000,
        "the bundle is embedded, not fetched from a CDN"
    );
}

#[tokio::test]
async fn nul_characters_are_refused_with_400_not_500() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    for path in [
        "/api/contacts?q=%00",
        "/api/users?q=a%00b",
        "/api/deals?tag=%00",
        "/api/tags?q=%00",
    ] {
        let res = app.get(path, &token).await;
        assert_problem(res, 400, "invalid_query").await;
    }
    for (path, body) in [
        ("/api/contacts", r#"{"fullName": "a\u0000b"}"#),
        ("/api/tags", r#"{"name": "x\u0000"}"#),
        (
            "/api/users",
            r#"{"email": "n@example.com", "password": "long enough\u0000", "role": "VIEWER"}"#,
        ),
    ] {
        let res = app
            .authed(Method::POST, path, &token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_problem(res, 400, "invalid_body").await;
    }
    // An escaped backslash followed by "u0000" is ordinary text.
    let res = app
        .authed(Method::POST, "/api/contacts", &token)
        .header("content-type", "application/json")
        .body(r#"{"fullName": "path C:\\u0000"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_missing_or_mistyped_field_is_named_by_its_json_path() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let cases = [
        (
            "/api/contacts",
            json!({"email": "a@example.com"}),
            "fullName",
        ),
        (
            "/api/companies",
            json!({"website": "https://a.example"}),
            "name",
        ),
        ("/api/deals", json!({"amount": "1.00"}), "title"),
        ("/api/tasks", json!({"priority": "HIGH"}), "title"),
        ("/api/pipelines", json!({"description": "x"}), "name"),
        ("/api/tags", json!({"color": "#ffffff"}), "name"),
        (
            "/api/users",
            json!({"email": "u@example.com", "password": "long enough"}),
            "role",
        ),
        (
            "/api/tasks",
            json!({"title": "T", "contactId": ""}),
            "contactId",
        ),
        (
            "/api/contacts",
            json!({"fullName": "A", "social": {"telegram": 5}}),
            "social.telegram",
        ),
        (
            "/api/contacts",
            json!({"fullName": "A", "favourite": true}),
            "favourite",
        ),
        (
            "/api/contacts/batch",
            json!({"items": [{"fullName": "A"}, {"email": "b@example.com"}]}),
            "fullName",
        ),
    ];
    for (path, body, field) in cases {
        let res = app.post(path, &token, body).await;
        let problem = if path.ends_with("/batch") {
            let answer: Value = res.json().await.unwrap();
            assert_eq!(answer["data"][0]["status"], 201, "{answer}");
            assert_eq!(answer["data"][1]["status"], 400, "{answer}");
            answer["data"][1]["problem"].clone()
        } else {
            assert_problem(res, 400, "invalid_body").await
        };
        assert_eq!(problem["errors"][0]["field"], field, "{path}: {problem}");
        let message = problem["errors"][0]["message"].as_str().unwrap();
        assert!(
            !message.is_empty() && !message.contains(" line "),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_protected_route_answers_401_before_looking_at_anything_else() {
    let app = TestApp::spawn().await;
    let nul = r#"{"fullName": "a\u0000b"}"#;
    for token in [None, Some("not-a-token"), Some("crm_forged")] {
        let with = |req: reqwest::RequestBuilder| match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let code = if token.is_some() {
            "invalid_token"
        } else {
            "missing_token"
        };
        let requests = [
            with(app.request(Method::POST, "/api/contacts"))
                .header("content-type", "application/json")
                .body("{\"fullName\": "),
            with(app.request(Method::POST, "/api/contacts"))
                .header("content-type", "application/json")
                .body(nul),
            with(app.request(Method::POST, "/api/contacts")).body("text"),
            with(app.request(Method::GET, "/api/contacts/not-a-uuid")),
            with(app.request(Method::GET, "/api/contacts?limit=1000&bogus=1")),
            with(app.request(
                Method::PATCH,
                &format!("/api/contacts/{}", uuid::Uuid::now_v7()),
            ))
            .header("if-match", "garbage")
            .json(&json!({"fullName": 5})),
        ];
        for request in requests {
            assert_problem(request.send().await.unwrap(), 401, code).await;
        }
    }
}

#[tokio::test]
async fn a_method_a_literal_path_does_not_have_is_405_with_its_allow() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    for (method, path, allow) in [
        (Method::GET, "/api/contacts/batch", "POST"),
        (Method::DELETE, "/api/deals/batch", "POST"),
        (Method::PATCH, "/api/tasks/batch", "POST"),
        (Method::GET, "/api/custom-fields/order", "PUT"),
    ] {
        let res = app.send(method.clone(), path, &token, None).await;
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
        assert_problem(res, 405, "method_not_allowed").await;
    }
}
