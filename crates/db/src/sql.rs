//! SQL functions the record crates use in queries, declared once.

#[diesel::declare_sql_function]
extern "SQL" {
    /// SQL `lower(text)`, for text and nullable text alike.
    fn lower<ST: diesel::sql_types::SqlType + diesel::sql_types::SingleValue>(x: ST) -> ST;
}
