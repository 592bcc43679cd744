//! List filters and sorts over custom fields.
//!
//! - `cf.<key>=v`: the value equals `v` (MULTI_SELECT: the record has option `v`); repeat the
//!   parameter for "any of" (`cf.tier=gold&cf.tier=silver`). Served by the record table's GIN
//!   index (`custom_fields @> '{"key": v}'`).
//! - `cf.<key>.gte|gt|lte|lt=v` for NUMBER, DATE and DATETIME. Served by the field's btree
//!   index on `custom_fields -> 'key'`.
//! - `cf.<key>.exists=true|false`: the record has (no) value.
//! - `sort=cf.<key>` / `sort=-cf.<key>` (records without a value last), any type but
//!   MULTI_SELECT.
//!
//! Filter values are parsed and normalised like written values (`cf.email=Ann@X.COM` finds
//! `Ann@x.com`). An unknown or inactive key, an operator that does not fit the type, or a
//! value that does not fit is a 400 naming the parameter.

use crm_core::{FieldError, SortDirection, SortSpec};
use diesel::sql_types::{Bool, Jsonb};
use serde_json::{Map, Value};

use crate::model::FieldType;
use crate::sql::{Fragment, Part};
use crate::value::parse_text;
use crate::values::FieldSet;

/// Most `cf.` parameters in one list request.
pub const MAX_FILTERS: usize = 20;
/// Most values of one repeated `cf.<key>=` parameter.
pub const MAX_VALUES: usize = 50;

/// What a filter asks of a field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum CfOp {
    /// Equal to one of these canonical values (MULTI_SELECT: holds one of these options).
    AnyOf(Vec<Value>),
    /// `>=`.
    Gte(Value),
    /// `>`.
    Gt(Value),
    /// `<=`.
    Lte(Value),
    /// `<`.
    Lt(Value),
    /// Has a value (`true`) or has none (`false`).
    Exists(bool),
}

/// One filter on one field.
#[derive(Debug, Clone, PartialEq)]
pub struct CfFilter {
    /// Key of the field.
    pub key: String,
    /// Its type (MULTI_SELECT equality is membership).
    pub field_type: FieldType,
    /// The condition.
    pub op: CfOp,
}

/// The custom-field part of a list request: filters, and the keys that `sort` refers to by
/// index (the record crates' sort enums carry the index, so they stay `Copy`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CfQuery {
    /// Conditions, all of which must hold.
    pub filters: Vec<CfFilter>,
    /// Keys of the sort entries `cf.<key>`, referred to by their index.
    pub sort_keys: Vec<String>,
}

impl CfQuery {
    /// Whether the request filters or sorts by custom fields at all.
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty() && self.sort_keys.is_empty()
    }

    /// The filter conditions on `table` (`deals`, ...), to add to a list query.
    pub fn conditions(&self, table: &str) -> Vec<Fragment<Bool>> {
        self.filters.iter().map(|f| condition(table, f)).collect()
    }

    /// The `ORDER BY` item of sort entry `index` (records without a value last in both
    /// directions, like the other nullable sort fields).
    pub fn order_by(&self, table: &str, index: usize, dir: SortDirection) -> Fragment<Jsonb> {
        let key = self.sort_keys.get(index).map_or("", String::as_str);
        let dir = match dir {
            SortDirection::Asc => "ASC",
            SortDirection::Desc => "DESC",
        };
        Fragment::new(vec![Part::Sql(format!(
            "({table}.custom_fields -> '{key}') {dir} NULLS LAST"
        ))])
    }
}

/// The SQL of one filter.
fn condition(table: &str, f: &CfFilter) -> Fragment<Bool> {
    let expr = format!("({table}.custom_fields -> '{}')", f.key);
    let cmp = |op: &str, v: &Value| vec![Part::Sql(format!("{expr} {op} ")), Part::Json(v.clone())];
    let parts = match &f.op {
        CfOp::AnyOf(values) => {
            let mut parts = vec![Part::Sql("(".into())];
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    parts.push(Part::Sql(" OR ".into()));
                }
                let inner = if f.field_type == FieldType::MultiSelect {
                    Value::Array(vec![v.clone()])
                } else {
                    v.clone()
                };
                let mut doc = Map::new();
                doc.insert(f.key.clone(), inner);
                parts.push(Part::Sql(format!("{table}.custom_fields @> ")));
                parts.push(Part::Json(Value::Object(doc)));
            }
            parts.push(Part::Sql(")".into()));
            parts
        }
        CfOp::Gte(v) => cmp(">=", v),
        CfOp::Gt(v) => cmp(">", v),
        CfOp::Lte(v) => cmp("<=", v),
        CfOp::Lt(v) => cmp("<", v),
        CfOp::Exists(true) => vec![Part::Sql(format!("{expr} IS NOT NULL"))],
        CfOp::Exists(false) => vec![Part::Sql(format!("{expr} IS NULL"))],
    };
    Fragment::new(parts)
}

