//! `/api/deals`: exact amounts, placement on stages, moves, visibility, filters, batch, trash,
//! activity and permissions.

use crm_core::{Permission, Role};
use crm_db::schema::{companies, contacts, pipelines, stages};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestApp, assert_problem, id, strings};
use crm_testkit::UserBuilder;

/// A second pipeline with one OPEN stage; returns (pipeline, stage).
async fn other_pipeline(app: &TestApp) -> (Uuid, Uuid) {
    let mut conn = app.pool.get().await.unwrap();
    let (p, s) = (Uuid::now_v7(), Uuid::now_v7());
    diesel::insert_into(pipelines::table)
        .values((pipelines::id.eq(p), pipelines::name.eq("Partners")))
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::insert_into(stages::table)
        .values((
            stages::id.eq(s),
            stages::pipeline_id.eq(p),
            stages::name.eq("Intro"),
            stages::position.eq(0),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    (p, s)
}

async fn insert_company(app: &TestApp, name: &str) -> Uuid {
    let mut conn = app.pool.get().await.unwrap();
    let id = Uuid::now_v7();
    diesel::insert_into(companies::table)
        .values((companies::id.eq(id), companies::name.eq(name)))
        .execute(&mut conn)
        .await
        .unwrap();
    id
}

async fn insert_contact(app: &TestApp, email: &str) -> Uuid {
    let mut conn = app.pool.get().await.unwrap();
    let id = Uuid::now_v7();
    diesel::insert_into(contacts::table)
        .values((
            contacts::id.eq(id),
            contacts::full_name.eq("Grace Hopper"),
            contacts::email.eq(email),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    id
}

/// A manager without `deals.read_all`, signed in.
async fn limited_user(app: &TestApp) -> (Uuid, String) {
    app.signed_in_as(UserBuilder::new(Role::Manager).revoke([Permission::DealsReadAll]))
        .await
}

async fn move_to(app: &TestApp, token: &str, id: &Value, body: Value) -> reqwest::Response {
    app.post(
        &format!("/api/deals/{}/move", id.as_str().unwrap()),
        token,
        body,
    )
    .await
}

/// Titles of a stage's deals in board order, checking every deal has a key of its own.
async fn stage_titles(app: &TestApp, token: &str, stage: Uuid) -> Vec<String> {
    let body = app
        .get_json(
            &format!("/api/deals?stageId={stage}&sort=position&limit=100"),
            token,
        )
        .await;
    let data = body["data"].as_array().unwrap();
    let keys: Vec<i64> = data
        .iter()
        .map(|d| d["position"].as_i64().unwrap())
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{body}");
    data.iter()
        .map(|d| d["title"].as_str().unwrap().to_owned())
        .collect()
}

fn ids(body: &Value) -> Vec<String> {
    let mut v: Vec<String> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn amounts_are_exact_decimal_strings_and_numbers_are_refused() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let deal = app
        .create(
            "/api/deals",
            &token,
            json!({"title": "Dime", "amount": "0.10"}),
        )
        .await;
    assert_eq!(deal["amount"], "0.10");
    let path = format!("/api/deals/{}", deal["id"].as_str().unwrap());
    assert_eq!(app.get_json(&path, &token).await["data"]["amount"], "0.10");
    let res = app
        .patch(&path, &token, json!({"amount": "12345678901234567.89"}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["amount"], "12345678901234567.89");
    assert_eq!(
        app.get_json(&path, &token).await["data"]["amount"],
        "12345678901234567.89"
    );
    let whole = app
        .create(
            "/api/deals",
            &token,
            json!({"title": "Whole", "amount": "1500"}),
        )
        .await;
    assert_eq!(whole["amount"], "1500.00");
    for bad in [
        json!(1500.5),
        json!(10),
        json!("-5.00"),
        json!("1e3"),
        json!("1.999"),
    ] {
        let res = app
            .post("/api/deals", &token, json!({"title": "Bad", "amount": bad}))
            .await;
        let problem = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "amount", "{bad}");
        let res = app.patch(&path, &token, json!({"amount": bad})).await;
        assert_problem(res, 400, "validation_failed").await;
    }
    for (body, field) in [
        (json!({"title": ""}), "title"),
        (json!({"title": "x".repeat(301)}), "title"),
        (json!({"title": "T", "currency": "euro"}), "currency"),
        (json!({"title": "T", "customFields": "no"}), "customFields"),
        (json!({"title": "T", "tags": [""]}), "tags"),
        (
            json!({"title": "T", "lostReason": "x".repeat(1001)}),
            "lostReason",
        ),
        (
            json!({"title": "T", "description": "x".repeat(10_001)}),
            "description",
        ),
    ] {
        let res = app.post("/api/deals", &token, body.clone()).await;
        let problem = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let res = app
        .post("/api/deals", &token, json!({"title": "T", "status": "won"}))
        .await;
    assert_problem(res, 400, "invalid_body").await;
}

#[tokio::test]
async fn deals_land_on_the_default_pipeline_and_refuse_unfitting_references() {
    let app = TestApp::spawn().await;
    let (me, token) = app.signed_in(Role::Manager).await;
    let (sales, stages) = app.sales_stages().await;
    let body = json!({"title": "First", "currency": "EUR", "tags": ["vip", "VIP"]});
    let (_, deal) = app.create_located("/api/deals", &token, body).await;
    assert_eq!(deal["pipelineId"], json!(sales));
    assert_eq!(deal["stageId"], json!(stages[0]));
    assert!(deal["position"].is_i64());
    assert_eq!(deal["status"], "open");
    assert_eq!(deal["closedAt"], Value::Null);
    assert_eq!(deal["deletedAt"], Value::Null);
    assert_eq!(deal["version"], 1);
    assert_eq!(deal["tags"], json!(["vip"]));
    assert_eq!(deal["createdById"], json!(me.user.id));
    assert!(deal["number"].is_i64());
    let second = app
        .create("/api/deals", &token, json!({"title": "Second"}))
        .await;
    assert!(second["position"].as_i64() > deal["position"].as_i64());
    assert_eq!(second["number"], deal["number"].as_i64().unwrap() + 1);
    let won = app
        .create(
            "/api/deals",
            &token,
            json!({"title": "Won", "stageId": stages[4]}),
        )
        .await;
    assert_eq!(won["status"], "won");
    assert!(won["closedAt"].is_string());
    let (other, other_stage) = other_pipeline(&app).await;
    let in_other = app
        .create(
            "/api/deals",
            &token,
            json!({"title": "P", "pipelineId": other}),
        )
        .await;
    assert_eq!(in_other["stageId"], json!(other_stage));
    for (body, code) in [
        (
            json!({"title": "X", "pipelineId": sales, "stageId": other_stage}),
            "stage_not_in_pipeline",
        ),
        (
            json!({"title": "X", "stageId": Uuid::now_v7()}),
            "unknown_stage",
        ),
        (
            json!({"title": "X", "pipelineId": Uuid::now_v7()}),
            "unknown_pipeline",
        ),
        (
            json!({"title": "X", "contactId": Uuid::now_v7()}),
            "unknown_contact",
        ),
        (
            json!({"title": "X", "companyId": Uuid::now_v7()}),
            "unknown_company",
        ),
        (
            json!({"title": "X", "assignedToId": Uuid::now_v7()}),
            "unknown_user",
        ),
    ] {
        let res = app.post("/api/deals", &token, body).await;
        assert_problem(res, 422, code).await;
    }
    // A stage of another pipeline is refused by move and by PATCH without pipelineId.
    let res = move_to(&app, &token, &deal["id"], json!({"stageId": other_stage})).await;
    assert_problem(res, 422, "stage_not_in_pipeline").await;
    let path = format!("/api/deals/{}", deal["id"].as_str().unwrap());
    let res = app
        .patch(&path, &token, json!({"stageId": other_stage}))
        .await;
    assert_problem(res, 422, "stage_not_in_pipeline").await;
    let res = app
        .patch(
            &path,
            &token,
            json!({"pipelineId": other, "stageId": other_stage}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let moved: Value = res.json().await.unwrap();
    assert_eq!(moved["data"]["pipelineId"], json!(other));
    assert!(moved["data"]["position"].as_i64() > in_other["position"].as_i64());
    // The deal left the old stage.
    assert_eq!(
        stage_titles(&app, &token, stages[0]).await,
        ["Second".to_owned()]
    );
}

#[tokio::test]
async fn moving_cards_reorders_stages_exactly_and_records_the_stage_change() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let (_, stages) = app.sales_stages().await;
    let mut deals = Vec::new();
    for t in ["A", "B", "C", "D"] {
        deals.push(app.create("/api/deals", &token, json!({"title": t})).await);
    }
    // To the top, to the middle, to the end.
    let res = move_to(
        &app,
        &token,
        &deals[3]["id"],
        json!({"stageId": stages[0], "position": 0}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["etag"], "\"2\"");
    assert_eq!(
        stage_titles(&app, &token, stages[0]).await,
        ["D", "A", "B", "C"]
    );
    // Without `sort`, a stage lists in board order.
    let board = app
        .get_json(&format!("/api/deals?stageId={}", stages[0]), &token)
        .await;
    let titles = strings(&board, "title");
    assert_eq!(titles, ["D", "A", "B", "C"]);
    let res = move_to(
        &app,
        &token,
        &deals[0]["id"],
        json!({"stageId": stages[0], "position": 2}),
    )
    .await;
    let a_moved: Value = res.json().await.unwrap();
    assert_eq!(
        stage_titles(&app, &token, stages[0]).await,
        ["D", "B", "A", "C"]
    );
    move_to(
        &app,
        &token,
        &deals[3]["id"],
        json!({"stageId": stages[0], "position": 50}),
    )
    .await;
    assert_eq!(
        stage_titles(&app, &token, stages[0]).await,
        ["B", "A", "C", "D"]
    );
    // Across stages of the same pipeline.
    move_to(&app, &token, &deals[1]["id"], json!({"stageId": stages[1]})).await;
    move_to(
        &app,
        &token,
        &deals[2]["id"],
        json!({"stageId": stages[1], "position": 0}),
    )
    .await;
    assert_eq!(stage_titles(&app, &token, stages[0]).await, ["A", "D"]);
    assert_eq!(stage_titles(&app, &token, stages[1]).await, ["C", "B"]);
    // If-Match is honoured.
    let won_path = format!("/api/deals/{}/move", id(&deals[0]));
    let into_won = json!({"stageId": stages[4]});
    let to_won = |version| {
        app.send_if(
            Method::POST,
            &won_path,
            &token,
            version,
            Some(into_won.clone()),
        )
    };
    assert_problem(to_won(7).await, 412, "version_mismatch").await;
    assert_eq!(stage_titles(&app, &token, stages[0]).await, ["A", "D"]);
    let res = to_won(2).await;
    assert_eq!(res.status(), StatusCode::OK);
    let won: Value = res.json().await.unwrap();
    assert_eq!(won["data"]["status"], "won");
    let closed_at = won["data"]["closedAt"].clone();
    assert!(closed_at.is_string());
    // Back to an open stage: closedAt cleared.
    let res = move_to(&app, &token, &deals[0]["id"], json!({"stageId": stages[2]})).await;
    let reopened: Value = res.json().await.unwrap();
    assert_eq!(reopened["data"]["status"], "open");
    assert_eq!(reopened["data"]["closedAt"], Value::Null);
    let res = move_to(
        &app,
        &token,
        &deals[0]["id"],
        json!({"stageId": stages[0], "position": -1}),
    )
    .await;
    let problem = assert_problem(res, 400, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "position");
    let res = move_to(
        &app,
        &token,
        &deals[0]["id"],
        json!({"stageId": Uuid::now_v7()}),
    )
    .await;
    assert_problem(res, 422, "unknown_stage").await;
    // The timeline.
    let timeline = app.activity("deal", &id(&deals[0]), &token).await;
    let entries = &timeline["data"];
    assert_eq!(
        strings(&timeline, "type"),
        [
            "deal.stage.changed",
            "deal.stage.changed",
            "deal.updated",
            "deal.created"
        ]
    );
    let won_changes = &entries[1]["changes"];
    assert_eq!(
        won_changes,
        &json!([
            {"field": "closedAt", "from": null, "to": closed_at},
            {"field": "stageId", "from": stages[0], "to": stages[4]},
            {"field": "status", "from": "open", "to": "won"},
        ])
    );
    assert_eq!(
        entries[2]["changes"],
        json!([{"field": "position", "from": deals[0]["position"], "to": a_moved["data"]["position"]}])
    );
}

#[tokio::test]
async fn concurrent_moves_over_http_leave_every_card_on_one_stage_with_its_own_key() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let (_, stages) = app.sales_stages().await;
    let mut deals = Vec::new();
    for i in 0..10 {
        deals.push(
            app.create("/api/deals", &token, json!({"title": format!("D{i}")}))
                .await,
        );
    }
    let moves = deals.iter().enumerate().map(|(i, d)| {
        let stage = if i % 3 == 0 { stages[1] } else { stages[0] };
        move_to(
            &app,
            &token,
            &d["id"],
            json!({"stageId": stage, "position": (i * 3) % 4}),
        )
    });
    for res in futures_util::future::join_all(moves).await {
        assert_eq!(res.status(), StatusCode::OK);
    }
    let first = stage_titles(&app, &token, stages[0]).await;
    let second = stage_titles(&app, &token, stages[1]).await;
    assert_eq!((first.len(), second.len()), (6, 4));
}

#[tokio::test]
async fn without_read_all_users_see_only_deals_they_created_or_are_assigned_to() {
    let (app, [manager]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let (me, limited) = limited_user(&app).await;
    let (_, stages) = app.sales_stages().await;
    let own = app
        .create("/api/deals", &limited, json!({"title": "Own"}))
        .await;
    let assigned = app
        .create(
            "/api/deals",
            &manager,
            json!({"title": "Assigned", "assignedToId": me}),
        )
        .await;
    let hidden = app
        .create("/api/deals", &manager, json!({"title": "Hidden"}))
        .await;
    let list = app.get_json("/api/deals", &limited).await;
    assert_eq!(list["meta"]["total"], 2);
    assert_eq!(
        ids(&list),
        sorted(vec![
            own["id"].as_str().unwrap().to_owned(),
            assigned["id"].as_str().unwrap().to_owned()
        ])
    );
    let path = format!("/api/deals/{}", hidden["id"].as_str().unwrap());
    for (method, path, body) in [
        (Method::GET, path.clone(), None),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"title": "Mine now"})),
        ),
        (Method::DELETE, path.clone(), None),
        (
            Method::POST,
            format!("{path}/move"),
            Some(json!({"stageId": stages[1]})),
        ),
        (
            Method::GET,
            format!(
                "/api/activity?entityType=deal&entityId={}",
                hidden["id"].as_str().unwrap()
            ),
            None,
        ),
    ] {
        let res = app.send(method, &path, &limited, body).await;
        assert_problem(res, 404, "not_found").await;
    }
    let assigned_path = format!("/api/deals/{}", assigned["id"].as_str().unwrap());
    app.get_json(&assigned_path, &limited).await;
    assert_eq!(
        app.get_json("/api/deals", &manager).await["meta"]["total"],
        3
    );
}

#[tokio::test]
async fn every_filter_sort_and_the_cursor_narrow_the_list() {
    let app = TestApp::spawn().await;
    let (user, token) = app.signed_in(Role::Manager).await;
    let (sales, stages) = app.sales_stages().await;
    let (other, _) = other_pipeline(&app).await;
    let acme = insert_company(&app, "Acme Widgets").await;
    let globex = insert_company(&app, "Globex").await;
    let grace = insert_contact(&app, "grace@navy.mil").await;
    let alan = insert_contact(&app, "alan@bletchley.uk").await;
    let a = app
        .create(
            "/api/deals",
            &token,
            json!({"title": "Alpha 100% deal", "amount": "100.00", "companyId": acme,
               "contactId": grace, "tags": ["hot"], "assignedToId": user.user.id}),
        )
        .await;
    let b = app
        .create(
            "/api/deals",
            &token,
            json!({"title": "Beta", "amount": "250.50", "companyId": globex, "contactId": alan,
               "stageId": stages[4], "expectedCloseAt": "2027-01-01T00:00:00Z"}),
        )
        .await;
    let c = app
        .create(
            "/api/deals",
            &token,
            json!({"title": "Gamma", "pipelineId": other}),
        )
        .await;
    let d = app
        .create(
            "/api/deals",
            &token,
            json!({"title": "Delta", "amount": "99.99", "stageId": stages[5]}),
        )
        .await;
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let cases: Vec<(String, Vec<String>)> = vec![
        (format!("pipelineId={sales}"), vec![id(&a), id(&b), id(&d)]),
        (format!("pipelineId={other}"), vec![id(&c)]),
        (format!("stageId={}", stages[4]), vec![id(&b)]),
        (format!("assignedToId={}", user.user.id), vec![id(&a)]),
        (format!("contactId={alan}"), vec![id(&b)]),
        (format!("companyId={acme}"), vec![id(&a)]),
        ("status=open".into(), vec![id(&a), id(&c)]),
        ("status=won".into(), vec![id(&b)]),
        ("status=lost".into(), vec![id(&d)]),
        ("amountMin=100.00".into(), vec![id(&a), id(&b)]),
        ("amountMax=100".into(), vec![id(&a), id(&d)]),
        ("amountMin=99.99&amountMax=99.99".into(), vec![id(&d)]),
        ("tag=hot".into(), vec![id(&a)]),
        ("q=ALPHA".into(), vec![id(&a)]),
        ("q=100%25".into(), vec![id(&a)]),
        ("q=%25".into(), vec![id(&a)]),
        ("q=_".into(), vec![]),
        ("contact.email=GRACE@navy.mil".into(), vec![id(&a)]),
        ("contact.email=grace".into(), vec![]),
        ("company.name=widget".into(), vec![id(&a)]),
        ("company.name=GLOB".into(), vec![id(&b)]),
        (
            "updatedSince=2000-01-01T00:00:00Z".into(),
            vec![id(&a), id(&b), id(&c), id(&d)],
        ),
        ("updatedSince=2100-01-01T00:00:00Z".into(), vec![]),
        ("deleted=true".into(), vec![]),
    ];
    for (query, expected) in cases {
        let body = app.get_json(&format!("/api/deals?{query}"), &token).await;
        assert_eq!(ids(&body), sorted(expected), "{query}");
    }
    let titles = |body: &Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let by_amount = app.get_json("/api/deals?sort=-amount", &token).await;
    assert_eq!(
        titles(&by_amount),
        ["Beta", "Alpha 100% deal", "Delta", "Gamma"]
    );
    let by_title = app.get_json("/api/deals?sort=title", &token).await;
    assert_eq!(
        titles(&by_title),
        ["Alpha 100% deal", "Beta", "Delta", "Gamma"]
    );
    let by_number = app.get_json("/api/deals?sort=-number", &token).await;
    assert_eq!(
        titles(&by_number),
        ["Delta", "Gamma", "Beta", "Alpha 100% deal"]
    );
    let by_close = app
        .get_json("/api/deals?sort=expectedCloseAt,createdAt", &token)
        .await;
    assert_eq!(titles(&by_close)[0], "Beta");
    app.get_json("/api/deals?sort=-updatedAt,position", &token)
        .await;
    // Keyset paging.
    let first = app.get_json("/api/deals?cursor=&limit=3", &token).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 3);
    let next = first["meta"]["nextCursor"].as_str().unwrap().to_owned();
    let second = app
        .get_json(&format!("/api/deals?cursor={next}&limit=3"), &token)
        .await;
    assert_eq!(titles(&second), ["Delta"]);
    assert_eq!(second["meta"]["nextCursor"], Value::Null);
    let page2 = app.get_json("/api/deals?page=2&limit=3", &token).await;
    assert_eq!(page2["meta"], json!({"page": 2, "limit": 3, "total": 4}));
    for (query, code) in [
        ("sort=amount&cursor=", "validation_failed"),
        ("sort=secret", "validation_failed"),
        ("cursor=garbage", "validation_failed"),
        ("amountMin=ten", "validation_failed"),
        ("amountMax=1.234", "validation_failed"),
        ("limit=101", "validation_failed"),
        ("status=pending", "invalid_query"),
        ("updatedSince=yesterday", "invalid_query"),
        ("colour=red", "invalid_query"),
        ("contact.phone=1", "invalid_query"),
    ] {
        let res = app.get(&format!("/api/deals?{query}"), &token).await;
        assert_problem(res, 400, code).await;
    }
}

#[tokio::test]
async fn a_batch_applies_valid_items_and_reports_failed_ones() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let existing = app
        .create("/api/deals", &token, json!({"title": "Existing"}))
        .await;
    let (statuses, results) = app
        .batch(
            "/api/deals",
            &token,
            json!([
                {"title": "New one", "amount": "10.00"},
                {"title": "Bad amount", "amount": 10.0},
                {"id": existing["id"], "version": 1, "title": "Renamed"},
                {"id": existing["id"], "version": 1, "title": "Stale"},
                {"id": Uuid::now_v7(), "title": "Missing"},
                {"title": "Unknown stage", "stageId": Uuid::now_v7()},
            ]),
        )
        .await;
    assert_eq!(statuses, [201, 400, 200, 412, 404, 422]);
    assert_eq!(results[0]["data"]["amount"], "10.00");
    assert_eq!(results[1]["problem"]["errors"][0]["field"], "amount");
    assert_eq!(results[2]["data"]["title"], "Renamed");
    assert_eq!(results[5]["problem"]["code"], "unknown_stage");
    let list = app.get_json("/api/deals", &token).await;
    assert_eq!(list["meta"]["total"], 2);
}

#[tokio::test]
async fn trash_restore_and_permanent_deletion() {
    let (app, [admin, manager]) = TestApp::spawn_signed_in([Role::Admin, Role::Manager]).await;
    let (_, stages) = app.sales_stages().await;
    let a = app
        .create("/api/deals", &manager, json!({"title": "A"}))
        .await;
    app.create("/api/deals", &manager, json!({"title": "B"}))
        .await;
    let path = format!("/api/deals/{}", a["id"].as_str().unwrap());
    let res = app.delete_if(&path, &manager, 5).await;
    assert_problem(res, 412, "version_mismatch").await;
    let res = app.delete(&path, &manager).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, &manager).await, 404, "not_found").await;
    assert_eq!(stage_titles(&app, &manager, stages[0]).await, ["B"]);
    let trash = app.get_json("/api/deals?deleted=true", &manager).await;
    assert_eq!(trash["data"][0]["id"], a["id"]);
    assert!(trash["data"][0]["deletedAt"].is_string());
    let res = app.restore(&path, &manager).await;
    assert_eq!(res.status(), StatusCode::OK);
    let restored: Value = res.json().await.unwrap();
    assert_eq!(restored["data"]["deletedAt"], Value::Null);
    assert_eq!(stage_titles(&app, &manager, stages[0]).await, ["B", "A"]);
    let res = app.restore(&path, &manager).await;
    assert_problem(res, 404, "not_found").await;
    let timeline = app.activity("deal", &id(&a), &manager).await;
    let kinds = strings(&timeline, "type");
    assert_eq!(kinds, ["deal.restored", "deal.deleted", "deal.created"]);
    let permanent = format!("{path}?permanent=true");
    let res = app.delete(&permanent, &manager).await;
    assert_problem(res, 403, "forbidden").await;
    let res = app.delete(&permanent, &admin).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_problem(app.restore(&path, &admin).await, 404, "not_found").await;
    assert_eq!(
        app.get_json("/api/deals?deleted=true", &admin).await["meta"]["total"],
        0
    );
    let res = app.delete(&format!("{path}?forever=true"), &admin).await;
    assert_problem(res, 400, "invalid_query").await;
}

