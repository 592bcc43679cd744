//! `/api/pipelines` and `/api/stages`: permissions, CRUD, the one default pipeline, stage order,
//! deletions that move deals, type changes, the summary and the activity entries.

use crm_core::Role;
use diesel_async::RunQueryDsl;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestApp, assert_problem, data, id, strings};

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

async fn get(app: &TestApp, path: &str, token: &str) -> Value {
    app.get_json(path, token).await["data"].clone()
}

fn uuid(v: &Value) -> Uuid {
    id(v).parse().unwrap()
}

/// Inserts a deal straight into `deals` (the deals API is built elsewhere).
async fn insert_deal(
    app: &TestApp,
    stage: &Value,
    position: i64,
    amount: Option<&str>,
    currency: &str,
    trashed: bool,
) -> Uuid {
    let mut conn = app.pool.get().await.unwrap();
    let deal = Uuid::now_v7();
    diesel::sql_query(
        "INSERT INTO deals (id, title, amount, currency, pipeline_id, stage_id, position, status, deleted_at) \
         SELECT $1, 'Deal', $2::numeric, $3, s.pipeline_id, s.id, $5, lower(s.type), \
                CASE WHEN $6 THEN now() ELSE NULL END \
         FROM stages s WHERE s.id = $4",
    )
    .bind::<diesel::sql_types::Uuid, _>(deal)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(amount)
    .bind::<diesel::sql_types::Text, _>(currency)
    .bind::<diesel::sql_types::Uuid, _>(uuid(stage))
    .bind::<diesel::sql_types::BigInt, _>(position)
    .bind::<diesel::sql_types::Bool, _>(trashed)
    .execute(&mut conn)
    .await
    .unwrap();
    deal
}

#[derive(diesel::QueryableByName, Debug)]
struct DealState {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    stage_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pipeline_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    position: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    closed_at: Option<chrono::DateTime<chrono::Utc>>,
}

