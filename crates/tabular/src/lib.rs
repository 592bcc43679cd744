//! Tabular files for the CRM's import and export: reading CSV (any common encoding and
//! delimiter) and XLSX as bounded streams of rows ([`open`]), writing cells that spreadsheets
//! will not run as formulas ([`spreadsheet_safe`]), and guessing which record field each column
//! holds from its header ([`auto_map`]).
//!
//! It is synchronous and knows nothing of records, the database or HTTP: the import crate calls
//! it inside `spawn_blocking` and turns rows into service inputs. It must stay free of actix,
//! tokio and diesel.

mod error;
pub mod headers;
pub mod read;
pub mod write;

pub use error::TabularError;
pub use headers::{FieldSpec, Mapped, auto_map};
pub use read::{Format, Limits, Row, Table, open};
pub use write::{needs_guard, spreadsheet_safe, unneutralized};
