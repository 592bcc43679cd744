//! The OpenAPI document: served, complete, and snapshotted so every API change shows in review.

use reqwest::Method;
use serde_json::Value;

use crate::support::TestApp;

#[tokio::test]
async fn the_served_document_matches_the_snapshot() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .send_anonymous(Method::GET, "/api/docs/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    insta::assert_json_snapshot!("openapi", doc);
}

#[tokio::test]
async fn every_operation_documents_its_errors_and_security() {
    let doc = serde_json::to_value(crm_http::server::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 9, "{:?}", paths.keys());
    for (path, item) in paths {
        // The WebSocket gateway lives outside /api (ARCHITECTURE §4) and answers 101.
        assert!(path.starts_with("/api/") || path == "/websocket", "{path}");
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses
                    .keys()
                    .any(|s| s.starts_with('2') || (path == "/websocket" && s == "101")),
                "{method} {path} has no success response"
            );
            let public = path.starts_with("/api/health")
                || path.starts_with("/api/auth/")
                    && !path.ends_with("/me")
                    && !path.ends_with("/password");
            if !public {
                assert!(
                    op["security"].is_array(),
                    "{method} {path} declares no security"
                );
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} does not document 401"
                );
            }
        }
    }
}

/// The validator the document is checked with, pinned; installed by the test itself into a
/// virtualenv under the target directory the first time.
const VALIDATOR: &str = "openapi-spec-validator==0.7.2";

fn validator_python() -> std::path::PathBuf {
    let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("openapi-validator-venv");
    let python = venv.join("bin/python");
    let ready = venv.join(format!(".installed-{VALIDATOR}"));
    if !ready.exists() {
        let run = |cmd: &mut std::process::Command| {
            let out = cmd.output().expect("run python3");
            assert!(
                out.status.success(),
                "{cmd:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv));
        run(std::process::Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            VALIDATOR,
        ]));
        std::fs::write(&ready, "").unwrap();
    }
    python
}

#[test]
fn the_document_is_valid_openapi_3_1_for_a_real_validator() {
    let doc = serde_json::to_string_pretty(&crm_http::server::openapi()).unwrap();
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("crm-openapi.json");
    std::fs::write(&file, doc).unwrap();
    let out = std::process::Command::new(validator_python())
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
