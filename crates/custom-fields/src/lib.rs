//! Custom fields: the typed definitions (per record type: contacts, companies, deals, tasks),
//! the validation and canonical JSON form of their values, the list filters and sorts over
//! them (`cf.<key>=...`, `sort=cf.<key>`), and the definition changes that rewrite stored values
//! (type conversions, option removal, deactivation, deletion) together with the indexes that
//! serve the filters.
//!
//! Values are stored in each record's own `custom_fields` jsonb column. The record services
//! (contacts, companies, deals, tasks) call [`FieldSet::for_write`] at the start of their write
//! transaction and validate with [`FieldSet::validate_create`] / [`FieldSet::validate_update`];
//! a unique value taken by another record surfaces as a violation of a per-field unique index,
//! which [`unique_violation`] turns into [`CustomFieldError::DuplicateValue`].
//!
//! Definition changes that alter what the API returns for records hand the records they
//! changed to a [`crm_events::RewriteEvents`] hook passed in by the caller, which appends the
//! records' update events in the same transaction (see [`service`]).
//!
//! Depends on `crm-core`, `crm-db`, `crm-activity` and `crm-events`; knows nothing of HTTP or
//! of the record crates (it names their tables through [`CustomFieldEntity`]).

pub mod error;
pub mod filter;
pub mod input;
pub mod model;
pub mod service;
pub mod sql;
pub mod value;
pub mod values;

pub use error::CustomFieldError;
pub use filter::{
    CfFilter, CfOp, CfQuery, parse_filters, parse_sort, sort_names_custom_fields, split_params,
};
pub use input::{CreateCustomField, ListCustomFields, ReorderCustomFields, UpdateCustomField};
pub use model::{CustomField, CustomFieldEntity, FieldType};
pub use service::{
    create_custom_field, delete_custom_field, get_custom_field, list_custom_fields,
    reorder_custom_fields, update_custom_field,
};
pub use values::{FieldSet, gather, unique_violation};
