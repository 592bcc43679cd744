//! Companies: their records, who may see them (owners, or everyone with
//! `companies.read_all`), the trash, and the field checks that contacts share (texts, LIKE
//! patterns; e-mails, URLs and phones through `crm_core::normalize`).
//!
//! Depends on `crm-core`, `crm-db`, `crm-activity` and `crm-custom-fields`; knows nothing of
//! HTTP.

pub mod error;
pub mod export;
pub mod fields;
pub mod import;
pub mod input;
pub mod model;
pub mod service;

pub use error::CompanyError;
pub use input::{CompanySort, CreateCompany, ListCompanies, UpdateCompany};
pub use model::Company;
pub use service::{
    create_company, delete_company, get_company, list_companies, owns_or_reads_all, purge_trash,
    restore_company, update_company,
};
