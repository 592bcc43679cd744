//! Recognising constraint violations by name, so services turn them into domain errors instead
//! of leaking SQL.

use diesel::result::{DatabaseErrorKind, Error};

/// Whether `e` violates the unique constraint or index named `name`.
pub fn is_unique_violation(e: &Error, name: &str) -> bool {
    matches!(e, Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
        if info.constraint_name() == Some(name))
}

/// Whether `e` violates the foreign key named `name`.
pub fn is_foreign_key_violation(e: &Error, name: &str) -> bool {
    matches!(e, Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info)
        if info.constraint_name() == Some(name))
}

/// Whether `e` means the connection to the server is gone rather than a bad query.
pub fn is_connection_error(e: &Error) -> bool {
    matches!(
        e,
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
            | Error::BrokenTransactionManager
    )
}