async fn deal_state(app: &TestApp, deal: Uuid) -> DealState {
    let mut conn = app.pool.get().await.unwrap();
    diesel::sql_query(
        "SELECT stage_id, pipeline_id, position, status, closed_at FROM deals WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(deal)
    .get_result(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn viewers_and_managers_read_pipelines_but_every_write_is_403() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let sales = app.default_pipeline(&admin).await;
    let p = format!("/api/pipelines/{}", id(&sales));
    let s = format!("/api/stages/{}", id(&sales["stages"][0]));
    let order: Vec<Value> = sales["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    for role in [Role::Viewer, Role::Manager] {
        let (_, token) = app.signed_in(role).await;
        for path in [
            "/api/pipelines".to_owned(),
            p.clone(),
            format!("{p}/stages"),
            format!("{p}/summary"),
            s.clone(),
        ] {
            get(&app, &path, &token).await;
        }
        let writes = [
            (
                Method::POST,
                "/api/pipelines".to_owned(),
                Some(json!({"name": "X"})),
            ),
            (Method::PATCH, p.clone(), Some(json!({"name": "X"}))),
            (Method::DELETE, p.clone(), None),
            (
                Method::POST,
                format!("{p}/stages"),
                Some(json!({"name": "X"})),
            ),
            (
                Method::PUT,
                format!("{p}/stages/order"),
                Some(json!({"stageIds": order})),
            ),
            (Method::PATCH, s.clone(), Some(json!({"name": "X"}))),
            (Method::DELETE, s.clone(), None),
        ];
        for (method, path, body) in writes {
            let res = app.send(method.clone(), &path, &token, body.clone()).await;
            assert_problem(res, 403, "forbidden").await;
            assert_eq!(
                app.send_anonymous(method.clone(), &path, body.clone())
                    .await
                    .status(),
                401,
                "{method} {path}"
            );
        }
    }
    // Nothing changed.
    assert_eq!(app.default_pipeline(&admin).await, sales);
    assert_eq!(
        get(&app, "/api/pipelines", &admin)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_created_pipeline_has_location_etag_and_the_standard_stages() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let (location, body) = app
        .create_located(
            "/api/pipelines",
            &admin,
            json!({"name": "Partners", "description": "Channel"}),
        )
        .await;
    assert_eq!(body["name"], "Partners");
    assert_eq!(body["description"], "Channel");
    assert_eq!(body["isDefault"], false);
    assert_eq!(body["position"], 1);
    assert_eq!(body["version"], 1);
    let stages: Vec<(String, i64, String)> = body["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["pipelineId"], body["id"]);
            assert!(s["color"].as_str().unwrap().starts_with('#'));
            (
                s["name"].as_str().unwrap().to_owned(),
                s["position"].as_i64().unwrap(),
                s["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, i64, String)> = [
        ("New", 0, "OPEN"),
        ("Qualified", 1, "OPEN"),
        ("Proposal", 2, "OPEN"),
        ("Negotiation", 3, "OPEN"),
        ("Won", 4, "WON"),
        ("Lost", 5, "LOST"),
    ]
    .iter()
    .map(|(n, p, t)| ((*n).to_owned(), *p, (*t).to_owned()))
    .collect();
    assert_eq!(stages, want);
    let res = app.get(&location, &admin).await;
    assert_eq!(res.headers()["etag"], "\"1\"");
    assert_eq!(data(res).await, body);
    let stages = get(&app, &format!("{location}/stages"), &admin).await;
    assert_eq!(stages, body["stages"]);
    // A stage has its own record.
    let first = &body["stages"][0];
    let res = app.get(&format!("/api/stages/{}", id(first)), &admin).await;
    assert_eq!(res.headers()["etag"], "\"1\"");
    assert_eq!(&data(res).await, first);
    // Creating and the stages are in the activity log.
    let entries = app.activity("pipeline", &id(&body), &admin).await["data"].clone();
    assert_eq!(entries[0]["type"], "pipeline.created");
    let fields: Vec<&str> = entries[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["description", "isDefault", "name", "position"]);
    let entries = app.activity("stage", &id(first), &admin).await["data"].clone();
    assert_eq!(entries[0]["type"], "stage.created");
}

#[tokio::test]
async fn the_list_is_ordered_by_position_then_creation_with_stages_and_paging() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let late = app
        .create(
            "/api/pipelines",
            &admin,
            json!({"name": "Late", "position": 5}),
        )
        .await;
    let first = app
        .create(
            "/api/pipelines",
            &admin,
            json!({"name": "Tie one", "position": 2, "stages": [{"name": "Only"}]}),
        )
        .await;
    let second = app
        .create(
            "/api/pipelines",
            &admin,
            json!({"name": "Tie two", "position": 2}),
        )
        .await;
    let res = app.get("/api/pipelines", &admin).await;
    let body = json_of(res).await;
    let names = strings(&body, "name");
    assert_eq!(names, ["Sales", "Tie one", "Tie two", "Late"]);
    assert_eq!(body["meta"], json!({"page": 1, "limit": 50, "total": 4}));
    assert_eq!(body["data"][1], first);
    assert_eq!(body["data"][2], second);
    assert_eq!(body["data"][3], late);
    let page = json_of(app.get("/api/pipelines?page=2&limit=2", &admin).await).await;
    let names = strings(&page, "name");
    assert_eq!(names, ["Tie two", "Late"]);
    assert_eq!(page["data"][0]["stages"].as_array().unwrap().len(), 6);
    let found = get(&app, "/api/pipelines?q=TIE%20o", &admin).await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["name"], "Tie one");
    let since = second["updatedAt"].as_str().unwrap().replace('+', "%2B");
    let changed = get(
        &app,
        &format!("/api/pipelines?updatedSince={since}"),
        &admin,
    )
    .await;
    let names: Vec<&str> = changed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Tie two"]);
    for bad in [
        "/api/pipelines?updatedSince=yesterday",
        "/api/pipelines?limit=0",
        "/api/pipelines?nope=1",
        "/api/pipelines?page=x",
    ] {
        assert_eq!(app.get(bad, &admin).await.status(), 400, "{bad}");
    }
}

#[tokio::test]
async fn invalid_bodies_are_400_naming_the_field() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let sales = app.default_pipeline(&admin).await;
    let p = format!("/api/pipelines/{}", id(&sales));
    let s = format!("/api/stages/{}", id(&sales["stages"][0]));
    for (method, path, body, field) in [
        (
            Method::POST,
            "/api/pipelines".to_owned(),
            json!({"name": " "}),
            "name",
        ),
        (
            Method::POST,
            "/api/pipelines".to_owned(),
            json!({"name": "x".repeat(101)}),
            "name",
        ),
        (
            Method::POST,
            "/api/pipelines".to_owned(),
            json!({"name": "A", "position": -1}),
            "position",
        ),
        (
            Method::POST,
            "/api/pipelines".to_owned(),
            json!({"name": "A", "stages": []}),
            "stages",
        ),
        (
            Method::POST,
            "/api/pipelines".to_owned(),
            json!({"name": "A", "stages": [{"name": "B", "color": "#12345g"}]}),
            "stages[0].color",
        ),
        (
            Method::POST,
            "/api/pipelines".to_owned(),
            json!({"name": "A", "stages": [{"name": ""}]}),
            "stages[0].name",
        ),
        (Method::PATCH, p.clone(), json!({"name": ""}), "name"),
        (
            Method::PATCH,
            p.clone(),
            json!({"description": "x".repeat(2001)}),
            "description",
        ),
        (
            Method::POST,
            format!("{p}/stages"),
            json!({"name": "B", "color": "blue"}),
            "color",
        ),
        (Method::PATCH, s.clone(), json!({"color": "#fff"}), "color"),
        (Method::PATCH, s.clone(), json!({"name": "  "}), "name"),
        (
            Method::PUT,
            format!("{p}/stages/order"),
            json!({"stageIds": []}),
            "stageIds",
        ),
    ] {
        let res = app
            .send(method.clone(), &path, &admin, Some(body.clone()))
            .await;
        let problem = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(
            problem["errors"][0]["field"], field,
            "{method} {path} {body}"
        );
    }
    for body in [
        json!({"name": "A", "extra": 1}),
        json!({"name": "A", "stages": [{"name": "B", "type": "MAYBE"}]}),
    ] {
        let res = app.post("/api/pipelines", &admin, body).await;
        assert_problem(res, 400, "invalid_body").await;
    }
    assert_problem(
        app.get("/api/pipelines/abc", &admin).await,
        400,
        "invalid_path",
    )
    .await;
    assert_problem(
        app.delete(&format!("{s}?moveDealsTo=abc"), &admin).await,
        400,
        "invalid_query",
    )
    .await;
    let missing = Uuid::now_v7();
    let (pipeline, stage) = (
        format!("/api/pipelines/{missing}"),
        format!("/api/stages/{missing}"),
    );
    let x = || Some(json!({"name": "x"}));
    for (method, path, body) in [
        (Method::GET, pipeline.clone(), None),
        (Method::GET, format!("{pipeline}/stages"), None),
        (Method::GET, format!("{pipeline}/summary"), None),
        (Method::GET, stage.clone(), None),
        (Method::PATCH, stage.clone(), x()),
        (Method::POST, format!("{pipeline}/stages"), x()),
    ] {
        let res = app.send(method, &path, &admin, body).await;
        assert_problem(res, 404, "not_found").await;
    }
    // Nothing changed.
    assert_eq!(app.default_pipeline(&admin).await, sales);
}

#[tokio::test]
async fn patches_honour_if_match_and_record_the_changed_fields() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let p = app
        .create(
            "/api/pipelines",
            &admin,
            json!({"name": "Old", "description": "d"}),
        )
        .await;
    let path = format!("/api/pipelines/{}", id(&p));
    let res = app.patch_if(&path, &admin, 7, json!({"name": "New"})).await;
    assert_problem(res, 412, "version_mismatch").await;
    let res = app
        .patch_if(
            &path,
            &admin,
            1,
            json!({"name": "New", "description": null}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let body = data(res).await;
    assert_eq!(
        (
            body["name"].as_str(),
            body["description"].is_null(),
            body["version"].as_i64()
        ),
        (Some("New"), true, Some(2))
    );
    let entries = app.activity("pipeline", &id(&p), &admin).await["data"].clone();
    assert_eq!(entries[0]["type"], "pipeline.updated");
    assert_eq!(
        entries[0]["changes"],
        json!([
            {"field": "description", "from": "d", "to": null},
            {"field": "name", "from": "Old", "to": "New"},
        ])
    );
    // Stages too.
    let stage = &p["stages"][1];
    let spath = format!("/api/stages/{}", id(stage));
    let res = app.patch_if(&spath, &admin, 9, json!({"name": "X"})).await;
    assert_problem(res, 412, "version_mismatch").await;
    let res = app
        .patch_if(
            &spath,
            &admin,
            1,
            json!({"name": "Discovery", "color": "#ABCDEF"}),
        )
        .await;
    assert_eq!(res.headers()["etag"], "\"2\"");
    let updated = data(res).await;
    assert_eq!(
        (updated["name"].as_str(), updated["color"].as_str()),
        (Some("Discovery"), Some("#abcdef"))
    );
    let entries = app.activity("stage", &id(stage), &admin).await["data"].clone();
    assert_eq!(entries[0]["type"], "stage.updated");
    assert_eq!(
        entries[0]["changes"],
        json!([
            {"field": "color", "from": stage["color"], "to": "#abcdef"},
            {"field": "name", "from": "Qualified", "to": "Discovery"},
        ])
    );
    let res = app.delete_if(&spath, &admin, 1).await;
    assert_problem(res, 412, "version_mismatch").await;
    let res = app.delete_if(&path, &admin, 1).await;
    assert_problem(res, 412, "version_mismatch").await;
    assert_eq!(get(&app, &spath, &admin).await["version"], 2);
}

#[tokio::test]
async fn there_is_always_exactly_one_default_pipeline() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let sales = app.default_pipeline(&admin).await;
    let sales_path = format!("/api/pipelines/{}", id(&sales));
    let other = app
        .create(
            "/api/pipelines",
            &admin,
            json!({"name": "Other", "isDefault": true}),
        )
        .await;
    assert_eq!(other["isDefault"], true);
    let sales_now = get(&app, &sales_path, &admin).await;
    assert_eq!(sales_now["isDefault"], false);
    let entries = app.activity("pipeline", &id(&sales), &admin).await["data"].clone();
    assert_eq!(entries[0]["type"], "pipeline.updated");
    assert_eq!(
        entries[0]["changes"],
        json!([{"field": "isDefault", "from": true, "to": false}])
    );
    let other_path = format!("/api/pipelines/{}", id(&other));
    let res = app
        .patch(&other_path, &admin, json!({"isDefault": false}))
        .await;
    assert_problem(res, 409, "default_pipeline_required").await;
    let res = app.delete(&other_path, &admin).await;
    assert_problem(res, 409, "default_pipeline_required").await;
    assert_eq!(get(&app, &other_path, &admin).await["isDefault"], true);
    // Concurrent "make default" calls: afterwards exactly one default.
    for round in 0..3 {
        let a = app
            .create(
                "/api/pipelines",
                &admin,
                json!({"name": format!("A{round}")}),
            )
            .await;
        let b = app
            .create(
                "/api/pipelines",
                &admin,
                json!({"name": format!("B{round}")}),
            )
            .await;
        let (pa, pb) = (
            format!("/api/pipelines/{}", id(&a)),
            format!("/api/pipelines/{}", id(&b)),
        );
        let (ra, rb) = tokio::join!(
            app.patch(&pa, &admin, json!({"isDefault": true})),
            app.patch(&pb, &admin, json!({"isDefault": true})),
        );
        assert_eq!((ra.status().as_u16(), rb.status().as_u16()), (200, 200));
        let list = get(&app, "/api/pipelines", &admin).await;
        let defaults = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["isDefault"] == true)
            .count();
        assert_eq!(defaults, 1);
    }
}

#[tokio::test]
async fn deleting_a_stage_with_deals_needs_move_deals_to_and_loses_no_deal() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let sales = app.default_pipeline(&admin).await;
    let other = app
        .create("/api/pipelines", &admin, json!({"name": "Other"}))
        .await;
    let doomed = &sales["stages"][2];
    let target = &other["stages"][5]; // Lost of another pipeline
    let a = insert_deal(&app, doomed, 3, None, "USD", false).await;
    let b = insert_deal(&app, doomed, 1, None, "USD", true).await;
    insert_deal(&app, target, 4, None, "USD", false).await;
    let path = format!("/api/stages/{}", id(doomed));
    let problem = assert_problem(app.delete(&path, &admin).await, 409, "stage_in_use").await;
    assert!(
        problem["detail"].as_str().unwrap().contains('2'),
        "{problem}"
    );
    let problem = assert_problem(
        app.delete(&format!("{path}?moveDealsTo={}", id(doomed)), &admin)
            .await,
        422,
        "invalid_move_target",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "moveDealsTo");
    assert_problem(
        app.delete(&format!("{path}?moveDealsTo={}", Uuid::now_v7()), &admin)
            .await,
        422,
        "invalid_move_target",
    )
    .await;
    assert_eq!(get(&app, &path, &admin).await["id"], doomed["id"]);
    let res = app
        .delete(&format!("{path}?moveDealsTo={}", id(target)), &admin)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, &admin).await, 404, "not_found").await;
    let (sa, sb) = (deal_state(&app, a).await, deal_state(&app, b).await);
    for s in [&sa, &sb] {
        assert_eq!(
            (s.stage_id, s.pipeline_id, s.status.as_str()),
            (uuid(target), uuid(&other), "lost")
        );
        assert!(s.closed_at.is_some());
    }
    // After the target's last key (4), crm_db::kanban::STEP apart, in their old order.
    assert_eq!((sb.position, sa.position), (4 + 65536, 4 + 2 * 65536));
    let positions: Vec<i64> = get(
        &app,
        &format!("/api/pipelines/{}/stages", id(&sales)),
        &admin,
    )
    .await
    .as_array()
    .unwrap()
    .iter()
    .map(|s| s["position"].as_i64().unwrap())
    .collect();
    assert_eq!(positions, [0, 1, 2, 3, 4]);
    // The deal timeline records the move as a single move does (no sort key).
    let mut conn = app.pool.get().await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Changes {
        #[diesel(sql_type = diesel::sql_types::Jsonb)]
        changes: Value,
    }
    let c: Changes = diesel::sql_query(
        "SELECT changes FROM activity WHERE entity_id = $1 AND type = 'deal.stage.changed'",
    )
    .bind::<diesel::sql_types::Uuid, _>(a)
    .get_result(&mut conn)
    .await
    .unwrap();
    let fields: Vec<&str> = c
        .changes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["closedAt", "pipelineId", "stageId", "status"]);
    // An empty stage needs no target; the last one cannot go.
    let tiny = app.create("/api/pipelines", &admin, json!({"name": "Tiny", "stages": [{"name": "One"}, {"name": "Two", "type": "WON", "color": "#00ff00"}]})).await;
    let res = app
        .delete(&format!("/api/stages/{}", id(&tiny["stages"][0])), &admin)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .delete(&format!("/api/stages/{}", id(&tiny["stages"][1])), &admin)
        .await;
    assert_problem(res, 409, "last_stage").await;
    let left = get(&app, &format!("/api/pipelines/{}", id(&tiny)), &admin).await;
    assert_eq!(left["stages"][0]["position"], 0);
    assert_eq!(left["stages"][0]["type"], "WON");
    // The feed keeps the deletion with where the deals went.
    let feed = get(&app, "/api/activity?entityType=stage", &admin).await;
    let deleted: Vec<&Value> = feed
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "stage.deleted")
        .collect();
    assert_eq!(deleted.len(), 2);
    let moved = deleted
        .iter()
        .find(|e| e["entityId"] == doomed["id"])
        .unwrap();
    assert_eq!(
        moved["changes"],
        json!([{"field": "dealsMovedTo", "from": null, "to": {"stageId": target["id"], "count": 2}}])
    );
}