#[tokio::test]
async fn viewers_read_deals_but_every_write_is_forbidden() {
    let (app, [manager, viewer]) = TestApp::spawn_signed_in([Role::Manager, Role::Viewer]).await;
    let (_, stages) = app.sales_stages().await;
    let deal = app
        .create("/api/deals", &manager, json!({"title": "Visible"}))
        .await;
    let path = format!("/api/deals/{}", deal["id"].as_str().unwrap());
    app.get_json(&path, &viewer).await;
    assert_eq!(
        app.get_json("/api/deals", &viewer).await["meta"]["total"],
        1
    );
    app.assert_writes_forbidden(&viewer, "/api/deals", &path, json!({"title": "X"}))
        .await;
    let moved = app
        .post(
            &format!("{path}/move"),
            &viewer,
            json!({"stageId": stages[1]}),
        )
        .await;
    assert_problem(moved, 403, "forbidden").await;
    let unchanged = app.get_json(&path, &manager).await;
    assert_eq!(unchanged["data"]["version"], 1);
    assert_eq!(
        app.get_json("/api/deals", &manager).await["meta"]["total"],
        1
    );
    let res = app.send_anonymous(Method::GET, "/api/deals", None).await;
    assert_problem(res, 401, "missing_token").await;
}

#[tokio::test]
async fn patch_sets_and_clears_fields_honours_if_match_and_logs_both_kinds_of_change() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let (_, stages) = app.sales_stages().await;
    let company = insert_company(&app, "Initech").await;
    let contact = insert_contact(&app, "peter@initech.com").await;
    let deal = app
        .create("/api/deals", &token, json!({"title": "Printer"}))
        .await;
    app.custom_field(json!({"entityType": "deal", "key": "seats", "type": "NUMBER"}))
        .await;
    let path = format!("/api/deals/{}", deal["id"].as_str().unwrap());
    let res = app
        .patch_if(
            &path,
            &token,
            1,
            json!({"contactId": contact, "companyId": company, "description": "TPS",
                      "expectedCloseAt": "2027-03-01T12:00:00Z", "customFields": {"seats": 3}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["contactId"], json!(contact));
    assert_eq!(body["data"]["companyId"], json!(company));
    assert_eq!(body["data"]["customFields"], json!({"seats": 3}));
    let res = app
        .patch_if(&path, &token, 1, json!({"title": "Lost update"}))
        .await;
    assert_problem(res, 412, "version_mismatch").await;
    assert_eq!(
        app.get_json(&path, &token).await["data"]["title"],
        "Printer"
    );
    let res = app
        .patch(
            &path,
            &token,
            json!({"contactId": null, "description": null}),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["contactId"], Value::Null);
    assert_eq!(body["data"]["description"], Value::Null);
    assert_eq!(body["data"]["companyId"], json!(company));
    for (patch, status, code) in [
        (json!({"title": null}), 400, "invalid_body"),
        (json!({"stageId": null}), 400, "invalid_body"),
        (json!({"customFields": null}), 400, "validation_failed"),
        (json!({"contactId": Uuid::now_v7()}), 422, "unknown_contact"),
        (json!({"assignedToId": Uuid::now_v7()}), 422, "unknown_user"),
        (
            json!({"pipelineId": Uuid::now_v7()}),
            422,
            "unknown_pipeline",
        ),
        (json!({"status": "won"}), 400, "invalid_body"),
    ] {
        let res = app.patch(&path, &token, patch).await;
        assert_problem(res, status, code).await;
    }
    // A deactivated user cannot be assigned.
    let gone = app.create_user(Role::Manager).await;
    let mut conn = app.pool.get().await.unwrap();
    diesel::update(crm_db::schema::users::table.find(gone.user.id.0))
        .set(crm_db::schema::users::is_active.eq(false))
        .execute(&mut conn)
        .await
        .unwrap();
    let res = app
        .patch(&path, &token, json!({"assignedToId": gone.user.id}))
        .await;
    assert_problem(res, 422, "unknown_user").await;
    // Stage and title in one PATCH: one entry of each kind.
    let res = app
        .patch(
            &path,
            &token,
            json!({"stageId": stages[5], "title": "Printer (lost)", "lostReason": "Budget"}),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["status"], "lost");
    assert!(body["data"]["closedAt"].is_string());
    let timeline = app.activity("deal", &id(&deal), &token).await;
    let entries = timeline["data"].as_array().unwrap();
    let mut latest: Vec<(&str, Vec<&str>)> = entries[..2]
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["changes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["field"].as_str().unwrap())
                    .collect(),
            )
        })
        .collect();
    latest.sort();
    assert_eq!(
        latest,
        [
            ("deal.stage.changed", vec!["closedAt", "stageId", "status"]),
            ("deal.updated", vec!["lostReason", "title"]),
        ]
    );
}
