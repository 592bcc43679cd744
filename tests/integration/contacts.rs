//! `/api/contacts`: CRUD, normalisation, uniqueness, trash, visibility, filters, cursor
//! paging, batch, company links and their activity, permissions.

use crm_core::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem, id, strings};

#[tokio::test]
async fn a_contact_is_created_normalised_read_and_changed_with_etags() {
    let app = TestApp::spawn().await;
    let (me, token) = app.signed_in(Role::Manager).await;
    app.custom_field(
        json!({"entityType": "contact", "key": "tier", "type": "SELECT",
                            "options": ["gold", "silver"]}),
    )
    .await;
    let body = json!({
        "fullName": "Ada Lovelace", "email": "  Ada@Example.COM ",
        "phone": "+1 (415) 555-2671", "position": "Engineer",
        "tags": ["vip", " VIP "], "social": {"telegram": "@ada", "linkedin": "in/ada"},
        "customFields": {"tier": "gold"}
    });
    let (location, c) = app.create_located("/api/contacts", &token, body).await;
    assert_eq!(c["phone"], "+14155552671");
    assert_eq!(c["email"], "ada@example.com");
    assert_eq!(c["tags"], json!(["vip"]));
    assert_eq!(
        c["social"],
        json!({"telegram": "@ada", "linkedin": "in/ada"})
    );
    assert_eq!(c["ownerId"], json!(me.user.id));
    assert_eq!(c["createdById"], json!(me.user.id));
    assert_eq!(c["deletedAt"], Value::Null);
    assert_eq!(c["companyId"], Value::Null);
    assert_eq!(c["version"], 1);
    let fetched = app.get(&location, &token).await;
    assert_eq!(fetched.headers()["etag"], "\"1\"");
    assert_eq!(fetched.json::<Value>().await.unwrap()["data"], c);

    // A stale If-Match changes nothing.
    let stale = app
        .patch_if(&location, &token, 7, json!({"position": "CTO"}))
        .await;
    assert_problem(stale, 412, "version_mismatch").await;
    let res = app
        .patch_if(
            &location,
            &token,
            1,
            json!({"position": null, "phone": "+44 20 7946 0958"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["data"]["position"], Value::Null);
    assert_eq!(updated["data"]["phone"], "+442079460958");
    assert_eq!(updated["data"]["email"], "ada@example.com");
    let activity = app.activity("contact", &id(&c), &token).await;
    assert_eq!(activity["data"][0]["type"], "contact.updated");
    assert_eq!(
        activity["data"][0]["changes"],
        json!([
            {"field": "phone", "from": "+14155552671", "to": "+442079460958"},
            {"field": "position", "from": "Engineer", "to": null}
        ])
    );
    assert_eq!(activity["data"][1]["type"], "contact.created");
    let res = app
        .patch(&location, &token, json!({"fullName": null}))
        .await;
    let body = assert_problem(res, 400, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "fullName");
}

#[tokio::test]
async fn invalid_input_is_400_naming_the_field_and_bad_references_are_422() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let res = app
        .post(
            "/api/contacts",
            &token,
            json!({"fullName": "Ada", "phone": "415 555 2671"}),
        )
        .await;
    let body = assert_problem(res, 400, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "phone");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("international format"),
        "{body}"
    );
    for (input, field) in [
        (json!({"fullName": ""}), "fullName"),
        (json!({"fullName": "A", "email": "nope"}), "email"),
        (json!({"fullName": "A", "phone": "+1 12"}), "phone"),
        (
            json!({"fullName": "A", "customFields": [1]}),
            "customFields",
        ),
        (json!({"fullName": "A", "tags": [""]}), "tags"),
    ] {
        let res = app.post("/api/contacts", &token, input.clone()).await;
        let body = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], field, "{input}");
    }
    for input in [
        json!({"fullName": "A", "social": {"myspace": "x"}}),
        json!({"fullName": "A", "nickname": "x"}),
        json!({"fullName": "A", "employees": 3}),
    ] {
        let res = app.post("/api/contacts", &token, input.clone()).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{input}");
    }
    let res = app
        .post(
            "/api/contacts",
            &token,
            json!({"fullName": "A", "companyId": uuid::Uuid::now_v7()}),
        )
        .await;
    let body = assert_problem(res, 422, "unknown_company").await;
    assert_eq!(body["errors"][0]["field"], "companyId");
    let res = app
        .post(
            "/api/contacts",
            &token,
            json!({"fullName": "A", "ownerId": uuid::Uuid::now_v7()}),
        )
        .await;
    let body = assert_problem(res, 422, "unknown_user").await;
    assert_eq!(body["errors"][0]["field"], "ownerId");
    let list = app.get_json("/api/contacts", &token).await;
    assert_eq!(list["meta"]["total"], 0, "nothing was written");
}

