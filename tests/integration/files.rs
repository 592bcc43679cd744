//! `/api/files`: streamed uploads, byte-identical and ranged downloads, hostile names and
//! forms, limits, visibility, timelines and events, and what deleting a record does to its
//! files.

use crm_core::Role;
use crm_db::schema::{events, files};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{TestApp, assert_problem, data, id};

const BOUNDARY: &str = "crm-test-7d1f0c";

/// A `multipart/form-data` body built by hand, so tests control every byte of it.
#[derive(Default)]
pub struct Form(Vec<u8>);

impl Form {
    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.0.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
        self
    }

    /// A `file` part; `params` is the rest of its `Content-Disposition`, e.g.
    /// `filename="a.png"`.
    pub fn file(mut self, params: &str, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; {params}\r\nContent-Type: text/html\r\n\r\n"
            )
            .as_bytes(),
        );
        self.0.extend_from_slice(bytes);
        self.0.extend_from_slice(b"\r\n");
        self
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.0
            .extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        self.0
    }
}

pub async fn post_form(app: &TestApp, token: &str, form: Form) -> Response {
    post_form_to(app, "/api/files", token, form).await
}

/// Posts a hand-built form to `path`.
pub async fn post_form_to(app: &TestApp, path: &str, token: &str, form: Form) -> Response {
    app.authed(Method::POST, path, token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(form.finish())
        .send()
        .await
        .unwrap()
}

/// Uploads `bytes` as `name` onto `kind` `entity`.
pub async fn upload(
    app: &TestApp,
    token: &str,
    kind: &str,
    entity: &str,
    name: &str,
    bytes: &[u8],
) -> Response {
    let form = Form::default()
        .text("entityType", kind)
        .text("entityId", entity)
        .file(&format!("filename=\"{name}\""), bytes);
    post_form(app, token, form).await
}

/// Bytes that start like a PNG and go on with a pattern no compressor would keep small.
pub fn png_bytes(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let mut x: u32 = 0x1234_5678;
    while bytes.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes.push((x & 0xff) as u8);
    }
    bytes.truncate(len);
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn deal(app: &TestApp, token: &str) -> String {
    id(&app.create("/api/deals", token, json!({"title": "D"})).await)
}

async fn file_rows(app: &TestApp) -> i64 {
    let mut conn = app.pool.get().await.unwrap();
    files::table.count().get_result(&mut conn).await.unwrap()
}

/// How many objects the instance's storage holds.
pub async fn objects(app: &TestApp) -> usize {
    use futures_util::TryStreamExt;
    let listed: Vec<_> = app.storage.objects().try_collect().await.unwrap();
    listed.len()
}

#[tokio::test]
async fn an_upload_downloads_byte_identical_whole_and_in_ranges_and_leaves_with_its_delete() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let d = deal(&app, &token).await;
    let bytes = png_bytes(300_000);
    let form = Form::default()
        .text("entityType", "deal")
        .text("entityId", &d)
        .file(
            "filename=\"x.png\"; filename*=UTF-8''..%2F..%2F%C3%A9vil%20%22name%22.png",
            &bytes,
        );
    let res = post_form(&app, &token, form).await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let file = data(res).await;
    assert_eq!(location, format!("/api/files/{}", id(&file)));
    assert_eq!(file["fileName"], "évil _name_.png");
    // The bytes say PNG; the part claimed text/html.
    assert_eq!(file["contentType"], "image/png");
    assert_eq!(file["size"], bytes.len());
    assert_eq!(file["sha256"], sha256(&bytes));
    assert_eq!(file["entityType"], "deal");
    assert_eq!(file["entityId"], d);
    assert_eq!(app.get_json(&location, &token).await["data"], file);

    let list = app
        .get_json(&format!("/api/files?entityType=deal&entityId={d}"), &token)
        .await;
    assert_eq!(list["meta"]["total"], 1);
    assert_eq!(list["data"][0], file);

    let download = format!("{location}/download");
    let res = app.get(&download, &token).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-length"], bytes.len().to_string().as_str());
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["accept-ranges"], "bytes");
    let disposition = h["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(
        disposition.contains("filename=\"_vil _name_.png\""),
        "{disposition}"
    );
    assert!(
        disposition.contains("filename*=UTF-8''%C3%A9vil%20_name_.png"),
        "{disposition}"
    );
    assert_eq!(res.bytes().await.unwrap(), bytes);

    let ranged = |range: &'static str| {
        app.authed(Method::GET, &download, &token)
            .header("range", range)
            .send()
    };
    let res = ranged("bytes=10-19").await.unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes 10-19/{}", bytes.len()).as_str()
    );
    assert_eq!(res.headers()["content-length"], "10");
    assert_eq!(res.bytes().await.unwrap(), bytes[10..20]);
    let res = ranged("bytes=-5").await.unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.bytes().await.unwrap(), bytes[bytes.len() - 5..]);
    let res = ranged("bytes=299990-").await.unwrap();
    assert_eq!(res.bytes().await.unwrap(), bytes[299_990..]);
    let res = ranged("bytes=300000-").await.unwrap();
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes */{}", bytes.len()).as_str()
    );
    assert_problem(res, 416, "range_not_satisfiable").await;
    // Several ranges, or a range of no known unit, get the whole file.
    for range in ["bytes=0-1,5-6", "lines=1-2"] {
        let res = app
            .authed(Method::GET, &download, &token)
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{range}");
        assert_eq!(res.bytes().await.unwrap().len(), bytes.len());
    }

    let timeline = app.activity("deal", &d, &token).await;
    let uploaded = timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "file.uploaded")
        .expect("file.uploaded on the deal's timeline");
    assert_eq!(uploaded["changes"][0]["to"]["id"], file["id"]);

    assert_eq!(objects(&app).await, 1);
    let res = app.delete(&location, &token).await;
    assert_eq!(res.status(), 204);
    assert_problem(app.get(&location, &token).await, 404, "not_found").await;
    assert_problem(app.get(&download, &token).await, 404, "not_found").await;
    assert_eq!((file_rows(&app).await, objects(&app).await), (0, 0));
    let timeline = app.activity("deal", &d, &token).await;
    assert!(
        timeline["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "file.deleted")
    );
    let mut conn = app.pool.get().await.unwrap();
    let names: Vec<String> = events::table
        .filter(events::event.like("file.%"))
        .order(events::id.asc())
        .select(events::event)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(names, ["file.uploaded", "file.deleted"]);
}

