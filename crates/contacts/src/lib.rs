//! Contacts: people with e-mail (unique among live contacts), E.164 phone, social handles and
//! an optional company; who may see them (owners, or everyone with `contacts.read_all`); the
//! trash; and the activity written on both sides when a contact is linked to or unlinked from
//! a company.
//!
//! Depends on `crm-core`, `crm-db`, `crm-activity`, `crm-custom-fields`, `crm-events` and
//! `crm-companies`; knows nothing of HTTP.

pub mod error;
mod events;
pub mod export;
pub mod import;
pub mod input;
pub mod model;
pub mod service;

pub use error::ContactError;
pub use events::rewrite_events;
pub use input::{ContactSort, CreateContact, ListContacts, UpdateContact};
pub use model::{Contact, Social};
pub use service::{
    create_contact, delete_contact, get_contact, list_company_contacts, list_contacts, purge_trash,
    restore_contact, update_contact,
};
