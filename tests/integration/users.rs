//! `/api/users`: the permission matrix, CRUD, concurrency and the last-admin rule.

use crm_core::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem, strings};

#[tokio::test]
async fn every_user_endpoint_enforces_the_permission_matrix() {
    let app = TestApp::spawn().await;
    // Keep a spare admin so admin deletions never hit the last-admin rule.
    app.create_user(Role::Admin).await;
    for (role, can_read, can_manage) in [
        (Role::Admin, true, true),
        (Role::Manager, true, false),
        (Role::Viewer, true, false),
    ] {
        let (_, token) = app.signed_in(role).await;
        let target = app.create_user(Role::Viewer).await;
        let target_path = format!("/api/users/{}", target.user.id);
        let expect = |allowed: bool, ok: u16| if allowed { ok } else { 403 };
        let cases = [
            (
                Method::GET,
                "/api/users".to_owned(),
                None,
                expect(can_read, 200),
            ),
            (
                Method::GET,
                target_path.clone(),
                None,
                expect(can_read, 200),
            ),
            (
                Method::POST,
                "/api/users".to_owned(),
                Some(
                    json!({"email": format!("new-{}@example.com", role.as_str()), "password": "long enough pw", "role": "VIEWER"}),
                ),
                expect(can_manage, 201),
            ),
            (
                Method::PATCH,
                target_path.clone(),
                Some(json!({"lastName": "Changed"})),
                expect(can_manage, 200),
            ),
            (
                Method::GET,
                "/api/api-keys".to_owned(),
                None,
                expect(can_manage, 200),
            ),
            (
                Method::POST,
                "/api/api-keys".to_owned(),
                Some(json!({"name": "ci", "role": "VIEWER"})),
                expect(can_manage, 201),
            ),
            (
                Method::DELETE,
                target_path.clone(),
                None,
                expect(can_manage, 204),
            ),
        ];
        for (method, path, body, status) in cases {
            let res = app.send(method.clone(), &path, &token, body.clone()).await;
            assert_eq!(res.status().as_u16(), status, "{role:?} {method} {path}");
            if status == 403 {
                assert_problem(res, 403, "forbidden").await;
            }
            // Without a token every one of them is 401.
            assert_eq!(
                app.send_anonymous(method.clone(), &path, body.clone())
                    .await
                    .status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path}"
            );
        }
    }
}

