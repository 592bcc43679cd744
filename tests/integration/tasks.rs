//! `/api/tasks`: CRUD, validation, references, visibility, lists, trash, batch and activity.

use chrono::{Duration, Utc};
use crm_core::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem, id, strings};

#[tokio::test]
async fn a_task_is_created_read_and_changed_with_etags_and_if_match() {
    let app = TestApp::spawn().await;
    let (me, token) = app.signed_in(Role::Manager).await;
    app.custom_field(json!({"entityType": "task", "key": "budget", "type": "NUMBER"}))
        .await;
    let body = json!({"title": "Call Ada", "type": "CALL", "priority": "HIGH", "tags": ["vip"],
                      "customFields": {"budget": 5}});
    let (location, task) = app.create_located("/api/tasks", &token, body).await;
    assert_eq!(task["status"], "TODO");
    assert_eq!(task["type"], "CALL");
    assert_eq!(task["assignedToId"], json!(me.user.id));
    assert_eq!(task["createdById"], json!(me.user.id));
    assert_eq!(task["overdue"], false);
    assert_eq!(task["completedAt"], Value::Null);
    assert_eq!(task["deletedAt"], Value::Null);
    let res = app.get(&location, &token).await;
    assert_eq!(res.headers()["etag"], "\"1\"");

    let res = app
        .patch_if(
            &location,
            &token,
            1,
            json!({"status": "DONE", "description": "done"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let done: Value = res.json::<Value>().await.unwrap()["data"].clone();
    assert!(done["completedAt"].is_string());
    let res = app
        .patch_if(&location, &token, 1, json!({"title": "lost update"}))
        .await;
    assert_problem(res, 412, "version_mismatch").await;
    let res = app
        .patch(
            &location,
            &token,
            json!({"status": "TODO", "description": null}),
        )
        .await;
    let reopened: Value = res.json::<Value>().await.unwrap()["data"].clone();
    assert_eq!(reopened["completedAt"], Value::Null);
    assert_eq!(reopened["description"], Value::Null);
    assert_eq!(reopened["title"], "Call Ada");
}

#[tokio::test]
async fn invalid_input_is_400_and_unknown_references_are_422() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let missing = uuid::Uuid::now_v7();
    for (body, field) in [
        (json!({"title": ""}), "title"),
        (json!({"title": "x".repeat(301)}), "title"),
        (json!({"title": "t", "customFields": "no"}), "customFields"),
        (json!({"title": "t", "tags": ["x".repeat(51)]}), "tags"),
    ] {
        let res = app.post("/api/tasks", &token, body).await;
        let problem = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field);
    }
    for body in [
        json!({"title": "t", "status": "LATER"}),
        json!({"title": "t", "bogus": 1}),
    ] {
        let res = app.post("/api/tasks", &token, body).await;
        assert_problem(res, 400, "invalid_body").await;
    }
    for (field, code) in [
        ("dealId", "unknown_deal"),
        ("contactId", "unknown_contact"),
        ("assignedToId", "unknown_user"),
    ] {
        let res = app
            .post("/api/tasks", &token, json!({"title": "t", field: missing}))
            .await;
        let problem = assert_problem(res, 422, code).await;
        assert_eq!(problem["errors"][0]["field"], field);
    }
    let body = app.get_json("/api/tasks", &token).await;
    assert_eq!(
        body["meta"]["total"], 0,
        "failed creates leave nothing behind"
    );
}

#[tokio::test]
async fn lists_filter_sort_search_and_page_by_cursor() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let now = Utc::now();
    for (title, priority, status, due) in [
        ("Alpha call", "LOW", "TODO", Some(now - Duration::days(2))),
        (
            "Beta 100%",
            "URGENT",
            "IN_PROGRESS",
            Some(now + Duration::days(1)),
        ),
        ("Gamma", "HIGH", "DONE", Some(now - Duration::days(1))),
        ("Delta call", "MEDIUM", "CANCELLED", None),
    ] {
        app.create("/api/tasks", &token, json!({"title": title, "priority": priority, "status": status, "dueAt": due, "tags": ["T"]})).await;
    }
    let q = |s: &str| s.replace('+', "%2B");
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            "sort=-priority".into(),
            vec!["Beta 100%", "Gamma", "Delta call", "Alpha call"],
        ),
        (
            "sort=priority".into(),
            vec!["Alpha call", "Delta call", "Gamma", "Beta 100%"],
        ),
        (
            "sort=dueAt".into(),
            vec!["Alpha call", "Gamma", "Beta 100%", "Delta call"],
        ),
        (
            "sort=-title".into(),
            vec!["Gamma", "Delta call", "Beta 100%", "Alpha call"],
        ),
        ("overdue=true".into(), vec!["Alpha call"]),
        (
            "overdue=false".into(),
            vec!["Beta 100%", "Gamma", "Delta call"],
        ),
        (
            "status=TODO,IN_PROGRESS".into(),
            vec!["Alpha call", "Beta 100%"],
        ),
        ("status=DONE".into(), vec!["Gamma"]),
        ("priority=HIGH".into(), vec!["Gamma"]),
        ("type=CALL".into(), vec![]),
        (
            "type=OTHER".into(),
            vec!["Alpha call", "Beta 100%", "Gamma", "Delta call"],
        ),
        ("q=CALL".into(), vec!["Alpha call", "Delta call"]),
        ("q=0%25".into(), vec!["Beta 100%"]),
        ("q=a%25c".into(), vec![]),
        (
            "tag=t".into(),
            vec!["Alpha call", "Beta 100%", "Gamma", "Delta call"],
        ),
        ("tag=nope".into(), vec![]),
        (
            q(&format!(
                "dueFrom={}&dueTo={}",
                (now - Duration::hours(30)).to_rfc3339(),
                (now + Duration::hours(30)).to_rfc3339()
            )),
            vec!["Beta 100%", "Gamma"],
        ),
        (
            q(&format!(
                "updatedSince={}",
                (now + Duration::days(1)).to_rfc3339()
            )),
            vec![],
        ),
    ];
    for (query, expected) in cases {
        let body = app.get_json(&format!("/api/tasks?{query}"), &token).await;
        assert_eq!(strings(&body, "title"), expected, "{query}");
        assert_eq!(body["meta"]["total"], expected.len(), "{query}");
    }
    let first = app.get_json("/api/tasks?cursor=&limit=3", &token).await;
    assert_eq!(
        strings(&first, "title"),
        ["Alpha call", "Beta 100%", "Gamma"]
    );
    let next = first["meta"]["nextCursor"].as_str().unwrap();
    let second = app
        .get_json(&format!("/api/tasks?limit=3&cursor={next}"), &token)
        .await;
    assert_eq!(strings(&second, "title"), ["Delta call"]);
    assert_eq!(second["meta"]["nextCursor"], Value::Null);
    let paged = app.get_json("/api/tasks?page=2&limit=3", &token).await;
    assert_eq!(strings(&paged, "title"), ["Delta call"]);
    assert_eq!(paged["meta"], json!({"page": 2, "limit": 3, "total": 4}));
    for query in [
        "sort=bogus",
        "status=LATER",
        "cursor=&sort=title",
        "cursor=garbage",
        "overdue=maybe",
        "dueFrom=yesterday",
        "limit=101",
        "color=red",
    ] {
        let res = app.get(&format!("/api/tasks?{query}"), &token).await;
        assert_eq!(res.status(), 400, "{query}");
    }
}