#[tokio::test]
async fn emails_are_unique_case_insensitively_among_live_contacts() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let first = app
        .create(
            "/api/contacts",
            &token,
            json!({"fullName": "Ada", "email": "ada@example.com"}),
        )
        .await;
    let res = app
        .post(
            "/api/contacts",
            &token,
            json!({"fullName": "Other Ada", "email": " ADA@Example.com"}),
        )
        .await;
    let body = assert_problem(res, 409, "duplicate_email").await;
    assert_eq!(body["errors"][0]["field"], "email");
    let second = app
        .create(
            "/api/contacts",
            &token,
            json!({"fullName": "Bob", "email": "bob@example.com"}),
        )
        .await;
    let res = app
        .patch(
            &format!("/api/contacts/{}", second["id"].as_str().unwrap()),
            &token,
            json!({"email": "Ada@example.com"}),
        )
        .await;
    assert_problem(res, 409, "duplicate_email").await;
    assert_eq!(first["email"], "ada@example.com");
}

#[tokio::test]
async fn trash_restore_and_permanent_deletion() {
    let (app, [manager, admin]) = TestApp::spawn_signed_in([Role::Manager, Role::Admin]).await;
    let c = app
        .create(
            "/api/contacts",
            &manager,
            json!({"fullName": "Ada", "email": "ada@example.com"}),
        )
        .await;
    let path = format!("/api/contacts/{}", c["id"].as_str().unwrap());
    let res = app.delete(&path, &manager).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, &manager).await, 404, "not_found").await;
    assert_eq!(
        app.strings("/api/contacts", &manager, "fullName").await,
        Vec::<String>::new()
    );
    let trash = app.get_json("/api/contacts?deleted=true", &manager).await;
    assert_eq!(strings(&trash, "fullName"), ["Ada"]);
    assert!(trash["data"][0]["deletedAt"].is_string());

    // Another contact takes the e-mail: restoring would break uniqueness.
    let taker = app
        .create(
            "/api/contacts",
            &manager,
            json!({"fullName": "Ada 2", "email": "ADA@example.com"}),
        )
        .await;
    let res = app.restore(&path, &manager).await;
    assert_problem(res, 409, "duplicate_email").await;
    app.patch(
        &format!("/api/contacts/{}", taker["id"].as_str().unwrap()),
        &manager,
        json!({"email": null}),
    )
    .await;
    let res = app.restore(&path, &manager).await;
    assert_eq!(res.status(), StatusCode::OK);
    let restored: Value = res.json().await.unwrap();
    assert_eq!(restored["data"]["deletedAt"], Value::Null);
    assert_eq!(restored["data"]["version"], 3);

    // For good: admins only.
    let permanent = format!("{path}?permanent=true");
    assert_problem(app.delete(&permanent, &manager).await, 403, "forbidden").await;
    let res = app.delete(&permanent, &admin).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, &admin).await, 404, "not_found").await;
    assert_problem(app.restore(&path, &admin).await, 404, "not_found").await;
    assert_eq!(
        app.strings("/api/contacts?deleted=true", &admin, "fullName")
            .await,
        Vec::<String>::new()
    );
    // The record is gone, so its timeline is too.
    assert_eq!(
        app.get(
            &format!(
                "/api/activity?entityType=contact&entityId={}",
                c["id"].as_str().unwrap()
            ),
            &admin
        )
        .await
        .status(),
        404
    );
}

