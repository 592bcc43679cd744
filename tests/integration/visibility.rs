//! One visibility rule for every read: a user whose `read_all` permissions are revoked sees,
//! counts, sums and links only the records tied to them, and the feed shows nothing else.

use crm_core::{Permission, Role};
use crm_testkit::UserBuilder;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestApp, assert_problem};

const READ_ALL: [Permission; 4] = [
    Permission::DealsReadAll,
    Permission::ContactsReadAll,
    Permission::CompaniesReadAll,
    Permission::TasksReadAll,
];

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.authed(Method::POST, path, token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn created(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let res = post(app, token, path, body.clone()).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{path} {body}");
    res.json::<Value>().await.unwrap()["data"].clone()
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let res = app.authed(Method::GET, path, token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.json().await.unwrap()
}

async fn default_pipeline(app: &TestApp, token: &str) -> Value {
    let list = get(app, token, "/api/pipelines").await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["isDefault"] == true)
        .unwrap()
        .clone()
}

/// The first stage's count and totals as `user` sees them.
async fn first_stage(app: &TestApp, token: &str, pipeline: &str) -> (i64, Value) {
    let summary = get(app, token, &format!("/api/pipelines/{pipeline}/summary")).await;
    let stage = &summary["data"][0];
    (stage["count"].as_i64().unwrap(), stage["totals"].clone())
}

#[tokio::test]
async fn the_pipeline_summary_counts_and_sums_only_visible_deals() {
    let app = TestApp::spawn().await;
    let (_, manager) = app.signed_in(Role::Manager).await;
    let (me, limited) = app
        .signed_in_as(UserBuilder::new(Role::Manager).revoke(READ_ALL))
        .await;
    let pipeline = default_pipeline(&app, &manager).await;
    let p = pipeline["id"].as_str().unwrap();
    for (title, amount) in [("Hidden one", "100.10"), ("Hidden two", "200.00")] {
        created(
            &app,
            &manager,
            "/api/deals",
            json!({"title": title, "amount": amount, "currency": "USD"}),
        )
        .await;
    }
    created(
        &app,
        &manager,
        "/api/deals",
        json!({"title": "Assigned", "amount": "7.50", "currency": "EUR", "assignedToId": me}),
    )
    .await;
    created(
        &app,
        &limited,
        "/api/deals",
        json!({"title": "Own", "amount": "5.00", "currency": "USD"}),
    )
    .await;
    let (count, totals) = first_stage(&app, &limited, p).await;
    assert_eq!(count, 2);
    assert_eq!(
        totals,
        json!([{"currency": "EUR", "amount": "7.50"}, {"currency": "USD", "amount": "5.00"}])
    );
    let (count, totals) = first_stage(&app, &manager, p).await;
    assert_eq!(count, 4);
    assert_eq!(
        totals,
        json!([{"currency": "EUR", "amount": "7.50"}, {"currency": "USD", "amount": "305.10"}])
    );
    // A viewer with no deal tied to them sees the stages, all empty.
    let (_, viewer) = app
        .signed_in_as(UserBuilder::new(Role::Viewer).revoke(READ_ALL))
        .await;
    let summary = get(&app, &viewer, &format!("/api/pipelines/{p}/summary")).await;
    let stages = summary["data"].as_array().unwrap();
    assert_eq!(stages.len(), pipeline["stages"].as_array().unwrap().len());
    assert!(
        stages
            .iter()
            .all(|s| s["count"] == 0 && s["totals"] == json!([]))
    );
}

#[tokio::test]
async fn the_feed_leaves_out_entries_of_records_the_reader_cannot_see() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let (me, viewer) = app
        .signed_in_as(UserBuilder::new(Role::Viewer).revoke(READ_ALL))
        .await;
    let hidden_deal = created(&app, &admin, "/api/deals", json!({"title": "Secret"})).await;
    let seen_deal = created(
        &app,
        &admin,
        "/api/deals",
        json!({"title": "Theirs", "assignedToId": me}),
    )
    .await;
    let hidden_contact = created(
        &app,
        &admin,
        "/api/contacts",
        json!({"fullName": "Hidden Person", "email": "hidden@example.com"}),
    )
    .await;
    let seen_contact = created(
        &app,
        &admin,
        "/api/contacts",
        json!({"fullName": "Owned Person", "ownerId": me}),
    )
    .await;
    let hidden_company = created(
        &app,
        &admin,
        "/api/companies",
        json!({"name": "Hidden Ltd"}),
    )
    .await;
    let hidden_task = created(&app, &admin, "/api/tasks", json!({"title": "Secret task"})).await;
    let seen_task = created(
        &app,
        &admin,
        "/api/tasks",
        json!({"title": "Their task", "assignedToId": me}),
    )
    .await;
    let pipeline = created(&app, &admin, "/api/pipelines", json!({"name": "Partners"})).await;

    let entity_ids = |feed: &Value| -> Vec<String> {
        feed["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["entityId"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = entity_ids(&get(&app, &admin, "/api/activity?limit=100").await);
    let visible = entity_ids(&get(&app, &viewer, "/api/activity?limit=100").await);
    for record in [
        &hidden_deal,
        &seen_deal,
        &hidden_contact,
        &seen_contact,
        &hidden_company,
        &hidden_task,
        &seen_task,
        &pipeline,
    ] {
        assert!(all.contains(&record["id"].as_str().unwrap().to_owned()));
    }
    for seen in [&seen_deal, &seen_contact, &seen_task, &pipeline] {
        assert!(
            visible.contains(&seen["id"].as_str().unwrap().to_owned()),
            "{seen}"
        );
    }
    for hidden in [&hidden_deal, &hidden_contact, &hidden_company, &hidden_task] {
        assert!(
            !visible.contains(&hidden["id"].as_str().unwrap().to_owned()),
            "{hidden}"
        );
    }
    let deals_only = get(&app, &viewer, "/api/activity?entityType=deal&limit=100").await;
    assert_eq!(
        entity_ids(&deals_only),
        vec![seen_deal["id"].as_str().unwrap().to_owned()]
    );
}

#[tokio::test]
async fn linking_to_an_invisible_record_answers_as_for_a_missing_one() {
    let app = TestApp::spawn().await;
    let (_, manager) = app.signed_in(Role::Manager).await;
    let (_, limited) = app
        .signed_in_as(UserBuilder::new(Role::Manager).revoke(READ_ALL))
        .await;
    let deal = created(&app, &manager, "/api/deals", json!({"title": "Not yours"})).await;
    let contact = created(
        &app,
        &manager,
        "/api/contacts",
        json!({"fullName": "Not Yours"}),
    )
    .await;
    let company = created(
        &app,
        &manager,
        "/api/companies",
        json!({"name": "Not Yours"}),
    )
    .await;
    let missing = Uuid::now_v7().to_string();
    let cases = [
        (
            "/api/tasks",
            "dealId",
            &deal,
            json!({"title": "Call"}),
            "unknown_deal",
        ),
        (
            "/api/tasks",
            "contactId",
            &contact,
            json!({"title": "Call"}),
            "unknown_contact",
        ),
        (
            "/api/deals",
            "contactId",
            &contact,
            json!({"title": "Deal"}),
            "unknown_contact",
        ),
        (
            "/api/deals",
            "companyId",
            &company,
            json!({"title": "Deal"}),
            "unknown_company",
        ),
        (
            "/api/contacts",
            "companyId",
            &company,
            json!({"fullName": "Someone"}),
            "unknown_company",
        ),
    ];
    for (path, field, record, base, code) in cases {
        for id in [record["id"].as_str().unwrap(), missing.as_str()] {
            let mut body = base.clone();
            body[field] = json!(id);
            assert_problem(post(&app, &limited, path, body).await, 422, code).await;
        }
        // The same link is fine for someone who can read the record.
        let mut body = base.clone();
        body[field] = record["id"].clone();
        created(&app, &manager, path, body).await;
    }
    // Nothing was created by the refused calls.
    let tasks = get(&app, &limited, "/api/tasks").await;
    assert_eq!(tasks["data"], json!([]));
}
