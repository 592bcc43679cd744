//! Field checks shared by companies and contacts: trimmed optional texts, LIKE patterns, and
//! optional e-mails, URLs and phone numbers through `crm_core::normalize` (the normalisers
//! custom-field values use too).

use crm_core::FieldError;
use crm_core::normalize;

pub use crm_core::normalize::{MAX_EMAIL_LEN, MAX_URL_LEN};
/// Longest accepted free text (notes).
pub const MAX_NOTES_LEN: usize = 10_000;

/// Trims a required text and checks it holds 1 to `max` characters.
pub fn required_text(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) -> String {
    let value = value.trim();
    let len = value.chars().count();
    if len == 0 || len > max {
        errors.push(FieldError::new(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    value.to_owned()
}

/// Trims an optional text; an empty one becomes `None`; longer than `max` is an error.
pub fn optional_text(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Option<String> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    if value.chars().count() > max {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Some(value.to_owned())
}

/// An optional e-mail (empty becomes `None`), normalised by [`normalize::email`].
pub fn optional_email(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<&str>,
) -> Option<String> {
    normalized(errors, field, value, normalize::email)
}

/// An optional URL (empty becomes `None`), checked by [`normalize::url`].
pub fn optional_url(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<&str>,
) -> Option<String> {
    normalized(errors, field, value, normalize::url)
}

/// An optional phone number in E.164 (empty becomes `None`), by [`normalize::phone`].
pub fn optional_phone(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<&str>,
) -> Option<String> {
    normalized(errors, field, value, normalize::phone)
}

/// A trimmed optional value (empty becomes `None`) in the stored form `normalize` gives, or
/// as written with the error pushed.
fn normalized(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<&str>,
    normalize: fn(&str) -> Result<String, String>,
) -> Option<String> {
    let raw = value.map(str::trim).filter(|v| !v.is_empty())?;
    match normalize(raw) {
        Ok(stored) => Some(stored),
        Err(message) => {
            errors.push(FieldError::new(field, message));
            Some(raw.to_owned())
        }
    }
}

/// Tags normalised with [`crm_core::tags::normalize_tags`].
pub fn tags(errors: &mut Vec<FieldError>, value: &[String]) -> Vec<String> {
    crm_core::tags::normalize_tags(value).unwrap_or_else(|e| {
        errors.push(e);
        Vec::new()
    })
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
