//! Exports of companies, deals and tasks: each record type's file imports back to the same data
//! (CSV and XLSX), linked records named as the import reads them, under the list's visibility.

use crm_core::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::files::Form;
use crate::imports::import;
use crate::support::TestApp;

async fn exported(app: &TestApp, token: &str, query: &str) -> Vec<u8> {
    let res = app
        .authed(
            Method::GET,
            &format!("/api/import-export/export?{query}"),
            token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{query}");
    res.bytes().await.unwrap().to_vec()
}

fn form(entity: &str, name: &str, bytes: &[u8]) -> Form {
    Form::default()
        .text("entityType", entity)
        .file(&format!("filename=\"{name}\""), bytes)
}

/// The records of a list with only the fields an import carries over.
async fn comparable(app: &TestApp, token: &str, path: &str, fields: &[&str]) -> Vec<Value> {
    let list = app.get_json(path, token).await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let kept: serde_json::Map<String, Value> = fields
                .iter()
                .map(|f| ((*f).to_owned(), r[*f].clone()))
                .collect();
            Value::Object(kept)
        })
        .collect()
}

async fn trash_all(app: &TestApp, token: &str, collection: &str) {
    let list = app
        .get_json(&format!("{collection}?limit=100"), token)
        .await;
    for r in list["data"].as_array().unwrap() {
        let path = format!("{collection}/{}", r["id"].as_str().unwrap());
        assert_eq!(app.delete(&path, token).await.status(), 204, "{path}");
    }
}

const DEAL_FIELDS: &[&str] = &[
    "title",
    "amount",
    "currency",
    "pipelineId",
    "stageId",
    "status",
    "contactId",
    "companyId",
    "assignedToId",
    "expectedCloseAt",
    "lostReason",
    "description",
    "tags",
    "customFields",
];
const TASK_FIELDS: &[&str] = &[
    "title",
    "description",
    "status",
    "priority",
    "type",
    "dueAt",
    "dealId",
    "contactId",
    "assignedToId",
    "tags",
    "customFields",
];
const COMPANY_FIELDS: &[&str] = &[
    "name",
    "website",
    "industry",
    "email",
    "phone",
    "address",
    "employees",
    "notes",
    "tags",
    "customFields",
];

