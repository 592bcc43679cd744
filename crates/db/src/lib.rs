//! Storage shared by every domain crate: the diesel `schema`, the connection pool, the embedded
//! migrations, helpers that turn constraint violations into domain errors, the one visibility
//! rule of every record kind (`visibility`), enums stored by name (`stored_name!`), and the
//! zero-setup local PostgreSQL (`local_pg`) used by the server and the tests when `DATABASE_URL`
//! is unset.
//!
//! No web framework here; domain crates build on this one.

pub mod constraint;
pub mod error;
pub mod import_keys;
pub mod links;
pub mod listing;
pub mod local_pg;
pub mod migrations;
pub mod pool;
pub mod schema;
pub mod sql;
pub mod stored_name;
pub mod tags;
pub mod visibility;

pub use diesel_async::AsyncPgConnection;
pub use error::DbError;
pub use pool::{DbPool, PoolSettings, build_pool};
pub use stored_name::StoredRole;