#[tokio::test]
async fn deleting_a_pipeline_with_deals_needs_a_stage_of_another_pipeline() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let sales = app.default_pipeline(&admin).await;
    let doomed = app
        .create("/api/pipelines", &admin, json!({"name": "Doomed"}))
        .await;
    let deal = insert_deal(&app, &doomed["stages"][4], 0, Some("5"), "USD", false).await;
    let path = format!("/api/pipelines/{}", id(&doomed));
    let problem = assert_problem(app.delete(&path, &admin).await, 409, "pipeline_in_use").await;
    assert!(problem["detail"].as_str().unwrap().contains('1'));
    assert_problem(
        app.delete(
            &format!("{path}?moveDealsTo={}", id(&doomed["stages"][0])),
            &admin,
        )
        .await,
        422,
        "invalid_move_target",
    )
    .await;
    let res = app
        .delete(
            &format!("{path}?moveDealsTo={}", id(&sales["stages"][0])),
            &admin,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, &admin).await, 404, "not_found").await;
    let s = deal_state(&app, deal).await;
    assert_eq!(
        (s.stage_id, s.pipeline_id, s.status.as_str(), s.closed_at),
        (uuid(&sales["stages"][0]), uuid(&sales), "open", None)
    );
    let summary = get(
        &app,
        &format!("/api/pipelines/{}/summary", id(&sales)),
        &admin,
    )
    .await;
    assert_eq!(summary[0]["count"], 1);
    let feed = get(&app, "/api/activity?entityType=pipeline", &admin).await;
    let deleted = feed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "pipeline.deleted")
        .unwrap();
    assert_eq!(deleted["entityId"], doomed["id"]);
    assert_eq!(deleted["changes"][0]["to"]["count"], 1);
    let empty = app
        .create("/api/pipelines", &admin, json!({"name": "Empty"}))
        .await;
    let res = app
        .delete(&format!("/api/pipelines/{}", id(&empty)), &admin)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn changing_a_stage_type_re_derives_its_deals_status() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let sales = app.default_pipeline(&admin).await;
    let stage = &sales["stages"][3];
    let deal = insert_deal(&app, stage, 0, None, "USD", false).await;
    let path = format!("/api/stages/{}", id(stage));
    let res = app.patch(&path, &admin, json!({"type": "WON"})).await;
    assert_eq!(data(res).await["type"], "WON");
    let s = deal_state(&app, deal).await;
    assert_eq!(s.status, "won");
    assert!(s.closed_at.is_some());
    app.patch(&path, &admin, json!({"type": "OPEN"})).await;
    let s = deal_state(&app, deal).await;
    assert_eq!((s.status.as_str(), s.closed_at), ("open", None));
    let entries = app.activity("stage", &id(stage), &admin).await["data"].clone();
    assert_eq!(
        entries[0]["changes"],
        json!([{"field": "type", "from": "WON", "to": "OPEN"}])
    );
}