#[tokio::test]
async fn without_contacts_read_all_only_own_contacts_are_listed_found_and_read() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let (me, token) = app.signed_in(Role::Manager).await;
    app.revoke(&admin, me.user.id, &["contacts.read_all"]).await;
    let acme = app
        .create(
            "/api/companies",
            &admin,
            json!({"name": "Acme", "industry": "Retail"}),
        )
        .await;
    let mine = app
        .create(
            "/api/contacts",
            &token,
            json!({"fullName": "Mine Person", "companyId": acme["id"]}),
        )
        .await;
    let theirs = app.create("/api/contacts", &admin, json!({"fullName": "Their Person", "email": "their@example.com", "companyId": acme["id"]}))
    .await;
    assert_eq!(
        app.strings("/api/contacts", &token, "fullName").await,
        ["Mine Person"]
    );
    assert_eq!(
        app.get_json("/api/contacts", &token).await["meta"]["total"],
        1
    );
    assert_eq!(
        app.strings("/api/contacts?q=person", &token, "fullName")
            .await,
        ["Mine Person"]
    );
    assert_eq!(
        app.strings("/api/contacts?q=their", &token, "fullName")
            .await,
        Vec::<String>::new()
    );
    assert_eq!(
        strings(
            &app.get_json("/api/contacts?company.industry=retail", &token)
                .await,
            "fullName"
        ),
        ["Mine Person"]
    );
    let of_acme = format!("/api/companies/{}/contacts", acme["id"].as_str().unwrap());
    assert_eq!(
        app.strings(&of_acme, &token, "fullName").await,
        ["Mine Person"]
    );
    assert_eq!(
        app.strings(&of_acme, &admin, "fullName").await,
        ["Mine Person", "Their Person"]
    );
    let their_path = format!("/api/contacts/{}", theirs["id"].as_str().unwrap());
    assert_problem(app.get(&their_path, &token).await, 404, "not_found").await;
    assert_problem(
        app.patch(&their_path, &token, json!({"position": "x"}))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(app.delete(&their_path, &token).await, 404, "not_found").await;
    let timeline = format!(
        "/api/activity?entityType=contact&entityId={}",
        theirs["id"].as_str().unwrap()
    );
    assert_problem(app.get(&timeline, &token).await, 404, "not_found").await;
    let own = format!("/api/contacts/{}", mine["id"].as_str().unwrap());
    assert_eq!(app.get(&own, &token).await.status(), 200);
}

