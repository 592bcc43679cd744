//! One visibility rule for every read: a user whose `read_all` permissions are revoked sees,
//! counts, sums and links only the records tied to them, and the feed shows nothing else.

use crm_core::{Permission, Role};
use crm_testkit::UserBuilder;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestApp, assert_problem};

const READ_ALL: [Permission; 4] = [
    Permission::DealsReadAll,
    Permission::ContactsReadAll,
    Permission::CompaniesReadAll,
    Permission::TasksReadAll,
];

/// The first stage's count and totals as `user` sees them.
async fn first_stage(app: &TestApp, token: &str, pipeline: &str) -> (i64, Value) {
    let summary = app
        .get_json(&format!("/api/pipelines/{pipeline}/summary"), token)
        .await;
    let stage = &summary["data"][0];
    (stage["count"].as_i64().unwrap(), stage["totals"].clone())
}

#[tokio::test]
async fn the_pipeline_summary_counts_and_sums_only_visible_deals() {
    let (app, [manager]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let (me, limited) = app
        .signed_in_as(UserBuilder::new(Role::Manager).revoke(READ_ALL))
        .await;
    let pipeline = app.default_pipeline(&manager).await;
    let p = pipeline["id"].as_str().unwrap();
    for (title, amount) in [("Hidden one", "100.10"), ("Hidden two", "200.00")] {
        app.create(
            "/api/deals",
            &manager,
            json!({"title": title, "amount": amount, "currency": "USD"}),
        )
        .await;
    }
    app.create(
        "/api/deals",
        &manager,
        json!({"title": "Assigned", "amount": "7.50", "currency": "EUR", "assignedToId": me}),
    )
    .await;
    app.create(
        "/api/deals",
        &limited,
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
    let summary = app
        .get_json(&format!("/api/pipelines/{p}/summary"), &viewer)
        .await;
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
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let (me, viewer) = app
        .signed_in_as(UserBuilder::new(Role::Viewer).revoke(READ_ALL))
        .await;
    let hidden_deal = app
        .create("/api/deals", &admin, json!({"title": "Secret"}))
        .await;
    let seen_deal = app
        .create(
            "/api/deals",
            &admin,
            json!({"title": "Theirs", "assignedToId": me}),
        )
        .await;
    let hidden_contact = app
        .create(
            "/api/contacts",
            &admin,
            json!({"fullName": "Hidden Person", "email": "hidden@example.com"}),
        )
        .await;
    let seen_contact = app
        .create(
            "/api/contacts",
            &admin,
            json!({"fullName": "Owned Person", "ownerId": me}),
        )
        .await;
    let hidden_company = app
        .create("/api/companies", &admin, json!({"name": "Hidden Ltd"}))
        .await;
    let hidden_task = app
        .create("/api/tasks", &admin, json!({"title": "Secret task"}))
        .await;
    let seen_task = app
        .create(
            "/api/tasks",
            &admin,
            json!({"title": "Their task", "assignedToId": me}),
        )
        .await;
    let pipeline = app
        .create("/api/pipelines", &admin, json!({"name": "Partners"}))
        .await;

    let entity_ids = |feed: &Value| -> Vec<String> {
        feed["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["entityId"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = entity_ids(&app.get_json("/api/activity?limit=100", &admin).await);
    let visible = entity_ids(&app.get_json("/api/activity?limit=100", &viewer).await);
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
    let deals_only = app
        .get_json("/api/activity?entityType=deal&limit=100", &viewer)
        .await;
    assert_eq!(
        entity_ids(&deals_only),
        vec![seen_deal["id"].as_str().unwrap().to_owned()]
    );
}

#[tokio::test]
async fn linking_to_an_invisible_record_answers_as_for_a_missing_one() {
    let (app, [manager]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let (_, limited) = app
        .signed_in_as(UserBuilder::new(Role::Manager).revoke(READ_ALL))
        .await;
    let deal = app
        .create("/api/deals", &manager, json!({"title": "Not yours"}))
        .await;
    let contact = app
        .create("/api/contacts", &manager, json!({"fullName": "Not Yours"}))
        .await;
    let company = app
        .create("/api/companies", &manager, json!({"name": "Not Yours"}))
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
            assert_problem(app.post(path, &limited, body).await, 422, code).await;
        }
        // The same link is fine for someone who can read the record.
        let mut body = base.clone();
        body[field] = record["id"].clone();
        app.create(path, &manager, body).await;
    }
    // Nothing was created by the refused calls.
    let tasks = app.get_json("/api/tasks", &limited).await;
    assert_eq!(tasks["data"], json!([]));
}