#[tokio::test]
async fn without_tasks_read_all_a_user_sees_only_tasks_they_created_or_are_assigned_to() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let (me, token) = app.signed_in(Role::Manager).await;
    app.revoke(&admin, me.user.id, &["tasks.read_all"]).await;
    let hidden = app
        .create("/api/tasks", &admin, json!({"title": "hidden"}))
        .await;
    app.create(
        "/api/tasks",
        &admin,
        json!({"title": "assigned", "assignedToId": me.user.id}),
    )
    .await;
    app.create("/api/tasks", &token, json!({"title": "mine"}))
        .await;
    let body = app.get_json("/api/tasks", &token).await;
    assert_eq!(strings(&body, "title"), ["assigned", "mine"]);
    let path = format!("/api/tasks/{}", hidden["id"].as_str().unwrap());
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let body = (method == Method::PATCH).then(|| json!({"title": "x"}));
        let res = app.send(method.clone(), &path, &token, body).await;
        assert_problem(res, 404, "not_found").await;
    }
    let res = app
        .get(
            &format!(
                "/api/activity?entityType=task&entityId={}",
                hidden["id"].as_str().unwrap()
            ),
            &token,
        )
        .await;
    assert_problem(res, 404, "not_found").await;
    assert_eq!(app.get_json("/api/tasks", &admin).await["meta"]["total"], 3);
}