#[tokio::test]
async fn lists_filter_search_sort_and_follow_one_relation_level() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let acme = app
        .create(
            "/api/companies",
            &token,
            json!({"name": "Acme Corp", "industry": "Retail"}),
        )
        .await;
    let globex = app
        .create(
            "/api/companies",
            &token,
            json!({"name": "Globex", "industry": "Energy"}),
        )
        .await;
    app.create("/api/contacts", &token, json!({"fullName": "Ada Lovelace", "email": "ada@example.com", "companyId": acme["id"], "tags": ["vip"]})).await;
    app.create(
        "/api/contacts",
        &token,
        json!({"fullName": "Grace Hopper", "phone": "+1 415 555 2671", "companyId": globex["id"]}),
    )
    .await;
    app.create(
        "/api/contacts",
        &token,
        json!({"fullName": "Alan Turing", "email": "alan@example.com", "companyId": acme["id"]}),
    )
    .await;
    app.create(
        "/api/contacts",
        &token,
        json!({"fullName": "Edsger 50%_off"}),
    )
    .await;
    let cases = [
        ("/api/contacts?q=LOVE", vec!["Ada Lovelace"]),
        (
            "/api/contacts?q=example.com",
            vec!["Ada Lovelace", "Alan Turing"],
        ),
        ("/api/contacts?q=4155552671", vec!["Grace Hopper"]),
        ("/api/contacts?q=50%25_", vec!["Edsger 50%_off"]),
        ("/api/contacts?q=a_a", vec![]),
        (
            "/api/contacts?company.industry=RETAIL",
            vec!["Ada Lovelace", "Alan Turing"],
        ),
        ("/api/contacts?company.name=glob", vec!["Grace Hopper"]),
        (
            "/api/contacts?company.name=corp&q=alan",
            vec!["Alan Turing"],
        ),
        ("/api/contacts?tag=vip", vec!["Ada Lovelace"]),
        ("/api/contacts?email=ALAN@example.com", vec!["Alan Turing"]),
        (
            "/api/contacts?sort=-fullName",
            vec![
                "Grace Hopper",
                "Edsger 50%_off",
                "Alan Turing",
                "Ada Lovelace",
            ],
        ),
        (
            "/api/contacts?sort=email,fullName",
            vec![
                "Ada Lovelace",
                "Alan Turing",
                "Edsger 50%_off",
                "Grace Hopper",
            ],
        ),
        (
            "/api/contacts?updatedSince=2000-01-01T00:00:00Z&limit=1&page=2",
            vec!["Grace Hopper"],
        ),
        ("/api/contacts?updatedSince=2999-01-01T00:00:00Z", vec![]),
    ];
    for (path, expected) in cases {
        assert_eq!(
            app.strings(path, &token, "fullName").await,
            expected,
            "{path}"
        );
    }
    let path = format!("/api/contacts?companyId={}", acme["id"].as_str().unwrap());
    assert_eq!(
        app.strings(&path, &token, "fullName").await,
        ["Ada Lovelace", "Alan Turing"]
    );
    for path in [
        "/api/contacts?sort=password",
        "/api/contacts?colour=red",
        "/api/contacts?company.size=3",
        "/api/contacts?limit=101",
        "/api/contacts?updatedSince=yesterday",
        "/api/contacts?cursor=&sort=fullName",
        "/api/contacts?cursor=garbage",
    ] {
        let res = app.get(path, &token).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
    }
}

