//! The stored form of fields companies and contacts share: trimmed texts, LIKE patterns, and
//! e-mails, URLs and phone numbers through `crm_core::normalize` (the normalisers custom-field
//! values use too). Inputs are checked before, by the garde rules of their DTOs
//! (`crm_core::checks`).

use crm_core::normalize;

pub use crm_core::normalize::{MAX_EMAIL_LEN, MAX_URL_LEN};
/// Longest accepted free text (notes).
pub const MAX_NOTES_LEN: usize = 10_000;

/// A required text as stored: trimmed.
pub fn required_text(value: &str) -> String {
    value.trim().to_owned()
}

/// An optional text as stored: trimmed, and `None` when blank.
pub fn optional_text(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// An optional e-mail as stored, by [`normalize::email`].
pub fn optional_email(value: Option<&str>) -> Option<String> {
    normalized(value, normalize::email)
}

/// An optional URL as stored, by [`normalize::url`].
pub fn optional_url(value: Option<&str>) -> Option<String> {
    normalized(value, normalize::url)
}

/// An optional phone number as stored (E.164), by [`normalize::phone`].
pub fn optional_phone(value: Option<&str>) -> Option<String> {
    normalized(value, normalize::phone)
}

/// A trimmed optional value (blank becomes `None`) in the stored form `normalize` gives. The
/// input DTOs' garde rules (`crm_core::checks`) refused what `normalize` refuses, so only a
/// stored value that was never checked (none exists) could keep its written form here.
fn normalized(
    value: Option<&str>,
    normalize: fn(&str) -> Result<String, String>,
) -> Option<String> {
    let raw = optional_text(value)?;
    Some(normalize(&raw).unwrap_or(raw))
}

/// Tags as stored, by [`crm_core::tags::normalize_tags`] (bounds checked by the DTO's rules).
pub fn tags(value: &[String]) -> Vec<String> {
    crm_core::tags::normalize_tags(value).unwrap_or_else(|_| value.to_vec())
}

/// A case-insensitive "contains" pattern for `ILIKE` with `%`, `_` and `\` taken literally;
/// `None` for a blank fragment.
pub fn like_pattern(q: Option<&str>) -> Option<String> {
    let q = q.map(str::trim).filter(|q| !q.is_empty())?;
    Some(format!(
        "%{}%",
        q.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern(Some(" 5%_\\ ")).unwrap(), "%5\\%\\_\\\\%");
        assert_eq!(like_pattern(Some("  ")), None);
    }
}
