//! Canonical forms of custom field values, per type. Every value written to a record, every
//! default, every filter value and every converted value goes through here, so equal values
//! are always stored identically (which the unique indexes and the `@>` filters rely on).
//!
//! | type | canonical JSON |
//! |---|---|
//! | TEXT | string, trimmed, 1–500 characters |
//! | NUMBER | number, at most 15 significant digits; integral values as integers |
//! | DATE | `"YYYY-MM-DD"` (years 0001–9999) |
//! | DATETIME | `"YYYY-MM-DDTHH:MM:SS.sssZ"` (UTC, milliseconds) |
//! | BOOLEAN | `true` / `false` |
//! | SELECT | one option, spelled as in the definition |
//! | MULTI_SELECT | non-empty array of options, in option order, no duplicates |
//! | URL | absolute http(s) URL as serialised by the `url` crate (`crm_core::normalize`) |
//! | EMAIL | trimmed, lower-cased (as the e-mails of records: `crm_core::normalize`) |
//! | PHONE | E.164 |
//!
//! Fixed-width dates and instants sort chronologically as strings, so one btree index on
//! `custom_fields -> 'key'` serves ranges and sorting for every sortable type.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};
use crm_core::normalize;
use serde_json::{Number, Value};

use crate::model::FieldType;
use crate::service::MAX_OPTIONS;

/// Longest TEXT value, in characters (keeps every value small enough for its btree index).
pub const MAX_TEXT_LEN: usize = 500;
pub use crm_core::normalize::{MAX_EMAIL_LEN, MAX_URL_LEN};
/// Most significant digits of a NUMBER: every such decimal round-trips exactly through an
/// IEEE double, so what a client writes is what every client reads.
pub const MAX_DIGITS: usize = 15;

/// Normalises a value written through the API. `Ok(None)` means "no value" (`null`, an empty
/// text, an empty array). The error is a message for the field.
pub fn normalize(
    kind: FieldType,
    options: &[String],
    value: &Value,
) -> Result<Option<Value>, String> {
    match (kind, value) {
        (_, Value::Null) => Ok(None),
        (FieldType::Number, Value::Number(n)) => number_value(n).map(Some),
        (FieldType::Boolean, Value::Bool(b)) => Ok(Some(Value::Bool(*b))),
        (FieldType::Boolean, _) => Err("must be true or false".into()),
        (FieldType::MultiSelect, Value::Array(items)) => {
            if items.len() > MAX_OPTIONS {
                return Err(too_many_picked());
            }
            let mut picked = Vec::with_capacity(items.len());
            for item in items {
                let Value::String(s) = item else {
                    return Err(multi_select_message(options));
                };
                picked.push(pick_option(options, s)?);
            }
            Ok(multi_select(options, picked))
        }
        (FieldType::MultiSelect, _) => Err(multi_select_message(options)),
        (_, Value::String(s)) => parse_text(kind, options, s),
        (FieldType::Number, _) => Err("must be a number".into()),
        _ => Err(type_message(kind, options)),
    }
}

/// Parses a value given as text (a list filter, a converted value, an imported cell).
/// `Ok(None)` for blank text. MULTI_SELECT takes one option, or a comma-separated list.
pub fn parse_text(kind: FieldType, options: &[String], raw: &str) -> Result<Option<Value>, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let value = match kind {
        FieldType::Text => {
            if text.chars().count() > MAX_TEXT_LEN {
                return Err(format!("must be at most {MAX_TEXT_LEN} characters"));
            }
            Value::String(text.to_owned())
        }
        FieldType::Number => decimal_text(text)?,
        FieldType::Date => Value::String(parse_date(text)?.format("%Y-%m-%d").to_string()),
        FieldType::Datetime => Value::String(format_instant(parse_instant(text)?)),
        FieldType::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Value::Bool(true),
            "false" | "no" | "0" => Value::Bool(false),
            _ => return Err("must be true or false".into()),
        },
        FieldType::Select => Value::String(pick_option(options, text)?),
        FieldType::MultiSelect => {
            // An option may itself contain commas: the whole text first.
            let picked = match pick_option(options, text) {
                Ok(one) => vec![one],
                Err(e) => {
                    if !text.contains(',') {
                        return Err(e);
                    }
                    if text.split(',').nth(MAX_OPTIONS).is_some() {
                        return Err(too_many_picked());
                    }
                    text.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| pick_option(options, s))
                        .collect::<Result<_, _>>()?
                }
            };
            return Ok(multi_select(options, picked));
        }
        FieldType::Url => Value::String(normalize::url(text)?),
        FieldType::Email => Value::String(normalize::email(text)?),
        FieldType::Phone => Value::String(normalize::phone(text)?),
    };
    Ok(Some(value))
}

