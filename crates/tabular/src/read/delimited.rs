//! CSV: encoding detection, delimiter sniffing and a record reader whose memory is bounded by
//! the limits.
//!
//! The parser is `csv-core`, the `csv` crate's own state machine, driven field by field here:
//! the `csv` crate's `Reader` grows a record's buffer without bound (it has no size limits) and
//! reports the start of a record after blank lines as the first blank line. Fed by hand, a
//! cell is refused as soon as it passes `max_cell_bytes` and a row as soon as it passes
//! `max_columns`, and every record knows the line it starts on. Rows of any length are
//! returned as they are (what the `csv` crate calls `flexible`).

use std::fs::File;
use std::io::{Cursor, Read};

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use csv_core::{ReadFieldResult, Reader, ReaderBuilder};
use encoding_rs::{Encoding, UTF_8};
use encoding_rs_io::DecodeReaderBytesBuilder;

use super::{Limits, Row, clean_headers, is_blank, read_up_to};
use crate::TabularError;

/// How much of the file encoding detection and delimiter sniffing look at.
const SAMPLE_BYTES: usize = 64 * 1024;
/// The read buffer between the decoder and the parser.
const BUFFER_BYTES: usize = 64 * 1024;
/// Delimiters to sniff, in order of preference when they occur equally often.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// The data records of a CSV file, decoded to UTF-8 as they are read.
pub(super) struct CsvRows {
    input: Box<dyn Read + Send>,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    parser: Reader,
    /// The line the next unread byte is on: 1 plus the `\n`s consumed so far.
    line: u64,
    limits: Limits,
    encoding: &'static Encoding,
    delimiter: u8,
}

/// Which limit a record broke; the record is still read to its end (without keeping its
/// cells), so that reading can go on with the next one.
enum Broken {
    Columns,
    Cell(usize),
    Header,
}

impl CsvRows {
    /// Detects the encoding and the delimiter from the start of the file and reads the header
    /// row (the first row that is not blank). Invalid bytes become U+FFFD (see [`super::open`]).
    pub(super) fn open(
        mut file: File,
        limits: Limits,
    ) -> Result<(Vec<String>, CsvRows), TabularError> {
        let mut sample = vec![0u8; SAMPLE_BYTES];
        let n = read_up_to(&mut file, &mut sample)?;
        sample.truncate(n);
        if sample.is_empty() {
            return Err(TabularError::Empty);
        }
        let encoding = detect_encoding(&sample, n < SAMPLE_BYTES);
        let (text, _) = encoding.decode_with_bom_removal(&sample);
        let delimiter = sniff_delimiter(&text);
        let input = DecodeReaderBytesBuilder::new()
            .encoding(Some(encoding))
            .strip_bom(true)
            .build(Cursor::new(sample).chain(file));
        let mut rows = CsvRows {
            input: Box::new(input),
            buf: vec![0u8; BUFFER_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            parser: ReaderBuilder::new().delimiter(delimiter).build(),
            line: 1,
            limits,
            encoding,
            delimiter,
        };
        loop {
            match rows.read_record(true)? {
                None => return Err(TabularError::Empty),
                Some((_, cells)) if is_blank(&cells) => continue,
                Some((_, cells)) => return Ok((clean_headers(cells), rows)),
            }
        }
    }

    pub(super) fn encoding(&self) -> &'static Encoding {
        self.encoding
    }

    pub(super) fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// The next record that is not blank.
    pub(super) fn next_row(&mut self) -> Result<Option<Row>, TabularError> {
        loop {
            match self.read_record(false)? {
                None => return Ok(None),
                Some((_, cells)) if is_blank(&cells) => continue,
                Some((line, cells)) => return Ok(Some(Row { line, cells })),
            }
        }
    }

