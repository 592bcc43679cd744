//! Writing cells that spreadsheets will open: exports and the `errors.csv` of an import.

use std::borrow::Cow;

/// Neutralises CSV injection (OWASP): a cell that starts with `=`, `+`, `-`, `@`, a tab or a
/// carriage return would be run as a formula by Excel or LibreOffice, so it gets a leading `'`,
/// which makes the spreadsheet show it as text. Other cells are returned as they are, without
/// copying.
///
/// Every cell that came from a user (names, notes, the echoed cells of `errors.csv`) goes
/// through this before it is written; the CSV quoting itself is the writer's job.
pub fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_a_spreadsheet_would_run_get_a_leading_quote() {
        for cell in [
            "=SUM(A1:A2)",
            "+7 999 123-45-67",
            "-2+3",
            "@cmd",
            "\t=1",
            "\r=1",
        ] {
            assert_eq!(spreadsheet_safe(cell), format!("'{cell}"));
        }
    }

    #[test]
    fn other_cells_are_borrowed_unchanged() {
        for cell in ["", "Иван", "a=b", " =1", "'quoted", "100"] {
            assert!(matches!(spreadsheet_safe(cell), Cow::Borrowed(c) if c == cell));
        }
    }
}
