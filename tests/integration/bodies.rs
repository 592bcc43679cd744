//! Whole response bodies, pinned as snapshots: every field of a record, list envelope and
//! problem, so a field that appears, disappears or changes its form shows in review. Values
//! that differ between runs are redacted; ids are replaced by the name of the record they
//! belong to, so a snapshot also pins which record every link points to.

use std::collections::HashMap;
use std::sync::Arc;

use crm_core::Role;
use crm_testkit::UserBuilder;
use insta::internals::Content;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp, assert_problem, id};

/// The fields that hold ids of records. Timestamps and other run-dependent values have their
/// own lists below; every other value is left as the server answered it.
const ID_FIELDS: &[&str] = &[
    "id",
    "actorId",
    "apiKeyId",
    "assignedToId",
    "authorId",
    "companyId",
    "contactId",
    "createdById",
    "dealId",
    "entityId",
    "ownerId",
    "pipelineId",
    "stageId",
];

/// Fields holding instants the server takes from its clock. (A deal's `number` comes from a
/// sequence, but every test has a database of its own, so the first deal is number 1 in every
/// run: it stays pinned.)
const TIME_FIELDS: &[&str] = &[
    "createdAt",
    "updatedAt",
    "deletedAt",
    "closedAt",
    "completedAt",
    "lastLoginAt",
    "lastUsedAt",
    "revokedAt",
];

/// An id no test creates, so that problems naming it read the same in every run.
const MISSING_ID: &str = "01900000-0000-7000-8000-000000000000";

/// A test server with an admin of a fixed e-mail signed in, and the names of the ids met so
/// far.
struct Bodies {
    app: TestApp,
    token: String,
    names: HashMap<String, String>,
}

impl Bodies {
    async fn spawn() -> Self {
        let app = TestApp::spawn().await;
        let (admin, token) = app
            .signed_in_as(UserBuilder::new(Role::Admin).email("admin@example.com"))
            .await;
        let mut bodies = Self {
            app,
            token,
            names: HashMap::new(),
        };
        bodies.name(&admin.to_string(), "admin");
        bodies
    }

    /// Shows `id` as `[name]` in snapshots.
    fn name(&mut self, id: &str, name: &str) {
        self.names.insert(id.to_owned(), format!("[{name}]"));
    }

    /// POSTs `body` to `path`, which must answer 201; the whole answer, the record's id named
    /// `name`.
    async fn create(&mut self, path: &str, body: Value, name: &str) -> Value {
        let res = self.app.post(path, &self.token, body).await;
        assert_eq!(res.status(), StatusCode::CREATED, "POST {path}");
        let answer: Value = res.json().await.unwrap();
        self.name(&id(&answer["data"]), name);
        answer
    }

    /// Names the stages of `pipeline` by their names.
    fn name_stages(&mut self, pipeline: &Value) {
        for stage in pipeline["stages"].as_array().unwrap() {
            let name = format!("stage {}", stage["name"].as_str().unwrap());
            self.name(&id(stage), &name);
        }
    }

    async fn get(&self, path: &str) -> Value {
        self.app.get_json(path, &self.token).await
    }

    /// Asserts that `body` matches the snapshot `snapshot`, with ids named, instants and
    /// secrets redacted.
    fn assert_snapshot(&self, snapshot: &str, body: &Value) {
        let names = Arc::new(self.names.clone());
        let mut settings = insta::Settings::clone_current();
        for field in ID_FIELDS {
            let names = names.clone();
            settings.add_redaction(
                &format!(".**.{field}"),
                insta::dynamic_redaction(move |value, _| named(&names, value)),
            );
        }
        for field in TIME_FIELDS {
            settings.add_redaction(
                &format!(".**.{field}"),
                insta::dynamic_redaction(|value, _| instant(value)),
            );
        }
        // A change's values are ids, instants or plain values, depending on the field changed.
        for side in ["from", "to"] {
            let names = names.clone();
            settings.add_redaction(
                &format!(".**.changes[].{side}"),
                insta::dynamic_redaction(move |value, _| instant(named(&names, value))),
            );
        }
        settings.add_redaction(
            ".meta.nextCursor",
            insta::dynamic_redaction(|value, _| cursor(value)),
        );
        settings.add_redaction(".data.accessToken", "[token]");
        for secret in [".data.key", ".data.prefix", ".data[].prefix"] {
            settings.add_redaction(secret, insta::dynamic_redaction(|value, _| api_key(value)));
        }
        settings.bind(|| insta::assert_json_snapshot!(snapshot, body));
    }
}