#[tokio::test]
async fn users_read_own_record_and_change_only_their_names() {
    let app = TestApp::spawn().await;
    let (me, token) = app.signed_in(Role::Viewer).await;
    // A revoked users.read still leaves one's own record readable.
    let (_, admin) = app.signed_in(Role::Admin).await;
    app.revoke(&admin, me.user.id, &["users.read"]).await;
    let path = format!("/api/users/{}", me.user.id);
    assert_eq!(app.get(&path, &token).await.status(), 200);
    assert_problem(app.get("/api/users", &token).await, 403, "forbidden").await;
    let res = app
        .patch(&path, &token, json!({"firstName": "Grace"}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.patch(&path, &token, json!({"role": "ADMIN"})).await;
    assert_problem(res, 403, "forbidden").await;
    let me_now: Value = app.get("/api/auth/me", &token).await.json().await.unwrap();
    assert_eq!(me_now["data"]["role"], "VIEWER");
    assert_eq!(me_now["data"]["firstName"], "Grace");
    assert!(
        !me_now["data"]["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("users.read"))
    );
}

#[tokio::test]
async fn create_answers_201_with_location_and_etag_and_refuses_duplicates() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let res = app
        .post(
            "/api/users",
            &token,
            json!({
                "email": "Grace@Example.com", "password": "long enough pw", "role": "MANAGER",
                "firstName": "Grace", "lastName": "Hopper", "permissionGrants": ["pipelines.manage"]
            }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(res.headers()["etag"], "\"1\"");
    let text = res.text().await.unwrap();
    assert!(
        !text.contains("password") && !text.contains("argon2"),
        "{text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        location,
        format!("/api/users/{}", body["data"]["id"].as_str().unwrap())
    );
    assert_eq!(body["data"]["email"], "grace@example.com");
    assert!(
        body["data"]["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("pipelines.manage"))
    );
    let fetched: Value = app.get(&location, &token).await.json().await.unwrap();
    assert_eq!(fetched["data"], body["data"]);
    let res = app
        .post(
            "/api/users",
            &token,
            json!({"email": "GRACE@example.COM", "password": "long enough pw", "role": "VIEWER"}),
        )
        .await;
    let problem = assert_problem(res, 409, "duplicate_email").await;
    assert_eq!(problem["errors"][0]["field"], "email");
    let res = app
        .get(&format!("/api/users/{}", uuid::Uuid::now_v7()), &token)
        .await;
    assert_problem(res, 404, "not_found").await;
}

#[tokio::test]
async fn if_match_guards_updates_and_deletes() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let target = app.create_user(Role::Viewer).await;
    let path = format!("/api/users/{}", target.user.id);
    let res = app
        .patch_if(&path, &token, 7, json!({"firstName": "Nope"}))
        .await;
    assert_problem(res, 412, "version_mismatch").await;
    let res = app.delete_if(&path, &token, 7).await;
    assert_problem(res, 412, "version_mismatch").await;
    let current: Value = app.get(&path, &token).await.json().await.unwrap();
    assert_eq!(current["data"]["firstName"], "Test");
    let res = app
        .patch_if(&path, &token, 1, json!({"firstName": "Yes"}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let res = app.delete_if(&path, &token, 2).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, &token).await, 404, "not_found").await;
}

#[tokio::test]
async fn concurrent_conflicting_updates_let_exactly_one_win() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let target = app.create_user(Role::Viewer).await;
    let path = format!("/api/users/{}", target.user.id);
    let send = |name: &'static str| {
        app.authed(Method::PATCH, &path, &token)
            .header("if-match", "\"1\"")
            .json(&json!({"firstName": name}))
            .send()
    };
    let (a, b) = tokio::join!(send("A"), send("B"));
    let mut statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 412]);
}

#[tokio::test]
async fn the_last_active_admin_is_protected_over_http() {
    let app = TestApp::spawn().await;
    let (admin, token) = app.signed_in(Role::Admin).await;
    let path = format!("/api/users/{}", admin.user.id);
    for body in [json!({"role": "MANAGER"}), json!({"isActive": false})] {
        let res = app.patch(&path, &token, body).await;
        assert_problem(res, 409, "last_admin").await;
    }
    assert_problem(app.delete(&path, &token).await, 409, "last_admin").await;
    // An inactive admin does not count as the spare.
    let spare = app.create_user(Role::Admin).await;
    app.patch(
        &format!("/api/users/{}", spare.user.id),
        &token,
        json!({"isActive": false}),
    )
    .await;
    let res = app.patch(&path, &token, json!({"role": "VIEWER"})).await;
    assert_problem(res, 409, "last_admin").await;
    let me: Value = app.get("/api/auth/me", &token).await.json().await.unwrap();
    assert_eq!(me["data"]["role"], "ADMIN");
}

#[tokio::test]
async fn lists_page_sort_search_and_filter() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    for _ in 0..3 {
        app.create_user(Role::Viewer).await;
    }
    let page: Value = app
        .get("/api/users?limit=2&page=1&sort=-email", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["meta"], json!({"page": 1, "limit": 2, "total": 4}));
    let emails = strings(&page, "email");
    assert_eq!(emails.len(), 2);
    assert!(emails[0] > emails[1]);
    let viewers: Value = app
        .get("/api/users?role=VIEWER&q=VIEWER-&isActive=true", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(viewers["meta"]["total"], 3);
}