#[tokio::test]
async fn stages_are_added_and_reordered_as_a_permutation_only() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let sales = app.default_pipeline(&admin).await;
    let other = app
        .create("/api/pipelines", &admin, json!({"name": "Other"}))
        .await;
    let p = format!("/api/pipelines/{}", id(&sales));
    let res = app
        .post(
            &format!("{p}/stages"),
            &admin,
            json!({"name": "Demo", "type": "OPEN", "position": 0}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let demo = data(res).await;
    assert_eq!(location, format!("/api/stages/{}", id(&demo)));
    assert_eq!(
        (demo["position"].as_i64(), demo["color"].as_str()),
        (Some(0), Some("#9e9e9e"))
    );
    let ids: Vec<Value> = get(&app, &format!("{p}/stages"), &admin)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(ids.len(), 7);
    assert_eq!(ids[0], demo["id"]);
    let mut dup = ids.clone();
    dup[1] = dup[0].clone();
    let mut foreign = ids.clone();
    foreign[0] = other["stages"][0]["id"].clone();
    for bad in [
        ids[1..].to_vec(),
        dup,
        foreign,
        [ids.clone(), vec![ids[0].clone()]].concat(),
    ] {
        let res = app
            .send(
                Method::PUT,
                &format!("{p}/stages/order"),
                &admin,
                Some(json!({"stageIds": bad})),
            )
            .await;
        let problem = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "stageIds");
    }
    let mut rotated = ids.clone();
    rotated.rotate_left(1);
    let res = app
        .send(
            Method::PUT,
            &format!("{p}/stages/order"),
            &admin,
            Some(json!({"stageIds": rotated})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let stages = data(res).await;
    let got: Vec<(Value, i64)> = stages
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].clone(), s["position"].as_i64().unwrap()))
        .collect();
    let want: Vec<(Value, i64)> = rotated.iter().cloned().zip(0..).collect();
    assert_eq!(got, want);
    assert_eq!(get(&app, &p, &admin).await["stages"], stages);
    let entries = app.activity("pipeline", &id(&sales), &admin).await["data"].clone();
    assert_eq!(entries[0]["type"], "stage.reordered");
    assert_eq!(entries[0]["changes"][0]["to"], json!(rotated));
}

