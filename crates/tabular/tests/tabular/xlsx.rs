use crm_tabular::{Format, Limits, TabularError, open};
use rust_xlsxwriter::{ExcelDateTime, Format as CellFormat, Workbook};

use super::{row, rows};

/// Writes a workbook whose first sheet has a header, typed cells, a blank row and a ragged
/// row, and a second sheet that must not be read.
fn workbook(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("upload.bin");
    let mut workbook = Workbook::new();
    let date = CellFormat::new().set_num_format("yyyy-mm-dd");
    let datetime = CellFormat::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let sheet = workbook.add_worksheet();
    for (col, header) in [" Имя ", "Сумма", "Курс", "Дата", "Создана", "VIP"]
        .into_iter()
        .enumerate()
    {
        sheet.write_string(0, col as u16, header).unwrap();
    }
    sheet.write_string(1, 0, "Иван Иванов").unwrap();
    sheet.write_number(1, 1, 100000).unwrap();
    sheet.write_number(1, 2, 92.5).unwrap();
    let day = ExcelDateTime::from_ymd(2024, 12, 31).unwrap();
    sheet.write_datetime_with_format(1, 3, &day, &date).unwrap();
    let moment = ExcelDateTime::from_ymd(2024, 1, 15)
        .unwrap()
        .and_hms(9, 30, 5)
        .unwrap();
    sheet
        .write_datetime_with_format(1, 4, &moment, &datetime)
        .unwrap();
    sheet.write_boolean(1, 5, true).unwrap();
    // Row 3 is blank but formatted: a cell without a value.
    sheet.write_blank(2, 0, &date).unwrap();
    sheet.write_string(3, 0, "Пётр").unwrap();
    sheet.write_number(3, 1, -3).unwrap();
    sheet.write_boolean(3, 5, false).unwrap();
    sheet.write_string(4, 7, "beyond the headers").unwrap();
    workbook
        .add_worksheet()
        .write_string(0, 0, "second sheet")
        .unwrap();
    workbook.save(&path).unwrap();
    path
}

#[test]
fn an_xlsx_sheet_reads_back_as_typed_text() {
    let dir = tempfile::tempdir().unwrap();
    let table = open(&workbook(&dir), Limits::default()).unwrap();
    assert_eq!(table.format, Format::Xlsx);
    assert_eq!(table.delimiter, None);
    assert_eq!(table.encoding, "UTF-8");
    assert_eq!(
        table.headers,
        ["Имя", "Сумма", "Курс", "Дата", "Создана", "VIP"]
    );
    assert_eq!(
        rows(table),
        [
            row(
                2,
                &[
                    "Иван Иванов",
                    "100000",
                    "92.5",
                    "2024-12-31",
                    "2024-01-15T09:30:05",
                    "true"
                ]
            ),
            row(4, &["Пётр", "-3", "", "", "", "false"]),
            row(5, &["", "", "", "", "", "", "", "beyond the headers"]),
        ]
    );
}

#[test]
fn an_xlsx_row_beyond_the_limits_is_rejected_with_its_row_number() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_columns: 6,
        max_cell_bytes: 16,
        ..Limits::default()
    };
    let mut table = open(&workbook(&dir), limits).unwrap();
    let error = table.next().unwrap().unwrap_err();
    assert!(
        matches!(
            error,
            TabularError::CellTooLarge {
                line: 2,
                column: 1,
                limit: 16
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        table.next().unwrap().unwrap(),
        row(4, &["Пётр", "-3", "", "", "", "false"])
    );
    let error = table.next().unwrap().unwrap_err();
    assert!(
        matches!(
            error,
            TabularError::TooManyColumns {
                line: 5,
                count: 8,
                limit: 6
            }
        ),
        "{error:?}"
    );
    assert!(table.next().is_none());
}

#[test]
fn dropping_a_half_read_xlsx_table_does_not_block() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.xlsx");
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    for r in 0..2_000u32 {
        sheet.write_number(r, 0, r).unwrap();
    }
    workbook.save(&path).unwrap();
    let mut table = open(&path, Limits::default()).unwrap();
    assert_eq!(table.headers, ["0"]);
    assert_eq!(table.next().unwrap().unwrap(), row(2, &["1"]));
    // The reader thread is blocked on a full channel here; dropping the table must not wait
    // for it (its next send fails and it ends).
    drop(table);
    assert_eq!(rows(open(&path, Limits::default()).unwrap()).len(), 1_999);
}

#[test]
fn a_zip_that_is_not_a_workbook_is_an_xlsx_error() {
    let (_dir, path) = super::file(b"PK\x03\x04not really a zip archive");
    let error = open(&path, Limits::default()).unwrap_err();
    assert!(matches!(error, TabularError::Xlsx(_)), "{error:?}");
}

#[test]
fn an_empty_sheet_has_no_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.xlsx");
    let mut workbook = Workbook::new();
    workbook.add_worksheet();
    workbook.save(&path).unwrap();
    let error = open(&path, Limits::default()).unwrap_err();
    assert!(matches!(error, TabularError::Empty), "{error:?}");
}
