//! The one error type of the crate.

/// Why a tabular file could not be read, or why one of its rows was rejected.
///
/// Lines are those of the file (the header is line 1; for XLSX the sheet row number), columns
/// count from 1, so the messages can be shown to the person who uploaded the file as they are.
#[derive(Debug, thiserror::Error)]
pub enum TabularError {
    /// The file could not be read (or the reader thread could not be started).
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    /// The file is empty, or holds only blank lines, so it has no header row.
    #[error("the file is empty: it has no header row")]
    Empty,
    /// The file is of a kind this crate does not read (legacy `.xls`, a workbook without a
    /// worksheet).
    #[error("unsupported file: {0}")]
    Unsupported(&'static str),
    /// A row has more columns than [`Limits::max_columns`](crate::Limits::max_columns).
    #[error("line {line}: {count} columns, more than the {limit} allowed")]
    TooManyColumns {
        line: u64,
        count: usize,
        limit: usize,
    },
    /// A cell is larger than [`Limits::max_cell_bytes`](crate::Limits::max_cell_bytes).
    #[error("line {line}, column {column}: the cell is larger than {limit} bytes")]
    CellTooLarge {
        line: u64,
        column: usize,
        limit: usize,
    },
    /// The header row is larger than [`Limits::max_header_bytes`](crate::Limits::max_header_bytes).
    #[error("line {line}: the header row is larger than {limit} bytes")]
    HeaderTooLarge { line: u64, limit: usize },
    /// The XLSX workbook could not be read.
    #[error("cannot read the workbook: {0}")]
    Xlsx(String),
}

impl TabularError {
    /// Whether reading can go on after this error: a row that breaks a limit is rejected on its
    /// own (the caller may report it and continue), everything else ends the table.
    pub fn is_row_error(&self) -> bool {
        matches!(
            self,
            TabularError::TooManyColumns { .. } | TabularError::CellTooLarge { .. }
        )
    }
}
