//! Users of the CRM: their records, roles and per-user permission overrides, password hashing,
//! and the rule that the last active admin can never be removed.
//!
//! Depends on `crm-core` and `crm-db` only; knows nothing of HTTP or tokens.

pub mod error;
pub mod input;
pub mod model;
pub mod password;
pub mod service;

pub use error::UserError;
pub use input::{CreateUser, ListUsers, UpdateUser, UserSort};
pub use model::User;
pub use password::{HashSlot, HashedPassword, HashingLimits, Passwords};
pub use service::{
    NewUser, UserUpdate, create_user, delete_user, get_user, list_users, normalize_email,
    set_password, update_user,
};
