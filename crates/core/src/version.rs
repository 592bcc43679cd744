//! Optimistic concurrency: every record has a `version`, sent back as the `ETag`; a write with
//! `If-Match` goes through only while the stored version is still the one the client named.

/// `If-Match` named another version than the stored one (412 `version_mismatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("version mismatch: expected {expected}, current {current}")]
pub struct VersionMismatch {
    /// What the client sent.
    pub expected: i32,
    /// What is stored.
    pub current: i32,
}

/// `Ok` unless the client named a version (`expected`) and it is not `current`.
pub fn check_version(expected: Option<i32>, current: i32) -> Result<(), VersionMismatch> {
    match expected {
        Some(expected) if expected != current => Err(VersionMismatch { expected, current }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_named_other_version_mismatches() {
        assert_eq!(check_version(None, 3), Ok(()));
        assert_eq!(check_version(Some(3), 3), Ok(()));
        assert_eq!(
            check_version(Some(2), 3),
            Err(VersionMismatch {
                expected: 2,
                current: 3
            })
        );
    }
}