    /// Refills the buffer once it is used up; `false` at the end of the input.
    fn fill(&mut self) -> Result<bool, TabularError> {
        if self.start < self.end {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        self.start = 0;
        self.end = read_up_to(&mut self.input, &mut self.buf)?;
        self.eof = self.end == 0;
        Ok(!self.eof)
    }

    /// Reads one record with the line it starts on; `None` at the end of the file.
    fn read_record(&mut self, header: bool) -> Result<Option<(u64, Vec<String>)>, TabularError> {
        // Skip blank lines here rather than in the parser, so the record's first line is known.
        loop {
            if !self.fill()? {
                return Ok(None);
            }
            match self.buf[self.start] {
                b'\n' => self.line += 1,
                b'\r' => {}
                _ => break,
            }
            self.start += 1;
        }
        let line = self.line;
        let limits = self.limits;
        let mut cells = Vec::new();
        let mut cell = Vec::new();
        let mut count = 0usize;
        let mut record_bytes = 0usize;
        let mut broken = None;
        let mut out = [0u8; 4096];
        loop {
            // An empty input tells the parser the data has ended, so only pass one at the end.
            self.fill()?;
            let input = &self.buf[self.start..self.end];
            let (result, nin, nout) = self.parser.read_field(input, &mut out);
            self.line += input[..nin].iter().filter(|&&b| b == b'\n').count() as u64;
            self.start += nin;
            if broken.is_none() {
                record_bytes += nout;
                if cell.len() + nout > limits.max_cell_bytes {
                    broken = Some(Broken::Cell(count + 1));
                } else if header && record_bytes > limits.max_header_bytes {
                    broken = Some(Broken::Header);
                } else {
                    cell.extend_from_slice(&out[..nout]);
                }
            }
            match result {
                ReadFieldResult::InputEmpty | ReadFieldResult::OutputFull => {}
                ReadFieldResult::Field { record_end } => {
                    count += 1;
                    if broken.is_none() && count > limits.max_columns {
                        broken = Some(Broken::Columns);
                    }
                    if broken.is_none() {
                        cells.push(into_string(std::mem::take(&mut cell)));
                    } else {
                        cells = Vec::new();
                        cell = Vec::new();
                    }
                    if record_end {
                        break;
                    }
                }
                ReadFieldResult::End => break,
            }
        }
        match broken {
            None => Ok(Some((line, cells))),
            Some(Broken::Columns) => Err(TabularError::TooManyColumns {
                line,
                count,
                limit: limits.max_columns,
            }),
            Some(Broken::Cell(column)) => Err(TabularError::CellTooLarge {
                line,
                column,
                limit: limits.max_cell_bytes,
            }),
            Some(Broken::Header) => Err(TabularError::HeaderTooLarge {
                line,
                limit: limits.max_header_bytes,
            }),
        }
    }
}

/// The decoder emits UTF-8 and fields are split at ASCII bytes, so this never loses anything;
/// it only avoids an error path that cannot happen.
fn into_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A byte-order mark decides; then valid UTF-8 (ASCII included); otherwise `chardetng`, which
/// tells the single-byte encodings of spreadsheet exports apart (Windows-1251 for Russian
/// Excel, Windows-1252 for Western European) by the text's letter statistics.
///
/// `complete` says whether the sample is the whole file: if not, a UTF-8 sequence cut at its
/// end does not count against UTF-8. A file whose first 64 KiB are ASCII and whose later text
/// is in a legacy encoding is read as UTF-8 (its later non-ASCII bytes become U+FFFD).
fn detect_encoding(sample: &[u8], complete: bool) -> &'static Encoding {
    if let Some((encoding, _)) = Encoding::for_bom(sample) {
        return encoding;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => return UTF_8,
        Err(e) if e.error_len().is_none() && !complete => return UTF_8,
        Err(_) => {}
    }
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    detector.feed(sample, complete);
    detector.guess(None, Utf8Detection::Allow)
}

/// The candidate that occurs most often outside quotes in the first line (the header), `,`
/// when none occurs.
fn sniff_delimiter(text: &str) -> u8 {
    let mut counts = [0usize; DELIMITERS.len()];
    let mut quoted = false;
    for b in text.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = DELIMITERS.iter().position(|&d| d == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let best =
        (1..DELIMITERS.len()).fold(0, |best, i| if counts[i] > counts[best] { i } else { best });
    DELIMITERS[best]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delimiter_is_the_one_most_frequent_outside_quotes_in_the_header() {
        assert_eq!(sniff_delimiter("a,b,c\n1;2;3;4;5"), b',');
        assert_eq!(sniff_delimiter("\"a;b;c\",d,e;f\n"), b',');
        assert_eq!(sniff_delimiter("a;b;c\n"), b';');
        assert_eq!(sniff_delimiter("a\tb\tc"), b'\t');
        assert_eq!(sniff_delimiter("a|b"), b'|');
        assert_eq!(sniff_delimiter("single"), b',');
        assert_eq!(sniff_delimiter("a,b;c\n"), b',');
    }

    #[test]
    fn a_utf8_sequence_cut_at_the_end_of_the_sample_is_still_utf8() {
        let text = "Имя".as_bytes();
        assert_eq!(detect_encoding(&text[..text.len() - 1], false), UTF_8);
    }
}
