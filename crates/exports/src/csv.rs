//! CSV lines that spreadsheets open safely: RFC 4180 quoting, and every cell neutralised
//! against formula injection (`crm_tabular::spreadsheet_safe`, undone again on import).

/// One line of `cells`, ending in CRLF.
pub fn line<S: AsRef<str>>(cells: &[S]) -> String {
    let mut out = String::new();
    line_into(&mut out, cells);
    out
}

/// Appends one line of `cells`, ending in CRLF, to `out`.
pub fn line_into<S: AsRef<str>>(out: &mut String, cells: &[S]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let cell = cell.as_ref();
        let guarded = crm_tabular::needs_guard(cell);
        if cell.contains([',', '"', '\n', '\r']) {
            out.push('"');
            if guarded {
                out.push('\'');
            }
            for part in cell.split_inclusive('"') {
                out.push_str(part);
                if part.ends_with('"') {
                    out.push('"');
                }
            }
            out.push('"');
        } else {
            if guarded {
                out.push('\'');
            }
            out.push_str(cell);
        }
    }
    out.push_str("\r\n");
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
        assert_eq!(line(&["=a,\"b\"", ""]), "\"'=a,\"\"b\"\"\",\r\n");
        // The same guard as the import undoes.
        for cell in ["=SUM(A1)", "-1", "@x", "\tt", "plain", "+7 999"] {
            let written = line(&[cell]);
            let back = crm_tabular::unneutralized(written.trim_end());
            assert_eq!(back, cell);
        }
    }
}
