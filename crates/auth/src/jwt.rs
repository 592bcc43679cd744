//! Access tokens: HS256 JWTs with `sub`, `sev` (session epoch), `exp`, `iat`, `iss`, `aud`.

use chrono::Utc;
use crm_core::UserId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use crate::config::AuthConfig;
use crate::error::AuthError;

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: uuid::Uuid,
    /// The user's session epoch at issue; a password change bumps it and kills the token.
    pub sev: i32,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issue time.
    pub iat: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
}

/// Signs an access token for `user`.
pub fn issue_access_token(
    config: &AuthConfig,
    user: UserId,
    session_epoch: i32,
) -> Result<String, AuthError> {
    let now = Utc::now().timestamp();
    let claims = Claims {
        sub: user.0,
        sev: session_epoch,
        iat: now,
        exp: now + i64::try_from(config.access_ttl.as_secs()).unwrap_or(i64::MAX / 2),
        iss: config.issuer.clone(),
        aud: config.audience.clone(),
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&config.jwt_secret),
    )
    .map_err(|e| AuthError::Signing(e.to_string()))
}

/// Verifies signature (HS256 only: `alg` is pinned, `none` and others are refused), expiry,
/// issuer and audience.
pub fn verify_access_token(config: &AuthConfig, token: &str) -> Result<Claims, AuthError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_issuer(&[&config.issuer]);
    validation.set_audience(&[&config.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // A token that is not valid yet is not valid: `nbf` in the future is refused.
    validation.validate_nbf = true;
    let claims = decode::<Claims>(
        token,
        &DecodingKey::from_secret(&config.jwt_secret),
        &validation,
    )
    .map(|data| data.claims)
    .map_err(|_| AuthError::InvalidToken)?;
    // Nor is one issued in the future (beyond the clock skew of a few instances).
    if claims.iat > Utc::now().timestamp() + MAX_CLOCK_SKEW_SECS {
        return Err(AuthError::InvalidToken);
    }
    Ok(claims)
}

/// How far ahead of this server's clock another instance's `iat` may be.
const MAX_CLOCK_SKEW_SECS: i64 = 60;

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AuthConfig {
        AuthConfig::new(b"0123456789abcdef0123456789abcdef".to_vec())
    }

    #[test]
    fn a_token_round_trips() {
        let id = UserId::new();
        let token = issue_access_token(&config(), id, 3).unwrap();
        let claims = verify_access_token(&config(), &token).unwrap();
        assert_eq!((claims.sub, claims.sev), (id.0, 3));
    }

    #[test]
    fn other_secret_audience_or_expired_tokens_are_refused() {
        let token = issue_access_token(&config(), UserId::new(), 0).unwrap();
        let other = AuthConfig::new(b"another secret of thirty-two bytes".to_vec());
        assert!(verify_access_token(&other, &token).is_err());
        let mut aud = config();
        aud.audience = "someone-else".into();
        assert!(verify_access_token(&aud, &token).is_err());
        let mut expired = config();
        expired.access_ttl = std::time::Duration::ZERO;
        let token = issue_access_token(&expired, UserId::new(), 0).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert!(verify_access_token(&config(), &token).is_err());
    }

    /// A token signed with the right secret but with claims of our choosing.
    fn signed(extra: &str) -> String {
        let now = Utc::now().timestamp();
        let body: serde_json::Value = serde_json::from_str(&format!(
            r#"{{"sub":"{}","sev":0,"exp":{},"iat":{now},"iss":"crm","aud":"crm-api"{extra}}}"#,
            uuid::Uuid::now_v7(),
            now + 600
        ))
        .unwrap();
        encode(
            &Header::new(Algorithm::HS256),
            &body,
            &EncodingKey::from_secret(&config().jwt_secret),
        )
        .unwrap()
    }

    #[test]
    fn tokens_not_valid_yet_or_issued_in_the_future_are_refused() {
        let later = Utc::now().timestamp() + 3600;
        assert!(verify_access_token(&config(), &signed("")).is_ok());
        assert!(verify_access_token(&config(), &signed(&format!(r#","nbf":{later}"#))).is_err());
        let earlier = Utc::now().timestamp() - 10;
        assert!(verify_access_token(&config(), &signed(&format!(r#","nbf":{earlier}"#))).is_ok());
        let mut claims: serde_json::Value = serde_json::json!({
            "sub": uuid::Uuid::now_v7(), "sev": 0, "exp": later, "iat": later,
            "iss": "crm", "aud": "crm-api"
        });
        let future = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&config().jwt_secret),
        )
        .unwrap();
        assert!(verify_access_token(&config(), &future).is_err());
        claims["iat"] = serde_json::json!(Utc::now().timestamp());
        let now = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&config().jwt_secret),
        )
        .unwrap();
        assert!(verify_access_token(&config(), &now).is_ok());
    }

    #[test]
    fn unsigned_tokens_are_refused() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let now = Utc::now().timestamp();
        let body = b64.encode(format!(
            r#"{{"sub":"{}","sev":0,"exp":{},"iat":{now},"iss":"crm","aud":"crm-api"}}"#,
            uuid::Uuid::now_v7(),
            now + 600
        ));
        assert!(verify_access_token(&config(), &format!("{header}.{body}.")).is_err());
    }
}
