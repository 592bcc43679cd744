//! The PostgreSQL server tests run against, started once per process.

use std::sync::OnceLock;

use crm_db::local_pg::{LocalPg, LocalPgOptions, throwaway_dir};

static SERVER: OnceLock<Result<String, String>> = OnceLock::new();

/// URL of the `postgres` database of the test server: `DATABASE_URL`'s server when set,
/// otherwise a throwaway cluster that stops and disappears when this process exits.
pub fn server_url() -> Result<String, String> {
    SERVER
        .get_or_init(|| match std::env::var("DATABASE_URL") {
            Ok(url) => Ok(with_database(&url, "postgres")),
            Err(_) => start_throwaway().map_err(|e| e.to_string()),
        })
        .clone()
}

fn start_throwaway() -> Result<String, crm_db::local_pg::LocalPgError> {
    let pg = LocalPg::start(LocalPgOptions {
        data_dir: throwaway_dir()?,
        throwaway: true,
    })?;
    pg.stop_and_remove_when_process_exits()?;
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
