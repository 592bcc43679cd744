//! Rules every record type shares, checked across all of them at once.

use crm_core::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;

#[tokio::test]
async fn two_concurrent_updates_with_the_same_version_let_exactly_one_win() {
    let app = TestApp::spawn().await;
    let (_, token) = app.signed_in(Role::Admin).await;
    for (path, create, field) in [
        ("/api/contacts", json!({"fullName": "Ann"}), "fullName"),
        ("/api/companies", json!({"name": "Acme"}), "name"),
        ("/api/deals", json!({"title": "Deal"}), "title"),
        ("/api/tasks", json!({"title": "Task"}), "title"),
    ] {
        let res = app
            .authed(Method::POST, path, &token)
            .json(&create)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "{path}");
        let id = res.json::<Value>().await.unwrap()["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
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
        let stored: Value = app
            .authed(Method::GET, &record, &token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            stored["data"]["version"], 2,
            "{path}: one write, one version bump"
        );
    }
}