/// A known id as its name, an unknown one as `[unknown id]` (so a link to a record the test
/// did not expect shows); anything else unchanged.
fn named(names: &HashMap<String, String>, value: Content) -> Content {
    let Some(text) = value.as_str() else {
        return value;
    };
    match names.get(text) {
        Some(name) => name.clone().into(),
        None if uuid::Uuid::parse_str(text).is_ok() => "[unknown id]".into(),
        None => value,
    }
}

/// An RFC 3339 instant in UTC as `[time]`; `null` and anything else unchanged, so a snapshot
/// still tells set from unset and shows an instant in another form.
fn instant(value: Content) -> Content {
    match value.as_str() {
        Some(text) if text.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(text).is_ok() => {
            "[time]".into()
        }
        _ => value,
    }
}

/// A cursor as `[cursor]`; `null` (the last page) unchanged.
fn cursor(value: Content) -> Content {
    if value.as_str().is_some() {
        "[cursor]".into()
    } else {
        value
    }
}

/// An API key or its prefix with the random part hidden; the `crm_` that marks a key stays.
fn api_key(value: Content) -> Content {
    match value.as_str() {
        Some(text) if text.starts_with("crm_") => "crm_[redacted]".into(),
        _ => value,
    }
}

/// The default pipeline as listed, its id and its stages' ids named.
async fn default_pipeline(t: &mut Bodies) -> Value {
    let pipeline = t.app.default_pipeline(&t.token).await;
    let name = format!("pipeline {}", pipeline["name"].as_str().unwrap());
    t.name(&id(&pipeline), &name);
    t.name_stages(&pipeline);
    pipeline
}

#[tokio::test]
async fn records_answer_with_every_field_and_their_links() {
    let mut t = Bodies::spawn().await;
    let company = json!({
        "name": "Acme", "website": "https://acme.example", "industry": "Retail",
        "email": "sales@acme.example", "phone": "+14155552671", "address": "1 Main St",
        "employees": 10, "notes": "Key account", "tags": ["b2b"]
    });
    let company = t.create("/api/companies", company, "company Acme").await;
    t.assert_snapshot("company", &company);

    let contact = json!({
        "fullName": "Ada Lovelace", "email": "ada@example.com", "phone": "+442079460958",
        "position": "Engineer", "companyId": company["data"]["id"], "tags": ["vip"],
        "notes": "Met at expo", "social": {"telegram": "@ada", "linkedin": "in/ada"}
    });
    let contact = t.create("/api/contacts", contact, "contact Ada").await;
    t.assert_snapshot("contact", &contact);

    let field = json!({
        "entityType": "deal", "key": "seats", "name": "Seats", "type": "NUMBER",
        "isRequired": false, "defaultValue": 1
    });
    let field = t.create("/api/custom-fields", field, "field seats").await;
    t.assert_snapshot("custom_field", &field);

    default_pipeline(&mut t).await;
    let deal = json!({
        "title": "Fleet renewal", "amount": "1500.30", "currency": "EUR",
        "contactId": contact["data"]["id"], "companyId": company["data"]["id"],
        "expectedCloseAt": "2099-06-30T00:00:00Z", "description": "Twelve vans",
        "tags": ["vip"], "customFields": {"seats": 12}
    });
    let deal = t.create("/api/deals", deal, "deal Fleet renewal").await;
    t.assert_snapshot("deal", &deal);

    let task = json!({
        "title": "Send the quote", "type": "EMAIL", "priority": "HIGH",
        "dueAt": "2099-06-01T09:00:00Z", "dealId": deal["data"]["id"],
        "contactId": contact["data"]["id"]
    });
    let task = t.create("/api/tasks", task, "task Send the quote").await;
    t.assert_snapshot("task", &task);

    let comment =
        json!({"entityType": "deal", "entityId": deal["data"]["id"], "content": "Quote sent"});
    let comment = t.create("/api/comments", comment, "comment").await;
    t.assert_snapshot("comment", &comment);
}

