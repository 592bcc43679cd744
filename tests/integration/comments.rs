//! `/api/comments`: author rules, references, visibility, lists and the parent's timeline.

use crm_core::Role;
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem};

async fn task(app: &TestApp, token: &str) -> String {
    let res = app.post("/api/tasks", token, json!({"title": "T"})).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    body["data"]["id"].as_str().unwrap().to_owned()
}

async fn comment(app: &TestApp, token: &str, task: &str, content: &str) -> Value {
    let res = app
        .post(
            "/api/comments",
            token,
            json!({"entityType": "task", "entityId": task, "content": content}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["etag"], "\"1\"");
    res.json::<Value>().await.unwrap()["data"].clone()
}

#[tokio::test]
async fn only_the_author_edits_admins_delete_anyones_and_managers_only_their_own() {
    let app = TestApp::spawn().await;
    let (author, a) = app.signed_in(Role::Manager).await;
    let (_, other) = app.signed_in(Role::Manager).await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let t = task(&app, &a).await;
    let c = comment(&app, &a, &t, "first").await;
    assert_eq!(c["authorId"], json!(author.user.id));
    assert_eq!(c["type"], "COMMENT");
    let path = format!("/api/comments/{}", c["id"].as_str().unwrap());
    for token in [&other, &admin] {
        let res = app.patch(&path, token, json!({"content": "hijack"})).await;
        assert_problem(res, 403, "not_author").await;
    }
    let res = app.patch_if(&path, &a, 2, json!({"content": "x"})).await;
    assert_problem(res, 412, "version_mismatch").await;
    let res = app
        .patch_if(
            &path,
            &a,
            1,
            json!({"content": "edited", "type": "INTERNAL_NOTE"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let edited: Value = res.json().await.unwrap();
    assert_eq!(edited["data"]["content"], "edited");
    assert_eq!(edited["data"]["type"], "INTERNAL_NOTE");
    let res = app.delete(&path, &other).await;
    assert_problem(res, 403, "forbidden").await;
    let res = app.delete(&path, &admin).await;
    assert_eq!(res.status(), 204);
    assert_problem(app.get(&path, &a).await, 404, "not_found").await;
    let own = comment(&app, &other, &t, "mine").await;
    let res = app
        .delete(
            &format!("/api/comments/{}", own["id"].as_str().unwrap()),
            &other,
        )
        .await;
    assert_eq!(res.status(), 204);
}

#[tokio::test]
async fn comments_on_missing_or_trashed_records_are_422() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let t = task(&app, &token).await;
    app.delete(&format!("/api/tasks/{t}"), &token).await;
    for id in [t, uuid::Uuid::now_v7().to_string()] {
        let res = app
            .post(
                "/api/comments",
                &token,
                json!({"entityType": "task", "entityId": id, "content": "x"}),
            )
            .await;
        assert_problem(res, 422, "unknown_entity").await;
    }
    let t = task(&app, &token).await;
    for body in [
        json!({"entityType": "task", "entityId": t, "content": ""}),
        json!({"entityType": "task", "entityId": t, "content": "x".repeat(10001)}),
    ] {
        let res = app.post("/api/comments", &token, body).await;
        let problem = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "content");
    }
    for body in [
        json!({"entityType": "planet", "entityId": t, "content": "x"}),
        json!({"entityType": "task", "entityId": t, "content": "x", "type": "SHOUT"}),
    ] {
        let res = app.post("/api/comments", &token, body).await;
        assert_problem(res, 400, "invalid_body").await;
    }
}

#[tokio::test]
async fn comment_changes_are_on_the_task_timeline() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let t = task(&app, &token).await;
    let c = comment(&app, &token, &t, "hello").await;
    let path = format!("/api/comments/{}", c["id"].as_str().unwrap());
    app.patch(&path, &token, json!({"content": "hi"})).await;
    app.delete(&path, &token).await;
    let res = app
        .get(
            &format!("/api/activity?entityType=task&entityId={t}"),
            &token,
        )
        .await;
    let body: Value = res.json().await.unwrap();
    let entries: Vec<(Value, Value)> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["type"].clone(), e["changes"].clone()))
        .collect();
    assert_eq!(
        entries[..3],
        [
            (
                json!("comment.deleted"),
                json!([{"field": "content", "from": "hi", "to": null}])
            ),
            (
                json!("comment.updated"),
                json!([{"field": "content", "from": "hello", "to": "hi"}])
            ),
            (
                json!("comment.created"),
                json!([{"field": "content", "from": null, "to": "hello"}])
            ),
        ]
    );
}

