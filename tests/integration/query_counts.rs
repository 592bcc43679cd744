//! Lists run a constant number of queries whatever their length: no N+1.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crm_core::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;

async fn queries_for(app: &TestApp, token: &str, path: &str) -> (u64, usize) {
    let before = app.queries.load(Ordering::SeqCst);
    let res = app.get(path, token).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let body: Value = res.json().await.unwrap();
    let rows = body["data"].as_array().unwrap().len();
    (app.queries.load(Ordering::SeqCst) - before, rows)
}

/// Waits until no query has run on the pool for a while.
async fn quiesce(app: &TestApp) {
    let mut last = app.queries.load(Ordering::SeqCst);
    let mut quiet = 0;
    while quiet < 5 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = app.queries.load(Ordering::SeqCst);
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
    }
}

async fn batch(app: &TestApp, token: &str, path: &str, items: Vec<Value>) {
    let res = app.post(path, token, json!({"items": items})).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let body: Value = res.json().await.unwrap();
    for item in body["data"].as_array().unwrap() {
        assert_eq!(item["status"], 201, "{item}");
    }
}

#[tokio::test]
async fn every_list_costs_the_same_number_of_queries_for_one_row_or_fifty() {
    // The hub's periodic reads share the counted pool: keep them out of the measurement.
    let app = TestApp::spawn_realtime(|s| {
        s.poll_interval = Duration::from_secs(3600);
        s.reminder_interval = Duration::from_secs(3600);
        s.prune_interval = Duration::from_secs(3600);
    })
    .await;
    let (_, token) = app.signed_in(Role::Admin).await;
    // Every deal and contact gets a custom field value (the default).
    app.custom_field(
        json!({"entityType": "deal", "key": "seats", "type": "NUMBER", "defaultValue": 1}),
    )
    .await;
    app.custom_field(
        json!({"entityType": "contact", "key": "level", "type": "SELECT",
                            "options": ["a", "b"], "defaultValue": "a"}),
    )
    .await;
    let n = 12;
    batch(
        &app,
        &token,
        "/api/companies/batch",
        (0..n)
            .map(|i| json!({"name": format!("Co {i}"), "tags": ["vip"]}))
            .collect(),
    )
    .await;
    batch(
        &app,
        &token,
        "/api/contacts/batch",
        (0..n)
            .map(|i| json!({"fullName": format!("Person {i}"), "tags": ["vip"]}))
            .collect(),
    )
    .await;
    batch(
        &app,
        &token,
        "/api/deals/batch",
        (0..n)
            .map(|i| json!({"title": format!("Deal {i}"), "amount": "10.00"}))
            .collect(),
    )
    .await;
    batch(
        &app,
        &token,
        "/api/tasks/batch",
        (0..n)
            .map(|i| json!({"title": format!("Task {i}")}))
            .collect(),
    )
    .await;
    for i in 0..3 {
        let res = app
            .post(
                "/api/pipelines",
                &token,
                json!({"name": format!("Pipeline {i}")}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    for _ in 0..3 {
        app.create_user(Role::Viewer).await;
    }
    // The writes above are numbered by the stamper and then read by the hub through the same
    // pool, a few milliseconds later: wait until that has happened.
    quiesce(&app).await;
    for list in [
        "/api/users",
        "/api/companies",
        "/api/contacts",
        "/api/contacts?company.industry=x",
        "/api/deals",
        "/api/deals?contact.email=nobody@example.com",
        "/api/deals?cf.seats.gte=1&sort=-cf.seats",
        "/api/contacts?cf.level=a&cf.level.exists=true",
        "/api/tasks",
        "/api/pipelines",
        "/api/activity",
    ] {
        let sep = if list.contains('?') { '&' } else { '?' };
        let (one, rows_one) = queries_for(&app, &token, &format!("{list}{sep}limit=1")).await;
        let (many, rows_many) = queries_for(&app, &token, &format!("{list}{sep}limit=50")).await;
        assert!(
            rows_one <= 1 && (rows_many > 1 || list.contains('=')),
            "{list}: {rows_one} / {rows_many} rows"
        );
        assert_eq!(
            one, many,
            "{list}: {one} queries for one row, {many} for {rows_many}"
        );
    }
}
