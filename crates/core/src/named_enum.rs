//! Enums whose API name and storage name are one string (a role, a record kind, a stage
//! type, a task status, ...), declared the same way everywhere.

/// Declares `$vis enum $name` named in the case style `$case` (`"snake_case"`, `"UPPERCASE"`,
/// ...) for strum and serde alike, with the derives every such enum shares (`Debug`, `Clone`,
/// `Copy`, `PartialEq`, `Eq`, `Hash`, strum's `Display`, `EnumString` and `IntoStaticStr`,
/// serde, `utoipa::ToSchema`) and `as_str`. Further attributes (docs, more derives such as
/// `Default` or diesel's `FromSqlRow`) and variant attributes pass through. The calling crate
/// depends on strum, serde and utoipa.
// `$case` is a `tt`, not a `literal`: utoipa does not read a `literal` fragment inside
// `#[serde(rename_all = ...)]` and would document the variants unrenamed.
#[macro_export]
macro_rules! named_enum {
    (
        $(#[$attr:meta])*
        $vis:vis enum $name:ident in $case:tt {
            $($(#[$vattr:meta])* $variant:ident),+ $(,)?
        }
    ) => {
        $(#[$attr])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, ::strum::Display, ::strum::EnumString,
            ::strum::IntoStaticStr, ::strum::VariantNames, ::serde::Serialize, ::serde::Deserialize,
            ::utoipa::ToSchema,
        )]
        #[strum(serialize_all = $case)]
        #[serde(rename_all = $case)]
        $vis enum $name {
            $($(#[$vattr])* $variant),+
        }

        impl $name {
            /// API and storage name.
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }
    };
}
