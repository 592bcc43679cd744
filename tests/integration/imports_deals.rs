//! Imports of deals and tasks: what a row hangs on named the way files name it (pipeline and
//! stage by name, contact by e-mail or phone, company by name, assignee by e-mail, deal by
//! number), the record's own rules per row, dry runs that report what the real run does.

use crm_core::Role;
use crm_testkit::UserBuilder;
use serde_json::{Value, json};

use crate::files::Form;
use crate::imports::{contacts_form, errors, import, records};
use crate::support::TestApp;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/tabular/tests/data");

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(format!("{SAMPLES}/{name}")).unwrap()
}

fn form(entity: &str, name: &str, bytes: &[u8]) -> Form {
    Form::default()
        .text("entityType", entity)
        .file(&format!("filename=\"{name}\""), bytes)
}

async fn deals(app: &TestApp, token: &str) -> Vec<Value> {
    records(app, token, "/api/deals?limit=100&sort=createdAt").await
}

fn titled<'a>(all: &'a [Value], title: &str) -> &'a Value {
    all.iter()
        .find(|d| d["title"] == title)
        .unwrap_or_else(|| panic!("no deal {title}"))
}

/// A pipeline (not the default) with the stages the sample deals name.
async fn russian_pipeline(app: &TestApp, admin: &str) -> Value {
    let body = json!({
        "name": "Продажи",
        "stages": [
            {"name": "Новая"},
            {"name": "В работе"},
            {"name": "Закрыта", "type": "WON"}
        ]
    });
    app.create("/api/pipelines", admin, body).await
}