#[tokio::test]
async fn companies_deals_and_tasks_export_and_import_back_to_the_same_data() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let me = app.get_json("/api/auth/me", &admin).await["data"].clone();
    for (entity, key, kind) in [
        ("company", "region", "TEXT"),
        ("deal", "source", "TEXT"),
        ("task", "effort", "NUMBER"),
    ] {
        app.custom_field(json!({"entityType": entity, "key": key, "name": key, "type": kind}))
            .await;
    }
    let pipeline = app
        .create(
            "/api/pipelines",
            &admin,
            json!({"name": "Продажи", "stages": [
                {"name": "Новая"}, {"name": "Закрыта", "type": "WON"}, {"name": "Отказ", "type": "LOST"}
            ]}),
        )
        .await;
    let company = app
        .create(
            "/api/companies",
            &admin,
            json!({"name": "Acme, Inc.", "website": "https://acme.example", "industry": "Retail",
                   "email": "hello@acme.example", "phone": "+14155552671", "address": "1 Main St\nSpringfield",
                   "employees": 120, "notes": "=SUM(A1)", "tags": ["key", "b2b"],
                   "customFields": {"region": "West"}}),
        )
        .await;
    app.create("/api/companies", &admin, json!({"name": "Tiny"}))
        .await;
    let contact = app
        .create(
            "/api/contacts",
            &admin,
            json!({"fullName": "Anna", "email": "anna@example.com", "phone": "+14155550000"}),
        )
        .await;
    let phoned = app
        .create(
            "/api/contacts",
            &admin,
            json!({"fullName": "Phone only", "phone": "+14155550001"}),
        )
        .await;
    let won = app
        .create(
            "/api/deals",
            &admin,
            json!({"title": "Big, \"quoted\" deal", "amount": "1500.50", "currency": "EUR",
                   "stageId": pipeline["stages"][1]["id"], "contactId": contact["id"],
                   "companyId": company["id"], "assignedToId": me["id"],
                   "expectedCloseAt": "2025-06-30T00:00:00Z", "description": "two\nlines",
                   "tags": ["vip"], "customFields": {"source": "fair"}}),
        )
        .await;
    app.create(
        "/api/deals",
        &admin,
        json!({"title": "Lost one", "stageId": pipeline["stages"][2]["id"],
               "lostReason": "price", "contactId": phoned["id"]}),
    )
    .await;
    app.create("/api/deals", &admin, json!({"title": "Plain"}))
        .await;
    app.create(
        "/api/tasks",
        &admin,
        json!({"title": "Call back", "description": "-about the offer", "status": "DONE",
               "priority": "HIGH", "type": "CALL", "dueAt": "2025-03-01T09:00:00Z",
               "dealId": won["id"], "contactId": contact["id"], "tags": ["phone"],
               "customFields": {"effort": 2.5}}),
    )
    .await;
    app.create("/api/tasks", &admin, json!({"title": "Plain task"}))
        .await;

    let deals = "/api/deals?limit=100&sort=title";
    let tasks = "/api/tasks?limit=100&sort=title";
    let companies = "/api/companies?limit=100&sort=name";
    let deals_before = comparable(&app, &admin, deals, DEAL_FIELDS).await;
    let tasks_before = comparable(&app, &admin, tasks, TASK_FIELDS).await;
    let companies_before = comparable(&app, &admin, companies, COMPANY_FIELDS).await;
    let deal_file = exported(&app, &admin, "entityType=deals&format=csv").await;
    let header = String::from_utf8_lossy(&deal_file)
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert!(
        header.starts_with("number,title,amount,currency,pipeline,stage,status,contactEmail"),
        "{header}"
    );
    assert!(
        header.ends_with(",source,id,createdAt,updatedAt"),
        "{header}"
    );
    let deal_text = String::from_utf8_lossy(&deal_file).into_owned();
    assert!(
        deal_text.contains(",Продажи,Закрыта,won,anna@example.com,"),
        "{deal_text}"
    );
    let task_file = exported(&app, &admin, "entityType=tasks&format=xlsx").await;
    assert!(task_file.starts_with(b"PK\x03\x04"));
    let company_file = exported(&app, &admin, "entityType=companies").await;
    assert!(
        String::from_utf8_lossy(&company_file).contains("\"'=SUM(A1)\"")
            || String::from_utf8_lossy(&company_file).contains(",'=SUM(A1),"),
        "a formula is neutralised"
    );

    // Tasks first (their deals stay), then deals (their contacts and companies stay), then
    // companies: each re-imported where it came from once the originals are in the trash.
    trash_all(&app, &admin, "/api/tasks").await;
    let done = import(&app, &admin, form("tasks", "tasks.xlsx", &task_file)).await;
    assert_eq!(
        (done["createdRows"].clone(), done["failedRows"].clone()),
        (json!(2), json!(0)),
        "{done}"
    );
    assert_eq!(
        comparable(&app, &admin, tasks, TASK_FIELDS).await,
        tasks_before
    );

    trash_all(&app, &admin, "/api/deals").await;
    let done = import(&app, &admin, form("deals", "deals.csv", &deal_file)).await;
    assert_eq!(
        (done["createdRows"].clone(), done["failedRows"].clone()),
        (json!(3), json!(0)),
        "{done}"
    );
    assert_eq!(
        comparable(&app, &admin, deals, DEAL_FIELDS).await,
        deals_before
    );

    trash_all(&app, &admin, "/api/companies").await;
    let done = import(
        &app,
        &admin,
        form("companies", "companies.csv", &company_file),
    )
    .await;
    assert_eq!(
        (done["createdRows"].clone(), done["failedRows"].clone()),
        (json!(2), json!(0)),
        "{done}"
    );
    assert_eq!(
        comparable(&app, &admin, companies, COMPANY_FIELDS).await,
        companies_before
    );
}

#[tokio::test]
async fn an_export_of_deals_leaves_out_what_the_caller_may_not_read() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let (manager, token) = app.signed_in(Role::Manager).await;
    app.revoke(
        &admin,
        manager.user.id,
        &["deals.read_all", "contacts.read_all"],
    )
    .await;
    let hidden = app
        .create(
            "/api/contacts",
            &admin,
            json!({"fullName": "Secret", "email": "secret@example.com"}),
        )
        .await;
    // A deal the manager may read whose contact they may not.
    app.create(
        "/api/deals",
        &admin,
        json!({"title": "Shared", "assignedToId": manager.user.id, "contactId": hidden["id"]}),
    )
    .await;
    app.create("/api/deals", &admin, json!({"title": "Not yours"}))
        .await;
    let file = exported(&app, &token, "entityType=deals").await;
    let text = String::from_utf8(file).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{text}");
    assert!(rows[0].contains(",Shared,"), "{text}");
    assert!(!text.contains("secret@example.com"), "{text}");
    let everything = exported(&app, &admin, "entityType=deals&sort=title").await;
    let everything = String::from_utf8(everything).unwrap();
    assert_eq!(everything.lines().count(), 3);
    assert!(everything.contains("secret@example.com"));
}
