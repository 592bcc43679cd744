//! Command line and environment settings, read once and passed down explicitly.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use crm_auth::{AuthConfig, LoginLimits};
use crm_http::HttpSettings;
use crm_http::head_guard::HeadLimits;
use crm_realtime::RealtimeSettings;
use crm_users::HashingLimits;

/// CRM API server.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings, from flags or environment.
    #[command(flatten)]
    pub settings: Settings,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrations run first).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Create an admin user (or make an existing user an active admin with this password).
    CreateAdmin(CreateAdminArgs),
    /// Add a batch of realistic demo data (users, companies, contacts, deals, tasks).
    SeedDemo(crate::seed::SeedArgs),
    /// Import a CSV or XLSX file as the API's import does, with a progress bar and a summary.
    Import(crate::transfer::ImportArgs),
    /// Export every record a list shows as CSV or XLSX, as the API's export does.
    Export(crate::transfer::ExportArgs),
}

/// `create-admin` arguments.
#[derive(Debug, Args)]
pub struct CreateAdminArgs {
    /// E-mail of the admin.
    #[arg(long)]
    pub email: String,
    /// Password (at least 8 characters).
    #[arg(long, env = "CRM_ADMIN_PASSWORD", hide_env_values = true)]
    pub password: String,
}

/// Server settings.
#[derive(Debug, Args)]
pub struct Settings {
    /// PostgreSQL URL; unset: a private cluster in the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,
    /// Where the private cluster, the generated JWT secret and local files live.
    #[arg(long, env = "CRM_DATA_DIR", default_value = ".data", global = true)]
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[arg(
        long,
        env = "CRM_LISTEN",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    pub listen: String,
    /// Secret for signing access tokens (required with DATABASE_URL; generated otherwise).
    #[arg(long, env = "CRM_JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,
    /// Mark the refresh cookie `Secure` (turn off only for plain-HTTP development).
    #[arg(long, env = "CRM_COOKIE_SECURE", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub cookie_secure: bool,
    /// Comma-separated origins allowed by CORS.
    #[arg(long, env = "CRM_CORS_ORIGINS", value_delimiter = ',', global = true)]
    pub cors_origins: Vec<String>,
    /// Seconds after rotation during which a refresh token still gets a sibling (0 disables).
    #[arg(
        long,
        env = "CRM_REFRESH_GRACE_SECONDS",
        default_value_t = 10,
        global = true
    )]
    pub refresh_grace_seconds: u64,
    /// Access-token lifetime in seconds.
    #[arg(
        long,
        env = "CRM_ACCESS_TOKEN_SECONDS",
        default_value_t = 900,
        global = true
    )]
    pub access_token_seconds: u64,
    /// Failed logins allowed per e-mail from one client IP inside the window.
    #[arg(
        long,
        env = "CRM_LOGIN_MAX_FAILURES_PER_EMAIL_IP",
        default_value_t = 5,
        global = true
    )]
    pub login_max_failures_per_email_ip: i64,
    /// Failed logins allowed per e-mail from all IPs together inside the window.
    #[arg(
        long,
        env = "CRM_LOGIN_MAX_FAILURES_PER_EMAIL",
        default_value_t = 50,
        global = true
    )]
    pub login_max_failures_per_email: i64,
    /// Failed logins allowed per client IP inside the window.
    #[arg(
        long,
        env = "CRM_LOGIN_MAX_FAILURES_PER_IP",
        default_value_t = 100,
        global = true
    )]
    pub login_max_failures_per_ip: i64,
    /// Failed-login window in seconds.
    #[arg(
        long,
        env = "CRM_LOGIN_WINDOW_SECONDS",
        default_value_t = 900,
        global = true
    )]
    pub login_window_seconds: u64,
    /// Trust `Forwarded`/`X-Forwarded-For` for the client IP (only behind your own proxy).
    #[arg(long, env = "CRM_TRUST_PROXY", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub trust_proxy: bool,
    /// Seconds a request head may take to arrive (slower: 408).
    #[arg(
        long,
        env = "CRM_REQUEST_HEAD_TIMEOUT_SECONDS",
        default_value_t = 5,
        global = true
    )]
    pub request_head_timeout_seconds: u64,
    /// Largest JSON body in bytes.
    #[arg(long, env = "CRM_MAX_BODY_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub max_body_bytes: usize,
    /// Where file contents are stored: a local directory, or `s3://bucket/prefix` (with the
    /// usual `AWS_*` settings; `AWS_ENDPOINT_URL` for other S3-compatible stores). Default:
    /// `$CRM_DATA_DIR/files`.
    #[arg(long, env = "CRM_STORAGE", global = true)]
    pub storage: Option<String>,
    /// Largest file upload in MiB.
    #[arg(long, env = "CRM_MAX_UPLOAD_MB", default_value_t = 50, global = true)]
    pub max_upload_mb: u64,
    /// Largest import file in MiB.
    #[arg(long, env = "CRM_MAX_IMPORT_MB", default_value_t = 200, global = true)]
    pub max_import_mb: u64,
    /// Days a deleted contact, company, deal or task stays in the trash before it is purged.
    #[arg(
        long,
        env = "CRM_TRASH_RETENTION_DAYS",
        default_value_t = 30,
        global = true
    )]
    pub trash_retention_days: u64,
    /// Days realtime events are kept in the outbox (and a WebSocket client can resume).
    #[arg(
        long,
        env = "CRM_EVENTS_RETENTION_DAYS",
        default_value_t = 7,
        global = true
    )]
    pub events_retention_days: u64,
    /// Milliseconds between catch-up reads of the outbox (a lost notification costs at most
    /// this much delay).
    #[arg(
        long,
        env = "CRM_EVENTS_POLL_MS",
        default_value_t = 1000,
        global = true
    )]
    pub events_poll_ms: u64,
    /// Milliseconds between rounds of numbering committed events (the commit-to-delivery
    /// latency it adds is at most this).
    #[arg(long, env = "CRM_EVENTS_STAMP_MS", default_value_t = 10, global = true)]
    pub events_stamp_ms: u64,
    /// Seconds between WebSocket pings.
    #[arg(
        long,
        env = "CRM_WS_HEARTBEAT_SECONDS",
        default_value_t = 20,
        global = true
    )]
    pub ws_heartbeat_seconds: u64,
    /// Seconds without any frame from a WebSocket client before it is closed.
    #[arg(
        long,
        env = "CRM_WS_IDLE_TIMEOUT_SECONDS",
        default_value_t = 60,
        global = true
    )]
    pub ws_idle_timeout_seconds: u64,
    /// Messages queued for one WebSocket client; a client that lets it fill is disconnected.
    #[arg(long, env = "CRM_WS_SEND_QUEUE", default_value_t = 1024, global = true)]
    pub ws_send_queue: usize,
    /// Seconds a WebSocket client's socket may take to accept one frame before the client is
    /// disconnected as too slow.
    #[arg(
        long,
        env = "CRM_WS_WRITE_TIMEOUT_SECONDS",
        default_value_t = 10,
        global = true
    )]
    pub ws_write_timeout_seconds: u64,
    /// Rooms one WebSocket connection may be in.
    #[arg(long, env = "CRM_WS_MAX_ROOMS", default_value_t = 100, global = true)]
    pub ws_max_rooms: usize,
    /// Largest message accepted from a WebSocket client, in bytes.
    #[arg(
        long,
        env = "CRM_WS_MAX_MESSAGE_BYTES",
        default_value_t = 4096,
        global = true
    )]
    pub ws_max_message_bytes: usize,
    /// Seconds between re-checks of a WebSocket client's credential.
    #[arg(
        long,
        env = "CRM_WS_REAUTH_SECONDS",
        default_value_t = 300,
        global = true
    )]
    pub ws_reauth_seconds: u64,
    /// Seconds between looks for due tasks (`task.due` reminders).
    #[arg(
        long,
        env = "CRM_REMINDER_INTERVAL_SECONDS",
        default_value_t = 5,
        global = true
    )]
    pub reminder_interval_seconds: u64,
    /// Database connections per server process.
    #[arg(long, env = "CRM_DB_POOL_SIZE", default_value_t = 16, global = true)]
    pub db_pool_size: usize,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "CRM_WORKERS", global = true)]
    pub workers: Option<usize>,
    /// First admin's e-mail when the database has no user.
    #[arg(long, env = "CRM_ADMIN_EMAIL", global = true)]
    pub admin_email: Option<String>,
    /// First admin's password when the database has no user.
    #[arg(
        long = "admin-password",
        env = "CRM_ADMIN_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub admin_password: Option<String>,
    /// Log format: `pretty` or `json`.
    #[arg(long, env = "CRM_LOG_FORMAT", default_value = "pretty", global = true)]
    pub log_format: String,
    /// Password-hashing threads (default: half the cores, at least one).
    #[arg(long, env = "CRM_PASSWORD_HASH_THREADS", global = true)]
    pub password_hash_threads: Option<usize>,
    /// Password checks that may wait for a hashing thread; beyond that a login, password
    /// change or user creation is answered 503 `server_busy` at once.
    #[arg(
        long,
        env = "CRM_PASSWORD_HASH_QUEUE",
        default_value_t = 32,
        global = true
    )]
    pub password_hash_queue: usize,
    /// Cheap password hashing. For tests and benchmarks only: never in production.
    #[arg(long, env = "CRM_INSECURE_FAST_PASSWORD_HASHING", default_value_t = false, action = clap::ArgAction::Set, hide = true, global = true)]
    pub fast_password_hashing: bool,
}