/// Converts a stored value (canonical for some other type or option list) to `kind`, as a
/// change of the definition's type or options does. `Ok(None)`: the value becomes empty.
pub fn convert(
    kind: FieldType,
    options: &[String],
    value: &Value,
) -> Result<Option<Value>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => parse_text(kind, options, s),
        Value::Number(n) => parse_text(kind, options, &n.to_string()),
        Value::Bool(b) => parse_text(kind, options, if *b { "true" } else { "false" }),
        Value::Array(items) => {
            if kind == FieldType::MultiSelect {
                return normalize(kind, options, value);
            }
            let texts: Vec<String> = items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            match (kind, texts.as_slice()) {
                (_, []) => Ok(None),
                (_, [one]) => parse_text(kind, options, one),
                (FieldType::Text, many) => parse_text(kind, options, &many.join(", ")),
                _ => Err("holds several options, which do not fit one value".into()),
            }
        }
        Value::Object(_) => Err(type_message(kind, options)),
    }
}

fn type_message(kind: FieldType, options: &[String]) -> String {
    match kind {
        FieldType::Text => "must be a string".into(),
        FieldType::Number => "must be a number".into(),
        FieldType::Date => "must be a date (YYYY-MM-DD)".into(),
        FieldType::Datetime => "must be an RFC 3339 date-time".into(),
        FieldType::Boolean => "must be true or false".into(),
        FieldType::Select => one_of(options),
        FieldType::MultiSelect => multi_select_message(options),
        FieldType::Url => "must be an http:// or https:// URL".into(),
        FieldType::Email => "must be an e-mail address".into(),
        FieldType::Phone => "must be a phone number in international format".into(),
    }
}

fn one_of(options: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut list = options
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if options.len() > SHOWN {
        list.push_str(", …");
    }
    format!("must be one of: {list}")
}

fn multi_select_message(options: &[String]) -> String {
    format!("must be an array of options; each {}", one_of(options))
}

fn too_many_picked() -> String {
    format!("may name at most {MAX_OPTIONS} options")
}

/// The option `raw` names: exact spelling first, then ignoring case (without allocating per
/// option: this runs for every item of a value).
fn pick_option(options: &[String], raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let folded = || raw.chars().flat_map(char::to_lowercase);
    options
        .iter()
        .find(|o| o.as_str() == raw)
        .or_else(|| {
            options
                .iter()
                .find(|o| o.chars().flat_map(char::to_lowercase).eq(folded()))
        })
        .cloned()
        .ok_or_else(|| one_of(options))
}

/// Deduplicated, in the order of the options; `None` when empty.
fn multi_select(options: &[String], picked: Vec<String>) -> Option<Value> {
    let picked: HashSet<String> = picked.into_iter().collect();
    let values: Vec<Value> = options
        .iter()
        .filter(|o| picked.contains(*o))
        .map(|o| Value::String(o.clone()))
        .collect();
    (!values.is_empty()).then_some(Value::Array(values))
}

fn too_many_digits() -> String {
    format!("must have at most {MAX_DIGITS} significant digits")
}

/// A JSON number in canonical form.
fn number_value(n: &Number) -> Result<Value, String> {
    if let Some(i) = n.as_i64() {
        return integer(i);
    }
    if n.is_u64() {
        return Err(too_many_digits());
    }
    float(n.as_f64().ok_or_else(|| "must be a number".to_owned())?)
}

fn integer(i: i64) -> Result<Value, String> {
    if i.unsigned_abs() >= 10u64.pow(MAX_DIGITS as u32) {
        return Err(too_many_digits());
    }
    Ok(Value::from(i))
}

fn float(x: f64) -> Result<Value, String> {
    if !x.is_finite() {
        return Err("must be a finite number".into());
    }
    let limit = 10f64.powi(MAX_DIGITS as i32);
    if x.fract() == 0.0 && x.abs() < limit {
        // Exact: |x| < 1e15 is well inside the 2^53 of exact integers.
        #[allow(clippy::cast_possible_truncation)]
        return integer(x as i64);
    }
    // `Display` prints the shortest decimal that reads back as the same double.
    if significant_digits(&format!("{x}")) > MAX_DIGITS {
        return Err(too_many_digits());
    }
    Number::from_f64(x)
        .map(Value::Number)
        .ok_or_else(|| "must be a finite number".to_owned())
}

