//! The sample exports of another CRM (tests/data, from /work/shared/data/import-samples) must
//! map without a hand-written mapping; the mapping-*.json files there show how that CRM's
//! users mapped the same columns.

use crm_tabular::headers::{contact_fields, deal_fields};
use crm_tabular::{FieldSpec, Limits, Mapped, auto_map, open};

use super::sample;

/// Opens a sample, reads all its rows (every sample has five, or three for
/// test-csv-example.csv; some are ragged, as exports are), and maps its headers; returns
/// header → field pairs.
fn mapped(name: &str, fields: &[FieldSpec]) -> Vec<(String, Option<&'static str>)> {
    let mut table = open(&sample(name), Limits::default()).unwrap();
    let rows = table.rows().map(Result::unwrap).count();
    assert_eq!(
        rows,
        if name == "test-csv-example.csv" { 3 } else { 5 },
        "{name}"
    );
    let mapping = auto_map(&table.headers, fields, &[]);
    table
        .headers
        .iter()
        .cloned()
        .zip(mapping.into_iter().map(|m| match m {
            Some(Mapped::Field(f)) => Some(f),
            Some(Mapped::Custom(_)) | None => None,
        }))
        .collect()
}

fn expected(pairs: &[(&str, Option<&'static str>)]) -> Vec<(String, Option<&'static str>)> {
    pairs.iter().map(|(h, f)| ((*h).to_owned(), *f)).collect()
}

#[test]
fn contacts_example_maps_every_column() {
    assert_eq!(
        mapped("contacts-example.csv", contact_fields()),
        expected(&[
            ("Имя", Some("fullName")),
            ("Email", Some("email")),
            ("Телефон", Some("phone")),
            ("Должность", Some("position")),
            ("Компания", Some("companyName")),
            ("Теги", Some("tags")),
            ("Заметки", Some("notes")),
            ("Instagram", Some("social.instagram")),
            ("Telegram", Some("social.telegram")),
        ])
    );
}

#[test]
fn test_contacts_with_api_field_names_maps_every_column() {
    assert_eq!(
        mapped("test-contacts.csv", contact_fields()),
        expected(&[
            ("fullName", Some("fullName")),
            ("email", Some("email")),
            ("phone", Some("phone")),
            ("position", Some("position")),
            ("companyName", Some("companyName")),
            ("tags", Some("tags")),
            ("notes", Some("notes")),
        ])
    );
}

#[test]
fn deals_example_maps_every_column() {
    assert_eq!(
        mapped("deals-example.csv", deal_fields()),
        expected(&[
            ("Номер сделки", Some("number")),
            ("Название", Some("title")),
            ("Сумма", Some("amount")),
            ("Pipeline ID", Some("pipeline")),
            ("Stage ID", Some("stage")),
            ("Ответственный", Some("assigneeEmail")),
            ("Email контакта", Some("contactEmail")),
            ("Телефон контакта", Some("contactPhone")),
            ("Дата закрытия", Some("expectedCloseAt")),
            ("Описание", Some("description")),
            ("Теги", Some("tags")),
        ])
    );
}

/// A deal file where "Контакт" holds the contact's name and "Email" its e-mail; "Тип" (sale,
/// purchase, rent) is no deal field.
#[test]
fn test_csv_example_maps_the_email_not_the_contact_name() {
    assert_eq!(
        mapped("test-csv-example.csv", deal_fields()),
        expected(&[
            ("Название сделки", Some("title")),
            ("Тип", None),
            ("Контакт", None),
            ("Email", Some("contactEmail")),
            ("Телефон", Some("contactPhone")),
        ])
    );
}

/// A deal file where "Контакт" holds the contact's e-mail; "Дата создания" (creation date) is
/// no field an import sets.
#[test]
fn test_deals_maps_every_column_that_carries_a_field() {
    assert_eq!(
        mapped("test-deals.csv", deal_fields()),
        expected(&[
            ("Название сделки", Some("title")),
            ("Тип", None),
            ("Стадия сделки", Some("stage")),
            ("Контакт", Some("contactEmail")),
            ("Компания", Some("companyName")),
            ("Сумма", Some("amount")),
            ("Валюта", Some("currency")),
            ("Ответственный", Some("assigneeEmail")),
            ("Дата создания", None),
            ("Описание", Some("description")),
        ])
    );
}

#[test]
fn quoted_cells_with_commas_in_the_samples_stay_whole() {
    let mut table = open(&sample("test-csv-example.csv"), Limits::default()).unwrap();
    let last = table.rows().last().unwrap().unwrap();
    assert_eq!(last.line, 4);
    assert_eq!(last.cells[0], "Сделка 3, с запятой");
    assert_eq!(last.cells[2], "Мария, Сидорова");
}
