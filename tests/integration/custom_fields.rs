//! `/api/custom-fields` and custom field values on records: definitions and who may change
//! them, validation and canonical forms of every type, required and unique values (also under
//! concurrent writes), PATCH merging, activity, option removal and type conversion,
//! deactivation, deletion, and list filters and sorts.

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem, strings};
use crm_core::Role;

async fn call(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let res = app.send(method, path, token, body).await;
    let status = res.status();
    let body = if status == StatusCode::NO_CONTENT {
        Value::Null
    } else {
        res.json().await.unwrap()
    };
    (status, body)
}

/// Creates a definition as an admin; returns it.
async fn define(app: &TestApp, admin: &str, body: Value) -> Value {
    let (status, body) = call(app, admin, Method::POST, "/api/custom-fields", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"].clone()
}

/// The fields named by a 400/409 problem.
fn named(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// One field of every type on deals.
async fn every_type(app: &TestApp, admin: &str) {
    for (key, kind) in [
        ("note", "TEXT"),
        ("score", "NUMBER"),
        ("renewal", "DATE"),
        ("signed_at", "DATETIME"),
        ("strategic", "BOOLEAN"),
        ("tier", "SELECT"),
        ("products", "MULTI_SELECT"),
        ("site", "URL"),
        ("champion", "EMAIL"),
        ("hotline", "PHONE"),
    ] {
        let options = match kind {
            "SELECT" => json!(["Gold", "Silver", "Bronze"]),
            "MULTI_SELECT" => json!(["CRM", "Analytics", "Support"]),
            _ => json!([]),
        };
        define(
            app,
            admin,
            json!({"entityType": "deal", "key": key, "name": key, "type": kind, "options": options}),
        )
        .await;
    }
}

#[tokio::test]
async fn definitions_are_changed_by_admins_and_read_by_every_role() {
    let (app, [admin, manager, viewer]) =
        TestApp::spawn_signed_in([Role::Admin, Role::Manager, Role::Viewer]).await;
    let body = json!({"entityType": "deal", "key": "tier", "name": "Tier", "type": "SELECT",
                      "options": ["Gold", "Silver"], "isRequired": true, "defaultValue": "silver"});
    let (location, tier) = app.create_located("/api/custom-fields", &admin, body).await;
    assert_eq!(tier["defaultValue"], "Silver");
    assert_eq!(tier["position"], 0);
    assert_eq!(tier["isActive"], true);
    for definition in [
        json!({"entityType": "deal", "key": "seats", "type": "NUMBER"}),
        json!({"entityType": "contact", "key": "tier", "type": "TEXT"}),
    ] {
        define(&app, &admin, definition).await;
    }

    // Every role reads what a form needs.
    for token in [&viewer, &manager] {
        let (status, body) = call(
            &app,
            token,
            Method::GET,
            "/api/custom-fields?entityType=deal",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let fields = body["data"].as_array().unwrap();
        let keys: Vec<&str> = fields.iter().map(|f| f["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["tier", "seats"]);
        for attr in [
            "type",
            "options",
            "isRequired",
            "isUnique",
            "defaultValue",
            "position",
            "isActive",
            "version",
        ] {
            assert!(fields[0].get(attr).is_some(), "{attr}");
        }
    }
    let (status, _) = call(&app, &viewer, Method::GET, &location, None).await;
    assert_eq!(status, StatusCode::OK);
    // ... but only admins change definitions.
    for token in [&viewer, &manager] {
        let res = app
            .post(
                "/api/custom-fields",
                token,
                json!({"entityType": "deal", "key": "x", "type": "TEXT"}),
            )
            .await;
        assert_problem(res, 403, "forbidden").await;
        let res = app.patch(&location, token, json!({"name": "X"})).await;
        assert_problem(res, 403, "forbidden").await;
        let res = app.delete(&location, token).await;
        assert_problem(res, 403, "forbidden").await;
    }

    // Keys: snake_case, unique per record type, immutable.
    for bad in ["Tier", "1st", "a-b", ""] {
        let res = app
            .post(
                "/api/custom-fields",
                &admin,
                json!({"entityType": "deal", "key": bad, "type": "TEXT"}),
            )
            .await;
        let body = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(named(&body), ["key"], "{bad}");
    }
    let res = app
        .post(
            "/api/custom-fields",
            &admin,
            json!({"entityType": "deal", "key": "tier", "type": "TEXT"}),
        )
        .await;
    assert_problem(res, 409, "duplicate_custom_field_key").await;
    let res = app.patch(&location, &admin, json!({"key": "level"})).await;
    let body = assert_problem(res, 400, "validation_failed").await;
    assert_eq!(named(&body), ["key"]);
    for (body, field) in [
        (
            json!({"entityType": "deal", "key": "a", "type": "TEXT", "options": ["x"]}),
            "options",
        ),
        (
            json!({"entityType": "deal", "key": "a", "type": "SELECT"}),
            "options",
        ),
        (
            json!({"entityType": "deal", "key": "a", "type": "SELECT", "options": ["x", "X"]}),
            "options[1]",
        ),
        (
            json!({"entityType": "deal", "key": "a", "type": "BOOLEAN", "isUnique": true}),
            "isUnique",
        ),
        (
            json!({"entityType": "deal", "key": "a", "type": "NUMBER", "defaultValue": "many"}),
            "defaultValue",
        ),
    ] {
        let res = app.post("/api/custom-fields", &admin, body.clone()).await;
        let problem = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(named(&problem), [field], "{body}");
    }

    // If-Match and ETag like every record.
    let res = app
        .patch_if(&location, &admin, 7, json!({"name": "Level"}))
        .await;
    assert_problem(res, 412, "version_mismatch").await;
    let res = app
        .patch_if(
            &location,
            &admin,
            1,
            json!({"name": "Level", "position": 1}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let (_, list) = call(
        &app,
        &viewer,
        Method::GET,
        "/api/custom-fields?entityType=deal",
        None,
    )
    .await;
    let keys = strings(&list, "key");
    assert_eq!(keys, ["seats", "tier"]);

    // Reorder in one call.
    let ids: Vec<Value> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|f| f["id"].clone())
        .collect();
    let (status, body) = call(
        &app,
        &admin,
        Method::PUT,
        "/api/custom-fields/order",
        Some(json!({"entityType": "deal", "fieldIds": ids})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"][0]["key"], "tier");
    let (status, _) = call(
        &app,
        &admin,
        Method::PUT,
        "/api/custom-fields/order",
        Some(json!({"entityType": "deal", "fieldIds": [ids[0]]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Definition changes are in the activity log.
    let (status, body) = call(
        &app,
        &admin,
        Method::GET,
        &format!(
            "/api/activity?entityType=custom_field&entityId={}",
            tier["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let kinds = strings(&body, "type");
    assert!(
        kinds.iter().any(|k| k == "custom_field.created")
            && kinds.iter().any(|k| k == "custom_field.updated"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn every_type_is_validated_and_stored_in_canonical_form() {
    let (app, [admin, token]) = TestApp::spawn_signed_in([Role::Admin, Role::Manager]).await;
    every_type(&app, &admin).await;
    let deal = app
        .create(
            "/api/deals",
            &token,
            json!({"title": "All types", "customFields": {
                "note": "  hello  ", "score": "12.50", "renewal": "2027-01-31",
                "signed_at": "2026-05-01T11:30:00+02:00", "strategic": true, "tier": "gold",
                "products": ["support", "CRM", "CRM"], "site": "HTTPS://Acme.Example",
                "champion": " Ann.Lee@Example.COM ", "hotline": "+1 (415) 555-2671"
            }}),
        )
        .await;
    assert_eq!(
        deal["customFields"],
        json!({
            "note": "hello", "score": 12.5, "renewal": "2027-01-31",
            "signed_at": "2026-05-01T09:30:00.000Z", "strategic": true, "tier": "Gold",
            "products": ["CRM", "Support"], "site": "https://acme.example/",
            "champion": "ann.lee@example.com", "hotline": "+14155552671"
        })
    );
    let (_, read) = call(
        &app,
        &token,
        Method::GET,
        &format!("/api/deals/{}", deal["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(read["data"]["customFields"], deal["customFields"]);

    for (key, bad) in [
        ("note", json!(5)),
        ("note", json!("x".repeat(501))),
        ("score", json!("twelve")),
        ("score", json!(true)),
        ("score", json!(0.1 + 0.2)),
        ("renewal", json!("31.01.2027")),
        ("renewal", json!("2027-02-30")),
        ("signed_at", json!("tomorrow")),
        ("strategic", json!("yes")),
        ("tier", json!("Platinum")),
        ("tier", json!(["Gold"])),
        ("products", json!("CRM")),
        ("products", json!(["CRM", "Nope"])),
        ("site", json!("ftp://acme.example")),
        ("site", json!("acme.example")),
        ("champion", json!("not-an-email")),
        ("hotline", json!("415 555 2671")),
        ("nope", json!(1)),
    ] {
        let res = app
            .post(
                "/api/deals",
                &token,
                json!({"title": "Bad", "customFields": {key: bad}}),
            )
            .await;
        let problem = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(
            named(&problem),
            [format!("customFields.{key}")],
            "{key} = {bad}"
        );
    }
    // Several problems at once, with the record's own fields.
    let res = app
        .post(
            "/api/deals",
            &token,
            json!({"title": " ", "customFields": {"score": "x", "tier": "y"}}),
        )
        .await;
    let problem = assert_problem(res, 400, "validation_failed").await;
    let mut fields = named(&problem);
    fields.sort();
    assert_eq!(fields, ["customFields.score", "customFields.tier", "title"]);
    for body in [
        json!({"title": "x", "customFields": [1]}),
        json!({"title": "x", "customFields": "x"}),
    ] {
        let res = app.post("/api/deals", &token, body).await;
        let problem = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(named(&problem), ["customFields"]);
    }
    // Nothing was written by the refused requests.
    let (_, list) = call(&app, &token, Method::GET, "/api/deals", None).await;
    assert_eq!(list["meta"]["total"], 1);
}

#[tokio::test]
async fn custom_fields_work_on_contacts_companies_and_tasks_too() {
    let (app, [admin, token]) = TestApp::spawn_signed_in([Role::Admin, Role::Manager]).await;
    for (entity, path, body) in [
        ("contact", "/api/contacts", json!({"fullName": "Ada"})),
        ("company", "/api/companies", json!({"name": "Acme"})),
        ("task", "/api/tasks", json!({"title": "Call"})),
    ] {
        define(
            &app,
            &admin,
            json!({"entityType": entity, "key": "level", "type": "NUMBER", "isRequired": true}),
        )
        .await;
        let mut bad = body.clone();
        bad["customFields"] = json!({"level": "high"});
        let res = app.post(path, &token, bad).await;
        let problem = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(named(&problem), ["customFields.level"], "{entity}");
        let res = app.post(path, &token, body.clone()).await;
        let problem = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(
            named(&problem),
            ["customFields.level"],
            "{entity}: required"
        );
        let mut good = body.clone();
        good["customFields"] = json!({"level": "3"});
        let record = app.create(path, &token, good).await;
        assert_eq!(record["customFields"], json!({"level": 3}), "{entity}");
        let (status, list) = call(
            &app,
            &token,
            Method::GET,
            &format!("{path}?cf.level.gte=3"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{entity}: {list}");
        assert_eq!(list["data"].as_array().unwrap().len(), 1, "{entity}");
        let (_, list) = call(
            &app,
            &token,
            Method::GET,
            &format!("{path}?cf.level.gt=3"),
            None,
        )
        .await;
        assert_eq!(list["data"].as_array().unwrap().len(), 0, "{entity}");
        let res = app.get(&format!("{path}?cf.nope=1"), &token).await;
        let problem = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(named(&problem), ["cf.nope"], "{entity}");
    }
}

#[tokio::test]
async fn required_fields_get_defaults_on_create_and_are_never_cleared_by_a_patch() {
    let (app, [admin, token]) = TestApp::spawn_signed_in([Role::Admin, Role::Manager]).await;
    for definition in [
        json!({"entityType": "deal", "key": "budget", "type": "NUMBER", "isRequired": true}),
        json!({"entityType": "deal", "key": "tier", "type": "SELECT", "options": ["A", "B"],
               "isRequired": true, "defaultValue": "A"}),
        json!({"entityType": "deal", "key": "note", "type": "TEXT"}),
    ] {
        define(&app, &admin, definition).await;
    }

    for cf in [json!({}), json!({"budget": null}), json!({"budget": "  "})] {
        let res = app
            .post(
                "/api/deals",
                &token,
                json!({"title": "T", "customFields": cf}),
            )
            .await;
        let problem = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(named(&problem), ["customFields.budget"], "{cf}");
    }
    let deal = app
        .create(
            "/api/deals",
            &token,
            json!({"title": "T", "customFields": {"budget": 10, "note": "n"}}),
        )
        .await;
    assert_eq!(
        deal["customFields"],
        json!({"budget": 10, "tier": "A", "note": "n"})
    );
    let path = format!("/api/deals/{}", deal["id"].as_str().unwrap());
    for clear in [
        json!({"budget": null}),
        json!({"tier": null}),
        json!({"budget": ""}),
    ] {
        let res = app
            .patch(&path, &token, json!({"customFields": clear}))
            .await;
        let problem = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(named(&problem).len(), 1, "{clear}");
    }
    // A PATCH merges: named keys change, `null` clears optional ones, the rest stays.
    let (status, body) = call(
        &app,
        &token,
        Method::PATCH,
        &path,
        Some(json!({"customFields": {"budget": 11, "note": null}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["customFields"],
        json!({"budget": 11, "tier": "A"})
    );
    let (_, body) = call(
        &app,
        &token,
        Method::PATCH,
        &path,
        Some(json!({"title": "Renamed"})),
    )
    .await;
    assert_eq!(
        body["data"]["customFields"],
        json!({"budget": 11, "tier": "A"})
    );
}

#[tokio::test]
async fn every_value_change_is_an_activity_entry() {
    let (app, [admin, token]) = TestApp::spawn_signed_in([Role::Admin, Role::Manager]).await;
    for definition in [
        json!({"entityType": "deal", "key": "seats", "type": "NUMBER"}),
        json!({"entityType": "deal", "key": "tier", "type": "SELECT", "options": ["A", "B"]}),
    ] {
        define(&app, &admin, definition).await;
    }
    let deal = app
        .create(
            "/api/deals",
            &token,
            json!({"title": "T", "customFields": {"seats": 3}}),
        )
        .await;
    let id = deal["id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &app,
        &token,
        Method::PATCH,
        &format!("/api/deals/{id}"),
        Some(json!({"customFields": {"seats": 5, "tier": "b"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, log) = call(
        &app,
        &token,
        Method::GET,
        &format!("/api/activity?entityType=deal&entityId={id}"),
        None,
    )
    .await;
    let entries = log["data"].as_array().unwrap();
    assert_eq!(entries[0]["type"], "deal.updated");
    assert_eq!(
        entries[0]["changes"],
        json!([
            {"field": "customFields.seats", "from": 3, "to": 5},
            {"field": "customFields.tier", "from": null, "to": "B"}
        ])
    );
    let created = entries
        .iter()
        .find(|e| e["type"] == "deal.created")
        .unwrap();
    assert!(
        created["changes"]
            .as_array()
            .unwrap()
            .contains(&json!({"field": "customFields.seats", "from": null, "to": 3})),
        "{created}"
    );
}

#[tokio::test]
async fn unique_values_hold_under_concurrent_writes_and_restores() {
    let (app, [admin, token]) = TestApp::spawn_signed_in([Role::Admin, Role::Admin]).await;
    define(
        &app,
        &admin,
        json!({"entityType": "contact", "key": "passport", "type": "TEXT", "isUnique": true}),
    )
    .await;
    let attempts = (0..8).map(|i| {
        app.authed(Method::POST, "/api/contacts", &token)
            .json(&json!({"fullName": format!("Twin {i}"), "customFields": {"passport": "X-1"}}))
            .send()
    });
    let mut created = 0;
    for res in join_all(attempts).await {
        let res = res.unwrap();
        if res.status() == StatusCode::CREATED {
            created += 1;
        } else {
            let problem = assert_problem(res, 409, "duplicate_custom_field_value").await;
            assert_eq!(named(&problem), ["customFields.passport"]);
        }
    }
    assert_eq!(created, 1);
    let (_, list) = call(
        &app,
        &token,
        Method::GET,
        "/api/contacts?cf.passport=X-1",
        None,
    )
    .await;
    assert_eq!(list["meta"]["total"], 1);
    let first = list["data"][0]["id"].as_str().unwrap().to_owned();

    // The trash does not hold values; a restore that would duplicate one is refused.
    let (status, _) = call(
        &app,
        &token,
        Method::DELETE,
        &format!("/api/contacts/{first}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let other = app
        .create(
            "/api/contacts",
            &token,
            json!({"fullName": "Next", "customFields": {"passport": "X-1"}}),
        )
        .await;
    let res = app
        .send(
            Method::POST,
            &format!("/api/contacts/{first}/restore"),
            &token,
            None,
        )
        .await;
    assert_problem(res, 409, "duplicate_custom_field_value").await;
    // A PATCH to a taken value, and concurrent PATCHes to the same free value.
    let third = app
        .create("/api/contacts", &token, json!({"fullName": "Third"}))
        .await;
    let res = app
        .patch(
            &format!("/api/contacts/{}", third["id"].as_str().unwrap()),
            &token,
            json!({"customFields": {"passport": "X-1"}}),
        )
        .await;
    assert_problem(res, 409, "duplicate_custom_field_value").await;
    let patches = [&other, &third].map(|c| {
        app.authed(
            Method::PATCH,
            &format!("/api/contacts/{}", c["id"].as_str().unwrap()),
            &token,
        )
        .json(&json!({"customFields": {"passport": "Y-2"}}))
        .send()
    });
    let statuses: Vec<u16> = join_all(patches)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [200, 409], "{statuses:?}");
    // Batch items are checked one by one.
    let items = json!([
        {"fullName": "B1", "customFields": {"passport": "Z-3"}},
        {"fullName": "B2", "customFields": {"passport": "Z-3"}},
        {"fullName": "B3", "customFields": {"passport": 5}}
    ]);
    let (statuses, results) = app.batch("/api/contacts", &token, items).await;
    assert_eq!(statuses, [201, 409, 400]);
    assert_eq!(
        results[2]["problem"]["errors"][0]["field"],
        "customFields.passport"
    );
}

#[tokio::test]
async fn removing_an_option_in_use_or_changing_the_type_needs_the_values_to_convert() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let field = define(
        &app,
        &admin,
        json!({"entityType": "deal", "key": "tier", "type": "SELECT", "options": ["A", "B", "C", "10"]}),
    )
    .await;
    let path = format!("/api/custom-fields/{}", field["id"].as_str().unwrap());
    let mut ids = Vec::new();
    for tier in ["A", "B", "B", "10"] {
        let deal = app
            .create(
                "/api/deals",
                &admin,
                json!({"title": "T", "customFields": {"tier": tier}}),
            )
            .await;
        ids.push(deal["id"].as_str().unwrap().to_owned());
    }
    let res = app
        .patch(&path, &admin, json!({"options": ["A", "C", "10"]}))
        .await;
    let problem = assert_problem(res, 409, "option_in_use").await;
    assert!(
        problem["detail"].as_str().unwrap().starts_with("2 record"),
        "{problem}"
    );
    assert_eq!(named(&problem), ["options"]);
    // Adding, reordering and removing an unused option are free.
    let (status, body) = call(
        &app,
        &admin,
        Method::PATCH,
        &path,
        Some(json!({"options": ["10", "B", "A", "D"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // To NUMBER: "A" and "B" do not convert.
    let res = app.patch(&path, &admin, json!({"type": "NUMBER"})).await;
    let problem = assert_problem(res, 409, "values_do_not_convert").await;
    assert!(
        problem["detail"].as_str().unwrap().starts_with("3 record"),
        "{problem}"
    );
    // To TEXT everything converts.
    let (status, body) = call(
        &app,
        &admin,
        Method::PATCH,
        &path,
        Some(json!({"type": "TEXT"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["options"], json!([]));
    let (_, deal) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/deals/{}", ids[3]),
        None,
    )
    .await;
    assert_eq!(deal["data"]["customFields"]["tier"], "10");
    // TEXT to MULTI_SELECT with options that hold every value.
    let (status, body) = call(
        &app,
        &admin,
        Method::PATCH,
        &path,
        Some(json!({"type": "MULTI_SELECT", "options": ["A", "B", "10"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, deal) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/deals/{}", ids[1]),
        None,
    )
    .await;
    assert_eq!(deal["data"]["customFields"]["tier"], json!(["B"]));
    // Only the last conversion changed this value ("B" stayed "B" as TEXT).
    assert_eq!(deal["data"]["version"], 2);
    // The conversion is in the record's activity.
    let (_, log) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/activity?entityType=deal&entityId={}", ids[1]),
        None,
    )
    .await;
    assert_eq!(
        log["data"][0]["changes"],
        json!([{"field": "customFields.tier", "from": "B", "to": ["B"]}])
    );
}

#[tokio::test]
async fn deactivated_fields_are_hidden_refused_and_come_back_with_their_data() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let field = define(
        &app,
        &admin,
        json!({"entityType": "deal", "key": "seats", "type": "NUMBER"}),
    )
    .await;
    let path = format!("/api/custom-fields/{}", field["id"].as_str().unwrap());
    let deal = app
        .create(
            "/api/deals",
            &admin,
            json!({"title": "T", "customFields": {"seats": 4}}),
        )
        .await;
    let deal_path = format!("/api/deals/{}", deal["id"].as_str().unwrap());
    let (status, body) = call(
        &app,
        &admin,
        Method::PATCH,
        &path,
        Some(json!({"isActive": false})),
    )
    .await;
    assert_eq!(
        (status, body["data"]["isActive"].clone()),
        (StatusCode::OK, json!(false))
    );
    let (_, read) = call(&app, &admin, Method::GET, &deal_path, None).await;
    assert_eq!(read["data"]["customFields"], json!({}));
    // It reads differently, so it is a new version.
    assert_eq!(
        read["data"]["version"],
        deal["version"].as_i64().unwrap() + 1
    );
    let res = app
        .patch(&deal_path, &admin, json!({"customFields": {"seats": 5}}))
        .await;
    let problem = assert_problem(res, 400, "validation_failed").await;
    assert_eq!(named(&problem), ["customFields.seats"]);
    let res = app.get("/api/deals?cf.seats=4", &admin).await;
    let problem = assert_problem(res, 400, "validation_failed").await;
    assert_eq!(named(&problem), ["cf.seats"]);
    let (_, active) = call(
        &app,
        &admin,
        Method::GET,
        "/api/custom-fields?entityType=deal&isActive=true",
        None,
    )
    .await;
    assert_eq!(active["data"], json!([]));

    let (status, _) = call(
        &app,
        &admin,
        Method::PATCH,
        &path,
        Some(json!({"isActive": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, read) = call(&app, &admin, Method::GET, &deal_path, None).await;
    assert_eq!(read["data"]["customFields"], json!({"seats": 4}));
    assert_eq!(
        read["data"]["version"],
        deal["version"].as_i64().unwrap() + 2
    );
}

#[tokio::test]
async fn deleting_a_field_removes_its_values() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let field = define(
        &app,
        &admin,
        json!({"entityType": "task", "key": "effort", "type": "NUMBER"}),
    )
    .await;
    let task = app
        .create(
            "/api/tasks",
            &admin,
            json!({"title": "T", "customFields": {"effort": 2}}),
        )
        .await;
    let path = format!("/api/custom-fields/{}", field["id"].as_str().unwrap());
    let res = app.delete_if(&path, &admin, 9).await;
    assert_problem(res, 412, "version_mismatch").await;
    let (status, _) = call(&app, &admin, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, &admin, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, read) = call(
        &app,
        &admin,
        Method::GET,
        &format!("/api/tasks/{}", task["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(read["data"]["customFields"], json!({}));
    let res = app
        .post(
            "/api/tasks",
            &admin,
            json!({"title": "T", "customFields": {"effort": 2}}),
        )
        .await;
    assert_problem(res, 400, "validation_failed").await;
}

/// Titles of the deals a list answers, in order.
async fn titles(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let (status, body) = call(
        app,
        token,
        Method::GET,
        &format!("/api/deals?{query}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn lists_filter_and_sort_by_every_type() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    every_type(&app, &admin).await;
    let items = json!([
        {"title": "d1", "customFields": {"note": "alpha", "score": 5, "renewal": "2027-01-10",
            "signed_at": "2026-01-01T10:00:00Z", "strategic": true, "tier": "Gold",
            "products": ["CRM"], "site": "https://one.example", "champion": "a@one.example",
            "hotline": "+14155552671"}},
        {"title": "d2", "customFields": {"note": "beta", "score": 12.5, "renewal": "2027-03-01",
            "signed_at": "2026-06-01T10:00:00Z", "strategic": false, "tier": "Silver",
            "products": ["CRM", "Analytics"], "site": "https://two.example",
            "champion": "b@two.example", "hotline": "+442079460958"}},
        {"title": "d3", "customFields": {"note": "gamma", "score": -1, "renewal": "2026-12-31",
            "signed_at": "2026-03-01T10:00:00Z", "tier": "Gold", "products": ["Support"]}},
        {"title": "d4"}
    ]);
    let (status, body) = call(
        &app,
        &admin,
        Method::POST,
        "/api/deals/batch",
        Some(json!({"items": items})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == 201),
        "{body}"
    );

    for (query, expected) in [
        ("cf.note=beta", vec!["d2"]),
        ("cf.score=12.50", vec!["d2"]),
        ("cf.score.gte=5", vec!["d1", "d2"]),
        ("cf.score.gt=5", vec!["d2"]),
        ("cf.score.lt=5", vec!["d3"]),
        ("cf.score.gte=0&cf.score.lte=10", vec!["d1"]),
        ("cf.renewal.gte=2027-01-01", vec!["d1", "d2"]),
        ("cf.renewal.lt=2027-01-01", vec!["d3"]),
        (
            "cf.signed_at.gte=2026-02-01T00:00:00%2B01:00&cf.signed_at.lte=2026-06-01T10:00:00Z",
            vec!["d2", "d3"],
        ),
        ("cf.signed_at.lt=2026-02-01", vec!["d1"]),
        ("cf.strategic=true", vec!["d1"]),
        ("cf.strategic=false", vec!["d2"]),
        ("cf.tier=gold", vec!["d1", "d3"]),
        ("cf.tier=Silver&cf.tier=Gold", vec!["d1", "d2", "d3"]),
        ("cf.products=CRM", vec!["d1", "d2"]),
        ("cf.products=analytics", vec!["d2"]),
        (
            "cf.products=Support&cf.products=Analytics",
            vec!["d2", "d3"],
        ),
        ("cf.site=https://two.example", vec!["d2"]),
        ("cf.champion=a@ONE.example", vec!["d1"]),
        ("cf.hotline=%2B44%2020%207946%200958", vec!["d2"]),
        ("cf.strategic.exists=false", vec!["d3", "d4"]),
        ("cf.tier.exists=true&cf.score.gte=0", vec!["d1", "d2"]),
        ("sort=cf.score", vec!["d3", "d1", "d2", "d4"]),
        ("sort=-cf.score", vec!["d2", "d1", "d3", "d4"]),
        ("sort=cf.renewal", vec!["d3", "d1", "d2", "d4"]),
        ("sort=-cf.signed_at", vec!["d2", "d3", "d1", "d4"]),
        ("sort=cf.note", vec!["d1", "d2", "d3", "d4"]),
        ("sort=cf.tier,-cf.score", vec!["d1", "d3", "d2", "d4"]),
        ("sort=-cf.strategic,title", vec!["d1", "d2", "d3", "d4"]),
        ("cf.tier=Gold&sort=-title", vec!["d3", "d1"]),
    ] {
        assert_eq!(titles(&app, &admin, query).await, expected, "{query}");
    }
    // Keyset paging and the trash take the filters too.
    let (_, page) = call(
        &app,
        &admin,
        Method::GET,
        "/api/deals?cursor=&cf.tier=Gold&limit=1",
        None,
    )
    .await;
    assert_eq!(page["data"][0]["title"], "d1");
    assert!(page["meta"]["nextCursor"].is_string());

    for (query, param) in [
        ("cf.nope=1", "cf.nope"),
        ("cf.tier.gte=Gold", "cf.tier.gte"),
        ("cf.score=many", "cf.score"),
        ("cf.score.between=1", "cf.score.between"),
        ("cf.renewal.gte=soon", "cf.renewal.gte"),
        ("cf.tier=Platinum", "cf.tier"),
        ("cf.strategic.exists=maybe", "cf.strategic.exists"),
        ("sort=cf.nope", "sort"),
        ("sort=cf.products", "sort"),
    ] {
        let res = app.get(&format!("/api/deals?{query}"), &admin).await;
        let problem = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(named(&problem), [param], "{query}");
    }
    // Other unknown parameters are still refused.
    let res = app.get("/api/deals?cfx=1", &admin).await;
    assert_problem(res, 400, "invalid_query").await;
}
