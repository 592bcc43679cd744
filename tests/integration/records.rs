//! Rules every record type shares, checked across all of them at once.

use crm_core::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;

/// Creates a record through `path`; its id.
async fn create_record(app: &TestApp, token: &str, path: &str, body: &Value) -> String {
    let res = app
        .authed(Method::POST, path, token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "{path}");
    res.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn two_concurrent_updates_with_the_same_version_let_exactly_one_win() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    for (path, create, field) in [
        ("/api/contacts", json!({"fullName": "Ann"}), "fullName"),
        ("/api/companies", json!({"name": "Acme"}), "name"),
        ("/api/deals", json!({"title": "Deal"}), "title"),
        ("/api/tasks", json!({"title": "Task"}), "title"),
    ] {
        let id = create_record(&app, &token, path, &create).await;
        let record = format!("{path}/{id}");
        let patch = |value: &'static str| {
            app.authed(Method::PATCH, &record, &token)
                .header("if-match", "\"1\"")
                .json(&json!({ field: value }))
                .send()
        };
        let (a, b) = tokio::join!(patch("First"), patch("Second"));
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 412], "{path}");
        let stored: Value = app.get(&record, &token).await.json().await.unwrap();
        assert_eq!(
            stored["data"]["version"], 2,
            "{path}: one write, one version bump"
        );
    }
}

#[tokio::test]
async fn trash_restore_and_purge_leave_the_same_entries_for_every_record_type() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    for (path, kind, create) in [
        ("/api/contacts", "contact", json!({"fullName": "Ann"})),
        ("/api/companies", "company", json!({"name": "Acme"})),
        ("/api/deals", "deal", json!({"title": "Deal"})),
        ("/api/tasks", "task", json!({"title": "Task"})),
    ] {
        let call = |method: Method, url: String| {
            let req = app.authed(method, &url, &token);
            async move { req.send().await.unwrap() }
        };
        let id = create_record(&app, &token, path, &create).await;
        let record = format!("{path}/{id}");
        assert_eq!(call(Method::DELETE, record.clone()).await.status(), 204);
        let restore = call(Method::POST, format!("{record}/restore")).await;
        assert_eq!(restore.status(), 200, "{record}");
        let purge = call(Method::DELETE, format!("{record}?permanent=true")).await;
        assert_eq!(purge.status(), 204, "{record}");
        let feed: Value = call(
            Method::GET,
            format!("/api/activity?entityType={kind}&limit=100"),
        )
        .await
        .json()
        .await
        .unwrap();
        let entries: Vec<&Value> = feed["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["entityId"] == id.as_str())
            .collect();
        let kinds: Vec<&str> = entries
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                format!("{kind}.purged"),
                format!("{kind}.restored"),
                format!("{kind}.deleted"),
                format!("{kind}.created"),
            ],
            "{kind}"
        );
        let (restored, deleted) = (&entries[1]["changes"][0], &entries[2]["changes"][0]);
        assert_eq!(deleted["field"], "deletedAt", "{kind}");
        assert_eq!(deleted["from"], Value::Null, "{kind}");
        assert!(deleted["to"].is_string(), "{kind}");
        assert_eq!(restored["field"], "deletedAt", "{kind}");
        assert_eq!(restored["from"], deleted["to"], "{kind}");
        assert_eq!(restored["to"], Value::Null, "{kind}");
        assert_eq!(entries[0]["changes"], json!([]), "{kind}");
    }
}
