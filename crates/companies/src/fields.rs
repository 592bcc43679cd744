//! Field normalisation shared by companies and contacts: trimmed optional texts, e-mails,
//! http(s) URLs, E.164 phone numbers and LIKE patterns (custom field values are checked by
//! `crm-custom-fields`).

use crm_core::FieldError;
use garde::Validate;

/// Longest accepted e-mail address.
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest accepted URL.
pub const MAX_URL_LEN: usize = 2048;
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

#[derive(Validate)]
struct EmailCheck {
    #[garde(email, length(max = MAX_EMAIL_LEN))]
    email: String,
}

/// Trims and lower-cases an optional e-mail (empty becomes `None`) and checks it is valid.
pub fn optional_email(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<&str>,
) -> Option<String> {
    let email = value
        .map(|v| v.trim().to_lowercase())
        .filter(|v| !v.is_empty())?;
    let check = EmailCheck {
        email: email.clone(),
    };
    if let Err(report) = check.validate() {
        let message = report
            .iter()
            .map(|(_, e)| e.message().to_string())
            .collect::<Vec<_>>()
            .join("; ");
        errors.push(FieldError::new(
            field,
            format!("not a valid email: {message}"),
        ));
    }
    Some(email)
}

/// Trims an optional URL (empty becomes `None`) and checks it is an absolute http(s) URL.
pub fn optional_url(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<&str>,
) -> Option<String> {
    let url = value.map(str::trim).filter(|v| !v.is_empty())?;
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    let ok = url.chars().count() <= MAX_URL_LEN
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        && host.is_some_and(|h| !h.is_empty() && !h.starts_with(':') && !h.starts_with('@'));
    if !ok {
        errors.push(FieldError::new(
            field,
            format!("must be an http:// or https:// URL of at most {MAX_URL_LEN} characters"),
        ));
    }
    Some(url.to_owned())
}

/// Parses an international phone number (`+` and the country code, no default region) and
/// returns it in E.164, e.g. `+1 (415) 555-2671` → `+14155552671`.
pub fn normalize_phone(field: &str, raw: &str) -> Result<String, FieldError> {
    let invalid = || {
        FieldError::new(
            field,
            "is not a valid phone number; international format is expected \
             (+ and the country code, e.g. +14155552671)",
        )
    };
    let raw = raw.trim();
    if raw.chars().count() > 64 {
        return Err(invalid());
    }
    let number = phonenumber::parse(None, raw).map_err(|_| invalid())?;
    if !number.is_valid() {
        return Err(invalid());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// An optional phone number in E.164 (empty becomes `None`).
pub fn optional_phone(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<&str>,
) -> Option<String> {
    let raw = value.map(str::trim).filter(|v| !v.is_empty())?;
    match normalize_phone(field, raw) {
        Ok(e164) => Some(e164),
        Err(e) => {
            errors.push(e);
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
    fn phones_become_e164_and_local_numbers_are_refused() {
        assert_eq!(
            normalize_phone("phone", "+1 (415) 555-2671").unwrap(),
            "+14155552671"
        );
        assert_eq!(
            normalize_phone("phone", "+44 20 7946 0958").unwrap(),
            "+442079460958"
        );
        for bad in ["415 555 2671", "+1 12", "hello", "+999 123456"] {
            let e = normalize_phone("phone", bad).unwrap_err();
            assert_eq!(e.field, "phone");
            assert!(e.message.contains("international format"), "{bad}");
        }
    }

    #[test]
    fn urls_must_be_http_or_https() {
        let mut errors = Vec::new();
        assert_eq!(
            optional_url(&mut errors, "website", Some(" https://acme.example/x ")).as_deref(),
            Some("https://acme.example/x")
        );
        assert!(errors.is_empty());
        for bad in [
            "ftp://acme.example",
            "acme.example",
            "https://",
            "http://a b",
        ] {
            let mut errors = Vec::new();
            optional_url(&mut errors, "website", Some(bad));
            assert_eq!(errors.len(), 1, "{bad}");
        }
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern(Some(" 5%_\\ ")).unwrap(), "%5\\%\\_\\\\%");
        assert_eq!(like_pattern(Some("  ")), None);
    }
}
