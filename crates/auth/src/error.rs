//! Everything that can go wrong while authenticating.

use crm_core::actor::Forbidden;
use crm_core::{DomainError, ErrorKind, FieldError};
use crm_db::DbError;
use crm_users::UserError;

/// Failure of an auth operation. Credential failures are deliberately vague.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown e-mail or wrong password (the same answer for both).
    #[error("invalid e-mail or password")]
    InvalidCredentials,
    /// The account is deactivated.
    #[error("account is deactivated")]
    AccountDisabled,
    /// No credential was presented.
    #[error("authentication required")]
    MissingToken,
    /// The access token or API key is invalid, expired or revoked.
    #[error("invalid or expired token")]
    InvalidToken,
    /// The refresh token is unknown, expired or revoked.
    #[error("invalid or expired refresh token")]
    InvalidRefreshToken,
    /// A rotated refresh token was presented again: its family is now revoked.
    #[error("refresh token reuse detected; all sessions of this login were ended")]
    RefreshTokenReused,
    /// Too many failed logins.
    #[error("too many failed logins; retry in {retry_after} s")]
    RateLimited {
        /// Seconds until a new attempt may succeed.
        retry_after: u64,
    },
    /// The current password given to change it is wrong.
    #[error("current password is wrong")]
    WrongPassword,
    /// Input failed validation.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// The actor lacks a permission.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// No such API key.
    #[error("API key not found")]
    ApiKeyNotFound,
    /// A user operation failed.
    #[error(transparent)]
    User(#[from] UserError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Signing a token failed.
    #[error("token signing failed: {0}")]
    Signing(String),
}

impl From<diesel::result::Error> for AuthError {
    fn from(e: diesel::result::Error) -> Self {
        AuthError::Db(DbError::Query(e))
    }
}

impl DomainError for AuthError {
    fn kind(&self) -> ErrorKind {
        match self {
            AuthError::InvalidCredentials
            | AuthError::AccountDisabled
            | AuthError::MissingToken
            | AuthError::InvalidToken
            | AuthError::InvalidRefreshToken
            | AuthError::RefreshTokenReused => ErrorKind::Unauthorized,
            AuthError::RateLimited { .. } => ErrorKind::RateLimited,
            AuthError::WrongPassword | AuthError::Invalid(_) => ErrorKind::Invalid,
            AuthError::Forbidden(_) => ErrorKind::Forbidden,
            AuthError::ApiKeyNotFound => ErrorKind::NotFound,
            AuthError::User(e) => e.kind(),
            AuthError::Db(e) => e.kind(),
            AuthError::Signing(_) => ErrorKind::Internal,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AuthError::InvalidCredentials => "invalid_credentials",
            AuthError::AccountDisabled => "account_disabled",
            AuthError::MissingToken => "missing_token",
            AuthError::InvalidToken => "invalid_token",
            AuthError::InvalidRefreshToken => "invalid_refresh_token",
            AuthError::RefreshTokenReused => "refresh_token_reused",
            AuthError::RateLimited { .. } => "rate_limited",
            AuthError::WrongPassword => "wrong_password",
            AuthError::Invalid(_) => "validation_failed",
            AuthError::Forbidden(_) => "forbidden",
            AuthError::ApiKeyNotFound => "not_found",
            AuthError::User(e) => e.code(),
            AuthError::Db(e) => e.code(),
            AuthError::Signing(_) => "internal_error",
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            AuthError::Invalid(errors) => errors.clone(),
            AuthError::WrongPassword => vec![FieldError::new("currentPassword", "is wrong")],
            AuthError::User(e) => e.field_errors(),
            _ => Vec::new(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            AuthError::RateLimited { retry_after } => Some(*retry_after),
            AuthError::User(e) => e.retry_after(),
            _ => None,
        }
    }

    fn detail_is_public(&self) -> bool {
        match self {
            AuthError::User(e) => e.detail_is_public(),
            _ => !matches!(self.kind(), ErrorKind::Internal | ErrorKind::Unavailable),
        }
    }
}
