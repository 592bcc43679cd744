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
    if needs_guard(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Whether a spreadsheet could run `cell` as a formula: it starts with `=`, `+`, `-`, `@`,
/// tab or CR, and [`spreadsheet_safe`] prefixes it with `'`.
pub fn needs_guard(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// Undoes [`spreadsheet_safe`] on a cell read back for import: a leading `'` before one of the
/// characters it guards is dropped, so an exported file imports to the same values (`+7...`
/// phones included). A spreadsheet shows such a cell without the `'` too.
pub fn unneutralized(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralised_cells_read_back_as_they_were() {
        for cell in [
            "=SUM(A1)",
            "+79991234567",
            "-1",
            "@x",
            "plain",
            "'quoted",
            "",
        ] {
            assert_eq!(unneutralized(&spreadsheet_safe(cell)), cell);
        }
    }

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
