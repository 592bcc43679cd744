//! A small SQL expression made of text and jsonb binds, so that filters and sorts over
//! `custom_fields` can be added to the record services' boxed diesel queries.
//!
//! The text only ever contains table names from [`CustomFieldEntity::table`] and keys that
//! passed the snake_case check (`^[a-z][a-z0-9_]{0,47}$`), so it needs no quoting; values are
//! always bound. Keys are written as literals (not binds) on purpose: only then can PostgreSQL
//! match `custom_fields -> 'key'` against the per-field expression index.
//!
//! [`CustomFieldEntity::table`]: crate::model::CustomFieldEntity::table

use std::marker::PhantomData;

use diesel::expression::{
    AppearsOnTable, Expression, SelectableExpression, TypedExpressionType, ValidGrouping,
    is_aggregate,
};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::Jsonb;
use serde_json::Value;

/// One piece of a [`Fragment`].
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// SQL text.
    Sql(String),
    /// A bound jsonb value.
    Json(Value),
}

/// An SQL expression of type `ST` (a filter condition is `Bool`; an `ORDER BY` item uses
/// `Jsonb`), usable in any boxed query of any table.
#[derive(Debug, Clone)]
pub struct Fragment<ST> {
    parts: Vec<Part>,
    _type: PhantomData<fn() -> ST>,
}

impl<ST> Fragment<ST> {
    /// An expression from its pieces.
    pub fn new(parts: Vec<Part>) -> Self {
        Self {
            parts,
            _type: PhantomData,
        }
    }

    /// The pieces.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The SQL with every bound value written as a jsonb literal, for `EXPLAIN` in tests and
    /// benchmarks (the plan of a custom plan equals that of the literal query).
    pub fn to_literal_sql(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Sql(s) => s.clone(),
                Part::Json(v) => format!("'{}'::jsonb", v.to_string().replace('\'', "''")),
            })
            .collect()
    }
}

impl<ST: TypedExpressionType> Expression for Fragment<ST> {
    type SqlType = ST;
}

impl<ST, QS> AppearsOnTable<QS> for Fragment<ST> where Self: Expression {}

impl<ST, QS> SelectableExpression<QS> for Fragment<ST> where Self: Expression {}

impl<ST, GB> ValidGrouping<GB> for Fragment<ST> {
    type IsAggregate = is_aggregate::Never;
}

impl<ST> QueryId for Fragment<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST> QueryFragment<Pg> for Fragment<ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        // Filter combinations are open-ended; caching a prepared statement for each would
        // let clients grow the per-connection cache without bound.
        out.unsafe_to_cache_prepared();
        for part in &self.parts {
            match part {
                Part::Sql(s) => out.push_sql(s),
                Part::Json(v) => out.push_bind_param::<Jsonb, Value>(v)?,
            }
        }
        Ok(())
    }
}
