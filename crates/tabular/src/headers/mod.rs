//! Guessing which record field each column of an uploaded file holds, from its header, so that
//! a usual export (this CRM's own, or another's with Russian headers) imports without the user
//! mapping every column by hand. The user still sees and may change the proposal.

mod fields;

use std::collections::HashSet;

pub use fields::{company_fields, contact_fields, deal_fields, task_fields};

/// A record field that a column may be mapped to, and the headers that name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field's API name (`fullName`, `social.telegram`); a header equal to it matches too.
    pub field: &'static str,
    /// Headers, in English and Russian, that name this field.
    pub synonyms: &'static [&'static str],
    /// Headers that name this field only when no column names it with a field name or a
    /// synonym: in a deal file "Контакт" holds the contact's e-mail, unless an "Email" column
    /// is there too, when it is the contact's name.
    pub fallbacks: &'static [&'static str],
}

/// What a column was mapped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// A record field, by its API name.
    Field(&'static str),
    /// A custom field, by its key.
    Custom(String),
}

/// Proposes a mapping for each column: one entry per header, `None` for a column that matches
/// nothing (or only a field an earlier column already took).
///
/// Headers are compared after [`normalize`], with the field's API name, its synonyms, and the
/// keys and names of the `custom` fields (`(key, name)` pairs). Each field and custom field is
/// given to at most one column, the first that names it. A record field wins over a custom
/// field of the same name; fallbacks are considered last.
pub fn auto_map(
    headers: &[String],
    fields: &[FieldSpec],
    custom: &[(String, String)],
) -> Vec<Option<Mapped>> {
    let keys: Vec<String> = headers.iter().map(|h| normalize(h)).collect();
    let mut mapped: Vec<Option<Mapped>> = vec![None; headers.len()];
    let mut taken: HashSet<&'static str> = HashSet::new();
    let mut custom_taken = vec![false; custom.len()];
    let names = |spec: &FieldSpec, key: &str| {
        normalize(spec.field) == key || spec.synonyms.iter().any(|s| normalize(s) == key)
    };
    for (column, key) in keys.iter().enumerate() {
        if key.is_empty() {
            continue;
        }
        if let Some(spec) = fields
            .iter()
            .find(|spec| !taken.contains(spec.field) && names(spec, key))
        {
            taken.insert(spec.field);
            mapped[column] = Some(Mapped::Field(spec.field));
        } else if let Some(i) = (0..custom.len()).find(|&i| {
            let (custom_key, name) = &custom[i];
            !custom_taken[i] && (normalize(custom_key) == *key || normalize(name) == *key)
        }) {
            custom_taken[i] = true;
            mapped[column] = Some(Mapped::Custom(custom[i].0.clone()));
        }
    }
    for (column, key) in keys.iter().enumerate() {
        if key.is_empty() || mapped[column].is_some() {
            continue;
        }
        if let Some(spec) = fields.iter().find(|spec| {
            !taken.contains(spec.field) && spec.fallbacks.iter().any(|s| normalize(s) == *key)
        }) {
            taken.insert(spec.field);
            mapped[column] = Some(Mapped::Field(spec.field));
        }
    }
    mapped
}

/// The form headers are compared in: lower case, `ё` as `е`, and without whitespace, `_`,
/// `-`, `.`, `:`, `*` (so `Full name`, `full_name`, `fullName`, `FULL-NAME` and `Email*` meet
/// the synonym or field name they spell).
pub fn normalize(header: &str) -> String {
    header
        .chars()
        .filter(|c| !(c.is_whitespace() || matches!(c, '_' | '-' | '.' | ':' | '*' | '\u{feff}')))
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn fields(mapping: &[Option<Mapped>]) -> Vec<Option<&str>> {
        mapping
            .iter()
            .map(|m| match m {
                Some(Mapped::Field(f)) => Some(*f),
                Some(Mapped::Custom(_)) => Some("custom"),
                None => None,
            })
            .collect()
    }

    #[test]
    fn spellings_of_a_field_name_all_match_it() {
        for header in [
            "Full name",
            "full_name",
            "fullName",
            "FULL-NAME",
            "  full   name ",
            "ФИО",
            "Ф.И.О.",
            "Имя",
            "имя",
        ] {
            let mapping = auto_map(&headers(&[header]), contact_fields(), &[]);
            assert_eq!(fields(&mapping), [Some("fullName")], "{header:?}");
        }
    }

    #[test]
    fn yo_is_compared_as_ye() {
        assert_eq!(normalize("Ещё"), normalize("еще"));
    }

    #[test]
    fn camel_case_and_dotted_field_names_match_themselves() {
        let all = |specs: &[FieldSpec]| specs.iter().map(|s| s.field.to_owned()).collect();
        for specs in [
            contact_fields(),
            company_fields(),
            deal_fields(),
            task_fields(),
        ] {
            let names: Vec<String> = all(specs);
            let expected: Vec<_> = specs.iter().map(|s| Some(s.field)).collect();
            assert_eq!(fields(&auto_map(&names, specs, &[])), expected);
        }
    }

    #[test]
    fn a_field_goes_to_the_first_column_that_names_it() {
        let mapping = auto_map(
            &headers(&["Email", "E-mail", "Почта"]),
            contact_fields(),
            &[],
        );
        assert_eq!(fields(&mapping), [Some("email"), None, None]);
    }

    #[test]
    fn custom_fields_match_by_key_or_name_once_each() {
        let custom = vec![
            ("lead_source".to_owned(), "Источник".to_owned()),
            ("budget".to_owned(), "Бюджет клиента".to_owned()),
        ];
        let mapping = auto_map(
            &headers(&[
                "Имя",
                "Lead source",
                "источник",
                "Бюджет клиента",
                "Прочее",
                "",
            ]),
            contact_fields(),
            &custom,
        );
        assert_eq!(
            mapping,
            [
                Some(Mapped::Field("fullName")),
                Some(Mapped::Custom("lead_source".to_owned())),
                None,
                Some(Mapped::Custom("budget".to_owned())),
                None,
                None,
            ]
        );
    }

    #[test]
    fn a_record_field_wins_over_a_custom_field_of_the_same_name() {
        let custom = vec![("phone2".to_owned(), "Телефон".to_owned())];
        let mapping = auto_map(&headers(&["Телефон", "Телефон"]), contact_fields(), &custom);
        assert_eq!(
            mapping,
            [
                Some(Mapped::Field("phone")),
                Some(Mapped::Custom("phone2".to_owned())),
            ]
        );
    }

    #[test]
    fn a_fallback_header_maps_only_when_no_column_names_the_field() {
        let alone = auto_map(&headers(&["Контакт", "Сумма"]), deal_fields(), &[]);
        assert_eq!(fields(&alone), [Some("contactEmail"), Some("amount")]);
        let with_email = auto_map(&headers(&["Контакт", "Email"]), deal_fields(), &[]);
        assert_eq!(fields(&with_email), [None, Some("contactEmail")]);
    }

    /// Two fields of one record answering to the same header would make the proposal depend
    /// on the order of the list.
    #[test]
    fn no_header_names_two_fields_of_one_record() {
        for specs in [
            contact_fields(),
            company_fields(),
            deal_fields(),
            task_fields(),
        ] {
            let mut seen = HashSet::new();
            for spec in specs {
                let names = std::iter::once(spec.field)
                    .chain(spec.synonyms.iter().copied())
                    .chain(spec.fallbacks.iter().copied());
                for name in names {
                    assert!(
                        seen.insert(normalize(name)),
                        "{name:?} names more than one field"
                    );
                }
            }
        }
    }
}
