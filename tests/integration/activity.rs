//! `/api/activity`: parameters, permissions and the feed's envelope.

use crm_core::Role;

use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem};

#[tokio::test]
async fn the_feed_is_for_log_readers_and_cursor_paged() {
    let (app, [admin, manager]) = TestApp::spawn_signed_in([Role::Admin, Role::Manager]).await;
    let res = app.get("/api/activity", &manager).await;
    assert_problem(res, 403, "forbidden").await;
    let body: Value = app
        .get("/api/activity?limit=10&cursor=", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["meta"], json!({"limit": 10, "nextCursor": null}));
    for path in [
        "/api/activity?entityId=01a20d35-c8a7-7051-9879-0f62c4b3037b",
        "/api/activity?cursor=garbage",
        "/api/activity?entityType=planet",
        "/api/activity?limit=0",
    ] {
        let res = app.get(path, &admin).await;
        assert_eq!(res.status(), 400, "{path}");
    }
}
