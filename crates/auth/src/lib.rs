//! Authentication: password login with rate limiting, short-lived JWT access tokens, rotating
//! refresh-token families with reuse detection, API keys for other services, and turning any
//! presented credential into a current `Actor`.
//!
//! Depends on `crm-users` for the user records; knows nothing of HTTP (cookies and headers are
//! the web layer's business).

pub mod api_keys;
pub mod authenticate;
pub mod config;
pub mod error;
pub mod jwt;
pub mod login;
pub mod rate_limit;
pub mod refresh;
mod secret;

pub use api_keys::{
    ApiKey, CreateApiKey, CreatedApiKey, create_api_key, list_api_keys, revoke_api_key,
};
pub use authenticate::{authenticate, principal_of};
pub use config::{AuthConfig, LoginLimits};
pub use error::AuthError;
pub use login::{ChangePassword, LoginRequest, change_password, login};
pub use refresh::Session;
pub use refresh::{logout, refresh};
