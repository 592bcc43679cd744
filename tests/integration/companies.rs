//! `/api/companies`: CRUD, normalisation, uniqueness, trash, visibility, filters, cursor
//! paging, batch, a company's contacts, permissions.

use crm_core::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem, id, strings};

#[tokio::test]
async fn a_company_is_created_normalised_read_changed_and_logged() {
    let app = TestApp::spawn().await;
    let (me, token) = app.signed_in(Role::Manager).await;
    app.custom_field(json!({"entityType": "company", "key": "tier", "type": "NUMBER"}))
        .await;
    let body = json!({
        "name": " Acme ", "website": "HTTPS://Acme.Example", "industry": "Retail",
        "email": "Sales@Acme.Example", "phone": "+1 (415) 555-2671", "address": "1 Main St",
        "employees": 10, "notes": "n", "tags": ["b2b"], "customFields": {"tier": 1}
    });
    let (location, c) = app.create_located("/api/companies", &token, body).await;
    assert_eq!(c["name"], "Acme");
    // E-mails, URLs and phones are normalised as custom-field values are (crm_core::normalize).
    assert_eq!(c["website"], "https://acme.example/");
    assert_eq!(c["phone"], "+14155552671");
    assert_eq!(c["email"], "sales@acme.example");
    assert_eq!(c["ownerId"], json!(me.user.id));
    assert_eq!(c["customFields"], json!({"tier": 1}));
    assert_eq!(c["deletedAt"], Value::Null);
    assert_eq!(app.get_json(&location, &token).await["data"], c);
    let res = app
        .patch_if(&location, &token, 2, json!({"employees": 11}))
        .await;
    assert_problem(res, 412, "version_mismatch").await;
    let res = app
        .patch_if(
            &location,
            &token,
            1,
            json!({"employees": 11, "website": null, "customFields": {"tier": 2}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let activity = app.activity("company", &id(&c), &token).await;
    assert_eq!(activity["data"][0]["type"], "company.updated");
    assert_eq!(
        activity["data"][0]["changes"],
        json!([
            {"field": "customFields.tier", "from": 1, "to": 2},
            {"field": "employees", "from": 10, "to": 11},
            {"field": "website", "from": "https://acme.example/", "to": null}
        ])
    );
}

#[tokio::test]
async fn invalid_fields_are_400_and_an_unknown_owner_is_422() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    for (input, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({"name": "A", "website": "acme.example"}), "website"),
        (json!({"name": "A", "phone": "(415) 555-2671"}), "phone"),
        (json!({"name": "A", "email": "acme"}), "email"),
        (json!({"name": "A", "employees": -5}), "employees"),
        (json!({"name": "A", "customFields": "x"}), "customFields"),
    ] {
        let res = app.post("/api/companies", &token, input.clone()).await;
        let body = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], field, "{input}");
    }
    let res = app
        .post(
            "/api/companies",
            &token,
            json!({"name": "A", "phone": "12"}),
        )
        .await;
    let body = assert_problem(res, 400, "validation_failed").await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("international format")
    );
    let res = app
        .post(
            "/api/companies",
            &token,
            json!({"name": "A", "ownerId": uuid::Uuid::now_v7()}),
        )
        .await;
    assert_problem(res, 422, "unknown_user").await;
    let res = app
        .post("/api/companies", &token, json!({"name": "A", "size": 3}))
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        app.get_json("/api/companies", &token).await["meta"]["total"],
        0
    );
}

#[tokio::test]
async fn names_are_unique_case_insensitively_and_restore_refuses_a_taken_name() {
    let (app, [manager, admin]) = TestApp::spawn_signed_in([Role::Manager, Role::Admin]).await;
    let acme = app
        .create("/api/companies", &manager, json!({"name": "Acme"}))
        .await;
    let res = app
        .post("/api/companies", &manager, json!({"name": "ACME"}))
        .await;
    let body = assert_problem(res, 409, "duplicate_company_name").await;
    assert_eq!(body["errors"][0]["field"], "name");
    let path = format!("/api/companies/{}", acme["id"].as_str().unwrap());
    assert_eq!(app.delete(&path, &manager).await.status(), 204);
    assert_problem(app.get(&path, &manager).await, 404, "not_found").await;
    assert_eq!(
        app.strings("/api/companies?deleted=true", &manager, "name")
            .await,
        ["Acme"]
    );
    let taker = app
        .create("/api/companies", &manager, json!({"name": "acme"}))
        .await;
    assert_problem(
        app.restore(&path, &manager).await,
        409,
        "duplicate_company_name",
    )
    .await;
    let taker_path = format!("/api/companies/{}", taker["id"].as_str().unwrap());
    app.patch(&taker_path, &manager, json!({"name": "Acme 2"}))
        .await;
    let res = app.restore(&path, &manager).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["data"]["deletedAt"],
        Value::Null
    );
    let res = app
        .patch(&taker_path, &manager, json!({"name": "ACME"}))
        .await;
    assert_problem(res, 409, "duplicate_company_name").await;

    let permanent = format!("{path}?permanent=true");
    assert_problem(app.delete(&permanent, &manager).await, 403, "forbidden").await;
    assert_eq!(app.delete(&permanent, &admin).await.status(), 204);
    assert_problem(app.get(&path, &admin).await, 404, "not_found").await;
    let kinds: Vec<String> = app.activity("company", &id(&taker), &admin).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["company.updated", "company.created"]);
}

