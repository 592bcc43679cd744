//! Spawning a real server on a free port over a fresh database, and small client helpers.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use actix_web::dev::ServerHandle;
use crm_auth::AuthConfig;
use crm_core::{Actor, Role};
use crm_db::DbPool;
use crm_http::{AppState, HttpSettings, build_server};
use crm_realtime::{Hub, RealtimeSettings};
use crm_testkit::{TestDb, UserBuilder};
use crm_users::{Passwords, User};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

pub use crm_testkit::builders::PASSWORD;

pub struct TestApp {
    pub base: String,
    pub pool: DbPool,
    pub client: Client,
    /// Statements the server has sent to the database so far.
    pub queries: Arc<AtomicU64>,
    pub db: Arc<TestDb>,
    /// The realtime hub of this instance.
    pub realtime: Hub,
    /// Where this instance stores file contents.
    pub storage: crm_files::Storage,
    /// The storage directory this instance made, removed with it.
    owned_dir: Option<std::path::PathBuf>,
    auth: AuthConfig,
    handle: ServerHandle,
}

/// A user created directly through the service, with its password.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub user: User,
    pub email: String,
    pub password: String,
}

/// The test servers' auth and HTTP settings, adjusted.
fn settings(adjust: impl FnOnce(&mut AuthConfig, &mut HttpSettings)) -> (AuthConfig, HttpSettings) {
    let mut auth = AuthConfig::new(b"test secret of at least thirty-two bytes".to_vec());
    let mut http = HttpSettings {
        cookie_secure: false,
        workers: Some(1),
        ..HttpSettings::default()
    };
    adjust(&mut auth, &mut http);
    (auth, http)
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_, _| {}).await
    }

    /// Spawns and signs in a new user of each role; their access tokens, in that order.
    pub async fn spawn_signed_in<const N: usize>(roles: [Role; N]) -> (Self, [String; N]) {
        let app = Self::spawn().await;
        let mut tokens = Vec::with_capacity(N);
        for role in roles {
            tokens.push(app.signed_in(role).await.1);
        }
        (app, tokens.try_into().unwrap())
    }

    /// Spawns with adjusted auth or HTTP settings.
    pub async fn spawn_with(adjust: impl FnOnce(&mut AuthConfig, &mut HttpSettings)) -> Self {
        let db = TestDb::new().await;
        Self::spawn_on(db, adjust).await
    }

    pub async fn spawn_on(
        db: TestDb,
        adjust: impl FnOnce(&mut AuthConfig, &mut HttpSettings),
    ) -> Self {
        let (auth, http) = settings(adjust);
        Self::spawn_instance(Arc::new(db), auth, http, RealtimeSettings::default()).await
    }

    /// Spawns with its own password hashing (other limits, slower parameters) and adjusted
    /// auth or HTTP settings.
    pub async fn spawn_with_passwords(
        passwords: Passwords,
        adjust: impl FnOnce(&mut AuthConfig, &mut HttpSettings),
    ) -> Self {
        let (auth, http) = settings(adjust);
        let db = Arc::new(TestDb::new().await);
        Self::spawn_full(db, auth, http, RealtimeSettings::default(), passwords).await
    }

    /// Spawns on a fresh database with adjusted realtime settings.
    pub async fn spawn_realtime(adjust: impl FnOnce(&mut RealtimeSettings)) -> Self {
        let mut realtime = RealtimeSettings::default();
        adjust(&mut realtime);
        let (auth, http) = settings(|_, _| {});
        Self::spawn_instance(Arc::new(TestDb::new().await), auth, http, realtime).await
    }

    /// A second server instance on the same database (as behind a load balancer), with the
    /// same secrets and realtime settings.
    pub async fn another_instance(&self) -> Self {
        let (_, http) = settings(|_, _| {});
        let passwords = Passwords::fast_for_tests().unwrap();
        Self::spawn_stored(
            self.db.clone(),
            self.auth.clone(),
            http,
            self.realtime.settings().clone(),
            passwords,
            self.storage.clone(),
        )
        .await
    }

    /// Stops gracefully, as on SIGTERM: WebSockets are closed with a reason.
    pub async fn shutdown(&self) {
        self.realtime.shutdown();
        self.handle.stop(true).await;
    }

    async fn spawn_instance(
        db: Arc<TestDb>,
        auth: AuthConfig,
        http: HttpSettings,
        realtime: RealtimeSettings,
    ) -> Self {
        let passwords = Passwords::fast_for_tests().unwrap();
        Self::spawn_full(db, auth, http, realtime, passwords).await
    }

    /// Spawns on a fresh database with its files in `storage` and adjusted HTTP settings.
    pub async fn spawn_with_storage(
        storage: crm_files::Storage,
        adjust: impl FnOnce(&mut HttpSettings),
    ) -> Self {
        let (auth, http) = settings(|_, http| adjust(http));
        let db = Arc::new(TestDb::new().await);
        let passwords = Passwords::fast_for_tests().unwrap();
        Self::spawn_stored(
            db,
            auth,
            http,
            RealtimeSettings::default(),
            passwords,
            storage,
        )
        .await
    }

    async fn spawn_full(
        db: Arc<TestDb>,
        auth: AuthConfig,
        http: HttpSettings,
        realtime: RealtimeSettings,
        passwords: Passwords,
    ) -> Self {
        // Each instance gets a directory of its own, removed with the system's temp files.
        let dir = std::env::temp_dir().join(format!("crm-test-files-{}", uuid::Uuid::now_v7()));
        let storage = crm_files::Storage::open(dir.to_str().unwrap(), &[]).unwrap();
        let mut app = Self::spawn_stored(db, auth, http, realtime, passwords, storage).await;
        app.owned_dir = Some(dir);
        app
    }

    async fn spawn_stored(
        db: Arc<TestDb>,
        auth: AuthConfig,
        http: HttpSettings,
        realtime: RealtimeSettings,
        passwords: Passwords,
        storage: crm_files::Storage,
    ) -> Self {
        let queries = Arc::new(AtomicU64::new(0));
        let pool = db.pool_with(crm_db::PoolSettings {
            max_size: 8,
            query_counter: Some(queries.clone()),
            ..crm_db::PoolSettings::default()
        });
        let auth_arc = Arc::new(auth.clone());
        // The scheduler runs beside every test server, as beside the real one.
        let day = std::time::Duration::from_secs(24 * 3600);
        let schedule = crm_server::scheduler::Schedule::new(&realtime, day, 30 * day);
        // On a pool of its own: the statements counted in `queries` are the requests' only
        // (the job runner alone polls twice a second).
        let background = db.pool_with(crm_db::PoolSettings {
            max_size: 4,
            ..crm_db::PoolSettings::default()
        });
        tokio::spawn(crm_server::scheduler::run(
            background,
            storage.clone(),
            schedule,
        ));
        let hub = Hub::start(
            pool.clone(),
            db.url().to_owned(),
            auth_arc.clone(),
            Arc::new(crm_http::RecordRooms),
            realtime,
        );
        let state = AppState {
            pool: pool.clone(),
            auth: auth_arc,
            passwords: Arc::new(passwords.clone()),
            http: Arc::new(http),
            storage: storage.clone(),
            exports: crm_http::Exports::new(db.url(), 4),
            realtime: hub.clone(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = build_server(listener, state).unwrap();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base,
            pool,
            client: Client::builder().cookie_store(true).build().unwrap(),
            queries,
            db,
            realtime: hub,
            storage,
            owned_dir: None,
            auth,
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A request with a bearer token.
    pub fn authed(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.request(method, path).bearer_auth(token)
    }

    /// Sends `method path` with a bearer token and, when given, a JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.authed(method, path, token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    /// Sends `method path` without credentials and, when given, a JSON body.
    pub async fn send_anonymous(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.request(method, path);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    /// As [`TestApp::send`], guarded by `If-Match: "version"`.
    pub async fn send_if(
        &self,
        method: Method,
        path: &str,
        token: &str,
        version: u32,
        body: Option<Value>,
    ) -> Response {
        let mut req = self
            .authed(method, path, token)
            .header("If-Match", format!("\"{version}\""));
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    pub async fn patch_if(&self, path: &str, token: &str, version: u32, body: Value) -> Response {
        self.send_if(Method::PATCH, path, token, version, Some(body))
            .await
    }

    pub async fn delete_if(&self, path: &str, token: &str, version: u32) -> Response {
        self.send_if(Method::DELETE, path, token, version, None)
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.send(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.send(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        self.send(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.send(Method::DELETE, path, token, None).await
    }

    /// Takes the record at `record` out of the trash.
    pub async fn restore(&self, record: &str, token: &str) -> Response {
        let path = format!("{record}/restore");
        self.send(Method::POST, &path, token, None).await
    }

    /// GETs `path`, which must answer 200; the whole body.
    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        let res = self.get(path, token).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.json().await.unwrap()
    }

    /// `field` of every item `path` lists.
    pub async fn strings(&self, path: &str, token: &str, field: &str) -> Vec<String> {
        strings(&self.get_json(path, token).await, field)
    }

    /// POSTs `body` to `path`, which must answer 201; the created record.
    pub async fn create(&self, path: &str, token: &str, body: Value) -> Value {
        let res = self.post(path, token, body.clone()).await;
        assert_eq!(res.status(), StatusCode::CREATED, "POST {path} {body}");
        data(res).await
    }

    /// POSTs `body` to `path`, which must answer 201 with version 1 at `{path}/{id}`; that
    /// location and the created record.
    pub async fn create_located(&self, path: &str, token: &str, body: Value) -> (String, Value) {
        let res = self.post(path, token, body).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        assert_eq!(res.headers()["etag"], "\"1\"");
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let record = data(res).await;
        assert_eq!(location, format!("{path}/{}", id(&record)));
        (location, record)
    }

    /// POSTs `items` to `{collection}/batch`, which must answer 200; the status of each item and
    /// the results in order.
    pub async fn batch(&self, collection: &str, token: &str, items: Value) -> (Vec<u64>, Value) {
        let path = format!("{collection}/batch");
        let res = self.post(&path, token, json!({ "items": items })).await;
        assert_eq!(res.status(), StatusCode::OK, "POST {path}");
        let results = data(res).await;
        let statuses = results
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_u64().unwrap())
            .collect();
        (statuses, results)
    }

    /// The activity log of one record, which must answer 200.
    pub async fn activity(&self, kind: &str, record: &str, token: &str) -> Value {
        let path = format!("/api/activity?entityType={kind}&entityId={record}");
        self.get_json(&path, token).await
    }

    /// Asserts that `token` may create, change, delete, restore and batch nothing at
    /// `collection`, `record` being one of its records: each is refused with 403 and `body`
    /// serves as the input of every write.
    pub async fn assert_writes_forbidden(
        &self,
        token: &str,
        collection: &str,
        record: &str,
        body: Value,
    ) {
        for (method, path, body) in [
            (Method::POST, collection.to_owned(), Some(body.clone())),
            (Method::PATCH, record.to_owned(), Some(body.clone())),
            (Method::DELETE, record.to_owned(), None),
            (Method::POST, format!("{record}/restore"), None),
        ] {
            let res = self.send(method.clone(), &path, token, body).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{method} {path}");
            assert_problem(res, 403, "forbidden").await;
        }
        let batch = format!("{collection}/batch");
        let res = self.post(&batch, token, json!({"items": [body]})).await;
        assert_eq!(res.status(), StatusCode::OK, "POST {batch}");
        assert_eq!(data(res).await[0]["status"], 403, "POST {batch}");
    }

    /// The default pipeline as the API lists it.
    pub async fn default_pipeline(&self, token: &str) -> Value {
        let list = self.get_json("/api/pipelines", token).await;
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["isDefault"] == true)
            .unwrap()
            .clone()
    }

    pub async fn create_user(&self, role: Role) -> TestUser {
        self.insert_user(UserBuilder::new(role)).await
    }

    /// Inserts the user `builder` describes (password [`PASSWORD`]).
    pub async fn insert_user(&self, builder: UserBuilder) -> TestUser {
        let mut conn = self.pool.get().await.unwrap();
        let user = builder.insert(&mut conn).await;
        TestUser {
            email: user.email.clone(),
            user,
            password: PASSWORD.into(),
        }
    }

    /// The user `builder` describes, signed in: its id and an access token.
    pub async fn signed_in_as(&self, builder: UserBuilder) -> (uuid::Uuid, String) {
        let user = self.insert_user(builder).await;
        let res = self.login(&user.email, &user.password).await;
        assert_eq!(res.status(), StatusCode::OK);
        let token = access_token(res).await;
        (user.user.id.0, token)
    }

    /// Logs in with a fresh client (own cookie jar); returns the response.
    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.request(Method::POST, "/api/auth/login")
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// A user of `role` and an access token for them.
    pub async fn signed_in(&self, role: Role) -> (TestUser, String) {
        let user = self.create_user(role).await;
        let res = self.login(&user.email, &user.password).await;
        assert_eq!(res.status(), StatusCode::OK);
        let token = access_token(res).await;
        (user, token)
    }

    /// Takes `permissions` away from the user `id`, as `admin` through the API.
    pub async fn revoke(&self, admin: &str, id: impl std::fmt::Display, permissions: &[&str]) {
        let path = format!("/api/users/{id}");
        let res = self
            .patch(&path, admin, json!({ "permissionRevokes": permissions }))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "PATCH {path}");
    }

    /// Defines a custom field through the service (as the system), e.g.
    /// `json!({"entityType": "deal", "key": "seats", "type": "NUMBER"})`.
    pub async fn custom_field(&self, definition: Value) -> Value {
        let input = serde_json::from_value(definition).unwrap();
        let mut conn = self.pool.get().await.unwrap();
        let field = crm_custom_fields::create_custom_field(
            &mut conn,
            &Actor::system(),
            input,
            &crm_record_events::RecordEvents,
        )
        .await
        .unwrap();
        serde_json::to_value(field).unwrap()
    }

    /// The default pipeline and its stage ids in order (New, Qualified, Proposal, Negotiation,
    /// Won, Lost).
    pub async fn sales_stages(&self) -> (uuid::Uuid, Vec<uuid::Uuid>) {
        use crm_db::schema::{pipelines, stages};
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = self.pool.get().await.unwrap();
        let rows: Vec<(uuid::Uuid, uuid::Uuid)> = stages::table
            .inner_join(pipelines::table)
            .filter(pipelines::is_default.eq(true))
            .order(stages::position)
            .select((pipelines::id, stages::id))
            .load(&mut conn)
            .await
            .unwrap();
        (
            rows[0].0,
            rows.into_iter().map(|(_, stage)| stage).collect(),
        )
    }

    pub async fn user_count(&self) -> i64 {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = self.pool.get().await.unwrap();
        crm_db::schema::users::table
            .count()
            .get_result(&mut conn)
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The stop command is sent eagerly; nothing needs to await it.
        drop(self.handle.stop(false));
        self.realtime.shutdown();
        if let Some(dir) = &self.owned_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Asserts a problem+json answer with `status` and `code`; returns the body.
pub async fn assert_problem(res: Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "unexpected status");
    let content_type = res
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert_eq!(body["code"], code, "{body}");
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string());
    body
}

/// The refresh-token cookie a response sets.
pub fn refresh_cookie(res: &Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("refresh_token="))
        .map(str::to_owned)
}

/// The refresh token value a response sets.
pub fn refresh_token(res: &Response) -> String {
    let cookie = refresh_cookie(res).expect("refresh cookie");
    cookie["refresh_token=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// The `data` of a JSON answer.
pub async fn data(res: Response) -> Value {
    res.json::<Value>().await.unwrap()["data"].clone()
}

/// `field` of every item of a list answer, as strings.
pub fn strings(list: &Value, field: &str) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap().to_owned())
        .collect()
}

/// A record's id.
pub fn id(record: &Value) -> String {
    record["id"].as_str().unwrap().to_owned()
}

/// The access token a login or refresh answer carries.
pub async fn access_token(res: Response) -> String {
    data(res).await["accessToken"].as_str().unwrap().to_owned()
}