#[tokio::test]
async fn the_russian_deal_export_imports_after_its_contacts_without_a_mapping() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    // The file's assignee is a login, `admin`.
    let owner = app
        .insert_user(UserBuilder::new(Role::Manager).email("admin@crm.example"))
        .await;
    let pipeline = russian_pipeline(&app, &admin).await;
    let done = import(
        &app,
        &admin,
        contacts_form("test-contacts.csv", &sample("test-contacts.csv")),
    )
    .await;
    assert_eq!(done["createdRows"], 5, "{done}");

    let done = import(
        &app,
        &admin,
        form("deals", "test-deals.csv", &sample("test-deals.csv")),
    )
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        (done["createdRows"].clone(), done["failedRows"].clone()),
        (json!(5), json!(0)),
        "{done}"
    );
    assert_eq!(done["mapping"]["Название сделки"], "title");
    assert_eq!(done["mapping"]["Стадия сделки"], "stage");
    assert_eq!(done["mapping"]["Контакт"], "contactEmail");
    let all = deals(&app, &admin).await;
    let first = titled(&all, "Сделка 1");
    assert_eq!(first["amount"], "100000.00");
    assert_eq!(first["currency"], "RUB");
    assert_eq!(first["pipelineId"], pipeline["id"]);
    assert_eq!(first["stageId"], pipeline["stages"][0]["id"]);
    assert_eq!(first["status"], "open");
    assert_eq!(first["assignedToId"], json!(owner.user.id));
    assert_eq!(first["description"], "Первая сделка с новым клиентом");
    let contact = app
        .get_json(
            &format!("/api/contacts/{}", first["contactId"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(contact["data"]["email"], "ivan.ivanov@example.com");
    // The contact import created the company; the deal found it by name.
    assert_eq!(first["companyId"], contact["data"]["companyId"]);
    let closed = titled(&all, "Сделка 3");
    assert_eq!(closed["status"], "won");
    assert!(closed["closedAt"].is_string(), "{closed}");
    // Two deals on one stage keep the file's order.
    let fourth = titled(&all, "Сделка 4");
    assert_eq!(fourth["stageId"], first["stageId"]);
    assert!(fourth["position"].as_i64() > first["position"].as_i64());
    let timeline = app
        .activity("deal", first["id"].as_str().unwrap(), &admin)
        .await;
    let created = &timeline["data"][0];
    assert_eq!(created["type"], "deal.created");
    assert!(
        created["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "importId" && c["to"] == done["id"]),
        "{created}"
    );

    // The other sample names pipelines by ids of the CRM it came from: every row is refused
    // for that, the columns all mapped.
    let done = import(
        &app,
        &admin,
        form("deals", "deals-example.csv", &sample("deals-example.csv")),
    )
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["createdRows"], 0, "{done}");
    assert_eq!(done["mapping"]["Pipeline ID"], "pipeline");
    assert_eq!(done["mapping"]["Email контакта"], "contactEmail");
    let refused = errors(&done);
    assert!(!refused.is_empty());
    assert!(
        refused.iter().any(
            |(_, column, message)| column == "Pipeline ID" && message.contains("pipeline-id-1")
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn deal_rows_meet_the_deal_rules_and_a_dry_run_reports_the_same() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    russian_pipeline(&app, &admin).await;
    let contact = app
        .create(
            "/api/contacts",
            &admin,
            json!({"fullName": "Олег", "phone": "+7 999 000-11-22"}),
        )
        .await;
    let default = app.default_pipeline(&admin).await;
    let default_stage = default["stages"][0]["name"].as_str().unwrap().to_owned();
    let csv = format!(
        "Название;Сумма;Воронка;Стадия;Телефон;Компания;Дата закрытия\n\
         Поставка;1 500,50;;;+79990001122;Новая фирма;31.12.2025\n\
         Without stage name;;Продажи;Нет такой;;;\n\
         Unknown phone;;;;+79990000000;;\n\
         Bad amount;много;;;;;\n\
         Bad date;;;;;;2025/12/31\n\
         ;10;;;;;\n\
         In default;;;{default_stage};;Новая фирма;\n"
    );
    let dry = import(
        &app,
        &admin,
        form("deals", "deals.csv", csv.as_bytes()).text("dryRun", "true"),
    )
    .await;
    assert_eq!(dry["status"], "succeeded", "{dry}");
    assert!(deals(&app, &admin).await.is_empty());
    let companies = app.get_json("/api/companies", &admin).await;
    assert_eq!(
        companies["meta"]["total"], 0,
        "a dry run creates no company"
    );
    let real = import(&app, &admin, form("deals", "deals.csv", csv.as_bytes())).await;
    assert_eq!(errors(&dry), errors(&real));
    assert_eq!(dry["createdRows"], real["createdRows"]);
    assert_eq!(
        (real["createdRows"].clone(), real["failedRows"].clone()),
        (json!(2), json!(5)),
        "{real}"
    );
    let refused = errors(&real);
    let columns: Vec<(i64, &str)> = refused
        .iter()
        .map(|(row, column, _)| (*row, column.as_str()))
        .collect();
    assert_eq!(
        columns,
        [
            (3, "Стадия"),
            (4, "Телефон"),
            (5, "Сумма"),
            (6, "Дата закрытия"),
            (7, "Название"),
        ],
        "{refused:?}"
    );
    let all = deals(&app, &admin).await;
    let supply = titled(&all, "Поставка");
    assert_eq!(supply["amount"], "1500.50");
    assert_eq!(supply["contactId"], contact["id"]);
    assert_eq!(supply["pipelineId"], default["id"]);
    assert_eq!(supply["expectedCloseAt"], "2025-12-31T00:00:00Z");
    // One company, created by the first row that named it.
    let other = titled(&all, "In default");
    assert_eq!(other["companyId"], supply["companyId"]);
    let companies = app.get_json("/api/companies", &admin).await;
    assert_eq!(companies["meta"]["total"], 1);
    assert_eq!(companies["data"][0]["name"], "Новая фирма");
}

#[tokio::test]
async fn tasks_import_with_their_deal_by_number_and_assignee_by_email() {
    let (app, [manager]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let me = app.get_json("/api/auth/me", &manager).await["data"].clone();
    let colleague = app.create_user(Role::Manager).await;
    let deal = app
        .create("/api/deals", &manager, json!({"title": "Big one"}))
        .await;
    let number = deal["number"].as_i64().unwrap();
    let csv = format!(
        "Задача,Срок,Сделка,Ответственный,Статус,Приоритет,Тип\n\
         Позвонить,15.02.2025 10:30,{number},{},в работе,высокий,звонок\n\
         Отправить КП,2025-02-20,#{number},,DONE,,\n\
         Nobody,,,nobody@example.com,,,\n\
         No deal,,999999,,,,\n\
         Bad status,,,,maybe,,\n\
         Bad date,31.02.2025,,,,,\n",
        colleague.email.to_uppercase()
    );
    let done = import(&app, &manager, form("tasks", "tasks.csv", csv.as_bytes())).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        (done["createdRows"].clone(), done["failedRows"].clone()),
        (json!(2), json!(4)),
        "{done}"
    );
    let columns: Vec<(i64, String)> = errors(&done)
        .into_iter()
        .map(|(row, column, _)| (row, column))
        .collect();
    assert_eq!(
        columns,
        [
            (4, "Ответственный".to_owned()),
            (5, "Сделка".to_owned()),
            (6, "Статус".to_owned()),
            (7, "Срок".to_owned()),
        ]
    );
    let tasks = app
        .get_json("/api/tasks?limit=10&sort=createdAt", &manager)
        .await;
    let tasks = tasks["data"].as_array().unwrap();
    let call = tasks.iter().find(|t| t["title"] == "Позвонить").unwrap();
    assert_eq!(call["dealId"], deal["id"]);
    assert_eq!(call["assignedToId"], json!(colleague.user.id));
    assert_eq!(call["status"], "IN_PROGRESS");
    assert_eq!(call["priority"], "HIGH");
    assert_eq!(call["type"], "CALL");
    assert_eq!(call["dueAt"], "2025-02-15T10:30:00Z");
    let offer = tasks.iter().find(|t| t["title"] == "Отправить КП").unwrap();
    assert_eq!(offer["dealId"], deal["id"]);
    assert_eq!(offer["assignedToId"], me["id"], "the importer by default");
    assert_eq!(offer["status"], "DONE");
    assert!(offer["completedAt"].is_string());
}

#[tokio::test]
async fn an_upsert_updates_what_its_key_finds_and_creates_the_rest() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let anna = app
        .create(
            "/api/contacts",
            &admin,
            json!({"fullName": "Anna", "email": "anna@example.com", "position": "Dev",
                   "phone": "+14155550000"}),
        )
        .await;
    for name in ["Twin A", "Twin B"] {
        app.create(
            "/api/contacts",
            &admin,
            json!({"fullName": name, "phone": "+14155550009"}),
        )
        .await;
    }
    let csv = "email,fullName,position\n\
               ANNA@example.com,,CTO\n\
               new@example.com,New One,\n\
               anna@example.com,Again,\n\
               bad,Bad,\n";
    let upsert = |dry: bool| {
        form("contacts", "c.csv", csv.as_bytes())
            .text("upsertKey", "email")
            .text("dryRun", if dry { "true" } else { "false" })
    };
    let dry = import(&app, &admin, upsert(true)).await;
    let unchanged = app
        .get_json(
            &format!("/api/contacts/{}", anna["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(
        unchanged["data"]["position"], "Dev",
        "a dry run changes nothing"
    );
    let real = import(&app, &admin, upsert(false)).await;
    assert_eq!(errors(&dry), errors(&real));
    assert_eq!(
        (
            real["createdRows"].clone(),
            real["updatedRows"].clone(),
            real["failedRows"].clone()
        ),
        (json!(1), json!(1), json!(2)),
        "{real}"
    );
    assert_eq!(
        (dry["createdRows"].clone(), dry["updatedRows"].clone()),
        (json!(1), json!(1))
    );
    let refused = errors(&real);
    assert_eq!(refused[0].0, 4);
    assert!(refused[0].2.contains("earlier row"), "{refused:?}");
    assert_eq!((refused[1].0, refused[1].1.as_str()), (5, "email"));
    let updated = app
        .get_json(
            &format!("/api/contacts/{}", anna["id"].as_str().unwrap()),
            &admin,
        )
        .await["data"]
        .clone();
    assert_eq!(updated["position"], "CTO");
    assert_eq!(updated["fullName"], "Anna", "an empty cell keeps the value");
    assert_eq!(updated["phone"], "+14155550000");
    assert_eq!(updated["version"], 2);
    let timeline = app
        .activity("contact", anna["id"].as_str().unwrap(), &admin)
        .await;
    let entry = &timeline["data"][0];
    assert_eq!(entry["type"], "contact.updated", "{timeline}");
    let changes = entry["changes"].as_array().unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c["field"] == "importId" && c["to"] == real["id"]),
        "{entry}"
    );
    assert!(changes.iter().any(|c| c["field"] == "position"), "{entry}");

    // A phone two contacts share says so.
    let by_phone = import(
        &app,
        &admin,
        form(
            "contacts",
            "p.csv",
            b"phone,position\n+1 415 555 0009,Twin\n",
        )
        .text("upsertKey", "phone"),
    )
    .await;
    assert_eq!(by_phone["failedRows"], 1, "{by_phone}");
    assert!(errors(&by_phone)[0].2.contains("several contacts"));

    // Deals by number: the number finds the deal; a number of no deal creates one.
    let deal = app
        .create(
            "/api/deals",
            &admin,
            json!({"title": "Old title", "amount": "10.00"}),
        )
        .await;
    let number = deal["number"].as_i64().unwrap();
    let csv = format!(
        "number,title,amount\n#{number},New title,\n{},Brand new,5\nabc,Not a number,\n",
        number + 1000
    );
    let done = import(
        &app,
        &admin,
        form("deals", "d.csv", csv.as_bytes()).text("upsertKey", "number"),
    )
    .await;
    assert_eq!(
        (
            done["createdRows"].clone(),
            done["updatedRows"].clone(),
            done["failedRows"].clone()
        ),
        (json!(1), json!(1), json!(1)),
        "{done}"
    );
    let renamed = app
        .get_json(
            &format!("/api/deals/{}", deal["id"].as_str().unwrap()),
            &admin,
        )
        .await["data"]
        .clone();
    assert_eq!(renamed["title"], "New title");
    assert_eq!(renamed["amount"], "10.00");

    // Companies by name, ignoring case.
    let acme = app
        .create("/api/companies", &admin, json!({"name": "Acme"}))
        .await;
    let done = import(
        &app,
        &admin,
        form("companies", "co.csv", b"name,industry\nACME,Retail\n").text("upsertKey", "name"),
    )
    .await;
    assert_eq!(done["updatedRows"], 1, "{done}");
    let acme = app
        .get_json(
            &format!("/api/companies/{}", acme["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(acme["data"]["industry"], "Retail");
    assert_eq!(acme["data"]["name"], "Acme", "the key is not rewritten");
}
