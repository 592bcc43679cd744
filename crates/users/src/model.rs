//! The user record as stored and as the API shows it.

use chrono::{DateTime, Utc};
use crm_core::{Permission, PermissionSet, Role, UserId};
use crm_db::StoredRole;
use crm_db::schema::users;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use uuid::Uuid;

/// A row of `users`, password hash included: never serialised.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub role: StoredRole,
    pub is_active: bool,
    pub permission_grants: Vec<String>,
    pub permission_revokes: Vec<String>,
    pub session_epoch: i32,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// A user as services return it and the API shows it. Holds no secret.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Login e-mail, stored lower-case.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Role.
    pub role: Role,
    /// Whether the user may sign in.
    pub is_active: bool,
    /// Effective permissions: role defaults + grants − revokes.
    pub permissions: Vec<Permission>,
    /// Permissions granted on top of the role.
    pub permission_grants: Vec<Permission>,
    /// Permissions taken away from the role.
    pub permission_revokes: Vec<Permission>,
    /// Last successful login.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version (the `ETag`).
    pub version: i32,
    /// Bumped on password change; access tokens carry it.
    #[serde(skip)]
    pub session_epoch: i32,
}

impl User {
    /// Effective permissions as a set.
    pub fn permission_set(&self) -> PermissionSet {
        PermissionSet::effective(self.role, &self.permission_grants, &self.permission_revokes)
    }

    /// The user as the actor of a request (role and effective permissions as stored now).
    pub fn actor(&self) -> crm_core::Actor {
        crm_core::Actor::user(self.id, self.role, self.permission_set())
    }
}

pub(crate) fn parse_permissions(names: &[String]) -> Vec<Permission> {
    // Unknown names can only come from a catalogue entry removed later: ignore them.
    names.iter().filter_map(|n| n.parse().ok()).collect()
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        let role = row.role.0;
        let permission_grants = parse_permissions(&row.permission_grants);
        let permission_revokes = parse_permissions(&row.permission_revokes);
        let permissions =
            PermissionSet::effective(role, &permission_grants, &permission_revokes).to_vec();
        Self {
            id: UserId(row.id),
            email: row.email,
            first_name: row.first_name,
            last_name: row.last_name,
            role,
            is_active: row.is_active,
            permissions,
            permission_grants,
            permission_revokes,
            last_login_at: row.last_login_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
            session_epoch: row.session_epoch,
        }
    }
}

impl UserRow {
    /// Finds a user by id.
    pub async fn find(
        conn: &mut crm_db::AsyncPgConnection,
        id: UserId,
    ) -> QueryResult<Option<UserRow>> {
        users::table
            .find(id.0)
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Finds a user by e-mail, case-insensitively.
    pub async fn find_by_email(
        conn: &mut crm_db::AsyncPgConnection,
        email: &str,
    ) -> QueryResult<Option<UserRow>> {
        users::table
            .filter(crm_db::sql::lower(users::email).eq(email.to_lowercase()))
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()
    }
}