/// Significant digits of a plain decimal (`-0012.3400` has 4).
fn significant_digits(text: &str) -> usize {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (
            i.chars().filter(char::is_ascii_digit).collect::<String>(),
            f.to_owned(),
        ),
        None => (digits, String::new()),
    };
    let frac = frac.trim_end_matches('0');
    let int = int.trim_start_matches('0');
    if int.is_empty() {
        frac.trim_start_matches('0').len()
    } else {
        int.len() + frac.len()
    }
}

/// `-12.50`, `+3`, `0.001`: plain decimals only (no exponent, no thousands separators).
fn decimal_text(text: &str) -> Result<Value, String> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let well_formed = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(unsigned.contains('.') && frac.is_empty());
    if !well_formed {
        return Err("must be a number (a plain decimal such as 12.5)".into());
    }
    if significant_digits(unsigned) > MAX_DIGITS {
        return Err(too_many_digits());
    }
    let x: f64 = text
        .parse()
        .map_err(|_| "must be a number (a plain decimal such as 12.5)".to_owned())?;
    float(x)
}

fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let invalid = || "must be a date: YYYY-MM-DD".to_owned();
    let b = text.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return Err(invalid());
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| invalid())?;
    if text.starts_with("0000") {
        return Err(invalid());
    }
    Ok(date)
}

/// RFC 3339 with any offset, or a bare date (midnight UTC).
fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    let invalid = || "must be an RFC 3339 date-time, e.g. 2026-05-01T09:30:00Z".to_owned();
    let instant = match DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => match parse_date(text) {
            Ok(d) => d.and_time(NaiveTime::MIN).and_utc(),
            Err(_) => return Err(invalid()),
        },
    };
    let year = chrono::Datelike::year(&instant);
    if !(1..=9999).contains(&year) {
        return Err(invalid());
    }
    Ok(instant)
}

