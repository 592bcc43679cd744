//! Who performs an operation: a signed-in user or an API key, with effective permissions.

use crate::error::{DomainError, ErrorKind};
use crate::ids::{ApiKeyId, UserId};
use crate::permissions::{Permission, PermissionSet, Role};

/// The principal a service acts for. Built by the auth layer after checking the credential
/// against the database, so it is current for this request.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user, or for an API key the admin who created it (for attribution).
    pub user_id: Option<UserId>,
    /// Set when the request came with an API key.
    pub api_key_id: Option<ApiKeyId>,
    /// Role of the user or the key.
    pub role: Role,
    /// Effective permissions.
    pub permissions: PermissionSet,
    /// The import this actor writes for, if any: every timeline entry it records names it
    /// (`{field: "importId", to: <id>}`), so a record's timeline says which import created or
    /// changed it.
    pub import_id: Option<uuid::Uuid>,
}

/// An actor lacks a permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("missing permission {0}")]
pub struct Forbidden(pub Permission);

impl DomainError for Forbidden {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Forbidden
    }
    fn code(&self) -> &'static str {
        "forbidden"
    }
}

impl Actor {
    /// A user acting with their role and overrides.
    pub fn user(id: UserId, role: Role, permissions: PermissionSet) -> Self {
        Self {
            user_id: Some(id),
            api_key_id: None,
            role,
            permissions,
            import_id: None,
        }
    }

    /// An actor with every permission, for the CLI and background jobs.
    pub fn system() -> Self {
        Self {
            user_id: None,
            api_key_id: None,
            role: Role::Admin,
            permissions: PermissionSet::all(),
            import_id: None,
        }
    }

    /// Whether the actor holds `p`.
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(p)
    }

    /// `Ok` when the actor holds `p`, `Forbidden(p)` otherwise.
    pub fn require(&self, p: Permission) -> Result<(), Forbidden> {
        if self.can(p) {
            Ok(())
        } else {
            Err(Forbidden(p))
        }
    }

    /// Whether this actor is the given user (API keys never are).
    pub fn is_user(&self, id: UserId) -> bool {
        self.api_key_id.is_none() && self.user_id == Some(id)
    }
}
