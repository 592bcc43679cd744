//! Reading real files written to a temporary directory; one test binary for the crate.
// Helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod csv;
mod samples;
mod xlsx;

use std::path::{Path, PathBuf};

use crm_tabular::{Limits, Row, Table, TabularError, open};

/// A file with the given bytes in a directory that lives as long as the returned guard.
fn file(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upload");
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn open_bytes(bytes: &[u8]) -> Result<Table, TabularError> {
    let (_dir, path) = file(bytes);
    open(&path, Limits::default())
}

fn rows(table: Table) -> Vec<Row> {
    table.map(Result::unwrap).collect()
}

fn row(line: u64, cells: &[&str]) -> Row {
    Row {
        line,
        cells: cells.iter().map(|c| (*c).to_owned()).collect(),
    }
}

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}