/// Query parameters as `(name, value)` pairs, in order.
pub type Params = Vec<(String, String)>;

/// Splits the `cf.` parameters off a list query's parameters: `(cf, rest)`.
pub fn split_params(pairs: Params) -> (Params, Params) {
    pairs.into_iter().partition(|(k, _)| k.starts_with("cf."))
}

/// Parses `cf.` parameters against the record type's definitions.
pub fn parse_filters(
    fields: &FieldSet,
    params: &[(String, String)],
) -> Result<Vec<CfFilter>, FieldError> {
    if params.len() > MAX_FILTERS {
        return Err(FieldError::new(
            "cf",
            format!("at most {MAX_FILTERS} custom field filters per request"),
        ));
    }
    let mut filters: Vec<CfFilter> = Vec::new();
    for (name, raw) in params {
        let rest = name.strip_prefix("cf.").unwrap_or(name);
        let (key, op) = rest.split_once('.').unwrap_or((rest, ""));
        let field = fields
            .active(key)
            .map_err(|m| FieldError::new(name.clone(), format!("`{key}` {m}")))?;
        let bad = |m: String| FieldError::new(name.clone(), m);
        let kind = field.field_type;
        let value = |raw: &str| -> Result<Value, FieldError> {
            // Equality on a MULTI_SELECT names one option.
            let as_kind = if kind == FieldType::MultiSelect && op.is_empty() {
                FieldType::Select
            } else {
                kind
            };
            parse_text(as_kind, &field.options, raw)
                .map_err(&bad)?
                .ok_or_else(|| {
                    bad("needs a value (use .exists=false for records without one)".into())
                })
        };
        let op = match op {
            "" => {
                let v = value(raw)?;
                if let Some(existing) = filters
                    .iter_mut()
                    .find(|f| f.key == field.key && matches!(f.op, CfOp::AnyOf(_)))
                {
                    if let CfOp::AnyOf(values) = &mut existing.op {
                        if values.len() >= MAX_VALUES {
                            return Err(bad(format!("at most {MAX_VALUES} values")));
                        }
                        values.push(v);
                    }
                    continue;
                }
                CfOp::AnyOf(vec![v])
            }
            "gte" | "gt" | "lte" | "lt" => {
                if !kind.has_ranges() {
                    return Err(bad(format!(
                        "ranges apply to NUMBER, DATE and DATETIME fields; `{key}` is {kind}"
                    )));
                }
                let v = value(raw)?;
                match op {
                    "gte" => CfOp::Gte(v),
                    "gt" => CfOp::Gt(v),
                    "lte" => CfOp::Lte(v),
                    _ => CfOp::Lt(v),
                }
            }
            "exists" => match raw.trim() {
                "true" => CfOp::Exists(true),
                "false" => CfOp::Exists(false),
                _ => return Err(bad("must be true or false".into())),
            },
            other => {
                return Err(bad(format!(
                    "unknown operator `{other}`; use cf.{key}, cf.{key}.gte, .gt, .lte, .lt or .exists"
                )));
            }
        };
        filters.push(CfFilter {
            key: field.key.clone(),
            field_type: kind,
            op,
        });
    }
    Ok(filters)
}

/// Parses a `sort` parameter that may mix the resource's own fields (`allowed`) with
/// `cf.<key>` entries; those become `custom(i)` with the key at `cf.sort_keys[i]`. `fields` is
/// needed only when the sort names custom fields (else an error names `sort`).
pub fn parse_sort<F: Copy + PartialEq>(
    raw: Option<&str>,
    allowed: &[(&str, F)],
    default: Vec<(F, SortDirection)>,
    fields: Option<&FieldSet>,
    custom: fn(usize) -> F,
    cf: &mut CfQuery,
) -> Result<SortSpec<F>, FieldError> {
    let Some(raw) = raw else {
        return Ok(SortSpec { keys: default });
    };
    let mut keys = Vec::new();
    for part in raw.split(',') {
        let part = part.trim();
        let (name, dir) = match part.strip_prefix('-') {
            Some(rest) => (rest, SortDirection::Desc),
            None => (part.strip_prefix('+').unwrap_or(part), SortDirection::Asc),
        };
        let Some(key) = name.strip_prefix("cf.") else {
            let one = SortSpec::parse(Some(part), allowed, Vec::new())?;
            for (f, d) in one.keys {
                if keys.iter().any(|(k, _)| *k == f) {
                    return Err(FieldError::new(
                        "sort",
                        format!("field `{name}` is repeated"),
                    ));
                }
                keys.push((f, d));
            }
            continue;
        };
        let field = fields
            .ok_or_else(|| FieldError::new("sort", format!("`{key}` is not a custom field")))?
            .active(key)
            .map_err(|m| FieldError::new("sort", format!("`cf.{key}` {m}")))?;
        if !field.field_type.is_sortable() {
            return Err(FieldError::new(
                "sort",
                format!("`cf.{key}` is a MULTI_SELECT field, which has no order"),
            ));
        }
        if cf.sort_keys.iter().any(|k| k == key) {
            return Err(FieldError::new(
                "sort",
                format!("field `{name}` is repeated"),
            ));
        }
        cf.sort_keys.push(key.to_owned());
        keys.push((custom(cf.sort_keys.len() - 1), dir));
    }
    Ok(SortSpec { keys })
}

