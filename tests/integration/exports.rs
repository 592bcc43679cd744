//! `GET /api/import-export/export`: every row a list shows, its filters, sort and visibility,
//! custom fields as columns, spreadsheet-safe CSV, XLSX, and files that import back to the same
//! data.

use crm_core::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::imports::{contacts_form, import};
use crate::support::{TestApp, assert_problem};

async fn define_fields(app: &TestApp) {
    for (key, kind) in [
        ("score", "NUMBER"),
        ("vip", "BOOLEAN"),
        ("channels", "MULTI_SELECT"),
    ] {
        let mut def = json!({"entityType": "contact", "key": key, "name": key, "type": kind});
        if kind == "MULTI_SELECT" {
            def["options"] = json!(["mail", "phone", "chat"]);
        }
        app.custom_field(def).await;
    }
}

async fn export(app: &TestApp, token: &str, query: &str) -> reqwest::Response {
    app.authed(
        Method::GET,
        &format!("/api/import-export/export?{query}"),
        token,
    )
    .send()
    .await
    .unwrap()
}

/// The contacts as the API shows them, without what an import cannot carry over.
async fn comparable(app: &TestApp, token: &str) -> Vec<Value> {
    let list = app
        .get_json("/api/contacts?limit=100&sort=email", token)
        .await;
    let mut out = Vec::new();
    for c in list["data"].as_array().unwrap() {
        let company = match c["companyId"].as_str() {
            Some(id) => {
                app.get_json(&format!("/api/companies/{id}"), token).await["data"]["name"].clone()
            }
            None => Value::Null,
        };
        out.push(json!({
            "fullName": c["fullName"], "email": c["email"], "phone": c["phone"],
            "position": c["position"], "tags": c["tags"], "notes": c["notes"],
            "social": c["social"], "customFields": c["customFields"], "company": company,
        }));
    }
    out
}

async fn seed(app: &TestApp, token: &str) {
    define_fields(app).await;
    app.create("/api/companies", token, json!({"name": "Acme, Inc."}))
        .await;
    let acme = app.get_json("/api/companies?limit=1", token).await["data"][0]["id"].clone();
    let people = [
        json!({"fullName": "Anna \"Quote\" Lee", "email": "anna@example.com", "phone": "+14155552671",
               "position": "CEO", "companyId": acme, "tags": ["vip", "board"], "notes": "two\nlines, and a comma",
               "social": {"telegram": "anna_tg"},
               "customFields": {"score": 42.5, "vip": true, "channels": ["mail", "chat"]}}),
        json!({"fullName": "=HYPERLINK(\"http://evil\")", "email": "eve@example.com",
               "notes": "-1+1", "customFields": {"vip": false}}),
        json!({"fullName": "Иван Петров", "email": "ivan@example.com", "phone": "+79991234567",
               "tags": ["клиент"]}),
    ];
    for p in people {
        app.create("/api/contacts", token, p).await;
    }
}

#[tokio::test]
async fn csv_and_xlsx_exports_import_back_to_the_same_data() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    seed(&app, &token).await;
    let expected = comparable(&app, &token).await;

    let res = export(&app, &token, "entityType=contacts&format=csv&sort=email").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let csv = res.text().await.unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.starts_with("fullName,email,phone,position,companyName,tags,notes,social.telegram"),
        "{header}"
    );
    assert!(
        header.contains(",score,vip,channels,id,createdAt,updatedAt"),
        "{header}"
    );
    // Formulas are neutralised; so are phones, and the import undoes it.
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""),
        "{csv}"
    );
    assert!(csv.contains(",'-1+1,"), "{csv}");
    assert!(csv.contains(",'+14155552671,"), "{csv}");

    let res = export(&app, &token, "entityType=contacts&format=xlsx").await;
    assert_eq!(res.status(), 200);
    let length: usize = res.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let xlsx = res.bytes().await.unwrap();
    assert_eq!(xlsx.len(), length);
    assert!(xlsx.starts_with(b"PK\x03\x04"));

    for (name, bytes) in [
        ("contacts.csv", csv.as_bytes().to_vec()),
        ("contacts.xlsx", xlsx.to_vec()),
    ] {
        // Re-imported where it came from, once the contacts are gone for good.
        for c in app.get_json("/api/contacts?limit=100", &token).await["data"]
            .as_array()
            .unwrap()
        {
            let path = format!("/api/contacts/{}", c["id"].as_str().unwrap());
            assert_eq!(app.delete(&path, &token).await.status(), 204);
            assert_eq!(
                app.delete(&format!("{path}?permanent=true"), &token)
                    .await
                    .status(),
                204
            );
        }
        let done = import(&app, &token, contacts_form(name, &bytes)).await;
        assert_eq!(
            (done["createdRows"].clone(), done["failedRows"].clone()),
            (json!(3), json!(0)),
            "{name}: {done}"
        );
        assert_eq!(comparable(&app, &token).await, expected, "{name}");
    }
}

#[tokio::test]
async fn an_export_has_the_lists_filters_sort_and_visibility() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let (manager, token) = app.signed_in(Role::Manager).await;
    app.revoke(&admin, manager.user.id, &["contacts.read_all"])
        .await;
    for i in 0..1500 {
        let tag = if i % 3 == 0 { "three" } else { "other" };
        app.create(
            "/api/contacts",
            &token,
            json!({"fullName": format!("Mine {i:04}"), "tags": [tag]}),
        )
        .await;
    }
    app.create("/api/contacts", &admin, json!({"fullName": "Not yours"}))
        .await;
    let lines = |csv: &str| csv.lines().skip(1).map(str::to_owned).collect::<Vec<_>>();
    let all = export(
        &app,
        &token,
        "entityType=contacts&sort=-fullName&limit=5&page=3",
    )
    .await;
    let all = lines(&all.text().await.unwrap());
    assert_eq!(all.len(), 1500, "every row, whatever the paging");
    assert!(all[0].starts_with("Mine 1499,"), "{}", all[0]);
    assert!(all.iter().all(|l| !l.starts_with("Not yours")));
    let tagged = export(&app, &token, "entityType=contacts&tag=three").await;
    assert_eq!(lines(&tagged.text().await.unwrap()).len(), 500);
    let everyone = export(&app, &admin, "entityType=contacts").await;
    assert_eq!(lines(&everyone.text().await.unwrap()).len(), 1501);
}

#[tokio::test]
async fn bad_exports_are_refused_with_problems() {
    let (app, [token, viewer]) = TestApp::spawn_signed_in([Role::Manager, Role::Viewer]).await;
    assert_problem(
        export(&app, &viewer, "entityType=contacts").await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        export(&app, &viewer, "entityType=deals").await,
        403,
        "forbidden",
    )
    .await;
    for query in [
        "entityType=contacts&format=pdf",
        "entityType=people",
        "format=csv",
        "entityType=contacts&bogus=1",
        "entityType=contacts&sort=nope",
        "entityType=deals&status=maybe",
        "entityType=tasks&bogus=1",
        "entityType=companies&sort=title",
    ] {
        let res = export(&app, &token, query).await;
        assert_eq!(res.status(), 400, "{query}");
        let _: Value = res.json().await.unwrap();
    }
}
