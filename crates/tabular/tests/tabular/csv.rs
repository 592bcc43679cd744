use crm_tabular::{Format, Limits, TabularError, open};

use super::{file, open_bytes, row, rows};

#[test]
fn comma_semicolon_and_tab_delimiters_are_sniffed_from_the_header() {
    for (delimiter, text) in [
        (b',', "name,email,phone\nIvan,ivan@example.com,\"1,5\"\n"),
        (b';', "name;email;phone\nIvan;ivan@example.com;1,5\n"),
        (b'\t', "name\temail\tphone\nIvan\tivan@example.com\t1,5\n"),
        (b'|', "name|email|phone\nIvan|ivan@example.com|1,5\n"),
    ] {
        let table = open_bytes(text.as_bytes()).unwrap();
        assert_eq!(table.delimiter, Some(delimiter));
        assert_eq!(table.format, Format::Csv);
        assert_eq!(table.encoding, "UTF-8");
        assert_eq!(table.headers, ["name", "email", "phone"]);
        assert_eq!(rows(table), [row(2, &["Ivan", "ivan@example.com", "1,5"])]);
    }
}

#[test]
fn a_header_without_delimiters_is_one_column_split_at_commas() {
    let table = open_bytes(b"email\na@example.com\n").unwrap();
    assert_eq!(table.delimiter, Some(b','));
    assert_eq!(table.headers, ["email"]);
    assert_eq!(rows(table), [row(2, &["a@example.com"])]);
}

#[test]
fn a_utf8_bom_does_not_end_up_in_the_first_header() {
    let table = open_bytes("\u{feff}Имя;Телефон\nИван;+79991234567\n".as_bytes()).unwrap();
    assert_eq!(table.encoding, "UTF-8");
    assert_eq!(table.headers, ["Имя", "Телефон"]);
    assert_eq!(rows(table), [row(2, &["Иван", "+79991234567"])]);
}

#[test]
fn headers_are_trimmed_and_cells_are_not() {
    let table = open_bytes(b" name , email \n Ivan , a@example.com\n").unwrap();
    assert_eq!(table.headers, ["name", "email"]);
    assert_eq!(rows(table), [row(2, &[" Ivan ", " a@example.com"])]);
}

const RUSSIAN: &str = "ФИО;Телефон;Компания;Должность;Заметки\n\
    Иванов Иван Иванович;+7 999 123-45-67;ООО «Рога и копыта»;Менеджер по продажам;Позвонить после обеда\n\
    Петрова Мария Сергеевна;+7 916 555-44-33;АО «Север»;Главный бухгалтер;Просила прислать счёт на оплату\n";

#[test]
fn a_windows_1251_export_is_detected_and_decoded() {
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(RUSSIAN);
    assert!(!unmappable);
    let table = open_bytes(&bytes).unwrap();
    assert_eq!(table.encoding, "windows-1251");
    assert_eq!(table.delimiter, Some(b';'));
    assert_eq!(
        table.headers,
        ["ФИО", "Телефон", "Компания", "Должность", "Заметки"]
    );
    let rows = rows(table);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].cells[2], "АО «Север»");
    assert_eq!(rows[1].cells[4], "Просила прислать счёт на оплату");
}

#[test]
fn utf16_with_a_bom_is_decoded_in_either_byte_order() {
    let text = "Имя\tEmail\nИван\tivan@example.com\n";
    let le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let be: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    for (bytes, encoding) in [(le, "UTF-16LE"), (be, "UTF-16BE")] {
        let table = open_bytes(&bytes).unwrap();
        assert_eq!(table.encoding, encoding);
        assert_eq!(table.delimiter, Some(b'\t'));
        assert_eq!(table.headers, ["Имя", "Email"]);
        assert_eq!(rows(table), [row(2, &["Иван", "ivan@example.com"])]);
    }
}

#[test]
fn quoted_cells_keep_newlines_and_quotes_and_later_lines_stay_right() {
    let text = "name,notes\n\
        \"Ivan\",\"first line\nsecond \"\"quoted\"\" line\nthird, with comma\"\n\
        Petr,plain\n";
    let table = open_bytes(text.as_bytes()).unwrap();
    assert_eq!(
        rows(table),
        [
            row(
                2,
                &[
                    "Ivan",
                    "first line\nsecond \"quoted\" line\nthird, with comma"
                ]
            ),
            row(5, &["Petr", "plain"]),
        ]
    );
}

#[test]
fn crlf_line_endings_count_one_line_each() {
    let text = "a,b\r\n1,2\r\n\r\n\"x\r\ny\",3\r\n4,5";
    assert_eq!(
        rows(open_bytes(text.as_bytes()).unwrap()),
        [
            row(2, &["1", "2"]),
            row(4, &["x\r\ny", "3"]),
            row(6, &["4", "5"])
        ]
    );
}