#[tokio::test]
async fn the_summary_gives_counts_and_exact_totals_per_currency() {
    let (app, [viewer, admin]) = TestApp::spawn_signed_in([Role::Viewer, Role::Admin]).await;
    let sales = app.default_pipeline(&admin).await;
    let (new, won) = (&sales["stages"][0], &sales["stages"][4]);
    insert_deal(&app, new, 0, Some("1500.10"), "EUR", false).await;
    insert_deal(&app, new, 1, Some("0.20"), "EUR", false).await;
    insert_deal(&app, new, 2, Some("12345678901234.99"), "USD", false).await;
    insert_deal(&app, new, 3, Some("0.01"), "USD", false).await;
    insert_deal(&app, new, 4, None, "USD", false).await;
    insert_deal(&app, new, 5, Some("1000.00"), "EUR", true).await;
    insert_deal(&app, won, 0, Some("3"), "GBP", false).await;
    let summary = get(
        &app,
        &format!("/api/pipelines/{}/summary", id(&sales)),
        &viewer,
    )
    .await;
    assert_eq!(summary.as_array().unwrap().len(), 6);
    assert_eq!(
        summary[0],
        json!({"stageId": new["id"], "name": "New", "type": "OPEN", "count": 5, "totals": [
            {"currency": "EUR", "amount": "1500.30"},
            {"currency": "USD", "amount": "12345678901235.00"},
        ]})
    );
    assert_eq!(
        summary[1],
        json!({"stageId": sales["stages"][1]["id"], "name": "Qualified", "type": "OPEN", "count": 0, "totals": []})
    );
    assert_eq!(summary[4]["type"], "WON");
    assert_eq!(
        summary[4]["totals"],
        json!([{"currency": "GBP", "amount": "3.00"}])
    );
}
