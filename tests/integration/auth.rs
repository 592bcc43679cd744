//! Login, refresh-token rotation and its attacks, logout, deactivation, password changes and
//! the failed-login limits.

use std::time::Duration;

use crm_core::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    PASSWORD, TestApp, access_token, assert_problem, refresh_cookie, refresh_token,
};

async fn refresh_with(app: &TestApp, token: &str) -> reqwest::Response {
    app.send_anonymous(
        Method::POST,
        "/api/auth/refresh",
        Some(json!({"refreshToken": token})),
    )
    .await
}

/// Asserts that neither `access` nor `refresh` is taken any more.
async fn assert_signed_out(app: &TestApp, access: &str, refresh: &str) {
    let me = app.get("/api/auth/me", access).await;
    assert_problem(me, 401, "invalid_token").await;
    let refreshed = refresh_with(app, refresh).await;
    assert_problem(refreshed, 401, "invalid_refresh_token").await;
}

#[tokio::test]
async fn login_answers_the_contract_and_sets_a_strict_http_only_cookie() {
    let app = TestApp::spawn_with(|_, http| http.cookie_secure = true).await;
    let user = app.create_user(Role::Manager).await;
    let res = app.login(&user.email.to_uppercase(), PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = refresh_cookie(&res).unwrap();
    for part in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/api/auth",
        "Secure",
        "Max-Age=2592000",
    ] {
        assert!(cookie.contains(part), "{part} missing in {cookie}");
    }
    let text = res.text().await.unwrap();
    assert!(
        !text.contains("argon2") && !text.to_lowercase().contains("hash"),
        "{text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    let data = &body["data"];
    assert_eq!(data["tokenType"], "Bearer");
    assert_eq!(data["expiresIn"], 900);
    assert_eq!(data["user"]["email"], user.email);
    assert_eq!(data["user"]["role"], "MANAGER");
    assert!(data["user"]["lastLoginAt"].is_string());
    assert!(
        data["user"]["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("deals.write"))
    );
    let token = data["accessToken"].as_str().unwrap();
    let me: Value = app.get("/api/auth/me", token).await.json().await.unwrap();
    assert_eq!(me["data"]["id"], json!(user.user.id));
    assert!(
        !me["data"]["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("users.manage"))
    );
}

#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let user = app.create_user(Role::Viewer).await;
    let unknown = assert_problem(
        app.login("nobody@example.com", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    let wrong = assert_problem(
        app.login(&user.email, "wrong password").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(unknown, wrong);
}

#[tokio::test]
async fn missing_malformed_and_forged_tokens_are_401() {
    let app = TestApp::spawn().await;
    let res = app.send_anonymous(Method::GET, "/api/auth/me", None).await;
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_problem(res, 401, "missing_token").await;
    for token in [
        "garbage",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "crm_notakey",
    ] {
        let res = app.get("/api/auth/me", token).await;
        assert_problem(res, 401, "invalid_token").await;
    }
    let res = app
        .request(Method::GET, "/api/auth/me")
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "missing_token").await;
    // A token signed with another secret.
    let other = TestApp::spawn_with(|auth, _| {
        auth.jwt_secret = b"a completely different secret 123456".to_vec()
    })
    .await;
    let (_, foreign) = other.signed_in(Role::Admin).await;
    let res = app.get("/api/auth/me", &foreign).await;
    assert_problem(res, 401, "invalid_token").await;
    // Our own secret, a real user, but not valid before an hour from now.
    let (user, _) = app.signed_in(Role::Admin).await;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "sub": user.user.id, "sev": 0, "iat": now, "nbf": now + 3600, "exp": now + 7200,
        "iss": "crm", "aud": "crm-api"
    });
    let early = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"test secret of at least thirty-two bytes"),
    )
    .unwrap();
    let res = app.get("/api/auth/me", &early).await;
    assert_problem(res, 401, "invalid_token").await;
}