#[tokio::test]
async fn cursor_pages_cover_every_contact_once() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    for i in 0..7 {
        app.create(
            "/api/contacts",
            &token,
            json!({"fullName": format!("Person {i}")}),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/contacts?limit=3&cursor=".to_owned();
    loop {
        let page = app.get_json(&path, &token).await;
        assert_eq!(page["meta"]["limit"], 3);
        assert!(page["meta"].get("total").is_none());
        seen.extend(strings(&page, "fullName"));
        match page["meta"]["nextCursor"].as_str() {
            Some(next) => path = format!("/api/contacts?limit=3&cursor={next}"),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).map(|i| format!("Person {i}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_batch_answers_each_item_and_keeps_the_good_ones() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let existing = app
        .create(
            "/api/contacts",
            &token,
            json!({"fullName": "Ada", "email": "ada@example.com"}),
        )
        .await;
    let (statuses, results) = app
        .batch(
            "/api/contacts",
            &token,
            json!([
                {"fullName": "New One", "phone": "+1 (415) 555-2671"},
                {"fullName": "Bad Phone", "phone": "12345"},
                {"id": existing["id"], "version": 1, "position": "CEO"},
                {"id": existing["id"], "version": 1, "position": "CTO"},
                {"fullName": "Dup", "email": "ADA@example.com"},
                {"id": uuid::Uuid::now_v7(), "position": "x"},
                {"fullName": "Unknown field", "shoeSize": 44}
            ]),
        )
        .await;
    assert_eq!(statuses, [201, 400, 200, 412, 409, 404, 400]);
    assert_eq!(results[0]["data"]["phone"], "+14155552671");
    assert_eq!(results[1]["problem"]["errors"][0]["field"], "phone");
    assert_eq!(results[2]["data"]["position"], "CEO");
    assert_eq!(results[3]["problem"]["code"], "version_mismatch");
    assert_eq!(results[4]["problem"]["code"], "duplicate_email");
    let list = app.get_json("/api/contacts", &token).await;
    assert_eq!(strings(&list, "fullName"), ["Ada", "New One"]);
}

#[tokio::test]
async fn linking_a_company_is_logged_on_both_sides_and_company_deletion_keeps_contacts() {
    let (app, [token, admin]) = TestApp::spawn_signed_in([Role::Manager, Role::Admin]).await;
    let acme = app
        .create("/api/companies", &token, json!({"name": "Acme"}))
        .await;
    let acme_id = acme["id"].as_str().unwrap().to_owned();
    let c = app
        .create("/api/contacts", &token, json!({"fullName": "Ada"}))
        .await;
    let contact_id = c["id"].as_str().unwrap().to_owned();
    let path = format!("/api/contacts/{contact_id}");
    let res = app
        .patch(&path, &token, json!({"companyId": acme_id}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.patch(&path, &token, json!({"companyId": null})).await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["data"]["companyId"],
        Value::Null
    );
    let contact_log = app.activity("contact", &contact_id, &token).await;
    assert_eq!(
        contact_log["data"][0]["changes"],
        json!([{"field": "companyId", "from": acme_id, "to": null}])
    );
    assert_eq!(
        contact_log["data"][1]["changes"],
        json!([{"field": "companyId", "from": null, "to": acme_id}])
    );
    let company_log = app.activity("company", &acme_id, &token).await;
    let kinds = strings(&company_log, "type");
    assert_eq!(
        kinds,
        [
            "company.contact.unlinked",
            "company.contact.linked",
            "company.created"
        ]
    );
    assert_eq!(
        company_log["data"][1]["changes"],
        json!([{"field": "contactId", "from": null, "to": contact_id}])
    );

    // Soft-deleting the company keeps the link; deleting it for good clears it.
    app.patch(&path, &token, json!({"companyId": acme_id}))
        .await;
    let company_path = format!("/api/companies/{acme_id}");
    assert_eq!(app.delete(&company_path, &token).await.status(), 204);
    assert_eq!(
        app.get_json(&path, &token).await["data"]["companyId"],
        json!(acme_id)
    );
    let res = app
        .patch(
            &path,
            &token,
            json!({"companyId": acme_id, "position": "x"}),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "an unchanged link to a trashed company is kept"
    );
    let res = app
        .post(
            "/api/contacts",
            &token,
            json!({"fullName": "Bob", "companyId": acme_id}),
        )
        .await;
    assert_problem(res, 422, "unknown_company").await;
    let res = app
        .delete(&format!("{company_path}?permanent=true"), &admin)
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.get_json(&path, &token).await["data"]["companyId"],
        Value::Null
    );
}

#[tokio::test]
async fn a_viewer_reads_contacts_but_writes_nothing() {
    let (app, [manager, viewer]) = TestApp::spawn_signed_in([Role::Manager, Role::Viewer]).await;
    let c = app
        .create("/api/contacts", &manager, json!({"fullName": "Ada"}))
        .await;
    let path = format!("/api/contacts/{}", c["id"].as_str().unwrap());
    assert_eq!(
        app.strings("/api/contacts", &viewer, "fullName").await,
        ["Ada"]
    );
    assert_eq!(app.get(&path, &viewer).await.status(), 200);
    app.assert_writes_forbidden(&viewer, "/api/contacts", &path, json!({"fullName": "X"}))
        .await;
    assert_eq!(
        app.strings("/api/contacts", &manager, "fullName").await,
        ["Ada"]
    );
    assert_eq!(app.get("/api/contacts", "").await.status(), 401);
}
