//! `/api/tags`: the registry, usage counts, and rename/merge/delete rewriting records.

use crm_core::Role;
use diesel::sql_types::{Array, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestApp, assert_problem};

/// A contact and a deal carrying `tags`, inserted directly.
async fn records(app: &TestApp, tags: &[&str]) -> (Uuid, Uuid) {
    let mut conn = app.pool.get().await.unwrap();
    let tags: Vec<String> = tags.iter().map(|s| s.to_string()).collect();
    let (contact, deal) = (Uuid::now_v7(), Uuid::now_v7());
    diesel::sql_query("INSERT INTO contacts (id, full_name, tags) VALUES ($1, 'C', $2)")
        .bind::<SqlUuid, _>(contact)
        .bind::<Array<Text>, _>(&tags)
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query(
        "INSERT INTO deals (id, title, pipeline_id, stage_id, tags) \
         SELECT $1, 'D', s.pipeline_id, s.id, $2 FROM stages s ORDER BY s.position LIMIT 1",
    )
    .bind::<SqlUuid, _>(deal)
    .bind::<Array<Text>, _>(&tags)
    .execute(&mut conn)
    .await
    .unwrap();
    crm_db::tags::ensure_registered(&mut conn, &tags)
        .await
        .unwrap();
    (contact, deal)
}

#[derive(diesel::QueryableByName)]
struct Tags {
    #[diesel(sql_type = Array<Text>)]
    tags: Vec<String>,
}

async fn tags_of(app: &TestApp, table: &str, id: Uuid) -> Vec<String> {
    let mut conn = app.pool.get().await.unwrap();
    diesel::sql_query(format!("SELECT tags FROM {table} WHERE id = $1"))
        .bind::<SqlUuid, _>(id)
        .get_result::<Tags>(&mut conn)
        .await
        .unwrap()
        .tags
}

async fn registry(app: &TestApp, token: &str) -> Vec<Value> {
    let res = app.get("/api/tags", token).await;
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["data"]
        .as_array()
        .unwrap()
        .clone()
}

