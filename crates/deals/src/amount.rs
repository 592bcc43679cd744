//! Money amounts as exact decimals: accepted only as strings like `"1500.00"`, stored as
//! `numeric(20, 2)`, shown with exactly two decimals. No float is ever involved.

use std::str::FromStr;

use bigdecimal::BigDecimal;
use crm_core::FieldError;
use serde_json::Value;

/// Parses a decimal string `^-?\d{1,18}(\.\d{1,2})?$` into an exact decimal, naming `field` on
/// error. Negative values are refused unless `allow_negative`.
pub fn parse_decimal(
    raw: &str,
    field: &str,
    allow_negative: bool,
) -> Result<BigDecimal, FieldError> {
    let bad = || {
        FieldError::new(
            field,
            "must be a decimal string with up to 18 digits and 2 decimals, e.g. \"1500.00\"",
        )
    };
    let (negative, digits) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let int_ok = (1..=18).contains(&int.len()) && int.bytes().all(|b| b.is_ascii_digit());
    let frac_ok =
        frac.is_none_or(|f| (1..=2).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()));
    if !int_ok || !frac_ok {
        return Err(bad());
    }
    let value = BigDecimal::from_str(raw).map_err(|_| bad())?;
    if negative && !allow_negative {
        return Err(FieldError::new(field, "must not be negative"));
    }
    Ok(value.with_scale(2))
}

/// Reads an `amount` as the API accepts it: a JSON string (see [`parse_decimal`], not
/// negative) or `null`. A JSON number is refused: it may already have lost precision.
pub fn parse_amount(value: &Value) -> Result<Option<BigDecimal>, FieldError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => parse_decimal(s, "amount", false).map(Some),
        _ => Err(FieldError::new(
            "amount",
            "must be a decimal string such as \"1500.00\", not a JSON number",
        )),
    }
}

/// The API form of an amount: plain notation with exactly two decimals.
pub fn format_amount(value: &BigDecimal) -> String {
    value
        .with_scale_round(2, bigdecimal::RoundingMode::HalfEven)
        .to_plain_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_round_trip_exactly_with_two_decimals() {
        for (raw, shown) in [
            ("0.10", "0.10"),
            ("1500", "1500.00"),
            ("1.5", "1.50"),
            ("12345678901234567.89", "12345678901234567.89"),
            ("999999999999999999.99", "999999999999999999.99"),
        ] {
            let v = parse_amount(&json!(raw)).unwrap().unwrap();
            assert_eq!(format_amount(&v), shown);
        }
        let sum =
            parse_decimal("0.10", "a", false).unwrap() + parse_decimal("0.20", "a", false).unwrap();
        assert_eq!(format_amount(&sum), "0.30");
    }

    #[test]
    fn numbers_negatives_and_malformed_strings_are_refused() {
        for bad in [
            json!(1.5),
            json!(10),
            json!("-1.00"),
            json!("1.234"),
            json!("1e3"),
            json!(""),
            json!(" 1"),
            json!("1234567890123456789"),
            json!("."),
            json!("1."),
            json!(".5"),
            json!(true),
        ] {
            assert_eq!(parse_amount(&bad).unwrap_err().field, "amount", "{bad}");
        }
        assert_eq!(parse_amount(&json!(null)).unwrap(), None);
        assert!(parse_decimal("-5.5", "amountMin", true).is_ok());
    }
}
