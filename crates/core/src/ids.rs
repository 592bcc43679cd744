//! Typed record ids: a `DealId` cannot be passed where a `ContactId` is expected.
//!
//! In JSON and OpenAPI each is a plain UUID string. With the `diesel` feature they bind to and
//! load from `uuid` columns directly.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The id of one kind of record: an [`EntityRef`](crate::EntityRef) needs no separate kind.
pub trait RecordId: Copy + Into<Uuid> {
    /// The kind of record the id names.
    const KIND: crate::EntityKind;
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident $(, $kind:ident)?) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            utoipa::ToSchema,
        )]
        #[cfg_attr(feature = "diesel", derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow))]
        #[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Uuid))]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        // No `Default`: a defaulted id would be a fresh random one where an id was missing.
        #[allow(clippy::new_without_default)]
        impl $name {
            /// The all-zero id: names no record (there is no `Default`, so a missing id is
            /// never silently replaced by a fresh random one).
            pub const NIL: Self = Self(Uuid::nil());

            /// A new time-ordered (v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        $(
            impl RecordId for $name {
                const KIND: crate::EntityKind = crate::EntityKind::$kind;
            }
        )?

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        #[cfg(feature = "diesel")]
        impl diesel::serialize::ToSql<diesel::sql_types::Uuid, diesel::pg::Pg> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
            ) -> diesel::serialize::Result {
                <Uuid as diesel::serialize::ToSql<diesel::sql_types::Uuid, diesel::pg::Pg>>::to_sql(
                    &self.0, out,
                )
            }
        }

        #[cfg(feature = "diesel")]
        impl diesel::deserialize::FromSql<diesel::sql_types::Uuid, diesel::pg::Pg> for $name {
            fn from_sql(value: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                <Uuid as diesel::deserialize::FromSql<diesel::sql_types::Uuid, diesel::pg::Pg>>::from_sql(
                    value,
                )
                .map(Self)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, uuid::Error> {
                s.parse().map(Self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

typed_id!(
    /// Id of a user.
    UserId,
    User
);
typed_id!(
    /// Id of an API key.
    ApiKeyId
);
typed_id!(
    /// Id of a contact.
    ContactId,
    Contact
);
typed_id!(
    /// Id of a company.
    CompanyId,
    Company
);
typed_id!(
    /// Id of a deal.
    DealId,
    Deal
);
typed_id!(
    /// Id of a task.
    TaskId,
    Task
);
typed_id!(
    /// Id of a pipeline.
    PipelineId,
    Pipeline
);
typed_id!(
    /// Id of a pipeline stage.
    StageId,
    Stage
);
typed_id!(
    /// Id of a comment.
    CommentId,
    Comment
);
typed_id!(
    /// Id of a custom-field definition.
    CustomFieldId,
    CustomField
);
typed_id!(
    /// Id of an attached file (and the key of its object in storage).
    FileId
);
typed_id!(
    /// Id of a background job.
    JobId
);
typed_id!(
    /// Id of a tag.
    TagId,
    Tag
);