#[tokio::test]
async fn lists_are_oldest_first_paged_and_only_for_visible_records() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let (me, token) = app.signed_in(Role::Manager).await;
    let (_, viewer) = app.signed_in(Role::Viewer).await;
    let t = task(&app, &admin).await;
    for content in ["one", "two", "three"] {
        comment(&app, &admin, &t, content).await;
    }
    let list = |body: &Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["content"].as_str().unwrap().to_owned())
            .collect()
    };
    let res = app
        .get(
            &format!("/api/comments?entityType=task&entityId={t}&limit=2"),
            &viewer,
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(list(&body), ["one", "two"]);
    assert_eq!(body["meta"], json!({"page": 1, "limit": 2, "total": 3}));
    let res = app
        .get(
            &format!("/api/comments?entityType=task&entityId={t}&limit=2&cursor="),
            &viewer,
        )
        .await;
    let body: Value = res.json().await.unwrap();
    let next = body["meta"]["nextCursor"].as_str().unwrap().to_owned();
    let res = app
        .get(
            &format!("/api/comments?entityType=task&entityId={t}&limit=2&cursor={next}"),
            &viewer,
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(list(&body), ["three"]);
    assert_eq!(body["meta"]["nextCursor"], Value::Null);
    let res = app
        .post(
            "/api/comments",
            &viewer,
            json!({"entityType": "task", "entityId": t, "content": "x"}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    for query in [
        "",
        "?entityType=task",
        &format!("?entityId={t}"),
        &format!("?entityType=task&entityId={t}&limit=0"),
    ] {
        let res = app.get(&format!("/api/comments{query}"), &viewer).await;
        assert_eq!(res.status(), 400, "{query}");
    }
    // A user restricted to their own tasks cannot see or comment on the admin's task.
    app.revoke(&admin, me.user.id, &["tasks.read_all"]).await;
    let res = app
        .get(
            &format!("/api/comments?entityType=task&entityId={t}"),
            &token,
        )
        .await;
    assert_problem(res, 404, "not_found").await;
    let res = app
        .post(
            "/api/comments",
            &token,
            json!({"entityType": "task", "entityId": t, "content": "x"}),
        )
        .await;
    assert_problem(res, 422, "unknown_entity").await;
}

#[tokio::test]
async fn deals_and_contacts_take_comments_with_their_visibility() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let (manager, manager_token) = app.signed_in(Role::Manager).await;
    let mut records = Vec::new();
    for (path, body) in [
        ("/api/deals", json!({"title": "Big deal"})),
        ("/api/contacts", json!({"fullName": "Ann Lee"})),
    ] {
        let res = app.post(path, &admin, body).await;
        assert_eq!(res.status(), 201, "{path}");
        let id = res.json::<Value>().await.unwrap()["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        records.push((
            if path == "/api/deals" {
                "deal"
            } else {
                "contact"
            },
            id,
        ));
    }
    for (kind, id) in &records {
        let body =
            json!({"entityType": kind, "entityId": id, "content": format!("note on {kind}")});
        let res = app.post("/api/comments", &admin, body).await;
        assert_eq!(res.status(), 201, "{kind}");
        let list: Value = app
            .get(
                &format!("/api/comments?entityType={kind}&entityId={id}"),
                &admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(list["data"][0]["content"], format!("note on {kind}"));
        let timeline: Value = app
            .get(
                &format!("/api/activity?entityType={kind}&entityId={id}"),
                &admin,
            )
            .await
            .json()
            .await
            .unwrap();
        assert!(
            timeline["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["type"] == "comment.created"),
            "{timeline}"
        );
    }
    // Without read_all the manager sees neither record, nor its comments.
    app.revoke(
        &admin,
        manager.user.id,
        &["deals.read_all", "contacts.read_all"],
    )
    .await;
    for (kind, id) in &records {
        let res = app
            .get(
                &format!("/api/comments?entityType={kind}&entityId={id}"),
                &manager_token,
            )
            .await;
        assert_problem(res, 404, "not_found").await;
    }
}
