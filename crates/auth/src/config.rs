//! Token lifetimes, the signing secret and login limits.

use std::time::Duration;

/// Limits on failed logins inside a sliding window.
#[derive(Debug, Clone)]
pub struct LoginLimits {
    /// Failures allowed per e-mail from one client IP inside the window.
    pub per_email_and_ip: i64,
    /// Failures allowed per e-mail from all IPs together: looser, so that one stranger cannot
    /// lock a user out, yet a spread-out guessing attack on one account still stops.
    pub per_email: i64,
    /// Failures allowed per client IP inside the window.
    pub per_ip: i64,
    /// Window length.
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_email_and_ip: 5,
            per_email: 50,
            per_ip: 100,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Everything the auth services need to issue and check credentials.
#[derive(Clone)]
pub struct AuthConfig {
    /// HMAC secret for access tokens (HS256).
    pub jwt_secret: Vec<u8>,
    /// `iss` claim written and required.
    pub issuer: String,
    /// `aud` claim written and required.
    pub audience: String,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Refresh-token lifetime.
    pub refresh_ttl: Duration,
    /// How long after its rotation a refresh token may still be presented (two tabs refreshing
    /// at once) and get a sibling instead of revoking the family. Zero disables.
    pub refresh_grace: Duration,
    /// Failed-login limits.
    pub login_limits: LoginLimits,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("refresh_grace", &self.refresh_grace)
            .field("login_limits", &self.login_limits)
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// Defaults of the API contract: 15-minute access, 30-day refresh, 10-second grace.
    pub fn new(jwt_secret: Vec<u8>) -> Self {
        Self {
            jwt_secret,
            issuer: "crm".to_owned(),
            audience: "crm-api".to_owned(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            refresh_grace: Duration::from_secs(10),
            login_limits: LoginLimits::default(),
        }
    }
}