/// Whether a `sort` parameter names custom fields (so the definitions must be loaded).
pub fn sort_names_custom_fields(raw: Option<&str>) -> bool {
    raw.is_some_and(|r| {
        r.split(',')
            .any(|p| p.trim().trim_start_matches(['-', '+']).starts_with("cf."))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CustomField, CustomFieldEntity};
    use chrono::Utc;
    use serde_json::json;

    fn field(key: &str, kind: FieldType, active: bool) -> CustomField {
        CustomField {
            id: crm_core::CustomFieldId::new(),
            entity_type: CustomFieldEntity::Deal,
            key: key.into(),
            name: key.into(),
            field_type: kind,
            options: vec!["Gold".into(), "Silver".into()],
            is_required: false,
            is_unique: false,
            default_value: None,
            position: 0,
            is_active: active,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            version: 1,
        }
    }

    fn set() -> FieldSet {
        FieldSet::new(
            CustomFieldEntity::Deal,
            vec![
                field("tier", FieldType::Select, true),
                field("score", FieldType::Number, true),
                field("tags", FieldType::MultiSelect, true),
                field("gone", FieldType::Text, false),
            ],
        )
    }

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).into(), (*b).into()))
            .collect()
    }

    #[test]
    fn equality_repeats_become_any_of_and_ranges_parse_as_the_type() {
        let f = parse_filters(
            &set(),
            &p(&[
                ("cf.tier", "gold"),
                ("cf.tier", "Silver"),
                ("cf.score.gte", "10.50"),
                ("cf.tags", "silver"),
            ]),
        )
        .unwrap();
        assert_eq!(f[0].op, CfOp::AnyOf(vec![json!("Gold"), json!("Silver")]));
        assert_eq!(f[1].op, CfOp::Gte(json!(10.5)));
        assert_eq!(f[2].op, CfOp::AnyOf(vec![json!("Silver")]));
        let sql = CfQuery {
            filters: f,
            sort_keys: vec![],
        }
        .conditions("deals")
        .iter()
        .map(Fragment::to_literal_sql)
        .collect::<Vec<_>>();
        assert_eq!(
            sql,
            [
                r#"(deals.custom_fields @> '{"tier":"Gold"}'::jsonb OR deals.custom_fields @> '{"tier":"Silver"}'::jsonb)"#,
                r#"(deals.custom_fields -> 'score') >= '10.5'::jsonb"#,
                r#"(deals.custom_fields @> '{"tags":["Silver"]}'::jsonb)"#,
            ]
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        for (name, value) in [
            ("cf.nope", "1"),
            ("cf.gone", "x"),
            ("cf.tier.gte", "Gold"),
            ("cf.score", "ten"),
            ("cf.score.between", "1"),
            ("cf.tier", "Bronze"),
            ("cf.score.exists", "maybe"),
            ("cf.score", ""),
        ] {
            let e = parse_filters(&set(), &p(&[(name, value)])).unwrap_err();
            assert_eq!(e.field, name, "{name}={value}: {}", e.message);
        }
    }

    #[test]
    fn sorts_mix_own_and_custom_fields() {
        #[derive(Debug, Clone, Copy, PartialEq)]
        enum S {
            Created,
            Custom(usize),
        }
        let allowed = [("createdAt", S::Created)];
        let mut cf = CfQuery::default();
        let s = parse_sort(
            Some("-cf.score,createdAt"),
            &allowed,
            vec![],
            Some(&set()),
            S::Custom,
            &mut cf,
        )
        .unwrap();
        assert_eq!(
            s.keys,
            vec![
                (S::Custom(0), SortDirection::Desc),
                (S::Created, SortDirection::Asc)
            ]
        );
        assert_eq!(cf.sort_keys, ["score"]);
        assert_eq!(
            cf.order_by("deals", 0, SortDirection::Desc)
                .to_literal_sql(),
            "(deals.custom_fields -> 'score') DESC NULLS LAST"
        );
        for bad in [
            "cf.tags",
            "cf.nope",
            "cf.score,-cf.score",
            "createdAt,createdAt",
            "title",
        ] {
            let mut cf = CfQuery::default();
            let e = parse_sort(
                Some(bad),
                &allowed,
                vec![],
                Some(&set()),
                S::Custom,
                &mut cf,
            )
            .unwrap_err();
            assert_eq!(e.field, "sort", "{bad}");
        }
        assert!(sort_names_custom_fields(Some("title,-cf.x")));
        assert!(!sort_names_custom_fields(Some("title")));
    }
}
