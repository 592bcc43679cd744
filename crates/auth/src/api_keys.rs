//! API keys for other services: created by an admin with a role and an optional expiry, shown
//! once, stored hashed, accepted as `Authorization: Bearer crm_…`, revocable.

use chrono::{DateTime, Utc};
use crm_core::{Actor, ApiKeyId, FieldError, Page, PageRequest, Permission, Role, UserId};
use crm_db::AsyncPgConnection;
use crm_db::StoredRole;
use crm_db::schema::api_keys;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use garde::Validate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AuthError;
use crate::secret::{hash_secret, random_secret};

/// Every API key starts with this, so the auth layer tells keys from JWTs at a glance.
pub const API_KEY_PREFIX: &str = "crm_";

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_keys)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub(crate) struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub role: StoredRole,
    pub created_by_id: Option<UserId>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// An API key as listed: never the secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    /// Id.
    pub id: ApiKeyId,
    /// What the key is for.
    pub name: String,
    /// First characters of the key, to recognise it.
    pub prefix: String,
    /// Role the key acts with.
    pub role: Role,
    /// The admin who created it.
    pub created_by_id: Option<UserId>,
    /// When the key stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When the key was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last use (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        Self {
            id: ApiKeyId(r.id),
            name: r.name,
            prefix: r.prefix,
            role: r.role.0,
            created_by_id: r.created_by_id,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
            created_at: r.created_at,
        }
    }
}

/// `POST /api/api-keys` body.
#[derive(Debug, Clone, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiKey {
    /// What the key is for.
    #[garde(length(chars, min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Role the key acts with.
    #[garde(skip)]
    pub role: Role,
    /// Optional expiry; must be in the future.
    #[serde(default)]
    #[garde(skip)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A freshly created key with its secret, shown this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    /// The stored key.
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The secret to send as `Authorization: Bearer <key>`. Not retrievable later.
    pub key: String,
}

/// Creates an API key (`users.manage`).
pub async fn create_api_key(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: CreateApiKey,
) -> Result<CreatedApiKey, AuthError> {
    actor.require(Permission::UsersManage)?;
    input
        .validate()
        .map_err(|r| AuthError::Invalid(FieldError::from_garde(&r)))?;
    if input.expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(AuthError::Invalid(vec![FieldError::new(
            "expiresAt",
            "must be in the future",
        )]));
    }
    let key = format!("{API_KEY_PREFIX}{}", random_secret()?);
    let row: ApiKeyRow = diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(ApiKeyId::new().0),
            api_keys::name.eq(input.name.trim()),
            api_keys::prefix.eq(&key[..API_KEY_PREFIX.len() + 6]),
            api_keys::key_hash.eq(hash_secret(&key)),
            api_keys::role.eq(input.role.as_str()),
            api_keys::created_by_id.eq(actor.user_id),
            api_keys::expires_at.eq(input.expires_at),
        ))
        .returning(ApiKeyRow::as_returning())
        .get_result(conn)
        .await?;
    Ok(CreatedApiKey {
        api_key: row.into(),
        key,
    })
}

/// Lists API keys, newest first (`users.manage`).
pub async fn list_api_keys(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    page: PageRequest,
) -> Result<Page<ApiKey>, AuthError> {
    actor.require(Permission::UsersManage)?;
    let total: i64 = api_keys::table.count().get_result(conn).await?;
    let rows: Vec<ApiKeyRow> = api_keys::table
        .select(ApiKeyRow::as_select())
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .limit(page.limit)
        .offset(page.offset())
        .load(conn)
        .await?;
    Ok(Page {
        items: rows.into_iter().map(ApiKey::from).collect(),
        page: page.page,
        limit: page.limit,
        total,
    })
}

/// Revokes a key (`users.manage`); it is refused from the next request on. Revoking twice is
/// harmless.
pub async fn revoke_api_key(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: ApiKeyId,
) -> Result<(), AuthError> {
    actor.require(Permission::UsersManage)?;
    let found: Option<Uuid> = diesel::update(api_keys::table.find(id.0))
        .set(api_keys::revoked_at.eq(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        >("coalesce(revoked_at, now())")))
        .returning(api_keys::id)
        .get_result(conn)
        .await
        .optional()?;
    found.map(|_| ()).ok_or(AuthError::ApiKeyNotFound)
}

/// The actor for a presented key, if it is valid, not revoked and not expired.
pub(crate) async fn actor_for_key(
    conn: &mut AsyncPgConnection,
    key: &str,
) -> Result<Actor, AuthError> {
    let now = Utc::now();
    let row: ApiKeyRow = api_keys::table
        .filter(api_keys::key_hash.eq(hash_secret(key)))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKeyRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(AuthError::InvalidToken)?;
    if row.expires_at.is_some_and(|t| t <= now) {
        return Err(AuthError::InvalidToken);
    }
    // Touch at most once a minute: no write per request.
    if row
        .last_used_at
        .is_none_or(|t| now - t > chrono::TimeDelta::minutes(1))
    {
        diesel::update(api_keys::table.find(row.id))
            .set(api_keys::last_used_at.eq(now))
            .execute(conn)
            .await?;
    }
    let role = row.role.0;
    Ok(Actor {
        user_id: row.created_by_id,
        api_key_id: Some(ApiKeyId(row.id)),
        role,
        permissions: role.default_permissions(),
        import_id: None,
    })
}
