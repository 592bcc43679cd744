//! `/api/contacts`: CRUD, normalisation, uniqueness, trash, visibility, filters, cursor
//! paging, batch, company links and their activity, permissions.

use crm_core::Role;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem};

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let mut req = app.authed(method, path, token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let res = send(app, Method::POST, "/api/contacts", token, Some(body)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["data"].clone()
}

async fn create_company(app: &TestApp, token: &str, body: Value) -> Value {
    let res = send(app, Method::POST, "/api/companies", token, Some(body)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["data"].clone()
}

async fn get_json(app: &TestApp, path: &str, token: &str) -> Value {
    let res = send(app, Method::GET, path, token, None).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.json().await.unwrap()
}

fn names(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["fullName"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_contact_is_created_normalised_read_and_changed_with_etags() {
    let app = TestApp::spawn().await;
    let (me, token) = app.signed_in(Role::Manager).await;
    app.custom_field(
        json!({"entityType": "contact", "key": "tier", "type": "SELECT",
                            "options": ["gold", "silver"]}),
    )
    .await;
    let res = send(
        &app,
        Method::POST,
        "/api/contacts",
        &token,
        Some(json!({
            "fullName": "Ada Lovelace", "email": "  Ada@Example.COM ",
            "phone": "+1 (415) 555-2671", "position": "Engineer",
            "tags": ["vip", " VIP "], "social": {"telegram": "@ada", "linkedin": "in/ada"},
            "customFields": {"tier": "gold"}
        })),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["etag"], "\"1\"");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    let c = &body["data"];
    assert_eq!(
        location,
        format!("/api/contacts/{}", c["id"].as_str().unwrap())
    );
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
    let fetched = send(&app, Method::GET, &location, &token, None).await;
    assert_eq!(fetched.headers()["etag"], "\"1\"");
    assert_eq!(fetched.json::<Value>().await.unwrap()["data"], *c);

    // A stale If-Match changes nothing.
    let stale = app
        .authed(Method::PATCH, &location, &token)
        .header("If-Match", "\"7\"")
        .json(&json!({"position": "CTO"}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "version_mismatch").await;
    let res = app
        .authed(Method::PATCH, &location, &token)
        .header("If-Match", "\"1\"")
        .json(&json!({"position": null, "phone": "+44 20 7946 0958"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["data"]["position"], Value::Null);
    assert_eq!(updated["data"]["phone"], "+442079460958");
    assert_eq!(updated["data"]["email"], "ada@example.com");
    let activity = get_json(
        &app,
        &format!(
            "/api/activity?entityType=contact&entityId={}",
            c["id"].as_str().unwrap()
        ),
        &token,
    )
    .await;
    assert_eq!(activity["data"][0]["type"], "contact.updated");
    assert_eq!(
        activity["data"][0]["changes"],
        json!([
            {"field": "phone", "from": "+14155552671", "to": "+442079460958"},
            {"field": "position", "from": "Engineer", "to": null}
        ])
    );
    assert_eq!(activity["data"][1]["type"], "contact.created");
    let res = send(
        &app,
        Method::PATCH,
        &location,
        &token,
        Some(json!({"fullName": null})),
    )
    .await;
    let body = assert_problem(res, 400, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "fullName");
}

#[tokio::test]
async fn invalid_input_is_400_naming_the_field_and_bad_references_are_422() {
    let app = TestApp::spawn().await;
    let (_, token) = app.signed_in(Role::Manager).await;
    let res = send(
        &app,
        Method::POST,
        "/api/contacts",
        &token,
        Some(json!({"fullName": "Ada", "phone": "415 555 2671"})),
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
        let res = send(
            &app,
            Method::POST,
            "/api/contacts",
            &token,
            Some(input.clone()),
        )
        .await;
        let body = assert_problem(res, 400, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], field, "{input}");
    }
    for input in [
        json!({"fullName": "A", "social": {"myspace": "x"}}),
        json!({"fullName": "A", "nickname": "x"}),
        json!({"fullName": "A", "employees": 3}),
    ] {
        let res = send(
            &app,
            Method::POST,
            "/api/contacts",
            &token,
            Some(input.clone()),
        )
        .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{input}");
    }
    let res = send(
        &app,
        Method::POST,
        "/api/contacts",
        &token,
        Some(json!({"fullName": "A", "companyId": uuid::Uuid::now_v7()})),
    )
    .await;
    let body = assert_problem(res, 422, "unknown_company").await;
    assert_eq!(body["errors"][0]["field"], "companyId");
    let res = send(
        &app,
        Method::POST,
        "/api/contacts",
        &token,
        Some(json!({"fullName": "A", "ownerId": uuid::Uuid::now_v7()})),
    )
    .await;
    let body = assert_problem(res, 422, "unknown_user").await;
    assert_eq!(body["errors"][0]["field"], "ownerId");
    let list = get_json(&app, "/api/contacts", &token).await;
    assert_eq!(list["meta"]["total"], 0, "nothing was written");
}

#[tokio::test]
async fn emails_are_unique_case_insensitively_among_live_contacts() {
    let app = TestApp::spawn().await;
    let (_, token) = app.signed_in(Role::Manager).await;
    let first = create(
        &app,
        &token,
        json!({"fullName": "Ada", "email": "ada@example.com"}),
    )
    .await;
    let res = send(
        &app,
        Method::POST,
        "/api/contacts",
        &token,
        Some(json!({"fullName": "Other Ada", "email": " ADA@Example.com"})),
    )
    .await;
    let body = assert_problem(res, 409, "duplicate_email").await;
    assert_eq!(body["errors"][0]["field"], "email");
    let second = create(
        &app,
        &token,
        json!({"fullName": "Bob", "email": "bob@example.com"}),
    )
    .await;
    let res = send(
        &app,
        Method::PATCH,
        &format!("/api/contacts/{}", second["id"].as_str().unwrap()),
        &token,
        Some(json!({"email": "Ada@example.com"})),
    )
    .await;
    assert_problem(res, 409, "duplicate_email").await;
    assert_eq!(first["email"], "ada@example.com");
}

#[tokio::test]
async fn trash_restore_and_permanent_deletion() {
    let app = TestApp::spawn().await;
    let (_, manager) = app.signed_in(Role::Manager).await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let c = create(
        &app,
        &manager,
        json!({"fullName": "Ada", "email": "ada@example.com"}),
    )
    .await;
    let path = format!("/api/contacts/{}", c["id"].as_str().unwrap());
    let res = send(&app, Method::DELETE, &path, &manager, None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_problem(
        send(&app, Method::GET, &path, &manager, None).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        names(&get_json(&app, "/api/contacts", &manager).await),
        Vec::<String>::new()
    );
    let trash = get_json(&app, "/api/contacts?deleted=true", &manager).await;
    assert_eq!(names(&trash), ["Ada"]);
    assert!(trash["data"][0]["deletedAt"].is_string());

    // Another contact takes the e-mail: restoring would break uniqueness.
    let taker = create(
        &app,
        &manager,
        json!({"fullName": "Ada 2", "email": "ADA@example.com"}),
    )
    .await;
    let restore = format!("{path}/restore");
    let res = send(&app, Method::POST, &restore, &manager, None).await;
    assert_problem(res, 409, "duplicate_email").await;
    send(
        &app,
        Method::PATCH,
        &format!("/api/contacts/{}", taker["id"].as_str().unwrap()),
        &manager,
        Some(json!({"email": null})),
    )
    .await;
    let res = send(&app, Method::POST, &restore, &manager, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let restored: Value = res.json().await.unwrap();
    assert_eq!(restored["data"]["deletedAt"], Value::Null);
    assert_eq!(restored["data"]["version"], 3);

    // For good: admins only.
    let permanent = format!("{path}?permanent=true");
    assert_problem(
        send(&app, Method::DELETE, &permanent, &manager, None).await,
        403,
        "forbidden",
    )
    .await;
    let res = send(&app, Method::DELETE, &permanent, &admin, None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_problem(
        send(&app, Method::GET, &path, &admin, None).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        send(&app, Method::POST, &restore, &admin, None).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        names(&get_json(&app, "/api/contacts?deleted=true", &admin).await),
        Vec::<String>::new()
    );
    // The record is gone, so its timeline is too.
    assert_eq!(
        send(
            &app,
            Method::GET,
            &format!(
                "/api/activity?entityType=contact&entityId={}",
                c["id"].as_str().unwrap()
            ),
            &admin,
            None
        )
        .await
        .status(),
        404
    );
}

#[tokio::test]
async fn without_contacts_read_all_only_own_contacts_are_listed_found_and_read() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let (me, token) = app.signed_in(Role::Manager).await;
    let res = send(
        &app,
        Method::PATCH,
        &format!("/api/users/{}", me.user.id),
        &admin,
        Some(json!({"permissionRevokes": ["contacts.read_all"]})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let acme = create_company(&app, &admin, json!({"name": "Acme", "industry": "Retail"})).await;
    let mine = create(
        &app,
        &token,
        json!({"fullName": "Mine Person", "companyId": acme["id"]}),
    )
    .await;
    let theirs = create(
        &app,
        &admin,
        json!({"fullName": "Their Person", "email": "their@example.com", "companyId": acme["id"]}),
    )
    .await;
    assert_eq!(
        names(&get_json(&app, "/api/contacts", &token).await),
        ["Mine Person"]
    );
    assert_eq!(
        get_json(&app, "/api/contacts", &token).await["meta"]["total"],
        1
    );
    assert_eq!(
        names(&get_json(&app, "/api/contacts?q=person", &token).await),
        ["Mine Person"]
    );
    assert_eq!(
        names(&get_json(&app, "/api/contacts?q=their", &token).await),
        Vec::<String>::new()
    );
    assert_eq!(
        names(&get_json(&app, "/api/contacts?company.industry=retail", &token).await),
        ["Mine Person"]
    );
    let of_acme = format!("/api/companies/{}/contacts", acme["id"].as_str().unwrap());
    assert_eq!(
        names(&get_json(&app, &of_acme, &token).await),
        ["Mine Person"]
    );
    assert_eq!(
        names(&get_json(&app, &of_acme, &admin).await),
        ["Mine Person", "Their Person"]
    );
    let their_path = format!("/api/contacts/{}", theirs["id"].as_str().unwrap());
    assert_problem(
        send(&app, Method::GET, &their_path, &token, None).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        send(
            &app,
            Method::PATCH,
            &their_path,
            &token,
            Some(json!({"position": "x"})),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        send(&app, Method::DELETE, &their_path, &token, None).await,
        404,
        "not_found",
    )
    .await;
    let timeline = format!(
        "/api/activity?entityType=contact&entityId={}",
        theirs["id"].as_str().unwrap()
    );
    assert_problem(
        send(&app, Method::GET, &timeline, &token, None).await,
        404,
        "not_found",
    )
    .await;
    let own = format!("/api/contacts/{}", mine["id"].as_str().unwrap());
    assert_eq!(
        send(&app, Method::GET, &own, &token, None).await.status(),
        200
    );
}

#[tokio::test]
async fn lists_filter_search_sort_and_follow_one_relation_level() {
    let app = TestApp::spawn().await;
    let (_, token) = app.signed_in(Role::Manager).await;
    let acme = create_company(
        &app,
        &token,
        json!({"name": "Acme Corp", "industry": "Retail"}),
    )
    .await;
    let globex = create_company(
        &app,
        &token,
        json!({"name": "Globex", "industry": "Energy"}),
    )
    .await;
    create(&app, &token, json!({"fullName": "Ada Lovelace", "email": "ada@example.com", "companyId": acme["id"], "tags": ["vip"]})).await;
    create(
        &app,
        &token,
        json!({"fullName": "Grace Hopper", "phone": "+1 415 555 2671", "companyId": globex["id"]}),
    )
    .await;
    create(
        &app,
        &token,
        json!({"fullName": "Alan Turing", "email": "alan@example.com", "companyId": acme["id"]}),
    )
    .await;
    create(&app, &token, json!({"fullName": "Edsger 50%_off"})).await;
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
            names(&get_json(&app, path, &token).await),
            expected,
            "{path}"
        );
    }
    let path = format!("/api/contacts?companyId={}", acme["id"].as_str().unwrap());
    assert_eq!(
        names(&get_json(&app, &path, &token).await),
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
        let res = send(&app, Method::GET, path, &token, None).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
    }
}

#[tokio::test]
async fn cursor_pages_cover_every_contact_once() {
    let app = TestApp::spawn().await;
    let (_, token) = app.signed_in(Role::Manager).await;
    for i in 0..7 {
        create(&app, &token, json!({"fullName": format!("Person {i}")})).await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/contacts?limit=3&cursor=".to_owned();
    loop {
        let page = get_json(&app, &path, &token).await;
        assert_eq!(page["meta"]["limit"], 3);
        assert!(page["meta"].get("total").is_none());
        seen.extend(names(&page));
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
    let app = TestApp::spawn().await;
    let (_, token) = app.signed_in(Role::Manager).await;
    let existing = create(
        &app,
        &token,
        json!({"fullName": "Ada", "email": "ada@example.com"}),
    )
    .await;
    let res = send(
        &app,
        Method::POST,
        "/api/contacts/batch",
        &token,
        Some(json!({"items": [
            {"fullName": "New One", "phone": "+1 (415) 555-2671"},
            {"fullName": "Bad Phone", "phone": "12345"},
            {"id": existing["id"], "version": 1, "position": "CEO"},
            {"id": existing["id"], "version": 1, "position": "CTO"},
            {"fullName": "Dup", "email": "ADA@example.com"},
            {"id": uuid::Uuid::now_v7(), "position": "x"},
            {"fullName": "Unknown field", "shoeSize": 44}
        ]})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let statuses: Vec<u64> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 400, 200, 412, 409, 404, 400]);
    assert_eq!(body["data"][0]["data"]["phone"], "+14155552671");
    assert_eq!(body["data"][1]["problem"]["errors"][0]["field"], "phone");
    assert_eq!(body["data"][2]["data"]["position"], "CEO");
    assert_eq!(body["data"][3]["problem"]["code"], "version_mismatch");
    assert_eq!(body["data"][4]["problem"]["code"], "duplicate_email");
    let list = get_json(&app, "/api/contacts", &token).await;
    assert_eq!(names(&list), ["Ada", "New One"]);
}

#[tokio::test]
async fn linking_a_company_is_logged_on_both_sides_and_company_deletion_keeps_contacts() {
    let app = TestApp::spawn().await;
    let (_, token) = app.signed_in(Role::Manager).await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let acme = create_company(&app, &token, json!({"name": "Acme"})).await;
    let acme_id = acme["id"].as_str().unwrap().to_owned();
    let c = create(&app, &token, json!({"fullName": "Ada"})).await;
    let contact_id = c["id"].as_str().unwrap().to_owned();
    let path = format!("/api/contacts/{contact_id}");
    let res = send(
        &app,
        Method::PATCH,
        &path,
        &token,
        Some(json!({"companyId": acme_id})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = send(
        &app,
        Method::PATCH,
        &path,
        &token,
        Some(json!({"companyId": null})),
    )
    .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["data"]["companyId"],
        Value::Null
    );
    let contact_log = get_json(
        &app,
        &format!("/api/activity?entityType=contact&entityId={contact_id}"),
        &token,
    )
    .await;
    assert_eq!(
        contact_log["data"][0]["changes"],
        json!([{"field": "companyId", "from": acme_id, "to": null}])
    );
    assert_eq!(
        contact_log["data"][1]["changes"],
        json!([{"field": "companyId", "from": null, "to": acme_id}])
    );
    let company_log = get_json(
        &app,
        &format!("/api/activity?entityType=company&entityId={acme_id}"),
        &token,
    )
    .await;
    let kinds: Vec<&str> = company_log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
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
    send(
        &app,
        Method::PATCH,
        &path,
        &token,
        Some(json!({"companyId": acme_id})),
    )
    .await;
    let company_path = format!("/api/companies/{acme_id}");
    assert_eq!(
        send(&app, Method::DELETE, &company_path, &token, None)
            .await
            .status(),
        204
    );
    assert_eq!(
        get_json(&app, &path, &token).await["data"]["companyId"],
        json!(acme_id)
    );
    let res = send(
        &app,
        Method::PATCH,
        &path,
        &token,
        Some(json!({"companyId": acme_id, "position": "x"})),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "an unchanged link to a trashed company is kept"
    );
    let res = send(
        &app,
        Method::POST,
        "/api/contacts",
        &token,
        Some(json!({"fullName": "Bob", "companyId": acme_id})),
    )
    .await;
    assert_problem(res, 422, "unknown_company").await;
    let res = send(
        &app,
        Method::DELETE,
        &format!("{company_path}?permanent=true"),
        &admin,
        None,
    )
    .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        get_json(&app, &path, &token).await["data"]["companyId"],
        Value::Null
    );
}

#[tokio::test]
async fn a_viewer_reads_contacts_but_writes_nothing() {
    let app = TestApp::spawn().await;
    let (_, manager) = app.signed_in(Role::Manager).await;
    let (_, viewer) = app.signed_in(Role::Viewer).await;
    let c = create(&app, &manager, json!({"fullName": "Ada"})).await;
    let path = format!("/api/contacts/{}", c["id"].as_str().unwrap());
    assert_eq!(
        names(&get_json(&app, "/api/contacts", &viewer).await),
        ["Ada"]
    );
    assert_eq!(
        send(&app, Method::GET, &path, &viewer, None).await.status(),
        200
    );
    let writes = [
        (
            Method::POST,
            "/api/contacts".to_owned(),
            Some(json!({"fullName": "X"})),
        ),
        (Method::PATCH, path.clone(), Some(json!({"fullName": "X"}))),
        (Method::DELETE, path.clone(), None),
        (Method::POST, format!("{path}/restore"), None),
    ];
    for (method, p, body) in writes {
        let res = send(&app, method.clone(), &p, &viewer, body).await;
        assert_problem(res, 403, "forbidden").await;
    }
    let res = send(
        &app,
        Method::POST,
        "/api/contacts/batch",
        &viewer,
        Some(json!({"items": [{"fullName": "X"}]})),
    )
    .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"][0]["status"], 403);
    assert_eq!(
        names(&get_json(&app, "/api/contacts", &manager).await),
        ["Ada"]
    );
    assert_eq!(
        send(&app, Method::GET, "/api/contacts", "", None)
            .await
            .status(),
        401
    );
}