#[tokio::test]
async fn an_expired_access_token_is_refused() {
    let app = TestApp::spawn_with(|auth, _| auth.access_ttl = Duration::from_secs(1)).await;
    let (_, token) = app.signed_in(Role::Viewer).await;
    assert_eq!(app.get("/api/auth/me", &token).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let res = app.get("/api/auth/me", &token).await;
    assert_problem(res, 401, "invalid_token").await;
}

#[tokio::test]
async fn refresh_rotates_the_token_from_the_cookie_or_the_body() {
    let app = TestApp::spawn().await;
    let user = app.create_user(Role::Viewer).await;
    // Cookie flow: the client's jar sends the cookie on /api/auth/refresh.
    let login = app.login(&user.email, PASSWORD).await;
    let first = refresh_token(&login);
    let res = app
        .send_anonymous(Method::POST, "/api/auth/refresh", None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let second = refresh_token(&res);
    assert_ne!(first, second);
    let body: Value = res.json().await.unwrap();
    let token = body["data"]["accessToken"].as_str().unwrap();
    assert_eq!(app.get("/api/auth/me", token).await.status(), 200);
    // Body flow.
    let res = refresh_with(&app, &second).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_ne!(refresh_token(&res), second);
    // Nonsense.
    assert_problem(
        refresh_with(&app, "not-a-token").await,
        401,
        "invalid_refresh_token",
    )
    .await;
    let res = app
        .send_anonymous(
            Method::POST,
            "/api/auth/refresh",
            Some(json!({"refreshToken": "x", "extra": 1})),
        )
        .await;
    assert_problem(res, 400, "invalid_body").await;
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_family() {
    let app = TestApp::spawn_with(|auth, _| auth.refresh_grace = Duration::ZERO).await;
    let user = app.create_user(Role::Viewer).await;
    let stolen = refresh_token(&app.login(&user.email, PASSWORD).await);
    let res = refresh_with(&app, &stolen).await;
    assert_eq!(res.status(), StatusCode::OK);
    let legit = refresh_token(&res);
    // The attacker replays the old token: the family dies.
    assert_problem(
        refresh_with(&app, &stolen).await,
        401,
        "refresh_token_reused",
    )
    .await;
    assert_problem(
        refresh_with(&app, &legit).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    // Other logins of the same user are untouched.
    let other = refresh_token(&app.login(&user.email, PASSWORD).await);
    assert_eq!(refresh_with(&app, &other).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn two_tabs_refreshing_at_once_both_stay_signed_in_within_the_grace_window() {
    let app = TestApp::spawn_with(|auth, _| auth.refresh_grace = Duration::from_secs(2)).await;
    let user = app.create_user(Role::Viewer).await;
    let shared = refresh_token(&app.login(&user.email, PASSWORD).await);
    let (a, b) = tokio::join!(refresh_with(&app, &shared), refresh_with(&app, &shared));
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let (tab_a, tab_b) = (refresh_token(&a), refresh_token(&b));
    assert_ne!(tab_a, tab_b);
    assert_eq!(refresh_with(&app, &tab_a).await.status(), StatusCode::OK);
    assert_eq!(refresh_with(&app, &tab_b).await.status(), StatusCode::OK);
    // After the window the old token is a reuse again, and the family goes.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_problem(
        refresh_with(&app, &shared).await,
        401,
        "refresh_token_reused",
    )
    .await;
}

#[tokio::test]
async fn logout_ends_the_login_and_clears_the_cookie() {
    let app = TestApp::spawn().await;
    let user = app.create_user(Role::Viewer).await;
    let login = app.login(&user.email, PASSWORD).await;
    let token = refresh_token(&login);
    let res = app
        .send_anonymous(Method::POST, "/api/auth/logout", None)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cleared = refresh_cookie(&res).unwrap();
    assert!(
        cleared.contains("Max-Age=0") || cleared.contains("expires="),
        "{cleared}"
    );
    assert_problem(
        refresh_with(&app, &token).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    // Logging out again, or without a token, is harmless.
    let res = app
        .send_anonymous(Method::POST, "/api/auth/logout", None)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_deactivated_user_is_refused_at_once_everywhere() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let user = app.create_user(Role::Manager).await;
    let login = app.login(&user.email, PASSWORD).await;
    let refresh = refresh_token(&login);
    let token = access_token(login).await;
    let res = app
        .patch(
            &format!("/api/users/{}", user.user.id),
            &admin,
            json!({"isActive": false}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_signed_out(&app, &token, &refresh).await;
    assert_problem(
        app.login(&user.email, PASSWORD).await,
        401,
        "account_disabled",
    )
    .await;
    // Reactivated, the user logs in again (the old refresh family stays revoked).
    app.patch(
        &format!("/api/users/{}", user.user.id),
        &admin,
        json!({"isActive": true}),
    )
    .await;
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_problem(
        refresh_with(&app, &refresh).await,
        401,
        "invalid_refresh_token",
    )
    .await;
}

#[tokio::test]
async fn an_admin_password_reset_ends_the_users_sessions() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let user = app.create_user(Role::Viewer).await;
    let login = app.login(&user.email, PASSWORD).await;
    let refresh = refresh_token(&login);
    let token = access_token(login).await;
    let res = app
        .patch(
            &format!("/api/users/{}", user.user.id),
            &admin,
            json!({"password": "a brand new password"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_signed_out(&app, &token, &refresh).await;
    assert_problem(
        app.login(&user.email, PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        app.login(&user.email, "a brand new password")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn changing_ones_own_password_needs_the_current_one_and_ends_other_sessions() {
    let app = TestApp::spawn().await;
    let user = app.create_user(Role::Viewer).await;
    let other_session = app.login(&user.email, PASSWORD).await;
    let other_refresh = refresh_token(&other_session);
    let login = app.login(&user.email, PASSWORD).await;
    let token = access_token(login).await;
    let change = |current: &str, new: &str| {
        app.authed(Method::POST, "/api/auth/password", &token)
            .json(&json!({"currentPassword": current, "newPassword": new}))
            .send()
    };
    let body = assert_problem(
        change("wrong", "another good one").await.unwrap(),
        400,
        "wrong_password",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "currentPassword");
    assert_problem(
        change(PASSWORD, "short").await.unwrap(),
        400,
        "validation_failed",
    )
    .await;
    let res = change(PASSWORD, "another good one").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(refresh_cookie(&res).is_some());
    let fresh = access_token(res).await;
    assert_eq!(app.get("/api/auth/me", &fresh).await.status(), 200);
    assert_signed_out(&app, &token, &other_refresh).await;
    assert_eq!(
        app.login(&user.email, "another good one").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn failed_logins_are_limited_per_email_with_retry_after() {
    let app = TestApp::spawn().await;
    let user = app.create_user(Role::Viewer).await;
    // Successful logins never count.
    for _ in 0..6 {
        assert_eq!(
            app.login(&user.email, PASSWORD).await.status(),
            StatusCode::OK
        );
    }
    for _ in 0..5 {
        assert_problem(
            app.login(&user.email, "wrong").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    let res = app.login(&user.email.to_uppercase(), PASSWORD).await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_problem(res, 429, "rate_limited").await;
    // Another e-mail from the same address is not affected by this e-mail's limit.
    let other = app.create_user(Role::Viewer).await;
    assert_eq!(
        app.login(&other.email, PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn failed_logins_are_limited_per_ip_and_the_window_expires() {
    let app = TestApp::spawn_with(|auth, _| {
        auth.login_limits.per_ip = 3;
        auth.login_limits.window = Duration::from_secs(2);
    })
    .await;
    let user = app.create_user(Role::Viewer).await;
    for i in 0..3 {
        let res = app.login(&format!("unknown{i}@example.com"), "wrong").await;
        assert_problem(res, 401, "invalid_credentials").await;
    }
    assert_problem(app.login(&user.email, PASSWORD).await, 429, "rate_limited").await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status(),
        StatusCode::OK
    );
}