impl Settings {
    /// Auth settings with the resolved secret.
    pub fn auth_config(&self, jwt_secret: Vec<u8>) -> AuthConfig {
        let mut config = AuthConfig::new(jwt_secret);
        config.access_ttl = Duration::from_secs(self.access_token_seconds);
        config.refresh_grace = Duration::from_secs(self.refresh_grace_seconds);
        config.login_limits = LoginLimits {
            per_email_and_ip: self.login_max_failures_per_email_ip,
            per_email: self.login_max_failures_per_email,
            per_ip: self.login_max_failures_per_ip,
            window: Duration::from_secs(self.login_window_seconds),
        };
        config
    }

    /// How many threads hash passwords and how many checks may wait.
    pub fn hashing_limits(&self) -> HashingLimits {
        let default = HashingLimits::default();
        HashingLimits {
            threads: self.password_hash_threads.unwrap_or(default.threads).max(1),
            queue: self.password_hash_queue,
            ..default
        }
    }

    /// Realtime settings.
    pub fn realtime_settings(&self) -> RealtimeSettings {
        let secs = |s: u64| Duration::from_secs(s.max(1));
        RealtimeSettings {
            retention: secs(self.events_retention_days.saturating_mul(24 * 3600)),
            poll_interval: Duration::from_millis(self.events_poll_ms.max(10)),
            stamp_interval: Duration::from_millis(self.events_stamp_ms.max(1)),
            heartbeat: secs(self.ws_heartbeat_seconds),
            idle_timeout: secs(self.ws_idle_timeout_seconds),
            send_queue: self.ws_send_queue.max(1),
            write_timeout: secs(self.ws_write_timeout_seconds),
            max_rooms: self.ws_max_rooms,
            max_message_bytes: self.ws_max_message_bytes.max(256),
            reauth_interval: secs(self.ws_reauth_seconds),
            reminder_interval: secs(self.reminder_interval_seconds),
            ..RealtimeSettings::default()
        }
    }

    /// Where file contents are stored.
    pub fn storage_location(&self) -> String {
        self.storage.clone().unwrap_or_else(|| {
            let dir = std::path::absolute(&self.data_dir).unwrap_or_else(|_| self.data_dir.clone());
            dir.join("files").display().to_string()
        })
    }

    /// HTTP settings.
    pub fn http_settings(&self) -> HttpSettings {
        HttpSettings {
            cors_origins: self
                .cors_origins
                .iter()
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            cookie_secure: self.cookie_secure,
            max_body_bytes: self.max_body_bytes,
            max_upload_bytes: self.max_upload_mb.saturating_mul(1024 * 1024),
            max_import_bytes: self.max_import_mb.saturating_mul(1024 * 1024),
            trust_proxy: self.trust_proxy,
            workers: self.workers,
            head_limits: HeadLimits {
                timeout: Duration::from_secs(self.request_head_timeout_seconds.max(1)),
                ..HeadLimits::default()
            },
        }
    }
}
