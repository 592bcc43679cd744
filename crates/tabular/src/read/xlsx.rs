//! XLSX: the first worksheet, streamed cell by cell with calamine's `XlsxCellReader`.
//!
//! The cell reader borrows the workbook mutably, so the two cannot live side by side in a
//! `Table` without self-reference (and this crate forbids `unsafe`). The workbook is read on a
//! thread of its own instead, which hands rows over a small bounded channel: memory stays
//! bounded, and when the `Table` is dropped the next send fails and the thread ends.

use std::fs::File;
use std::io::BufReader;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use calamine::{DataRef, ExcelDateTime, Reader, SheetType, Xlsx, XlsxError};

use super::{Limits, Row, clean_headers, is_blank};
use crate::TabularError;

/// How many rows the reader thread may be ahead of the consumer.
const CHANNEL_ROWS: usize = 64;

enum Message {
    Row(Result<Row, TabularError>),
    Done,
}

/// The data rows of the first worksheet, as the reader thread sends them.
pub(super) struct XlsxRows {
    rows: Receiver<Message>,
}

/// Starts the reader thread and waits for the header row (the first row that is not blank).
pub(super) fn open(file: File, limits: Limits) -> Result<(Vec<String>, XlsxRows), TabularError> {
    let (sender, rows) = sync_channel(CHANNEL_ROWS);
    std::thread::Builder::new()
        .name("crm-tabular-xlsx".to_owned())
        .spawn(move || read_sheet(file, limits, &sender))?;
    let mut rows = XlsxRows { rows };
    match rows.next_row()? {
        Some(header) => Ok((clean_headers(header.cells), rows)),
        None => Err(TabularError::Empty),
    }
}

impl XlsxRows {
    pub(super) fn next_row(&mut self) -> Result<Option<Row>, TabularError> {
        match self.rows.recv() {
            Ok(Message::Row(row)) => row.map(Some),
            Ok(Message::Done) => Ok(None),
            // The thread ended without saying so: it panicked inside calamine.
            Err(_) => Err(TabularError::Xlsx(
                "the workbook reader stopped unexpectedly".to_owned(),
            )),
        }
    }
}

/// The reader thread: sends the header, then each row that is not blank, then `Done` (or the
/// error that ended the reading).
fn read_sheet(file: File, limits: Limits, sender: &SyncSender<Message>) {
    let last = match send_rows(file, limits, sender) {
        Ok(()) => Message::Done,
        Err(e) => Message::Row(Err(e)),
    };
    // A failed send only means the table was dropped: nobody is waiting for the rest.
    let _ = sender.send(last);
}

/// The row being assembled from its cells.
struct Pending {
    row: u32,
    cells: Vec<String>,
    broken: Option<TabularError>,
}

