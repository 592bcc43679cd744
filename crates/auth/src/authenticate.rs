//! Turning a bearer credential into a current `Actor`, checked against the database on every
//! request so deactivation and password resets take effect at once.

use crm_core::{Actor, UserId};
use crm_db::AsyncPgConnection;
use crm_users::User;
use crm_users::model::UserRow;

use crate::api_keys::{API_KEY_PREFIX, actor_for_key};
use crate::config::AuthConfig;
use crate::error::AuthError;
use crate::jwt::verify_access_token;

/// Checks an access token or API key. The user must exist, be active and still be in the
/// session epoch the token was issued in.
pub async fn authenticate(
    conn: &mut AsyncPgConnection,
    config: &AuthConfig,
    bearer: &str,
) -> Result<Actor, AuthError> {
    if bearer.starts_with(API_KEY_PREFIX) {
        return actor_for_key(conn, bearer).await;
    }
    let claims = verify_access_token(config, bearer)?;
    let user: User = UserRow::find(conn, UserId(claims.sub))
        .await?
        .filter(|u| u.is_active && u.session_epoch == claims.sev)
        .ok_or(AuthError::InvalidToken)?
        .into();
    Ok(Actor::user(user.id, user.role, user.permission_set()))
}

/// A stable name for whoever presents `bearer`, without touching the database: `user:<id>` for
/// a validly signed access token (so it survives token refreshes), `key:<sha256>` for an API
/// key. `None` for anything else. Used to scope idempotency keys; it does not authenticate.
pub fn principal_of(config: &AuthConfig, bearer: &str) -> Option<String> {
    if bearer.starts_with(API_KEY_PREFIX) {
        return Some(format!(
            "key:{}",
            hex::encode(crate::secret::hash_secret(bearer))
        ));
    }
    verify_access_token(config, bearer)
        .ok()
        .map(|c| format!("user:{}", c.sub))
}