fn id_of(tags: &[Value], name: &str) -> String {
    tags.iter().find(|t| t["name"] == name).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_registry_lists_usage_counts_from_tasks_contacts_and_deals() {
    let (app, [manager, viewer]) = TestApp::spawn_signed_in([Role::Manager, Role::Viewer]).await;
    records(&app, &["VIP", "lead"]).await;
    app.post(
        "/api/tasks",
        &manager,
        json!({"title": "t", "tags": ["vip"]}),
    )
    .await;
    let res = app
        .post(
            "/api/tasks",
            &manager,
            json!({"title": "gone", "tags": ["vip"]}),
        )
        .await;
    let gone: Value = res.json().await.unwrap();
    app.delete(
        &format!("/api/tasks/{}", gone["data"]["id"].as_str().unwrap()),
        &manager,
    )
    .await;
    let tags = registry(&app, &viewer).await;
    let counts: Vec<(&str, i64)> = tags
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["usageCount"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [("lead", 2), ("VIP", 3)]);
    assert_eq!(tags[0]["color"], "#9e9e9e");
    assert_eq!(tags[0]["version"], 1);
    let res = app.get("/api/tags?q=VI", &viewer).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    let res = app
        .get(&format!("/api/tags/{}", id_of(&tags, "VIP")), &viewer)
        .await;
    assert_eq!(res.headers()["etag"], "\"1\"");
}

#[tokio::test]
async fn create_rename_merge_and_delete_rewrite_the_records() {
    let (app, [manager]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let (contact, deal) = records(&app, &["vip", "gold", "x"]).await;
    let res = app
        .post(
            "/api/tags",
            &manager,
            json!({"name": "Fresh", "color": "#00FF00"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert!(res.headers().contains_key("location"));
    let fresh: Value = res.json().await.unwrap();
    assert_eq!(fresh["data"]["color"], "#00ff00");
    assert_eq!(fresh["data"]["usageCount"], 0);
    let res = app
        .post("/api/tags", &manager, json!({"name": "fresh"}))
        .await;
    assert_problem(res, 409, "duplicate_tag").await;
    let res = app
        .post(
            "/api/tags",
            &manager,
            json!({"name": "c", "color": "green"}),
        )
        .await;
    let problem = assert_problem(res, 400, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "color");

    let tags = registry(&app, &manager).await;
    let vip = id_of(&tags, "vip");
    let res = app
        .patch(
            &format!("/api/tags/{vip}"),
            &manager,
            json!({"name": "GOLD"}),
        )
        .await;
    assert_problem(res, 409, "duplicate_tag").await;
    let res = app
        .patch_if(
            &format!("/api/tags/{vip}"),
            &manager,
            1,
            json!({"name": "Premium"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], "\"2\"");
    assert_eq!(
        tags_of(&app, "contacts", contact).await,
        ["Premium", "gold", "x"]
    );
    assert_eq!(tags_of(&app, "deals", deal).await, ["Premium", "gold", "x"]);

    let res = app
        .get(
            &format!("/api/activity?entityType=tag&entityId={vip}"),
            &manager,
        )
        .await;
    let timeline: Value = res.json().await.unwrap();
    assert_eq!(timeline["data"][0]["type"], "tag.updated");
    assert_eq!(
        timeline["data"][0]["changes"],
        json!([{"field": "name", "from": "vip", "to": "Premium"}])
    );
    // Each rewritten record's own timeline shows the change, by the acting user.
    for (kind, id) in [("contact", contact), ("deal", deal)] {
        let res = app
            .get(
                &format!("/api/activity?entityType={kind}&entityId={id}"),
                &manager,
            )
            .await;
        let timeline: Value = res.json().await.unwrap();
        let entry = &timeline["data"][0];
        assert_eq!(entry["type"], format!("{kind}.updated"), "{timeline}");
        assert_eq!(
            entry["changes"],
            json!([{"field": "tags", "from": ["vip", "gold", "x"], "to": ["Premium", "gold", "x"]}])
        );
        assert!(entry["actorId"].is_string(), "{entry}");
        let id = Uuid::parse_str(entry["id"].as_str().unwrap()).unwrap();
        assert_eq!(id.get_version_num(), 7, "set-based ids are v7 too");
    }
    let gold = id_of(&tags, "gold");
    let res = app
        .post(
            &format!("/api/tags/{gold}/merge"),
            &manager,
            json!({"intoId": vip}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let merged: Value = res.json().await.unwrap();
    assert_eq!(merged["data"]["name"], "Premium");
    assert_eq!(merged["data"]["usageCount"], 2);
    assert_eq!(tags_of(&app, "contacts", contact).await, ["Premium", "x"]);
    assert_problem(
        app.get(&format!("/api/tags/{gold}"), &manager).await,
        404,
        "not_found",
    )
    .await;
    let res = app
        .post(
            &format!("/api/tags/{vip}/merge"),
            &manager,
            json!({"intoId": Uuid::now_v7()}),
        )
        .await;
    assert_problem(res, 422, "unknown_tag").await;

    let res = app.delete(&format!("/api/tags/{vip}"), &manager).await;
    assert_eq!(res.status(), 204);
    assert_eq!(tags_of(&app, "deals", deal).await, ["x"]);
    let names: Vec<Value> = registry(&app, &manager)
        .await
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, [json!("Fresh"), json!("x")]);
}

#[tokio::test]
async fn viewers_read_the_registry_but_manage_nothing() {
    let (app, [viewer]) = TestApp::spawn_signed_in([Role::Viewer]).await;
    records(&app, &["a"]).await;
    let id = id_of(&registry(&app, &viewer).await, "a");
    for (method, path, body) in [
        (
            Method::POST,
            "/api/tags".to_owned(),
            Some(json!({"name": "b"})),
        ),
        (
            Method::PATCH,
            format!("/api/tags/{id}"),
            Some(json!({"name": "b"})),
        ),
        (
            Method::POST,
            format!("/api/tags/{id}/merge"),
            Some(json!({"intoId": id})),
        ),
        (Method::DELETE, format!("/api/tags/{id}"), None),
    ] {
        let res = app.send(method.clone(), &path, &viewer, body).await;
        assert_problem(res, 403, "forbidden").await;
    }
    let res = app.send_anonymous(Method::GET, "/api/tags", None).await;
    assert_problem(res, 401, "missing_token").await;
}

#[tokio::test]
async fn every_list_filters_by_tag_case_insensitively() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    for (path, body) in [
        (
            "/api/contacts",
            json!({"fullName": "Tagged", "tags": ["Key Account"]}),
        ),
        (
            "/api/companies",
            json!({"name": "Tagged Ltd", "tags": ["Key Account"]}),
        ),
        (
            "/api/deals",
            json!({"title": "Tagged", "tags": ["Key Account"]}),
        ),
        (
            "/api/tasks",
            json!({"title": "Tagged", "tags": ["Key Account"]}),
        ),
    ] {
        let res = app.post(path, &token, body).await;
        assert_eq!(res.status(), 201, "{path}");
        for (tag, want) in [("key account", 1), ("KEY ACCOUNT", 1), ("Key", 0)] {
            let res = app
                .get(&format!("{path}?tag={}", tag.replace(' ', "%20")), &token)
                .await;
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["meta"]["total"], want, "{path}?tag={tag}: {body}");
        }
    }
}