#[tokio::test]
async fn without_companies_read_all_only_own_companies_are_visible() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let (me, token) = app.signed_in(Role::Manager).await;
    app.revoke(&admin, me.user.id, &["companies.read_all"])
        .await;
    app.create("/api/companies", &token, json!({"name": "Mine Inc"}))
        .await;
    let theirs = app
        .create("/api/companies", &admin, json!({"name": "Their Inc"}))
        .await;
    assert_eq!(
        app.strings("/api/companies", &token, "name").await,
        ["Mine Inc"]
    );
    assert_eq!(
        app.strings("/api/companies?q=inc", &token, "name").await,
        ["Mine Inc"]
    );
    assert_eq!(
        app.strings("/api/companies", &admin, "name").await,
        ["Mine Inc", "Their Inc"]
    );
    let path = format!("/api/companies/{}", theirs["id"].as_str().unwrap());
    assert_problem(app.get(&path, &token).await, 404, "not_found").await;
    assert_problem(
        app.get(&format!("{path}/contacts"), &token).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.patch(&path, &token, json!({"notes": "x"})).await,
        404,
        "not_found",
    )
    .await;
    // Handing a company to someone else takes it out of sight.
    let res = app
        .post(
            "/api/companies",
            &token,
            json!({"name": "Given Away", "ownerId": theirs["ownerId"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        app.strings("/api/companies", &token, "name").await,
        ["Mine Inc"]
    );
}

#[tokio::test]
async fn lists_filter_sort_search_and_page_by_cursor() {
    let app = TestApp::spawn().await;
    let (me, token) = app.signed_in(Role::Manager).await;
    let (other, other_token) = app.signed_in(Role::Manager).await;
    app.create(
        "/api/companies",
        &token,
        json!({"name": "Acme", "industry": "Retail", "employees": 50, "tags": ["b2b"]}),
    )
    .await;
    app.create(
        "/api/companies",
        &token,
        json!({"name": "globex", "industry": "Energy", "employees": 5}),
    )
    .await;
    app.create(
        "/api/companies",
        &other_token,
        json!({"name": "Initech", "industry": "retail", "tags": ["b2b"]}),
    )
    .await;
    app.create("/api/companies", &token, json!({"name": "100% Foods"}))
        .await;
    app.create(
        "/api/companies",
        &token,
        json!({"name": "Umbrella", "employees": 500}),
    )
    .await;
    let cases = [
        ("/api/companies?industry=RETAIL", vec!["Acme", "Initech"]),
        ("/api/companies?tag=b2b", vec!["Acme", "Initech"]),
        ("/api/companies?q=GLOB", vec!["globex"]),
        ("/api/companies?q=100%25", vec!["100% Foods"]),
        ("/api/companies?q=_", vec![]),
        (
            "/api/companies?sort=name",
            vec!["100% Foods", "Acme", "globex", "Initech", "Umbrella"],
        ),
        (
            "/api/companies?sort=-employees",
            vec!["Umbrella", "Acme", "globex", "Initech", "100% Foods"],
        ),
        (
            "/api/companies?sort=-createdAt&limit=2",
            vec!["Umbrella", "100% Foods"],
        ),
        ("/api/companies?updatedSince=2999-01-01T00:00:00Z", vec![]),
    ];
    for (path, expected) in cases {
        assert_eq!(app.strings(path, &token, "name").await, expected, "{path}");
    }
    let mine = format!("/api/companies?ownerId={}", other.user.id);
    assert_eq!(app.strings(&mine, &token, "name").await, ["Initech"]);
    let _ = me;
    let mut seen = Vec::new();
    let mut path = "/api/companies?limit=2&cursor=".to_owned();
    loop {
        let page = app.get_json(&path, &token).await;
        seen.extend(strings(&page, "name"));
        match page["meta"]["nextCursor"].as_str() {
            Some(next) => path = format!("/api/companies?limit=2&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["Acme", "globex", "Initech", "100% Foods", "Umbrella"]
    );
    for path in [
        "/api/companies?sort=website",
        "/api/companies?cursor=&sort=name",
        "/api/companies?cursor=nope",
        "/api/companies?page=0",
        "/api/companies?kind=x",
        "/api/companies?deleted=maybe",
    ] {
        assert_eq!(app.get(path, &token).await.status(), 400, "{path}");
    }
}

#[tokio::test]
async fn a_company_lists_its_contacts_and_keeps_them_when_deleted() {
    let (app, [token, admin]) = TestApp::spawn_signed_in([Role::Manager, Role::Admin]).await;
    let acme = app
        .create("/api/companies", &token, json!({"name": "Acme"}))
        .await;
    let id = acme["id"].as_str().unwrap();
    let mut contact_ids = Vec::new();
    for i in 0..3 {
        let res = app
            .post(
                "/api/contacts",
                &token,
                json!({"fullName": format!("P{i}"), "companyId": id}),
            )
            .await;
        contact_ids.push(res.json::<Value>().await.unwrap()["data"]["id"].clone());
    }
    app.post("/api/contacts", &token, json!({"fullName": "Loner"}))
        .await;
    let list = app
        .get_json(&format!("/api/companies/{id}/contacts?limit=2"), &token)
        .await;
    assert_eq!(list["meta"]["total"], 3);
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    let path = format!("/api/companies/{id}");
    assert_eq!(app.delete(&path, &token).await.status(), 204);
    assert_problem(
        app.get(&format!("{path}/contacts"), &token).await,
        404,
        "not_found",
    )
    .await;
    let linked = app
        .get_json(&format!("/api/contacts?companyId={id}"), &token)
        .await;
    assert_eq!(
        linked["meta"]["total"], 3,
        "soft delete leaves contacts linked"
    );
    assert_eq!(
        app.delete(&format!("{path}?permanent=true"), &admin)
            .await
            .status(),
        204
    );
    let all = app.get_json("/api/contacts", &token).await;
    assert_eq!(
        all["meta"]["total"], 4,
        "contacts are never deleted with their company"
    );
    assert!(
        all["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["companyId"].is_null())
    );
}

#[tokio::test]
async fn a_batch_answers_each_item_and_keeps_the_good_ones() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let acme = app
        .create("/api/companies", &token, json!({"name": "Acme"}))
        .await;
    let (statuses, results) = app
        .batch(
            "/api/companies",
            &token,
            json!([
                {"name": "Globex", "phone": "+44 20 7946 0958"},
                {"name": "acme"},
                {"id": acme["id"], "version": 1, "industry": "Retail"},
                {"id": acme["id"], "version": 1, "industry": "Energy"},
                {"name": "Bad", "website": "nope"},
                42
            ]),
        )
        .await;
    assert_eq!(statuses, [201, 409, 200, 412, 400, 400]);
    assert_eq!(results[0]["data"]["phone"], "+442079460958");
    assert_eq!(
        app.strings("/api/companies", &token, "name").await,
        ["Acme", "Globex"]
    );
    let res = app
        .post("/api/companies/batch", &token, json!({"items": []}))
        .await;
    assert_problem(res, 400, "validation_failed").await;
}

#[tokio::test]
async fn a_viewer_reads_companies_but_writes_nothing() {
    let (app, [manager, viewer]) = TestApp::spawn_signed_in([Role::Manager, Role::Viewer]).await;
    let acme = app
        .create("/api/companies", &manager, json!({"name": "Acme"}))
        .await;
    let path = format!("/api/companies/{}", acme["id"].as_str().unwrap());
    assert_eq!(
        app.strings("/api/companies", &viewer, "name").await,
        ["Acme"]
    );
    app.get_json(&path, &viewer).await;
    app.assert_writes_forbidden(&viewer, "/api/companies", &path, json!({"name": "X"}))
        .await;
    assert_eq!(app.get_json(&path, &manager).await["data"]["version"], 1);
    assert_eq!(app.get(&path, "").await.status(), 401);
}
