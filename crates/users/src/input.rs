//! Inputs of the user services, validated with garde before anything touches the database.

use crm_core::{Permission, Role};
use garde::Validate;
use serde::Deserialize;

use crate::password::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};

/// A new user.
#[derive(Debug, Clone, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUser {
    /// Login e-mail, unique case-insensitively.
    #[garde(email, length(max = 254))]
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// Initial password.
    #[garde(length(chars, min = MIN_PASSWORD_LEN, max = MAX_PASSWORD_LEN))]
    #[schema(min_length = 8, max_length = 256, format = Password)]
    pub password: String,
    /// Given name.
    #[serde(default)]
    #[garde(length(chars, max = 100))]
    #[schema(max_length = 100)]
    pub first_name: String,
    /// Family name.
    #[serde(default)]
    #[garde(length(chars, max = 100))]
    #[schema(max_length = 100)]
    pub last_name: String,
    /// Role.
    #[garde(skip)]
    pub role: Role,
    /// Active from the start (default true).
    #[serde(default = "yes")]
    #[garde(skip)]
    pub is_active: bool,
    /// Permissions on top of the role.
    #[serde(default)]
    #[garde(length(max = 64))]
    pub permission_grants: Vec<Permission>,
    /// Permissions taken from the role.
    #[serde(default)]
    #[garde(length(max = 64))]
    pub permission_revokes: Vec<Permission>,
}

fn yes() -> bool {
    true
}

/// A change to a user; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateUser {
    /// New e-mail.
    #[garde(inner(email, length(max = 254)))]
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    /// New password (an admin reset): every session of the user ends.
    #[garde(inner(length(chars, min = MIN_PASSWORD_LEN, max = MAX_PASSWORD_LEN)))]
    #[schema(min_length = 8, max_length = 256, format = Password)]
    pub password: Option<String>,
    /// Given name.
    #[garde(inner(length(chars, max = 100)))]
    #[schema(max_length = 100)]
    pub first_name: Option<String>,
    /// Family name.
    #[garde(inner(length(chars, max = 100)))]
    #[schema(max_length = 100)]
    pub last_name: Option<String>,
    /// Role.
    #[garde(skip)]
    pub role: Option<Role>,
    /// `false` deactivates: the user is refused on the very next request.
    #[garde(skip)]
    pub is_active: Option<bool>,
    /// Replaces the grants.
    #[garde(inner(length(max = 64)))]
    pub permission_grants: Option<Vec<Permission>>,
    /// Replaces the revokes.
    #[garde(inner(length(max = 64)))]
    pub permission_revokes: Option<Vec<Permission>>,
}

impl UpdateUser {
    /// Whether only the fields a user may change on their own record are set.
    pub fn is_self_service(&self) -> bool {
        self.email.is_none()
            && self.password.is_none()
            && self.role.is_none()
            && self.is_active.is_none()
            && self.permission_grants.is_none()
            && self.permission_revokes.is_none()
    }
}

/// Sortable user fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSort {
    /// `createdAt`
    CreatedAt,
    /// `email`
    Email,
    /// `firstName`
    FirstName,
    /// `lastName`
    LastName,
    /// `lastLoginAt`
    LastLoginAt,
}

impl UserSort {
    /// API names of the sortable fields.
    pub const ALLOWED: &'static [(&'static str, UserSort)] = &[
        ("createdAt", UserSort::CreatedAt),
        ("email", UserSort::Email),
        ("firstName", UserSort::FirstName),
        ("lastName", UserSort::LastName),
        ("lastLoginAt", UserSort::LastLoginAt),
    ];
}

/// A validated user list request.
#[derive(Debug, Clone)]
pub struct ListUsers {
    /// Which page.
    pub page: crm_core::PageRequest,
    /// Order.
    pub sort: crm_core::SortSpec<UserSort>,
    /// Fragment of e-mail or name, case-insensitive.
    pub q: Option<String>,
    /// Only this role.
    pub role: Option<Role>,
    /// Only active or inactive users.
    pub is_active: Option<bool>,
}
