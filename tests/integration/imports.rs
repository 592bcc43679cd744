//! `/api/import-export/imports`: contacts imported from real CSV exports, XLSX and other
//! encodings, per-row errors and errors.csv, dry runs that report exactly what a real run does,
//! duplicates across batches, permissions and progress events.

use std::time::Duration;

use crm_core::Role;
use crm_db::schema::events;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::Method;
use serde_json::{Value, json};

use crate::files::{Form, post_form_to};
use crate::support::{TestApp, assert_problem, data};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/tabular/tests/data");

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(format!("{SAMPLES}/{name}")).unwrap()
}

async fn start(app: &TestApp, token: &str, form: Form) -> reqwest::Response {
    post_form_to(app, "/api/import-export/imports", token, form).await
}

pub fn contacts_form(file_name: &str, bytes: &[u8]) -> Form {
    Form::default()
        .text("entityType", "contacts")
        .file(&format!("filename=\"{file_name}\""), bytes)
}

/// Starts an import and waits for it to end; the import as it ended.
pub async fn import(app: &TestApp, token: &str, form: Form) -> Value {
    let res = start(app, token, form).await;
    assert_eq!(
        res.status(),
        202,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let started = data(res).await;
    assert_eq!(started["status"], "queued");
    finished(app, token, &location).await
}

async fn finished(app: &TestApp, token: &str, location: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let now = app.get_json(location, token).await["data"].clone();
        if now["status"] == "succeeded" || now["status"] == "failed" {
            return now;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {now}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The records a list answers (one page: tests here hold fewer than its limit).
pub async fn records(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    app.get_json(path, token).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn contacts(app: &TestApp, token: &str) -> Vec<Value> {
    records(app, token, "/api/contacts?limit=100&sort=createdAt").await
}

/// `(row, column, message)` of an ended import's errors.
pub fn errors(done: &Value) -> Vec<(i64, String, String)> {
    done["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["column"].as_str().unwrap_or("").to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn by_email<'a>(all: &'a [Value], email: &str) -> &'a Value {
    all.iter()
        .find(|c| c["email"] == email)
        .unwrap_or_else(|| panic!("no contact {email}"))
}

#[tokio::test]
async fn the_russian_crm_exports_import_without_a_mapping() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let done = import(
        &app,
        &token,
        contacts_form("contacts-example.csv", &sample("contacts-example.csv")),
    )
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        (
            done["totalRows"].clone(),
            done["createdRows"].clone(),
            done["failedRows"].clone()
        ),
        (json!(5), json!(5), json!(0)),
        "{done}"
    );
    assert_eq!(done["mapping"]["Имя"], "fullName");
    assert_eq!(done["mapping"]["Компания"], "companyName");
    let all = contacts(&app, &token).await;
    let ivan = by_email(&all, "ivan@example.com");
    assert_eq!(ivan["fullName"], "Иван Иванов");
    assert_eq!(ivan["phone"], "+79991234567");
    assert_eq!(ivan["position"], "Менеджер");
    assert_eq!(ivan["tags"], json!(["vip"]));
    assert_eq!(ivan["social"]["telegram"], "ivan_tg");
    assert_eq!(ivan["social"]["instagram"], "ivan_inst");
    // One company for the two contacts that name it, created by the import.
    let maria = by_email(&all, "maria@example.com");
    assert_eq!(ivan["companyId"], maria["companyId"]);
    let company = app
        .get_json(
            &format!("/api/companies/{}", ivan["companyId"].as_str().unwrap()),
            &token,
        )
        .await;
    assert_eq!(company["data"]["name"], "ООО Рога и Копыта");
    // The timeline says which import created the contact.
    let timeline = app
        .activity("contact", ivan["id"].as_str().unwrap(), &token)
        .await;
    let created = &timeline["data"][0];
    assert_eq!(created["type"], "contact.created");
    let origin = created["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "importId")
        .expect("importId change");
    assert_eq!(origin["to"], done["id"]);

    let done = import(
        &app,
        &token,
        contacts_form("test-contacts.csv", &sample("test-contacts.csv")),
    )
    .await;
    assert_eq!(
        (done["createdRows"].clone(), done["failedRows"].clone()),
        (json!(5), json!(0)),
        "{done}"
    );
    let all = contacts(&app, &token).await;
    assert_eq!(all.len(), 10);
    assert_eq!(
        by_email(&all, "elena.kozlova@example.com")["position"],
        "Маркетолог"
    );

    // Progress and the end reached the starter's room.
    let mut conn = app.pool.get().await.unwrap();
    let names: Vec<String> = events::table
        .filter(events::event.like("import.%"))
        .select(events::event)
        .load(&mut conn)
        .await
        .unwrap();
    assert!(
        names.iter().filter(|n| *n == "import.finished").count() == 2,
        "{names:?}"
    );
    assert!(names.iter().any(|n| n == "import.progress"), "{names:?}");
}

/// A file of `n` good contacts `c{i}@example.com` with some bad rows among them.
fn file_with_problems(n: usize) -> (String, usize) {
    let mut csv = String::from("Full name;E-mail;Phone;Owner e-mail;Tags\n");
    let mut bad = 0;
    for i in 0..n {
        csv.push_str(&format!("Contact {i};c{i}@example.com;;;a, b\n"));
    }
    // Line n+2 onwards: problems.
    csv.push_str(";nobody@example.com;;;\n"); // no name
    csv.push_str("Bad mail;not-an-e-mail;;;\n");
    csv.push_str("Bad phone;bp@example.com;12;;\n");
    csv.push_str("Twice;c3@example.com;;;\n"); // duplicate of an earlier batch's row
    csv.push_str("Existing;existing@example.com;;;\n");
    csv.push_str("Owner;owner@example.com;;ghost@example.com;\n");
    csv.push_str("Ragged;r@example.com;;;x;extra\n");
    bad += 7;
    (csv, bad)
}

#[tokio::test]
async fn a_dry_run_reports_exactly_what_the_real_run_does_and_writes_nothing() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    app.create(
        "/api/contacts",
        &token,
        json!({"fullName": "E", "email": "existing@example.com"}),
    )
    .await;
    // More rows than a batch: the duplicate's first occurrence is in another batch.
    let (csv, bad) = file_with_problems(1200);
    let dry = import(
        &app,
        &token,
        contacts_form("people.csv", csv.as_bytes()).text("dryRun", "true"),
    )
    .await;
    assert_eq!(dry["status"], "succeeded", "{dry}");
    assert_eq!(dry["dryRun"], true);
    assert_eq!(dry["createdRows"], 1200);
    assert_eq!(dry["failedRows"], bad);
    assert_eq!(
        contacts(&app, &token).await.len(),
        1,
        "a dry run writes nothing"
    );
    let real = import(&app, &token, contacts_form("people.csv", csv.as_bytes())).await;
    assert_eq!(real["status"], "succeeded", "{real}");
    for field in [
        "totalRows",
        "processedRows",
        "createdRows",
        "failedRows",
        "errors",
    ] {
        assert_eq!(dry[field], real[field], "{field}");
    }
    let total: i64 = app.get_json("/api/contacts?limit=1", &token).await["meta"]["total"]
        .as_i64()
        .unwrap();
    assert_eq!(total, 1201);
    let errors = real["errors"].as_array().unwrap();
    let first_bad = 1200 + 2;
    let at = |row: usize| -> Vec<(Value, String)> {
        errors
            .iter()
            .filter(|e| e["row"] == row)
            .map(|e| {
                (
                    e["column"].clone(),
                    e["message"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(at(first_bad)[0].0, "Full name");
    assert_eq!(at(first_bad + 1)[0].0, "E-mail");
    assert_eq!(at(first_bad + 2)[0].0, "Phone");
    assert!(
        at(first_bad + 3)[0].1.contains("earlier row"),
        "{:?}",
        at(first_bad + 3)
    );
    assert!(at(first_bad + 4)[0].1.contains("already exists"));
    assert_eq!(at(first_bad + 5)[0].0, "Owner e-mail");
    assert_eq!(at(first_bad + 6)[0].0, Value::Null);

    let location = format!(
        "/api/import-export/imports/{}/errors.csv",
        real["id"].as_str().unwrap()
    );
    let res = app.get(&location, &token).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = res.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 1 + bad, "{body}");
    assert_eq!(
        lines[0],
        "\"Full name\",\"E-mail\",\"Phone\",\"Owner e-mail\",\"Tags\",\"error\""
    );
    assert!(
        lines[2].starts_with("\"Bad mail\",\"not-an-e-mail\""),
        "{}",
        lines[2]
    );
    assert!(lines[2].contains("E-mail: "), "{}", lines[2]);
}

#[tokio::test]
async fn windows_1251_and_xlsx_files_import_and_an_explicit_mapping_wins() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let text = "Имя\tПочта\tЗаметки\nЁжик Туманов\tezhik@example.com\tв тумане\n";
    let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(text);
    let mapping = json!({"Имя": "fullName", "Почта": "email"}).to_string();
    let done = import(
        &app,
        &token,
        contacts_form("win.csv", &cp1251).text("mapping", &mapping),
    )
    .await;
    assert_eq!(
        (done["status"].clone(), done["createdRows"].clone()),
        (json!("succeeded"), json!(1)),
        "{done}"
    );
    let all = contacts(&app, &token).await;
    let ezhik = by_email(&all, "ezhik@example.com");
    assert_eq!(ezhik["fullName"], "Ёжик Туманов");
    // Columns the mapping leaves out are not imported.
    assert_eq!(ezhik["notes"], Value::Null);

    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (col, header) in ["ФИО", "Email", "Телефон"].iter().enumerate() {
        sheet.write_string(0, col as u16, *header).unwrap();
    }
    sheet.write_string(1, 0, "Xlsx Person").unwrap();
    sheet.write_string(1, 1, "xlsx@example.com").unwrap();
    sheet.write_string(1, 2, "+7 999 000-11-22").unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let done = import(&app, &token, contacts_form("book.xlsx", &bytes)).await;
    assert_eq!(done["createdRows"], 1, "{done}");
    let all = contacts(&app, &token).await;
    assert_eq!(by_email(&all, "xlsx@example.com")["phone"], "+79990001122");
}

#[tokio::test]
async fn bad_requests_are_refused_and_imports_are_their_starters() {
    let (app, [manager, other, viewer]) =
        TestApp::spawn_signed_in([Role::Manager, Role::Manager, Role::Viewer]).await;
    let csv = b"fullName,email\nA,a@example.com\n";
    let res = start(&app, &viewer, contacts_form("a.csv", csv)).await;
    assert_problem(res, 403, "forbidden").await;
    // Each kind of record needs its own write permission too.
    let res = start(
        &app,
        &viewer,
        Form::default()
            .text("entityType", "deals")
            .file("filename=\"a.csv\"", csv),
    )
    .await;
    assert_problem(res, 403, "forbidden").await;
    for form in [
        contacts_form("a.csv", csv).text("mapping", "{not json"),
        contacts_form("a.csv", csv).text("mapping", "{\"fullName\": \"nonsense\"}"),
        contacts_form("a.csv", csv).text("dryRun", "maybe"),
        contacts_form("a.csv", csv).text("upsertKey", "number"),
        contacts_form("a.csv", csv).text("upsertKey", "nonsense"),
        Form::default()
            .text("entityType", "tasks")
            .text("upsertKey", "email")
            .file("filename=\"a.csv\"", csv),
        Form::default().text("entityType", "contacts"),
        Form::default()
            .text("entityType", "people")
            .file("filename=\"a.csv\"", csv),
    ] {
        assert_problem(start(&app, &manager, form).await, 400, "validation_failed").await;
    }
    let res = start(&app, &manager, contacts_form("a.csv", csv)).await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let done = finished(&app, &manager, &location).await;
    assert_eq!(done["createdRows"], 1);
    assert_problem(app.get(&location, &other).await, 404, "not_found").await;
    assert_problem(
        app.get(&format!("{location}/errors.csv"), &other).await,
        404,
        "not_found",
    )
    .await;
    let mine = app.get_json("/api/import-export/imports", &manager).await;
    assert_eq!(mine["meta"]["total"], 1);
    let theirs = app.get_json("/api/import-export/imports", &other).await;
    assert_eq!(theirs["meta"]["total"], 0);

    // A file that is no table fails the import as a whole, with why.
    let done = import(&app, &manager, contacts_form("empty.csv", b"")).await;
    assert_eq!(done["status"], "failed");
    assert!(done["error"].as_str().unwrap().contains("empty"), "{done}");
    let done = import(
        &app,
        &manager,
        contacts_form("x.csv", b"colour,size\nred,2\n"),
    )
    .await;
    assert_eq!(done["status"], "failed");
    assert!(
        done["error"].as_str().unwrap().contains("no column"),
        "{done}"
    );
    let _ = Method::GET;
}

/// A resumed attempt (its instance died after committing some batches) starts after the last
/// committed line: the handler is driven by hand here, with no server and no runner beside it.
#[tokio::test]
async fn a_resumed_import_continues_after_its_last_committed_batch() {
    use crm_imports::{ImportEntity, NewImport};
    use crm_jobs::Handler;

    let db = crm_testkit::TestDb::new().await;
    let pool = db.pool();
    let mut conn = db.conn().await;
    let user = crm_testkit::user(&mut conn, Role::Manager, []).await;
    let actor = user.actor();
    let dir = std::env::temp_dir().join(format!("crm-test-imports-{}", uuid::Uuid::now_v7()));
    let files = crm_files::Storage::open(dir.to_str().unwrap(), &[]).unwrap();
    let storage = crm_imports::import_storage(&files);
    let mut csv = String::from("fullName,email\n");
    for i in 0..2500 {
        csv.push_str(&format!("P{i},p{i}@example.com\n"));
    }
    let mut upload = crm_files::Upload::begin(&storage, u64::MAX);
    upload.write(csv.into_bytes().into()).await.unwrap();
    let object = upload.finish().await.unwrap();
    let new = NewImport {
        id: object.id.0,
        entity: ImportEntity::Contacts,
        dry_run: false,
        mapping: None,
        upsert_key: None,
        file_name: "p.csv".into(),
    };
    let import = crm_imports::create_import(&mut conn, &actor, new)
        .await
        .unwrap();
    // As if an attempt had committed the first batch (lines 2..=1001) and died.
    diesel::sql_query(
        "UPDATE imports SET status = 'running', done_line = 1001, processed_rows = 1000, \
         created_rows = 1000 WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(import.id)
    .execute(&mut conn)
    .await
    .unwrap();
    let job = crm_jobs::claim(&mut conn, &[crm_imports::IMPORT_JOB], "test")
        .await
        .unwrap()
        .unwrap();
    let handler = crm_imports::ImportJobs::new(storage.clone(), dir.join("work"));
    handler
        .run(&pool, &job, &crm_jobs::Lease::default())
        .await
        .unwrap();
    let done = crm_imports::get_import(&mut conn, &actor, import.id)
        .await
        .unwrap();
    assert_eq!(
        (
            done.status.as_str(),
            done.total_rows,
            done.created_rows,
            done.failed_rows
        ),
        ("succeeded", 2500, 2500, 0)
    );
    let emails: Vec<String> = crm_db::schema::contacts::table
        .select(crm_db::schema::contacts::email.assume_not_null())
        .load(&mut conn)
        .await
        .unwrap();
    // Only the rows after the committed batch were written by this attempt.
    assert_eq!(emails.len(), 1500);
    assert!(emails.contains(&"p1000@example.com".to_owned()));
    assert!(!emails.contains(&"p999@example.com".to_owned()));
    // The file is gone once the import has ended, and a repeat does nothing.
    assert!(storage.head(object.id).await.is_err());
    handler
        .run(&pool, &job, &crm_jobs::Lease::default())
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn companies_import_with_their_own_rules_and_duplicates() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    app.create("/api/companies", &token, json!({"name": "Existing LLC"}))
        .await;
    let csv = "Название;Сайт;Отрасль;Телефон;Сотрудники;Теги\n\
               ООО Ромашка;https://romashka.example;Торговля;+7 495 123-45-67;120;опт, розница\n\
               Acme;https://acme.example;;;5;\n\
               acme;;;;;\n\
               Existing llc;;;;;\n\
               Bad site;not a url;;;;\n\
               Many;;;;много;\n";
    let form = Form::default()
        .text("entityType", "companies")
        .file("filename=\"companies.csv\"", csv.as_bytes());
    let done = import(&app, &token, form).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        (done["createdRows"].clone(), done["failedRows"].clone()),
        (json!(2), json!(4)),
        "{done}"
    );
    let messages = errors(&done);
    assert!(
        messages[0].0 == 4 && messages[0].2.contains("earlier row"),
        "{messages:?}"
    );
    assert!(
        messages[1].0 == 5 && messages[1].2.contains("already exists"),
        "{messages:?}"
    );
    assert_eq!((messages[2].0, messages[2].1.as_str()), (6, "Сайт"));
    assert_eq!((messages[3].0, messages[3].1.as_str()), (7, "Сотрудники"));
    let list = app
        .get_json("/api/companies?sort=name&limit=10", &token)
        .await;
    let romashka = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "ООО Ромашка")
        .expect("imported")
        .clone();
    assert_eq!(romashka["website"], "https://romashka.example/");
    assert_eq!(romashka["phone"], "+74951234567");
    assert_eq!(romashka["employees"], 120);
    assert_eq!(romashka["tags"], json!(["опт", "розница"]));
}

/// Import files no queued or running import reads are swept; those it reads stay.
#[tokio::test]
async fn orphaned_import_files_are_swept_and_live_ones_kept() {
    use crm_imports::{ImportEntity, NewImport};

    let db = crm_testkit::TestDb::new().await;
    let pool = db.pool();
    let mut conn = db.conn().await;
    let user = crm_testkit::user(&mut conn, Role::Manager, []).await;
    let dir = std::env::temp_dir().join(format!("crm-test-sweep-{}", uuid::Uuid::now_v7()));
    let files = crm_files::Storage::open(dir.to_str().unwrap(), &[]).unwrap();
    let storage = crm_imports::import_storage(&files);
    let store = async |bytes: &'static [u8]| {
        let mut upload = crm_files::Upload::begin(&storage, u64::MAX);
        upload.write(bytes.into()).await.unwrap();
        upload.finish().await.unwrap()
    };
    let orphan = store(b"fullName\nA\n").await;
    let live = store(b"fullName\nB\n").await;
    let new = NewImport {
        id: live.id.0,
        entity: ImportEntity::Contacts,
        dry_run: false,
        mapping: None,
        upsert_key: None,
        file_name: "b.csv".into(),
    };
    let import = crm_imports::create_import(&mut conn, &user.actor(), new)
        .await
        .unwrap();
    // A file of the file storage proper is not the import sweep's business.
    let mut attachment = crm_files::Upload::begin(&files, u64::MAX);
    attachment.write(b"x".as_slice().into()).await.unwrap();
    let attachment = attachment.finish().await.unwrap();
    let grace = std::time::Duration::ZERO;
    assert_eq!(
        crm_imports::sweep_files(&pool, &files, grace)
            .await
            .unwrap(),
        1
    );
    assert!(storage.head(orphan.id).await.is_err());
    assert!(storage.head(live.id).await.is_ok());
    assert!(files.head(attachment.id).await.is_ok());
    // Once its import has ended, a file left behind goes too.
    diesel::sql_query("UPDATE imports SET status = 'succeeded' WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(import.id)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        crm_imports::sweep_files(&pool, &files, grace)
            .await
            .unwrap(),
        1
    );
    assert!(storage.head(live.id).await.is_err());
    // Young files are left to the uploads about to create their imports.
    let young = store(b"fullName\nC\n").await;
    let hour = std::time::Duration::from_secs(3600);
    assert_eq!(
        crm_imports::sweep_files(&pool, &files, hour).await.unwrap(),
        0
    );
    assert!(storage.head(young.id).await.is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}