fn send_rows(file: File, limits: Limits, sender: &SyncSender<Message>) -> Result<(), TabularError> {
    let mut workbook = Xlsx::new(BufReader::new(file)).map_err(xlsx_error)?;
    let sheet = workbook
        .sheets_metadata()
        .iter()
        .find(|sheet| sheet.typ == SheetType::WorkSheet)
        .map(|sheet| sheet.name.clone())
        .ok_or(TabularError::Unsupported("a workbook without a worksheet"))?;
    let mut reader = workbook
        .worksheet_cells_reader(&sheet)
        .map_err(xlsx_error)?;
    let mut header_sent = false;
    let mut pending: Option<Pending> = None;
    loop {
        let cell = reader.next_cell().map_err(xlsx_error)?;
        let row_ended = match (&pending, &cell) {
            (Some(p), Some(cell)) => cell.get_position().0 != p.row,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if row_ended && let Some(done) = pending.take() {
            let line = u64::from(done.row) + 1;
            match done.broken {
                // A broken header is the end; a broken data row is reported and skipped.
                Some(e) if !header_sent => return Err(e),
                Some(e) => {
                    if sender.send(Message::Row(Err(e))).is_err() {
                        return Ok(());
                    }
                }
                None if is_blank(&done.cells) => {}
                None => {
                    if !header_sent {
                        let bytes: usize = done.cells.iter().map(String::len).sum();
                        if bytes > limits.max_header_bytes {
                            return Err(TabularError::HeaderTooLarge {
                                line,
                                limit: limits.max_header_bytes,
                            });
                        }
                        header_sent = true;
                    }
                    let row = Row {
                        line,
                        cells: done.cells,
                    };
                    if sender.send(Message::Row(Ok(row))).is_err() {
                        return Ok(());
                    }
                }
            }
        }
        let Some(cell) = cell else {
            return Ok(());
        };
        let (row, column) = cell.get_position();
        let pending = pending.get_or_insert_with(|| Pending {
            row,
            cells: Vec::new(),
            broken: None,
        });
        add_cell(pending, column as usize, cell.get_value(), limits);
    }
}

/// Puts a cell into its row, checking the limits before the row grows to hold it.
fn add_cell(pending: &mut Pending, column: usize, value: &DataRef<'_>, limits: Limits) {
    if matches!(value, DataRef::Empty) {
        return;
    }
    let line = u64::from(pending.row) + 1;
    if column >= limits.max_columns {
        let count = match pending.broken {
            Some(TabularError::TooManyColumns { count, .. }) => count.max(column + 1),
            Some(_) => return,
            None => column + 1,
        };
        pending.cells = Vec::new();
        pending.broken = Some(TabularError::TooManyColumns {
            line,
            count,
            limit: limits.max_columns,
        });
        return;
    }
    if pending.broken.is_some() {
        return;
    }
    let text = render(value);
    if text.len() > limits.max_cell_bytes {
        pending.cells = Vec::new();
        pending.broken = Some(TabularError::CellTooLarge {
            line,
            column: column + 1,
            limit: limits.max_cell_bytes,
        });
        return;
    }
    if pending.cells.len() <= column {
        pending.cells.resize(column + 1, String::new());
    }
    pending.cells[column] = text;
}

/// A cell as the text a person would have typed: integral numbers without `.0`, dates in ISO
/// 8601, booleans as `true`/`false`, errors as Excel shows them (`#DIV/0!`).
fn render(value: &DataRef<'_>) -> String {
    match value {
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => render_number(*f),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(dt) => render_datetime(dt),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => e.to_string(),
        DataRef::Empty => String::new(),
    }
}

/// XLSX stores every number as a float; whole ones (ids, phone numbers, amounts) must not come
/// back as `100000.0`.
fn render_number(f: f64) -> String {
    // Below 2^53 every whole float is exactly an i64, so the cast loses nothing.
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        (f as i64).to_string()
    } else {
        f.to_string()
    }
}

/// `YYYY-MM-DD` for a date, `YYYY-MM-DDTHH:MM:SS` for a date with a time, `HH:MM:SS` for a time
/// of day alone, `H:MM:SS` for a duration (`[h]:mm:ss`); milliseconds are dropped.
fn render_datetime(dt: &ExcelDateTime) -> String {
    if dt.is_duration() {
        let total = (dt.as_f64() * 86_400.0).round() as i64;
        let sign = if total < 0 { "-" } else { "" };
        let total = total.abs();
        return format!(
            "{sign}{}:{:02}:{:02}",
            total / 3600,
            total / 60 % 60,
            total % 60
        );
    }
    let (year, month, day, hour, minute, second, _) = dt.to_ymd_hms_milli();
    if (0.0..1.0).contains(&dt.as_f64()) {
        format!("{hour:02}:{minute:02}:{second:02}")
    } else if (hour, minute, second) == (0, 0, 0) {
        format!("{year:04}-{month:02}-{day:02}")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}")
    }
}

fn xlsx_error(e: XlsxError) -> TabularError {
    match e {
        XlsxError::Io(e) => TabularError::Io(e),
        e => TabularError::Xlsx(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_have_no_fraction_and_others_keep_theirs() {
        assert_eq!(render_number(100000.0), "100000");
        assert_eq!(render_number(-3.0), "-3");
        assert_eq!(render_number(1.5), "1.5");
        assert_eq!(render_number(0.1), "0.1");
        assert_eq!(render_number(1e300), "1".to_owned() + &"0".repeat(300));
    }
}