#[tokio::test]
async fn an_empty_file_and_text_files_are_typed_from_their_bytes() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let d = deal(&app, &token).await;
    let res = upload(&app, &token, "deal", &d, "empty.bin", b"").await;
    assert_eq!(res.status(), 201);
    let empty = data(res).await;
    assert_eq!(
        (empty["size"].clone(), empty["contentType"].clone()),
        (json!(0), json!("application/octet-stream"))
    );
    let res = app
        .get(&format!("/api/files/{}/download", id(&empty)), &token)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().len(), 0);
    let res = upload(
        &app,
        &token,
        "deal",
        &d,
        "notes.exe",
        "привет, мир".as_bytes(),
    )
    .await;
    assert_eq!(data(res).await["contentType"], "text/plain; charset=utf-8");
    // Active content is typed as what it is, and only ever downloaded, never rendered.
    let res = upload(
        &app,
        &token,
        "deal",
        &d,
        "<script>.html",
        b"<script>alert(1)</script>",
    )
    .await;
    let html = data(res).await;
    assert_eq!(html["contentType"], "text/html");
    assert_eq!(html["fileName"], "_script_.html");
    let res = app
        .get(&format!("/api/files/{}/download", id(&html)), &token)
        .await;
    let h = res.headers();
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );
}

#[tokio::test]
async fn a_file_over_the_limit_is_413_and_leaves_no_row_and_no_object() {
    let app = TestApp::spawn_with(|_, http| http.max_upload_bytes = 100_000).await;
    let (_, token) = app.signed_in(Role::Manager).await;
    let d = deal(&app, &token).await;
    // Exactly the limit is fine.
    let res = upload(&app, &token, "deal", &d, "a.png", &png_bytes(100_000)).await;
    assert_eq!(res.status(), 201);
    assert_eq!(objects(&app).await, 1);
    // Declared too large: refused before a byte is read.
    let res = upload(&app, &token, "deal", &d, "b.png", &png_bytes(300_000)).await;
    assert_problem(res, 413, "payload_too_large").await;
    // Chunked, so no length is declared: refused when the limit is crossed.
    let body = Form::default()
        .text("entityType", "deal")
        .text("entityId", &d)
        .file("filename=\"c.png\"", &png_bytes(100_001))
        .finish();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    let res = app
        .authed(Method::POST, "/api/files", &token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_problem(res, 413, "payload_too_large").await;
    assert_eq!((file_rows(&app).await, objects(&app).await), (1, 1));
}

#[tokio::test]
async fn bad_forms_are_4xx_and_store_nothing() {
    let (app, [token, viewer]) = TestApp::spawn_signed_in([Role::Manager, Role::Viewer]).await;
    let d = deal(&app, &token).await;
    let bytes = png_bytes(1000);
    let missing = post_form(&app, &token, Form::default().file("filename=\"a\"", &bytes)).await;
    let body = assert_problem(missing, 400, "validation_failed").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["entityType", "entityId"]);
    let cases = [
        Form::default()
            .text("entityType", "deal")
            .text("entityId", &d),
        Form::default()
            .text("entityType", "pipeline")
            .text("entityId", &d)
            .file("filename=\"a\"", &bytes),
        Form::default()
            .text("entityType", "deal")
            .text("entityId", "not-a-uuid")
            .file("filename=\"a\"", &bytes),
        Form::default()
            .text("entityType", "deal")
            .text("entityId", &d)
            .text("extra", "x")
            .file("filename=\"a\"", &bytes),
        Form::default()
            .text("entityType", "deal")
            .text("entityId", &d)
            .file("filename=\"a\"", &bytes)
            .file("filename=\"b\"", &bytes),
        Form::default()
            .file("filename=\"a\"", &bytes)
            .text("entityType", "deal")
            .text("entityType", "deal"),
        Form::default()
            .text("entityType", &"x".repeat(1000))
            .text("entityId", &d),
    ];
    for form in cases {
        let res = post_form(&app, &token, form).await;
        assert_problem(res, 400, "validation_failed").await;
    }
    let res = app
        .post("/api/files", &token, json!({"entityType": "deal"}))
        .await;
    assert_problem(res, 415, "unsupported_media_type").await;
    // A file arriving before its record is named is stored, then removed when the record is
    // unknown.
    let unknown = uuid::Uuid::now_v7().to_string();
    let form = Form::default()
        .file("filename=\"a\"", &bytes)
        .text("entityType", "deal")
        .text("entityId", &unknown);
    assert_problem(post_form(&app, &token, form).await, 422, "unknown_entity").await;
    app.delete(&format!("/api/deals/{d}"), &token).await;
    let res = upload(&app, &token, "deal", &d, "a", &bytes).await;
    assert_problem(res, 422, "unknown_entity").await;
    let res = upload(&app, &viewer, "deal", &d, "a", &bytes).await;
    assert_problem(res, 403, "forbidden").await;
    assert_eq!((file_rows(&app).await, objects(&app).await), (0, 0));
}

