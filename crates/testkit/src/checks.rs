//! Small checks several crates' service tests make alike.

use crm_core::FieldError;
use crm_db::AsyncPgConnection;
use diesel_async::RunQueryDsl;

/// The fields a validation failure names, sorted.
pub fn fields(errors: &[FieldError]) -> Vec<&str> {
    let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort();
    fields
}

#[derive(diesel::QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    line: String,
}

/// The lines of the plan PostgreSQL picks for `query` when sequential scans are priced out (on
/// a test's tiny tables they would win over any index).
pub async fn index_plan(conn: &mut AsyncPgConnection, query: &str) -> Vec<String> {
    diesel::sql_query("SET enable_seqscan = off")
        .execute(conn)
        .await
        .unwrap();
    let plan: Vec<PlanLine> = diesel::sql_query(format!("EXPLAIN {query}"))
        .load(conn)
        .await
        .unwrap();
    plan.into_iter().map(|p| p.line).collect()
}
