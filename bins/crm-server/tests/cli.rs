//! The real `crm-server` binary as a user runs it: serving on `DATABASE_URL` or on its own
//! private PostgreSQL, first-admin bootstrap, `migrate`, `create-admin`, graceful shutdown,
//! and a WebSocket client resuming after its server process was killed and restarted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crm_testkit::TestDb;
use serde_json::{Value, json};

const SECRET: &str = "cli test secret of at least thirty-two bytes";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn server() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_crm-server"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CRM_INSECURE_FAST_PASSWORD_HASHING", "true")
        .env("CRM_COOKIE_SECURE", "false")
        .env("CRM_WORKERS", "1")
        .env("RUST_LOG", "warn");
    cmd
}

/// The server on the database at `url`, with the JWT secret every instance here shares.
fn on_database(url: &str) -> Command {
    let mut cmd = server();
    cmd.env("DATABASE_URL", url).env("CRM_JWT_SECRET", SECRET);
    cmd
}

/// Runs `seed-demo` with `args` twice on `db`, each run succeeding (the second adds as much
/// again).
fn seed_demo_twice(db: &TestDb, args: &[&str]) {
    for _ in 0..2 {
        let out = on_database(db.url())
            .arg("seed-demo")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

struct Running {
    child: Child,
    base: String,
}

impl Running {
    fn start(cmd: Command) -> Self {
        Self::start_on(cmd, free_port())
    }

    fn start_on(mut cmd: Command, port: u16) -> Self {
        let child = cmd
            .env("CRM_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = reqwest::Client::new();
        loop {
            let ready = client
                .get(format!("{}/api/health/ready", self.base))
                .send()
                .await;
            if ready.is_ok_and(|res| res.status() == 200) {
                return;
            }
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "server exited before it was ready"
            );
            assert!(Instant::now() < deadline, "server not ready in time");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn login(&self, email: &str, password: &str) -> u16 {
        reqwest::Client::new()
            .post(format!("{}/api/auth/login", self.base))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// SIGKILL: the process dies at once, with no graceful close of anything.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit status and everything printed on stdout.
    fn terminate(mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
        let Output { status, stdout, .. } = self.child.wait_with_output().unwrap();
        (
            status.success(),
            String::from_utf8_lossy(&stdout).into_owned(),
        )
    }
}

/// A data directory under /tmp (short: the socket path must stay under ~107 bytes), removed at
/// the end even if the test fails.
struct DataDir(PathBuf);

impl DataDir {
    fn new() -> Self {
        let dir = PathBuf::from(format!("/tmp/crm-cli-{}", unique_name()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let pg = self.0.join("pg");
        if pg.join("postmaster.pid").exists() {
            stop_cluster(&pg);
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unique_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn stop_cluster(pg: &Path) {
    let bin = crm_db_bin_dir();
    let pg_ctl = bin.join("pg_ctl");
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(pg_ctl);
        c
    } else {
        Command::new(pg_ctl)
    };
    let _ = cmd
        .arg("-D")
        .arg(pg)
        .args(["stop", "-m", "immediate"])
        .status();
}

fn crm_db_bin_dir() -> PathBuf {
    crm_db::local_pg::find_bin_dir().unwrap()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

#[tokio::test]
async fn without_database_url_it_runs_its_own_postgres_reuses_it_and_stops_it() {
    let data = DataDir::new();
    let mut cmd = server();
    cmd.env("CRM_DATA_DIR", &data.0);
    let mut first = Running::start(cmd);
    first.wait_ready().await;
    assert_eq!(
        first.login("admin@example.com", "not the password").await,
        401
    );
    let (ok, stdout) = first.terminate();
    assert!(ok, "clean exit on SIGTERM");
    let password = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Password: "))
        .unwrap_or_else(|| panic!("generated password printed once: {stdout}"))
        .to_owned();
    assert!(
        !data.0.join("pg/postmaster.pid").exists(),
        "the private cluster is stopped on shutdown"
    );
    let secret = std::fs::read_to_string(data.0.join("jwt-secret")).unwrap();
    assert!(secret.trim().len() >= 32);

    // Second start: same cluster, same data, no new credentials.
    let mut cmd = server();
    cmd.env("CRM_DATA_DIR", &data.0);
    let mut second = Running::start(cmd);
    second.wait_ready().await;
    assert_eq!(second.login("admin@example.com", &password).await, 200);
    let (ok, stdout) = second.terminate();
    assert!(ok);
    assert!(
        !stdout.contains("Password:"),
        "credentials are printed only on the first start"
    );
}

#[tokio::test]
async fn with_database_url_it_bootstraps_the_admin_from_the_environment() {
    let db = TestDb::new().await;
    let mut cmd = on_database(db.url());
    cmd.env("CRM_ADMIN_EMAIL", "Boss@Example.com")
        .env("CRM_ADMIN_PASSWORD", "a long admin password");
    let mut running = Running::start(cmd);
    running.wait_ready().await;
    assert_eq!(
        running
            .login("boss@example.com", "a long admin password")
            .await,
        200
    );
    let (ok, stdout) = running.terminate();
    assert!(ok);
    assert!(!stdout.contains("Password:"));
}

#[tokio::test]
async fn migrate_and_create_admin_work_from_the_command_line() {
    let db = TestDb::new().await;
    let run = |args: &[&str]| on_database(db.url()).args(args).output().unwrap();
    assert!(run(&["migrate"]).status.success());
    let out = run(&[
        "create-admin",
        "--email",
        "ops@example.com",
        "--password",
        "ops password 1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Again for the same e-mail: the user is made an active admin with the new password.
    let out = run(&[
        "create-admin",
        "--email",
        "OPS@example.com",
        "--password",
        "ops password 2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["create-admin", "--email", "bad", "--password", "x"]);
    assert!(!out.status.success());

    let mut cmd = server();
    cmd.env("DATABASE_URL", db.url())
        .env("CRM_JWT_SECRET", SECRET);
    let mut running = Running::start(cmd);
    running.wait_ready().await;
    assert_eq!(
        running.login("ops@example.com", "ops password 1").await,
        401
    );
    assert_eq!(
        running.login("ops@example.com", "ops password 2").await,
        200
    );
    let body: Value = reqwest::get(format!("{}/api/health", running.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["status"], "ok");
    assert!(running.terminate().0);
}

#[test]
fn a_database_url_without_a_jwt_secret_is_refused_with_a_clear_message() {
    let out = server()
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CRM_JWT_SECRET is required"), "{stderr}");
}

#[tokio::test]
async fn seed_demo_adds_consistent_data_and_can_run_twice() {
    use diesel_async::RunQueryDsl;

    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        users: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        contacts: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        deals: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        tasks: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        activity: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        misplaced: i64,
    }

    let db = TestDb::new().await;
    seed_demo_twice(
        &db,
        &[
            "--users",
            "3",
            "--companies",
            "5",
            "--contacts",
            "20",
            "--deals",
            "30",
            "--tasks",
            "10",
        ],
    );
    let mut conn = db.conn().await;
    let counts: Counts = diesel::sql_query(
        "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM contacts) AS contacts,
                (SELECT count(*) FROM deals) AS deals, (SELECT count(*) FROM tasks) AS tasks,
                (SELECT count(*) FROM activity WHERE type = 'contact.created') AS activity,
                -- Kanban keys: one STEP (65536) after the previous deal of the stage, across batches.
                (SELECT count(*) FROM (SELECT position, lag(position) OVER (PARTITION BY stage_id ORDER BY position) AS prev
                                       FROM deals) p WHERE position - prev <> 65536) AS misplaced",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        counts,
        Counts {
            users: 6,
            contacts: 40,
            deals: 60,
            tasks: 20,
            activity: 40,
            misplaced: 0
        }
    );
}

#[tokio::test]
async fn seed_demo_defines_ten_deal_custom_fields_and_fills_them_in_canonical_form() {
    use crm_custom_fields::{CustomFieldEntity, FieldSet};
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;

    let db = TestDb::new().await;
    seed_demo_twice(
        &db,
        &[
            "--users",
            "2",
            "--companies",
            "3",
            "--contacts",
            "10",
            "--deals",
            "40",
            "--tasks",
            "0",
            "--deal-custom-fields",
        ],
    );
    let mut conn = db.conn().await;
    let fields = FieldSet::for_read(&mut conn, CustomFieldEntity::Deal)
        .await
        .unwrap();
    let mut types: Vec<&str> = fields
        .fields()
        .iter()
        .map(|f| f.field_type.as_str())
        .collect();
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "BOOLEAN",
            "DATE",
            "DATETIME",
            "EMAIL",
            "MULTI_SELECT",
            "NUMBER",
            "PHONE",
            "SELECT",
            "TEXT",
            "URL"
        ]
    );
    let values: Vec<Value> = crm_db::schema::deals::table
        .select(crm_db::schema::deals::custom_fields)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(values.len(), 80);
    for v in values {
        assert_eq!(v.as_object().unwrap().len(), 10, "{v}");
        // Written by SQL, yet exactly what the service would store.
        assert_eq!(fields.validate_create(Some(&v)).unwrap(), v);
    }
}

mod resume_after_a_kill {
    use super::*;
    use futures_util::{SinkExt, StreamExt};
    use reqwest::Method;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    type Socket = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    fn instance(url: &str) -> Command {
        let mut cmd = on_database(url);
        cmd.env("CRM_ADMIN_EMAIL", "admin@example.com")
            .env("CRM_ADMIN_PASSWORD", "a long admin password");
        cmd
    }

    async fn call(base: &str, token: &str, method: Method, path: &str, body: Value) -> Value {
        let res = reqwest::Client::new()
            .request(method, format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json::<Value>().await.unwrap()["data"].clone()
    }

    async fn subscribe(base: &str, token: &str, room: &str, since: Option<i64>) -> Socket {
        let url = format!("{}/websocket", base.replacen("http://", "ws://", 1));
        let mut req = url.into_client_request().unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        let mut msg = json!({"action": "subscribe", "room": room});
        if let Some(s) = since {
            msg["since"] = json!(s);
        }
        ws.send(Message::text(msg.to_string())).await.unwrap();
        assert_eq!(
            next(&mut ws).await,
            json!({"type": "subscribed", "room": room})
        );
        ws
    }

    async fn next(ws: &mut Socket) -> Value {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
                .await
                .expect("a message in time")
                .expect("socket open")
                .expect("no socket error");
            match msg {
                Message::Text(t) => return serde_json::from_str(&t).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// The `deal.updated` events up to and including the one with `title`.
    async fn updates_until(ws: &mut Socket, title: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let e = next(ws).await;
            assert_eq!(e["type"], "event", "{e}");
            if e["event"] == "deal.updated" {
                let last = e["data"]["title"] == title;
                out.push(e);
                if last {
                    return out;
                }
            }
        }
    }

    #[tokio::test]
    async fn a_client_resumes_on_a_restarted_instance_with_every_missed_event_once() {
        let db = TestDb::new().await;
        let port = free_port();
        let mut a = Running::start_on(instance(db.url()), port);
        a.wait_ready().await;
        let mut b = Running::start(instance(db.url()));
        b.wait_ready().await;
        let login = reqwest::Client::new()
            .post(format!("{}/api/auth/login", a.base))
            .json(&json!({"email": "admin@example.com", "password": "a long admin password"}))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        let token = login["data"]["accessToken"].as_str().unwrap().to_owned();
        let (a_base, b_base) = (a.base.clone(), b.base.clone());
        let deal = call(
            &a_base,
            &token,
            Method::POST,
            "/api/deals",
            json!({"title": "t0"}),
        )
        .await;
        let id = deal["id"].as_str().unwrap();
        let (path, room) = (format!("/api/deals/{id}"), format!("deal:{id}"));

        let mut ws = subscribe(&a_base, &token, &room, None).await;
        call(
            &a_base,
            &token,
            Method::PATCH,
            &path,
            json!({"title": "t1"}),
        )
        .await;
        let seen = updates_until(&mut ws, "t1").await;
        let last_seen = seen[0]["seq"].as_i64().unwrap();

        // The instance dies mid-stream; writes go on through the other one meanwhile.
        a.kill();
        for t in ["t2", "t3", "t4"] {
            call(&b_base, &token, Method::PATCH, &path, json!({"title": t})).await;
        }
        let mut a = Running::start_on(instance(db.url()), port);
        a.wait_ready().await;

        let mut ws = subscribe(&a_base, &token, &room, Some(last_seen)).await;
        call(
            &b_base,
            &token,
            Method::PATCH,
            &path,
            json!({"title": "t5"}),
        )
        .await;
        let resumed = updates_until(&mut ws, "t5").await;
        let titles: Vec<&Value> = resumed.iter().map(|e| &e["data"]["title"]).collect();
        assert_eq!(titles, ["t2", "t3", "t4", "t5"]);
        let seqs: Vec<i64> = resumed.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert!(seqs[0] > last_seen, "{seqs:?} after {last_seen}");
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

        let (ok, _) = a.terminate();
        assert!(ok);
        let (ok, _) = b.terminate();
        assert!(ok);
    }
}

#[tokio::test]
async fn import_and_export_run_from_the_command_line() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;

    let db = TestDb::new().await;
    let dir = std::env::temp_dir().join(format!("crm-cli-transfer-{}", unique_name()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        on_database(db.url())
            .env("CRM_STORAGE", dir.join("files"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[
        "create-admin",
        "--email",
        "ops@example.com",
        "--password",
        "ops password 1",
    ]);
    assert!(out.status.success());
    let csv = dir.join("people.csv");
    std::fs::write(
        &csv,
        "Имя;Email;Компания\nАнна;anna@example.com;Acme\nБорис;not-an-email;\nВера;vera@example.com;Acme\n",
    )
    .unwrap();
    let path = csv.to_str().unwrap();
    // A dry run writes nothing and says so.
    let out = run(&["import", "contacts", path, "--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("2 created, 0 updated, 1 refused (dry run"),
        "{stdout}"
    );
    let mut conn = db.conn().await;
    let count = || crm_db::schema::contacts::table.count();
    assert_eq!(count().get_result::<i64>(&mut conn).await.unwrap(), 0);
    let out = run(&["import", "contacts", path]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("succeeded: 3 rows, 2 created"), "{stdout}");
    assert!(stdout.contains("row 3 [Email]"), "{stdout}");
    assert_eq!(count().get_result::<i64>(&mut conn).await.unwrap(), 2);
    // Bad arguments fail with a message, not a panic.
    let out = run(&["import", "people", path]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("one of contacts"));
    let out = run(&["import", "contacts", path, "--as", "nobody@example.com"]);
    assert!(!out.status.success());

    let exported = dir.join("out.csv");
    let out = run(&[
        "export",
        "contacts",
        "--query",
        "sort=-fullName",
        "--out",
        exported.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&exported).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("fullName,email"), "{text}");
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[1].starts_with("Вера,vera@example.com"), "{text}");
    let out = run(&["export", "contacts", "--query", "sort=nope"]);
    assert!(!out.status.success());
    let xlsx = dir.join("out.xlsx");
    let out = run(&[
        "export",
        "companies",
        "--format",
        "xlsx",
        "--out",
        xlsx.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(&xlsx).unwrap().starts_with(b"PK\x03\x04"));
    let _ = std::fs::remove_dir_all(&dir);
}
