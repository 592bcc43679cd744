//! An XLSX file written row by row in constant memory (rust_xlsxwriter's constant-memory
//! worksheets flush each row to a temporary file); every cell is a string, so nothing in it is
//! ever run as a formula.

use std::path::Path;

use rust_xlsxwriter::Workbook;

use crate::error::ExportError;

fn xlsx(e: rust_xlsxwriter::XlsxError) -> ExportError {
    ExportError::Xlsx(e.to_string())
}

/// The most rows a worksheet holds (Excel's limit); more rows go on to further sheets.
const ROWS_PER_SHEET: u32 = 1_048_576;

/// A workbook being written.
pub struct Sheet {
    book: Workbook,
    headers: Vec<String>,
    row: u32,
}

impl Sheet {
    /// A workbook whose first sheet starts with `headers`.
    pub fn new(headers: Vec<String>) -> Result<Self, ExportError> {
        let mut sheet = Self {
            book: Workbook::new(),
            headers,
            row: 0,
        };
        sheet.next_sheet()?;
        Ok(sheet)
    }

    fn next_sheet(&mut self) -> Result<(), ExportError> {
        let sheet = self
            .book
            .add_worksheet_with_constant_memory()
            .map_err(xlsx)?;
        for (col, header) in self.headers.iter().enumerate() {
            let col =
                u16::try_from(col).map_err(|_| ExportError::Xlsx("too many columns".into()))?;
            sheet.write_string(0, col, header).map_err(xlsx)?;
        }
        self.row = 1;
        Ok(())
    }

    /// Appends a row.
    pub fn push(&mut self, cells: &[String]) -> Result<(), ExportError> {
        if self.row == ROWS_PER_SHEET {
            self.next_sheet()?;
        }
        let index = self.book.worksheets().len() - 1;
        let sheet = self.book.worksheet_from_index(index).map_err(xlsx)?;
        for (col, cell) in cells.iter().enumerate() {
            if !cell.is_empty() {
                let col =
                    u16::try_from(col).map_err(|_| ExportError::Xlsx("too many columns".into()))?;
                sheet.write_string(self.row, col, cell).map_err(xlsx)?;
            }
        }
        self.row += 1;
        Ok(())
    }

    /// Writes the file.
    pub fn save(mut self, path: &Path) -> Result<(), ExportError> {
        self.book.save(path).map_err(xlsx)
    }
}