#[tokio::test]
async fn files_follow_their_records_visibility() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let (owner, mine) = app.signed_in(Role::Manager).await;
    let (other, theirs) = app.signed_in(Role::Manager).await;
    for user in [&owner, &other] {
        app.revoke(&admin, user.user.id, &["deals.read_all"]).await;
    }
    let d = deal(&app, &mine).await;
    let file = data(upload(&app, &mine, "deal", &d, "a.txt", b"secret").await).await;
    let path = format!("/api/files/{}", id(&file));
    for p in [path.clone(), format!("{path}/download")] {
        assert_problem(app.get(&p, &theirs).await, 404, "not_found").await;
        assert_eq!(app.get(&p, &admin).await.status(), 200);
    }
    let list = format!("/api/files?entityType=deal&entityId={d}");
    assert_problem(app.get(&list, &theirs).await, 404, "not_found").await;
    assert_problem(app.delete(&path, &theirs).await, 404, "not_found").await;
    let res = upload(&app, &theirs, "deal", &d, "b.txt", b"x").await;
    assert_problem(res, 422, "unknown_entity").await;
    let res = app
        .get(
            &format!("/api/files?entityType=deal&entityId={d}&bogus=1"),
            &mine,
        )
        .await;
    assert_problem(res, 400, "invalid_query").await;
    assert_eq!(file_rows(&app).await, 1);
}

