//! Exports: every record a list shows (its filters, sort and visibility), as CSV streamed while
//! it is read, or as XLSX written in constant memory. Custom fields are columns; the headers are
//! the API field names, so an exported file imports back to the same data.
//!
//! The rows are read through a connection of the export's own (a list of a million rows is
//! read as the client takes it, which can take minutes: a pooled connection is never held that
//! long); names of linked records are looked up a chunk at a time on pooled connections.

pub mod columns;
pub mod csv;
pub mod error;
pub mod kinds;
pub mod lookup;
pub mod run;
pub mod xlsx;

pub use error::ExportError;
pub use run::{Export, ExportFormat, Sink, export};
