//! The PostgreSQL server tests run against: one throwaway cluster shared by every test binary
//! of a `cargo test` run (started by whichever comes first, removed a few seconds after the
//! last one exits), or the server of `DATABASE_URL`.

use std::fs::{File, OpenOptions};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::OnceLock;

use crm_db::local_pg::{LocalPg, LocalPgOptions};

static SERVER: OnceLock<Result<String, String>> = OnceLock::new();

/// The shared lock this process holds on the cluster while it runs (see [`start_shared`]).
static USING: OnceLock<File> = OnceLock::new();

/// Seconds without any test process before the shared cluster is stopped and removed: longer
/// than cargo's pause between two test binaries.
const IDLE_SECS: u32 = 5;

/// URL of the `postgres` database of the test server: `DATABASE_URL`'s server when set,
/// otherwise the shared throwaway cluster.
pub fn server_url() -> Result<String, String> {
    SERVER
        .get_or_init(|| match std::env::var("DATABASE_URL") {
            Ok(url) => Ok(with_database(&url, "postgres")),
            Err(_) => start_shared().map_err(|e| e.to_string()),
        })
        .clone()
}

/// The cluster directory of this build: one per target directory and profile (the test
/// binaries of one build share it), short enough for the socket path.
fn shared_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // `<target>/<profile>/deps/<binary>`: the profile directory names the build.
    let build = exe
        .ancestors()
        .nth(2)
        .map(PathBuf::from)
        .unwrap_or_default();
    let mut hasher = DefaultHasher::new();
    build.hash(&mut hasher);
    PathBuf::from(format!("/tmp/crm-test-pg-{:016x}", hasher.finish()))
}

/// Joins (or starts) the shared cluster: first a shared lock on `<dir>.users`, held until this
/// process exits, so the watchdog never removes the cluster under us (and, while it removes
/// one, we wait and then start afresh); then, under `<dir>.start`, start or reuse the cluster
/// and make sure a watchdog runs.
fn start_shared() -> Result<String, Box<dyn std::error::Error>> {
    let dir = shared_dir();
    let lock_file = |ext: &str| {
        let path = dir.with_extension(ext);
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map(|f| (f, path))
    };
    let (users, users_path) = lock_file("users")?;
    users.lock_shared()?;
    let _ = USING.set(users);
    let (start, _) = lock_file("start")?;
    start.lock()?;
    let pg = LocalPg::start(LocalPgOptions {
        data_dir: dir,
        throwaway: true,
    })?;
    // Reaped by nobody: it outlives us on purpose.
    drop(pg.stop_and_remove_when_unused(&users_path, IDLE_SECS)?);
    start.unlock()?;
    Ok(pg.database_url("postgres"))
}

/// `url` with its database name replaced.
pub(crate) fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    // The path starts after the authority (`scheme://authority/`).
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_names_are_swapped_in_urls() {
        assert_eq!(
            with_database("postgres://u:p@h:5/app", "x"),
            "postgres://u:p@h:5/x"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            with_database("postgresql://postgres@/postgres?host=%2Ftmp%2Fa", "x"),
            "postgresql://postgres@/x?host=%2Ftmp%2Fa"
        );
    }
}