#[tokio::test]
async fn trash_restore_and_permanent_deletion() {
    let (app, [admin, manager]) = TestApp::spawn_signed_in([Role::Admin, Role::Manager]).await;
    let task = app
        .create("/api/tasks", &manager, json!({"title": "T"}))
        .await;
    let path = format!("/api/tasks/{}", task["id"].as_str().unwrap());
    let res = app.delete_if(&path, &manager, 5).await;
    assert_problem(res, 412, "version_mismatch").await;
    let res = app.delete(&path, &manager).await;
    assert_eq!(res.status(), 204);
    assert_problem(app.get(&path, &manager).await, 404, "not_found").await;
    assert_eq!(
        app.get_json("/api/tasks", &manager).await["meta"]["total"],
        0
    );
    let trash = app.get_json("/api/tasks?deleted=true", &manager).await;
    assert_eq!(strings(&trash, "title"), ["T"]);
    assert!(trash["data"][0]["deletedAt"].is_string());
    let res = app.restore(&path, &manager).await;
    assert_eq!(res.status(), 200);
    let restored: Value = res.json().await.unwrap();
    assert_eq!(restored["data"]["deletedAt"], Value::Null);
    let activity = app.activity("task", &id(&task), &admin).await;
    let kinds = strings(&activity, "type");
    assert_eq!(kinds, ["task.restored", "task.deleted", "task.created"]);
    let res = app
        .delete(&format!("{path}?permanent=true"), &manager)
        .await;
    assert_problem(res, 403, "forbidden").await;
    let res = app.delete(&format!("{path}?permanent=true"), &admin).await;
    assert_eq!(res.status(), 204);
    assert_problem(app.restore(&path, &admin).await, 404, "not_found").await;
}

#[tokio::test]
async fn a_batch_commits_valid_items_and_reports_each_failure() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let existing = app
        .create("/api/tasks", &token, json!({"title": "existing"}))
        .await;
    let id = existing["id"].clone();
    let (statuses, results) = app
        .batch(
            "/api/tasks",
            &token,
            json!([
                {"title": "new"},
                {"title": ""},
                {"id": id, "version": 9, "title": "stale"},
                {"id": id, "version": 1, "priority": "URGENT"},
                {"title": "t", "dealId": uuid::Uuid::now_v7()},
            ]),
        )
        .await;
    assert_eq!(statuses, [201, 400, 412, 200, 422]);
    assert_eq!(results[3]["data"]["priority"], "URGENT");
    assert_eq!(results[4]["problem"]["code"], "unknown_deal");
    let list = app.get_json("/api/tasks", &token).await;
    assert_eq!(strings(&list, "title"), ["existing", "new"]);
}

#[tokio::test]
async fn changes_are_on_the_task_timeline() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let task = app
        .create("/api/tasks", &token, json!({"title": "T"}))
        .await;
    let id = task["id"].as_str().unwrap();
    app.patch(
        &format!("/api/tasks/{id}"),
        &token,
        json!({"title": "U", "type": "EMAIL"}),
    )
    .await;
    let body = app.activity("task", id, &token).await;
    let entries = body["data"].as_array().unwrap();
    assert_eq!(entries[0]["type"], "task.updated");
    assert_eq!(
        entries[0]["changes"],
        json!([{"field": "title", "from": "T", "to": "U"}, {"field": "type", "from": "OTHER", "to": "EMAIL"}])
    );
    assert_eq!(entries[1]["type"], "task.created");
    assert_eq!(entries[1]["entityType"], "task");
}

#[tokio::test]
async fn a_viewer_reads_tasks_but_writes_nothing() {
    let (app, [manager, viewer]) = TestApp::spawn_signed_in([Role::Manager, Role::Viewer]).await;
    let task = app
        .create("/api/tasks", &manager, json!({"title": "T"}))
        .await;
    let path = format!("/api/tasks/{}", task["id"].as_str().unwrap());
    assert_eq!(app.get_json(&path, &viewer).await["data"]["title"], "T");
    app.assert_writes_forbidden(&viewer, "/api/tasks", &path, json!({"title": "x"}))
        .await;
    let res = app.send_anonymous(Method::GET, "/api/tasks", None).await;
    assert_problem(res, 401, "missing_token").await;
}
