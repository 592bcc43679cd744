//! Enums stored by name in a `text` column (a deal's status, a stage's type): read through
//! `FromStr`, so a stored name the enum does not know fails the load with an error (a data
//! problem, answered 500 and logged) instead of being read as some default.

/// Implements diesel's `FromSql<Text, Pg>` for an enum that implements `FromStr`. The enum
/// also derives `diesel::deserialize::FromSqlRow` so row structs can hold it.
#[macro_export]
macro_rules! stored_name {
    ($enum:ty) => {
        impl ::diesel::deserialize::FromSql<::diesel::sql_types::Text, ::diesel::pg::Pg> for $enum {
            fn from_sql(value: ::diesel::pg::PgValue<'_>) -> ::diesel::deserialize::Result<Self> {
                let name = <String as ::diesel::deserialize::FromSql<
                    ::diesel::sql_types::Text,
                    ::diesel::pg::Pg,
                >>::from_sql(value)?;
                name.parse::<$enum>()
                    .map_err(|_| format!("unknown {} stored: {name:?}", stringify!($enum)).into())
            }
        }
    };
}

/// A user's or API key's role as stored (`ADMIN`, `MANAGER`, ...), read like the enums above.
/// `Role` lives in crm-core, which knows no diesel, so rows hold it through this wrapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub struct StoredRole(pub crm_core::Role);

impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg> for StoredRole {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
        let name = <String as diesel::deserialize::FromSql<
            diesel::sql_types::Text,
            diesel::pg::Pg,
        >>::from_sql(value)?;
        name.parse()
            .map(StoredRole)
            .map_err(|_| format!("unknown Role stored: {name:?}").into())
    }
}
