//! Opening a tabular file and streaming its rows.
//!
//! The format is told by content, not by name: uploads arrive with whatever name the browser or
//! the user gave them. A ZIP signature means XLSX; everything else is read as CSV.

mod delimited;
mod xlsx;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::TabularError;

/// The kind of file a [`Table`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Delimited text in any of the encodings [`open`] detects.
    Csv,
    /// An Office Open XML workbook; its first worksheet is read.
    Xlsx,
}

/// Bounds on what one file may hold, so that a hostile or broken file cannot make the reader
/// grow without end. Each is checked before the work it bounds is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most columns a row (the header included) may have.
    pub max_columns: usize,
    /// The largest cell, in bytes of UTF-8 text.
    pub max_cell_bytes: usize,
    /// The largest header row, all its cells together, in bytes of UTF-8 text.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_columns: 500,
            max_cell_bytes: 64 * 1024,
            max_header_bytes: 64 * 1024,
        }
    }
}

/// One data row of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Where the row starts: the line of the file for CSV (a quoted cell may span several), the
    /// sheet row number for XLSX; the header is line 1.
    pub line: u64,
    /// The cells as they are, untrimmed; a row may have fewer or more cells than there are
    /// headers (the caller decides what that means).
    pub cells: Vec<String>,
}

/// An opened file: its header row, what was detected about it, and its data rows, read one at a
/// time as the table is iterated.
///
/// Iterating yields rows in file order and skips rows whose cells are all blank. A row that
/// breaks a [`Limits`] bound is yielded as an error and reading goes on with the next row (see
/// [`TabularError::is_row_error`]); after any other error the iteration ends.
pub struct Table {
    /// The header cells, trimmed (a byte-order mark never ends up in the first one).
    pub headers: Vec<String>,
    /// The name of the text encoding the file was decoded from (`"UTF-8"`, `"windows-1251"`,
    /// `"UTF-16LE"`, ...); XLSX is always `"UTF-8"`.
    pub encoding: &'static str,
    /// The CSV delimiter that was detected; `None` for XLSX.
    pub delimiter: Option<u8>,
    /// What kind of file this was.
    pub format: Format,
    rows: Rows,
    finished: bool,
}

enum Rows {
    // Boxed: the CSV parser carries its transition table inline.
    Csv(Box<delimited::CsvRows>),
    Xlsx(xlsx::XlsxRows),
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("headers", &self.headers)
            .field("encoding", &self.encoding)
            .field("delimiter", &self.delimiter.map(char::from))
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

const ZIP_SIGNATURE: &[u8] = b"PK\x03\x04";
const OLE2_SIGNATURE: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// Opens a CSV or XLSX file and reads its header row; the data rows are read as the returned
/// [`Table`] is iterated, so memory stays bounded by [`Limits`] whatever the size of the file
/// (XLSX aside: calamine holds the workbook's shared-strings table in memory).
///
/// CSV encodings: UTF-8 (with or without a byte-order mark), UTF-16 LE or BE with a
/// byte-order mark, and otherwise what `chardetng` guesses from the first 64 KiB (such as
/// Windows-1251 for Russian Excel exports). Bytes that are invalid in the detected encoding
/// become U+FFFD, the replacement character, rather than an error: a few broken characters in
/// an export should not stop an import, and they stay visible in the imported text. The
/// delimiter is the one of `,` `;` tab `|` that occurs most often outside quotes in the header
/// line.
///
/// Blocking: async callers run it, and the iteration, in `spawn_blocking`.
///
/// # Errors
///
/// [`TabularError::Empty`] when there is no header row, a limit error when the header row
/// breaks one, [`TabularError::Unsupported`] for a legacy `.xls` file, and I/O or workbook
/// errors.
pub fn open(path: &Path, limits: Limits) -> Result<Table, TabularError> {
    let mut file = File::open(path)?;
    let mut signature = [0u8; 8];
    let n = read_up_to(&mut file, &mut signature)?;
    let signature = &signature[..n];
    if signature.starts_with(ZIP_SIGNATURE) {
        file.seek(SeekFrom::Start(0))?;
        let (headers, rows) = xlsx::open(file, limits)?;
        return Ok(Table {
            headers,
            encoding: "UTF-8",
            delimiter: None,
            format: Format::Xlsx,
            rows: Rows::Xlsx(rows),
            finished: false,
        });
    }
    // Parsed as CSV, a binary workbook would give a header of noise; say what it is instead.
    if signature.starts_with(OLE2_SIGNATURE) {
        return Err(TabularError::Unsupported(
            "a legacy Excel (.xls) workbook; save it as .xlsx or CSV",
        ));
    }
    file.seek(SeekFrom::Start(0))?;
    let (headers, rows) = delimited::CsvRows::open(file, limits)?;
    Ok(Table {
        headers,
        encoding: rows.encoding().name(),
        delimiter: Some(rows.delimiter()),
        format: Format::Csv,
        rows: Rows::Csv(Box::new(rows)),
        finished: false,
    })
}

impl Table {
    /// The data rows; the same as iterating the table itself.
    pub fn rows(&mut self) -> impl Iterator<Item = Result<Row, TabularError>> + '_ {
        self.by_ref()
    }
}

impl Iterator for Table {
    type Item = Result<Row, TabularError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let next = match &mut self.rows {
            Rows::Csv(rows) => rows.next_row(),
            Rows::Xlsx(rows) => rows.next_row(),
        };
        match next {
            Ok(Some(row)) => Some(Ok(row)),
            Ok(None) => {
                self.finished = true;
                None
            }
            Err(e) => {
                self.finished = !e.is_row_error();
                Some(Err(e))
            }
        }
    }
}

/// Whether a row carries nothing: such rows (`,,,` lines, formatted but empty sheet rows) are
/// skipped rather than imported as empty records.
fn is_blank(cells: &[String]) -> bool {
    cells.iter().all(|c| c.trim().is_empty())
}

/// Trims the header cells; the first loses a byte-order mark a decoder may have left.
fn clean_headers(cells: Vec<String>) -> Vec<String> {
    cells
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let c = if i == 0 {
                c.trim_start_matches('\u{feff}')
            } else {
                &c
            };
            c.trim().to_owned()
        })
        .collect()
}

/// Fills `buf` as far as the reader allows (short reads are not the end of the file).
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