#[tokio::test]
async fn files_on_comments_go_to_the_commented_records_timeline_and_go_with_the_comment() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let d = deal(&app, &token).await;
    let comment = app
        .create(
            "/api/comments",
            &token,
            json!({"entityType": "deal", "entityId": d, "content": "see attached"}),
        )
        .await;
    let c = id(&comment);
    let file = data(upload(&app, &token, "comment", &c, "a.pdf", b"%PDF-1.7\n...").await).await;
    assert_eq!(file["contentType"], "application/pdf");
    let timeline = app.activity("deal", &d, &token).await;
    let entry = timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "file.uploaded")
        .unwrap()
        .clone();
    assert_eq!(entry["changes"][0]["to"]["commentId"], c);
    let list = app
        .get_json(
            &format!("/api/files?entityType=comment&entityId={c}"),
            &token,
        )
        .await;
    assert_eq!(list["meta"]["total"], 1);

    // Deleting the comment takes the row with it; the sweep then removes the object.
    assert_eq!(
        app.delete(&format!("/api/comments/{c}"), &token)
            .await
            .status(),
        204
    );
    assert_eq!((file_rows(&app).await, objects(&app).await), (0, 1));
    let swept = crm_files::sweep_orphans(&app.pool, &app.storage, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!((swept, objects(&app).await), (1, 0));
}

#[tokio::test]
async fn a_record_in_the_trash_keeps_its_files_and_a_purged_one_takes_them() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let contact = id(&app
        .create("/api/contacts", &admin, json!({"fullName": "C"}))
        .await);
    let company = id(&app
        .create("/api/companies", &admin, json!({"name": "Co"}))
        .await);
    let task = id(&app
        .create("/api/tasks", &admin, json!({"title": "T"}))
        .await);
    for (kind, record) in [
        ("contact", &contact),
        ("company", &company),
        ("task", &task),
    ] {
        let res = upload(&app, &admin, kind, record, "a.txt", b"hello").await;
        assert_eq!(res.status(), 201, "{kind}");
    }
    let path = format!("/api/contacts/{contact}");
    assert_eq!(app.delete(&path, &admin).await.status(), 204);
    assert_eq!(file_rows(&app).await, 3);
    // While the record is in the trash its files are out of sight, and back on restore.
    let list = format!("/api/files?entityType=contact&entityId={contact}");
    assert_problem(app.get(&list, &admin).await, 404, "not_found").await;
    assert_eq!(app.restore(&path, &admin).await.status(), 200);
    assert_eq!(app.get_json(&list, &admin).await["meta"]["total"], 1);
    for record in [
        path,
        format!("/api/companies/{company}"),
        format!("/api/tasks/{task}"),
    ] {
        app.delete(&record, &admin).await;
        let res = app
            .delete(&format!("{record}?permanent=true"), &admin)
            .await;
        assert_eq!(res.status(), 204, "{record}");
    }
    assert_eq!((file_rows(&app).await, objects(&app).await), (0, 3));
    let swept = crm_files::sweep_orphans(&app.pool, &app.storage, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(swept, 3);
    // Young objects are left to their uploads.
    let d = deal(&app, &admin).await;
    upload(&app, &admin, "deal", &d, "a.txt", b"x").await;
    let swept = crm_files::sweep_orphans(&app.pool, &app.storage, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!((swept, objects(&app).await), (0, 1));
}

#[tokio::test]
async fn an_unknown_file_id_is_404_and_a_malformed_one_400() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Viewer]).await;
    let unknown = uuid::Uuid::now_v7();
    for path in [
        format!("/api/files/{unknown}"),
        format!("/api/files/{unknown}/download"),
    ] {
        assert_problem(app.get(&path, &token).await, 404, "not_found").await;
    }
    let res: Response = app.get("/api/files/nope", &token).await;
    assert_eq!(res.status(), 400);
    let _: Value = res.json().await.unwrap();
}

#[tokio::test]
async fn the_served_document_states_the_upload_limit() {
    let app = TestApp::spawn_with(|_, http| http.max_upload_bytes = 12_345).await;
    let res = app
        .request(Method::GET, "/api/docs/openapi.json")
        .send()
        .await
        .unwrap();
    let doc: Value = res.json().await.unwrap();
    let file = &doc["components"]["schemas"]["FileUpload"]["properties"]["file"];
    assert_eq!(file["maxLength"], 12_345, "{file}");
    assert_eq!(file["format"], "binary");
}

#[tokio::test]
async fn an_idempotency_key_does_not_buffer_an_upload() {
    // Larger than the JSON body limit, which a buffered body would hit.
    let app = TestApp::spawn_with(|_, http| http.max_body_bytes = 1000).await;
    let (_, token) = app.signed_in(Role::Manager).await;
    let d = deal(&app, &token).await;
    let form = Form::default()
        .text("entityType", "deal")
        .text("entityId", &d)
        .file("filename=\"a.png\"", &png_bytes(50_000));
    let res = app
        .authed(Method::POST, "/api/files", &token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header("idempotency-key", "upload-1")
        .body(form.finish())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(data(res).await["size"], 50_000);
}