#[test]
fn ragged_rows_are_returned_as_they_are() {
    let text = "a,b,c\n1\n1,2,3,4,5\n1,2\n";
    assert_eq!(
        rows(open_bytes(text.as_bytes()).unwrap()),
        [
            row(2, &["1"]),
            row(3, &["1", "2", "3", "4", "5"]),
            row(4, &["1", "2"]),
        ]
    );
}

#[test]
fn blank_rows_and_lines_are_skipped_and_lines_still_count() {
    let text = "\n\na,b\n,\n  ,\t\n\n1,2\n\n\n";
    let table = open_bytes(text.as_bytes()).unwrap();
    assert_eq!(table.headers, ["a", "b"]);
    assert_eq!(rows(table), [row(7, &["1", "2"])]);
}

#[test]
fn an_empty_or_blank_file_has_no_header() {
    for bytes in [&b""[..], b"\n\n", b"\xEF\xBB\xBF", b",,\n , \n"] {
        assert!(
            matches!(open_bytes(bytes), Err(TabularError::Empty)),
            "{bytes:?}"
        );
    }
}

#[test]
fn a_header_only_file_has_no_rows() {
    let table = open_bytes(b"a,b\n").unwrap();
    assert_eq!(table.headers, ["a", "b"]);
    assert!(rows(table).is_empty());
}

fn small() -> Limits {
    Limits {
        max_columns: 3,
        max_cell_bytes: 10,
        max_header_bytes: 20,
    }
}

#[test]
fn a_row_with_too_many_columns_is_rejected_with_its_line_and_reading_goes_on() {
    let (_dir, path) = file(b"a,b,c\n1,2,3\n1,2,3,4,5\n\"x\ny\",2\n");
    let mut table = open(&path, small()).unwrap();
    assert_eq!(table.next().unwrap().unwrap(), row(2, &["1", "2", "3"]));
    let error = table.next().unwrap().unwrap_err();
    assert!(
        matches!(
            error,
            TabularError::TooManyColumns {
                line: 3,
                count: 5,
                limit: 3
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "line 3: 5 columns, more than the 3 allowed"
    );
    assert_eq!(table.next().unwrap().unwrap(), row(4, &["x\ny", "2"]));
    assert!(table.next().is_none());
}

#[test]
fn a_huge_cell_is_rejected_with_its_line_and_column() {
    let mut text = b"a,b\n1,2\n3,\"".to_vec();
    // Far more than the limit, on many lines: the reader must stop keeping it early.
    text.extend(std::iter::repeat_n(b"0123456789\n".as_slice(), 100_000).flatten());
    text.extend(b"\"\n5,6\n");
    let (_dir, path) = file(&text);
    let results: Vec<_> = open(&path, small()).unwrap().collect();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap(), &row(2, &["1", "2"]));
    assert!(matches!(
        results[1],
        Err(TabularError::CellTooLarge {
            line: 3,
            column: 2,
            limit: 10
        })
    ));
    assert_eq!(results[2].as_ref().unwrap(), &row(100_004, &["5", "6"]));
}

#[test]
fn a_header_beyond_the_limits_is_an_error_of_the_file() {
    type Expected = fn(&TabularError) -> bool;
    let cases: [(&[u8], Expected); 3] = [
        (b"a,b,c,d\n1\n", |e| {
            matches!(
                e,
                TabularError::TooManyColumns {
                    line: 1,
                    count: 4,
                    ..
                }
            )
        }),
        (b"\n\"a\",very long header\n", |e| {
            matches!(
                e,
                TabularError::CellTooLarge {
                    line: 2,
                    column: 2,
                    ..
                }
            )
        }),
        (b"aaaaaaaa,bbbbbbbb,cccccccc\n", |e| {
            matches!(e, TabularError::HeaderTooLarge { line: 1, limit: 20 })
        }),
    ];
    for (bytes, expected) in cases {
        let (_dir, path) = file(bytes);
        let error = open(&path, small()).unwrap_err();
        assert!(expected(&error), "{error:?}");
    }
}

#[test]
fn many_rows_stream_through() {
    let mut text = String::from("n,square\n");
    for n in 0..50_000u64 {
        text.push_str(&format!("{n},{}\n", n * n));
    }
    let table = open_bytes(text.as_bytes()).unwrap();
    let mut count = 0;
    for (n, row) in table.enumerate() {
        let row = row.unwrap();
        assert_eq!(row.line, n as u64 + 2);
        assert_eq!(row.cells[0], n.to_string());
        count += 1;
    }
    assert_eq!(count, 50_000);
}

#[test]
fn a_legacy_xls_workbook_is_refused_rather_than_read_as_text() {
    let bytes = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest of the compound file";
    assert!(matches!(
        open_bytes(bytes),
        Err(TabularError::Unsupported(_))
    ));
}

#[test]
fn a_missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        open(&dir.path().join("missing.csv"), Limits::default()),
        Err(TabularError::Io(_))
    ));
}