fn format_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn n(v: Value) -> Result<Option<Value>, String> {
        normalize(FieldType::Number, &[], &v)
    }

    fn opts() -> Vec<String> {
        vec!["Gold".into(), "Silver".into(), "Big, bold".into()]
    }

    #[test]
    fn numbers_are_canonical_and_exact() {
        assert_eq!(n(json!(5)).unwrap(), Some(json!(5)));
        assert_eq!(n(json!(5.0)).unwrap(), Some(json!(5)));
        assert_eq!(n(json!(-0.0)).unwrap(), Some(json!(0)));
        assert_eq!(n(json!(12.5)).unwrap(), Some(json!(12.5)));
        assert_eq!(n(json!("12.50")).unwrap(), Some(json!(12.5)));
        assert_eq!(n(json!(" -3 ")).unwrap(), Some(json!(-3)));
        assert_eq!(n(json!("0.001")).unwrap(), Some(json!(0.001)));
        assert_eq!(
            n(json!(999_999_999_999_999_i64)).unwrap(),
            Some(json!(999_999_999_999_999_i64))
        );
        for bad in [
            json!(1_000_000_000_000_000_i64),
            json!(0.1 + 0.2),
            json!("1e5"),
            json!("12,5"),
            json!("1."),
            json!("1234567890.1234567"),
            json!(true),
            json!([1]),
            json!(u64::MAX),
        ] {
            assert!(n(bad.clone()).is_err(), "{bad}");
        }
        assert_eq!(n(json!("")).unwrap(), None);
    }

    #[test]
    fn significant_digits_ignore_leading_and_trailing_zeros() {
        assert_eq!(significant_digits("0012.3400"), 4);
        assert_eq!(significant_digits("0.0001"), 1);
        assert_eq!(significant_digits("100"), 3);
        assert_eq!(significant_digits("-1.5"), 2);
    }

    #[test]
    fn dates_and_instants_have_fixed_width_forms() {
        let d = |v: &str| parse_text(FieldType::Date, &[], v);
        assert_eq!(d("2026-02-28").unwrap(), Some(json!("2026-02-28")));
        for bad in [
            "2026-02-30",
            "2026-2-3",
            "26-02-03",
            "0000-01-01",
            "2026-02-03T00:00:00Z",
        ] {
            assert!(d(bad).is_err(), "{bad}");
        }
        let t = |v: &str| parse_text(FieldType::Datetime, &[], v);
        assert_eq!(
            t("2026-05-01T11:30:00.123456+02:00").unwrap(),
            Some(json!("2026-05-01T09:30:00.123Z"))
        );
        assert_eq!(
            t("2026-05-01").unwrap(),
            Some(json!("2026-05-01T00:00:00.000Z"))
        );
        assert!(t("yesterday").is_err());
        assert!(t("2026-05-01 10:00").is_err());
    }

    #[test]
    fn options_match_exactly_or_ignoring_case() {
        let o = opts();
        assert_eq!(
            normalize(FieldType::Select, &o, &json!("gold")).unwrap(),
            Some(json!("Gold"))
        );
        assert!(normalize(FieldType::Select, &o, &json!("Bronze")).is_err());
        assert!(normalize(FieldType::Select, &o, &json!(["Gold"])).is_err());
        assert_eq!(
            normalize(
                FieldType::MultiSelect,
                &o,
                &json!(["silver", "Gold", "Gold"])
            )
            .unwrap(),
            Some(json!(["Gold", "Silver"]))
        );
        assert_eq!(
            normalize(FieldType::MultiSelect, &o, &json!([])).unwrap(),
            None
        );
        assert!(normalize(FieldType::MultiSelect, &o, &json!("Gold")).is_err());
        assert!(normalize(FieldType::MultiSelect, &o, &json!(["Gold", 1])).is_err());
        assert_eq!(
            parse_text(FieldType::MultiSelect, &o, "Big, bold").unwrap(),
            Some(json!(["Big, bold"]))
        );
        assert_eq!(
            parse_text(FieldType::MultiSelect, &o, "Silver, gold").unwrap(),
            Some(json!(["Gold", "Silver"]))
        );
    }

    #[test]
    fn texts_urls_emails_and_phones_are_normalised() {
        let t = |k, v: Value| normalize(k, &[], &v);
        assert_eq!(
            t(FieldType::Text, json!("  hi ")).unwrap(),
            Some(json!("hi"))
        );
        assert_eq!(t(FieldType::Text, json!("   ")).unwrap(), None);
        assert!(t(FieldType::Text, json!("x".repeat(501))).is_err());
        assert!(t(FieldType::Text, json!(5)).is_err());
        assert_eq!(
            t(FieldType::Url, json!("HTTPS://Acme.Example")).unwrap(),
            Some(json!("https://acme.example/"))
        );
        for bad in ["ftp://a.example", "acme.example", "https://", "http://a b"] {
            assert!(t(FieldType::Url, json!(bad)).is_err(), "{bad}");
        }
        assert_eq!(
            t(FieldType::Email, json!(" Ann.Lee@Example.COM ")).unwrap(),
            Some(json!("ann.lee@example.com"))
        );
        assert!(t(FieldType::Email, json!("not-an-email")).is_err());
        assert_eq!(
            t(FieldType::Phone, json!("+1 (415) 555-2671")).unwrap(),
            Some(json!("+14155552671"))
        );
        assert!(t(FieldType::Phone, json!("415 555 2671")).is_err());
        assert_eq!(
            t(FieldType::Boolean, json!(false)).unwrap(),
            Some(json!(false))
        );
        assert!(t(FieldType::Boolean, json!("true")).is_err());
    }

    #[test]
    fn conversions_go_through_text() {
        let o = opts();
        assert_eq!(
            convert(FieldType::Text, &[], &json!(12.5)).unwrap(),
            Some(json!("12.5"))
        );
        assert_eq!(
            convert(FieldType::Number, &[], &json!("42")).unwrap(),
            Some(json!(42))
        );
        assert!(convert(FieldType::Number, &[], &json!("forty-two")).is_err());
        assert_eq!(
            convert(FieldType::Text, &[], &json!(true)).unwrap(),
            Some(json!("true"))
        );
        assert_eq!(
            convert(FieldType::MultiSelect, &o, &json!("Big, bold")).unwrap(),
            Some(json!(["Big, bold"]))
        );
        assert_eq!(
            convert(FieldType::Select, &o, &json!(["Gold"])).unwrap(),
            Some(json!("Gold"))
        );
        assert!(convert(FieldType::Select, &o, &json!(["Gold", "Silver"])).is_err());
        assert_eq!(
            convert(FieldType::Text, &o, &json!(["Gold", "Silver"])).unwrap(),
            Some(json!("Gold, Silver"))
        );
        assert_eq!(
            convert(FieldType::Datetime, &[], &json!("2026-01-02")).unwrap(),
            Some(json!("2026-01-02T00:00:00.000Z"))
        );
        assert!(convert(FieldType::Select, &["Silver".to_owned()], &json!("Gold")).is_err());
    }
}