#[tokio::test]
async fn a_pipeline_answers_with_its_stages_in_order() {
    let mut t = Bodies::spawn().await;
    let body = json!({
        "name": "Partners", "description": "Reseller deals",
        "stages": [
            {"name": "Lead"},
            {"name": "Signed", "type": "WON", "color": "#00ff00"},
            {"name": "Dropped", "type": "LOST"}
        ]
    });
    let pipeline = t.create("/api/pipelines", body, "pipeline Partners").await;
    t.name_stages(&pipeline["data"]);
    t.assert_snapshot("pipeline", &pipeline);
}

#[tokio::test]
async fn a_tag_answers_with_its_colour_and_usage() {
    let mut t = Bodies::spawn().await;
    let tag = json!({"name": "VIP", "color": "#ff0000"});
    let tag = t.create("/api/tags", tag, "tag VIP").await;
    t.assert_snapshot("tag", &tag);
}

#[tokio::test]
async fn the_signed_in_user_and_the_login_answer() {
    let t = Bodies::spawn().await;
    let me = t.get("/api/auth/me").await;
    t.assert_snapshot("me", &me);
    let res = t.app.login("admin@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    t.assert_snapshot("login", &res.json().await.unwrap());
}

#[tokio::test]
async fn an_api_key_shows_its_secret_once() {
    let mut t = Bodies::spawn().await;
    let body = json!({"name": "reporting", "role": "VIEWER", "expiresAt": "2099-01-01T00:00:00Z"});
    let created = t.create("/api/api-keys", body, "api key").await;
    // The snapshot hides both, so it cannot tell that the prefix is the key's own.
    let (key, prefix) = (
        created["data"]["key"].as_str().unwrap(),
        created["data"]["prefix"].as_str().unwrap(),
    );
    assert!(
        key.starts_with("crm_") && key.starts_with(prefix),
        "{created}"
    );
    t.assert_snapshot("api_key_created", &created);
    t.assert_snapshot("api_keys_list", &t.get("/api/api-keys").await);
}

#[tokio::test]
async fn an_offset_page_carries_page_limit_and_total() {
    let mut t = Bodies::spawn().await;
    for name in ["Acme", "Globex", "Initech"] {
        t.create(
            "/api/companies",
            json!({"name": name}),
            &format!("company {name}"),
        )
        .await;
    }
    let page = t.get("/api/companies?sort=name&limit=2&page=2").await;
    t.assert_snapshot("companies_page", &page);
}

#[tokio::test]
async fn a_cursor_page_carries_limit_and_next_cursor() {
    let mut t = Bodies::spawn().await;
    for name in ["Ada", "Grace", "Hedy"] {
        t.create(
            "/api/contacts",
            json!({"fullName": name}),
            &format!("contact {name}"),
        )
        .await;
    }
    let first = t.get("/api/contacts?cursor=&limit=2").await;
    t.assert_snapshot("contacts_cursor_first", &first);
    let next = first["meta"]["nextCursor"].as_str().unwrap();
    let last = t.get(&format!("/api/contacts?cursor={next}&limit=2")).await;
    t.assert_snapshot("contacts_cursor_last", &last);
}

#[tokio::test]
async fn a_deal_timeline_lists_its_entries_newest_first() {
    let mut t = Bodies::spawn().await;
    let pipeline = default_pipeline(&mut t).await;
    let won = pipeline["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == "WON")
        .unwrap()["id"]
        .clone();
    let deal = json!({"title": "Fleet renewal", "amount": "1500.00", "currency": "EUR"});
    let deal = t.create("/api/deals", deal, "deal").await;
    let path = format!("/api/deals/{}", id(&deal["data"]));
    let res = t
        .app
        .patch_if(&path, &t.token, 1, json!({"amount": "1800.00"}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = t
        .app
        .post(&format!("{path}/move"), &t.token, json!({"stageId": won}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let comment =
        json!({"entityType": "deal", "entityId": deal["data"]["id"], "content": "Signed"});
    t.create("/api/comments", comment, "comment").await;
    let timeline = t.app.activity("deal", &id(&deal["data"]), &t.token).await;
    for entry in timeline["data"].as_array().unwrap() {
        let name = format!("entry {}", entry["type"].as_str().unwrap());
        t.name(&id(entry), &name);
    }
    t.assert_snapshot("deal_timeline", &timeline);
}

#[tokio::test]
async fn a_validation_problem_names_every_invalid_field() {
    let t = Bodies::spawn().await;
    let body = json!({"fullName": " ", "email": "not an e-mail", "phone": "12"});
    let res = t.app.post("/api/contacts", &t.token, body).await;
    let problem = assert_problem(res, 400, "validation_failed").await;
    t.assert_snapshot("problem_validation", &problem);
}

#[tokio::test]
async fn a_missing_record_is_a_404_problem() {
    let t = Bodies::spawn().await;
    let res = t
        .app
        .get(&format!("/api/contacts/{MISSING_ID}"), &t.token)
        .await;
    let problem = assert_problem(res, 404, "not_found").await;
    t.assert_snapshot("problem_not_found", &problem);
}

#[tokio::test]
async fn a_stale_if_match_is_a_412_problem() {
    let mut t = Bodies::spawn().await;
    let contact = t
        .create("/api/contacts", json!({"fullName": "Ada"}), "contact")
        .await;
    let path = format!("/api/contacts/{}", id(&contact["data"]));
    let res = t
        .app
        .patch_if(&path, &t.token, 7, json!({"position": "CTO"}))
        .await;
    let problem = assert_problem(res, 412, "version_mismatch").await;
    t.assert_snapshot("problem_version_mismatch", &problem);
}

#[tokio::test]
async fn a_taken_name_is_a_409_problem() {
    let mut t = Bodies::spawn().await;
    t.create("/api/companies", json!({"name": "Acme"}), "company")
        .await;
    let res = t
        .app
        .post("/api/companies", &t.token, json!({"name": "ACME"}))
        .await;
    let problem = assert_problem(res, 409, "duplicate_company_name").await;
    t.assert_snapshot("problem_duplicate", &problem);
}

#[tokio::test]
async fn a_request_without_token_is_a_401_problem() {
    let t = Bodies::spawn().await;
    let res = t
        .app
        .send_anonymous(Method::GET, "/api/contacts", None)
        .await;
    let problem = assert_problem(res, 401, "missing_token").await;
    t.assert_snapshot("problem_missing_token", &problem);
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem_with_allow() {
    let t = Bodies::spawn().await;
    let path = format!("/api/contacts/{MISSING_ID}");
    let res = t.app.send(Method::PUT, &path, &t.token, None).await;
    assert_eq!(res.headers()["allow"], "DELETE, GET, PATCH");
    let problem = assert_problem(res, 405, "method_not_allowed").await;
    t.assert_snapshot("problem_method_not_allowed", &problem);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415_problem() {
    let t = Bodies::spawn().await;
    let res = t
        .app
        .authed(Method::POST, "/api/contacts", &t.token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(res, 415, "unsupported_media_type").await;
    t.assert_snapshot("problem_unsupported_media_type", &problem);
}
