//! `sort=-createdAt,email`: a comma list of whitelisted fields, `-` for descending.

use crate::error::FieldError;

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDirection {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// A parsed sort: fields (as the caller's enum) with their direction, in priority order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortSpec<F> {
    /// Sort keys, most significant first.
    pub keys: Vec<(F, SortDirection)>,
}

impl<F: Copy + PartialEq> SortSpec<F> {
    /// Parses `raw` against `allowed` (API field name → field). An unknown or repeated field,
    /// or an empty entry, is an error naming `sort`.
    pub fn parse(
        raw: Option<&str>,
        allowed: &[(&str, F)],
        default: Vec<(F, SortDirection)>,
    ) -> Result<Self, FieldError> {
        let Some(raw) = raw else {
            return Ok(Self { keys: default });
        };
        let mut keys = Vec::new();
        for part in raw.split(',') {
            let part = part.trim();
            let (name, dir) = match part.strip_prefix('-') {
                Some(rest) => (rest, SortDirection::Desc),
                None => (part.strip_prefix('+').unwrap_or(part), SortDirection::Asc),
            };
            let Some(&(_, field)) = allowed.iter().find(|(n, _)| *n == name) else {
                let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
                return Err(FieldError::new(
                    "sort",
                    format!("unknown sort field `{name}`; allowed: {}", names.join(", ")),
                ));
            };
            if keys.iter().any(|(f, _)| *f == field) {
                return Err(FieldError::new(
                    "sort",
                    format!("field `{name}` is repeated"),
                ));
            }
            keys.push((field, dir));
        }
        Ok(Self { keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum F {
        Created,
        Email,
    }
    const ALLOWED: &[(&str, F)] = &[("createdAt", F::Created), ("email", F::Email)];

    #[test]
    fn parses_directions_in_order() {
        let s = SortSpec::parse(Some("-createdAt,email"), ALLOWED, vec![]).unwrap();
        assert_eq!(
            s.keys,
            vec![
                (F::Created, SortDirection::Desc),
                (F::Email, SortDirection::Asc)
            ]
        );
    }

    #[test]
    fn unknown_empty_and_repeated_fields_are_refused() {
        assert!(SortSpec::parse(Some("password"), ALLOWED, vec![]).is_err());
        assert!(SortSpec::parse(Some("email,"), ALLOWED, vec![]).is_err());
        assert!(SortSpec::parse(Some("email,-email"), ALLOWED, vec![]).is_err());
    }

    #[test]
    fn missing_sort_gives_the_default() {
        let s = SortSpec::parse(None, ALLOWED, vec![(F::Email, SortDirection::Asc)]).unwrap();
        assert_eq!(s.keys, vec![(F::Email, SortDirection::Asc)]);
    }
}
