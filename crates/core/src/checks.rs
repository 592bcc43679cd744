//! The field rules of record inputs as garde validators, one per kind of value, so every input
//! DTO states its rules with `#[garde(custom(...))]` and every record type answers with the
//! same messages: `#[garde(custom(checks::required_text::<200>))] name: String`.
//!
//! Each validator takes the field as the DTO holds it: a `String`, an `Option<String>` of a
//! create, or the `Option<Option<String>>` of a PATCH (absent: nothing to check; `null`: a
//! cleared value). Texts are judged trimmed, as they are stored.

use crate::FieldError;
use crate::normalize;

/// A text field as an input DTO holds it.
pub trait TextField {
    /// The value to check: `None` when absent, `Some(None)` when cleared (`null`).
    fn given(&self) -> Option<Option<&str>>;
}

impl TextField for String {
    fn given(&self) -> Option<Option<&str>> {
        Some(Some(self))
    }
}

/// Absent when `None`: an optional field of a create, or a PATCH field that cannot be `null`.
impl TextField for Option<String> {
    fn given(&self) -> Option<Option<&str>> {
        self.as_deref().map(Some)
    }
}

impl TextField for Option<Option<String>> {
    fn given(&self) -> Option<Option<&str>> {
        self.as_ref().map(|v| v.as_deref())
    }
}

/// The trimmed, non-empty text given, if any.
fn text_of(value: &impl TextField) -> Option<&str> {
    value
        .given()
        .flatten()
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Required: 1 to `MAX` characters once trimmed; `null` and blank are refused alike.
pub fn required_text<const MAX: usize>(value: &impl TextField, _: &()) -> garde::Result {
    let Some(given) = value.given() else {
        return Ok(());
    };
    let len = given.map_or(0, |v| v.trim().chars().count());
    if len == 0 || len > MAX {
        return Err(garde::Error::new(format!("must be 1 to {MAX} characters")));
    }
    Ok(())
}

/// Optional: at most `MAX` characters once trimmed (blank means none).
pub fn text<const MAX: usize>(value: &impl TextField, _: &()) -> garde::Result {
    match text_of(value) {
        Some(v) if v.chars().count() > MAX => Err(garde::Error::new(format!(
            "must be at most {MAX} characters"
        ))),
        _ => Ok(()),
    }
}

fn normalizable(
    value: &impl TextField,
    normalize: fn(&str) -> Result<String, String>,
) -> garde::Result {
    match text_of(value) {
        Some(v) => normalize(v).map(drop).map_err(garde::Error::new),
        None => Ok(()),
    }
}

/// Optional e-mail, as [`normalize::email`] accepts it.
pub fn email(value: &impl TextField, _: &()) -> garde::Result {
    normalizable(value, normalize::email)
}

/// Optional http(s) URL, as [`normalize::url`] accepts it.
pub fn url(value: &impl TextField, _: &()) -> garde::Result {
    normalizable(value, normalize::url)
}

/// Optional phone number in international format, as [`normalize::phone`] accepts it.
pub fn phone(value: &impl TextField, _: &()) -> garde::Result {
    normalizable(value, normalize::phone)
}

/// An ISO-4217 currency code: three upper-case letters.
pub fn currency(value: &impl TextField, _: &()) -> garde::Result {
    match value.given().flatten() {
        Some(c) if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) => Err(
            garde::Error::new("must be an ISO-4217 code: three upper-case letters"),
        ),
        _ => Ok(()),
    }
}

/// A colour written `#rrggbb`.
pub fn color(value: &impl TextField, _: &()) -> garde::Result {
    match value.given().flatten() {
        Some(c) if !is_color(c) => Err(garde::Error::new("must be #rrggbb")),
        _ => Ok(()),
    }
}

/// Whether `c` is `#rrggbb`.
pub fn is_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// A count or place that cannot be negative (absent and `null` pass).
pub fn not_negative(value: &impl NumberField, _: &()) -> garde::Result {
    match value.number() {
        Some(n) if n < 0 => Err(garde::Error::new("must be 0 or more")),
        _ => Ok(()),
    }
}

/// A whole-number field as an input DTO holds it.
pub trait NumberField {
    /// The number given, if any.
    fn number(&self) -> Option<i64>;
}

impl NumberField for Option<i32> {
    fn number(&self) -> Option<i64> {
        self.map(i64::from)
    }
}

impl NumberField for Option<Option<i32>> {
    fn number(&self) -> Option<i64> {
        self.flatten().map(i64::from)
    }
}

/// A tag list as an input DTO holds it.
pub trait TagsField {
    /// The tags given, if any.
    fn tags(&self) -> Option<&[String]>;
}

impl TagsField for Vec<String> {
    fn tags(&self) -> Option<&[String]> {
        Some(self)
    }
}

impl TagsField for Option<Vec<String>> {
    fn tags(&self) -> Option<&[String]> {
        self.as_deref()
    }
}

/// Tags within the bounds of [`crate::tags::normalize_tags`].
pub fn tags(value: &impl TagsField, _: &()) -> garde::Result {
    match value.tags() {
        Some(tags) => crate::tags::normalize_tags(tags)
            .map(drop)
            .map_err(|e| garde::Error::new(e.message)),
        None => Ok(()),
    }
}

/// The field errors of `input`, named by their API (camelCase) paths; empty when it is valid.
pub fn errors(input: &impl garde::Validate<Context = ()>) -> Vec<FieldError> {
    input
        .validate()
        .err()
        .map(|report| FieldError::from_garde(&report))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(garde::Validate)]
    struct Patch {
        #[garde(custom(super::required_text::<5>))]
        name: Option<Option<String>>,
        #[garde(custom(super::text::<3>))]
        note: Option<Option<String>>,
        #[garde(custom(super::email))]
        email: Option<String>,
        #[garde(custom(super::not_negative))]
        count: Option<Option<i32>>,
    }

    fn fields(p: &Patch) -> Vec<String> {
        let mut fields: Vec<String> = errors(p).into_iter().map(|e| e.field).collect();
        fields.sort();
        fields
    }

    #[test]
    fn absent_passes_null_clears_and_values_are_judged_trimmed() {
        let absent = Patch {
            name: None,
            note: None,
            email: None,
            count: None,
        };
        assert!(fields(&absent).is_empty());
        let cleared = Patch {
            name: Some(None),
            note: Some(None),
            email: Some("  ".into()),
            count: Some(None),
        };
        assert_eq!(fields(&cleared), ["name"]);
        let padded = Patch {
            name: Some(Some("  abcde  ".into())),
            note: Some(Some(" abc ".into())),
            email: Some(" A@Example.com ".into()),
            count: Some(Some(0)),
        };
        assert!(fields(&padded).is_empty());
        let bad = Patch {
            name: Some(Some("abcdef".into())),
            note: Some(Some("abcd".into())),
            email: Some("nope".into()),
            count: Some(Some(-1)),
        };
        assert_eq!(fields(&bad), ["count", "email", "name", "note"]);
    }
}
