//! argon2id password hashing, off the async executor.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::UserError;

/// Shortest accepted password.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest accepted password: hashing cost must not be set by the client.
pub const MAX_PASSWORD_LEN: usize = 256;

/// Hashes and verifies passwords with fixed argon2id parameters.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    /// A hash of a random password, verified against for unknown e-mails so that an unknown
    /// e-mail and a wrong password take the same time.
    dummy_hash: String,
    /// At most one hash per core at a time: each takes ~19 MiB and a full core, so a login flood
    /// queues here instead of growing memory and starving the blocking pool.
    limiter: Arc<Semaphore>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("params", &self.params)
            .finish()
    }
}

impl Passwords {
    /// OWASP-recommended argon2id cost (19 MiB, 2 passes).
    pub fn production() -> Result<Self, UserError> {
        Self::with_params(19 * 1024, 2, 1)
    }

    /// Minimal cost, for tests only: hashes in well under a millisecond.
    pub fn fast_for_tests() -> Result<Self, UserError> {
        Self::with_params(256, 1, 1)
    }

    fn with_params(m_cost: u32, t_cost: u32, p_cost: u32) -> Result<Self, UserError> {
        let params = Params::new(m_cost, t_cost, p_cost, None)
            .map_err(|e| UserError::Hashing(e.to_string()))?;
        let dummy_hash = hash_with(&params, "dummy password that matches nobody")?;
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Ok(Self {
            params,
            dummy_hash,
            limiter: Arc::new(Semaphore::new(cores)),
        })
    }

    /// Hashes `password` (argon2id PHC string) on a blocking thread.
    pub async fn hash(&self, password: &str) -> Result<String, UserError> {
        let params = self.params.clone();
        let password = password.to_owned();
        let _permit = self
            .limiter
            .acquire()
            .await
            .map_err(|e| UserError::Hashing(e.to_string()))?;
        tokio::task::spawn_blocking(move || hash_with(&params, &password))
            .await
            .map_err(|e| UserError::Hashing(e.to_string()))?
    }

    /// Whether `password` matches `hash`, on a blocking thread. With `hash` `None` (unknown
    /// user) a dummy hash is checked so the answer takes as long, and is always `false`.
    pub async fn verify(&self, hash: Option<&str>, password: &str) -> bool {
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.to_owned();
        let Ok(_permit) = self.limiter.acquire().await else {
            return false;
        };
        let matched = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        known && matched
    }
}

fn hash_with(params: &Params, password: &str) -> Result<String, UserError> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hashing(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_password() {
        let p = Passwords::fast_for_tests().unwrap();
        let h = p.hash("correct horse").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(p.verify(Some(&h), "correct horse").await);
        assert!(!p.verify(Some(&h), "wrong horse").await);
        assert!(!p.verify(None, "dummy password that matches nobody").await);
        assert!(!p.verify(Some("not a hash"), "x").await);
    }
}
