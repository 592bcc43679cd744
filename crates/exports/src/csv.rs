//! CSV lines that spreadsheets open safely: RFC 4180 quoting, and every cell neutralised
//! against formula injection (`crm_tabular::spreadsheet_safe`, undone again on import).

/// One line of `cells`, ending in CRLF.
pub fn line<S: AsRef<str>>(cells: &[S]) -> String {
    let mut out = String::new();
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let cell = crm_tabular::spreadsheet_safe(cell.as_ref());
        if cell.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&cell);
        }
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::line;

    #[test]
    fn cells_are_quoted_when_needed_and_neutralised() {
        assert_eq!(
            line(&["a", "b,c", "say \"hi\"", "two\nlines"]),
            "a,\"b,c\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n"
        );
        assert_eq!(line(&["=1+1", "+7999", "ok"]), "'=1+1,'+7999,ok\r\n");
    }
}
