//! File storage in an S3-compatible bucket: moto's server on loopback, started by the test
//! (installed pinned by `scripts/install-moto.sh` when missing), behind the same API as the
//! local directory. Large uploads go up as multipart uploads.

use std::process::Stdio;
use std::time::Duration;

use crm_core::Role;
use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::files::{Form, objects, png_bytes, post_form, upload};
use crate::support::{TestApp, assert_problem, data, id};

/// A moto server on a free loopback port, stopped when dropped.
struct Moto {
    endpoint: String,
    _child: tokio::process::Child,
}

fn moto_binary() -> String {
    if let Ok(path) = std::env::var("CRM_TEST_MOTO_SERVER") {
        return path;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/install-moto.sh");
    let out = std::process::Command::new(script)
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/install-moto.sh runs");
    assert!(out.status.success(), "installing moto failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn start_moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(moto_binary())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("moto_server starts");
    let endpoint = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(&endpoint).send().await.is_ok() {
            return Moto {
                endpoint,
                _child: child,
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto_server did not answer on {endpoint}");
}

async fn s3_app(moto: &Moto, limit: u64) -> TestApp {
    let bucket = format!("crm-{}", uuid::Uuid::now_v7().simple());
    let res = reqwest::Client::new()
        .put(format!("{}/{bucket}", moto.endpoint))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "bucket not created");
    let options: Vec<(String, String)> = [
        ("aws_endpoint", moto.endpoint.as_str()),
        ("aws_access_key_id", "test"),
        ("aws_secret_access_key", "test"),
        ("aws_region", "us-east-1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let storage =
        crm_files::Storage::open(&format!("s3://{bucket}/attachments"), &options).unwrap();
    TestApp::spawn_with_storage(storage, |http| http.max_upload_bytes = limit).await
}

#[tokio::test]
async fn files_round_trip_through_an_s3_bucket_and_leave_nothing_behind() {
    let moto = start_moto().await;
    let app = s3_app(&moto, 16 * 1024 * 1024).await;
    let (_, token) = app.signed_in(Role::Manager).await;
    let d = id(&app
        .create("/api/deals", &token, json!({"title": "D"}))
        .await);
    // Larger than one 5 MiB part: a multipart upload.
    let bytes = png_bytes(12 * 1024 * 1024 + 123);
    let res = upload(&app, &token, "deal", &d, "big.png", &bytes).await;
    assert_eq!(res.status(), 201);
    let file = data(res).await;
    assert_eq!(file["sha256"], hex::encode(Sha256::digest(&bytes)));
    assert_eq!(file["contentType"], "image/png");
    let download = format!("/api/files/{}/download", id(&file));
    let res = app.get(&download, &token).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-length"],
        bytes.len().to_string().as_str()
    );
    assert!(res.bytes().await.unwrap() == bytes);
    let res = app
        .authed(Method::GET, &download, &token)
        .header("range", "bytes=6000000-6000099")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.bytes().await.unwrap(), bytes[6_000_000..6_000_100]);
    assert_eq!(objects(&app).await, 1);

    // Over the limit half-way through a multipart upload: aborted, nothing stored.
    let body = Form::default()
        .text("entityType", "deal")
        .text("entityId", &d)
        .file("filename=\"too-big.png\"", &png_bytes(17 * 1024 * 1024))
        .finish();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let res = app
        .authed(Method::POST, "/api/files", &token)
        .header(
            "content-type",
            "multipart/form-data; boundary=crm-test-7d1f0c",
        )
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_problem(res, 413, "payload_too_large").await;
    assert_eq!(objects(&app).await, 1);
    // Unknown record: the object written before the check goes again.
    let form = Form::default()
        .file("filename=\"a\"", b"abc")
        .text("entityType", "deal")
        .text("entityId", &uuid::Uuid::now_v7().to_string());
    assert_problem(post_form(&app, &token, form).await, 422, "unknown_entity").await;
    assert_eq!(objects(&app).await, 1);

    let res = app
        .delete(&format!("/api/files/{}", id(&file)), &token)
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(objects(&app).await, 0);
}
