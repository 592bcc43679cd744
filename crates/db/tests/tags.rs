//! The tag registry helper against a real database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crm_testkit::TestDb;
use diesel_async::RunQueryDsl;

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

#[tokio::test]
async fn new_tags_are_registered_once_case_insensitively() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    crm_db::tags::ensure_registered(&mut conn, &["VIP".into(), "lead".into()])
        .await
        .unwrap();
    crm_db::tags::ensure_registered(&mut conn, &["vip".into(), "Lead".into(), "new".into()])
        .await
        .unwrap();
    crm_db::tags::ensure_registered(&mut conn, &[])
        .await
        .unwrap();
    let names: Vec<Name> = diesel::sql_query("SELECT name FROM tags ORDER BY lower(name)")
        .load(&mut conn)
        .await
        .unwrap();
    let names: Vec<&str> = names.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["lead", "new", "VIP"]);
}

#[derive(diesel::QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

#[tokio::test]
async fn tag_filters_match_case_insensitively_through_the_lower_tags_index() {
    use crm_db::schema::{companies, contacts, deals, tasks};
    use crm_db::tags::carries_tag;
    use diesel::QueryDsl;

    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    diesel::sql_query(
        "INSERT INTO contacts (id, full_name, tags) VALUES \
         (gen_random_uuid(), 'Tagged', ARRAY['VIP', 'lead']), (gen_random_uuid(), 'Other', ARRAY['vipx'])",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    for (tag, want) in [("vip", 1), ("Vip", 1), ("LEAD", 1), ("vi", 0), ("VIPX", 1)] {
        let n: i64 = contacts::table
            .filter(carries_tag("contacts", tag))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, want, "tag={tag}");
    }
    // With sequential scans priced out, each table's filter is answered by its GIN index.
    diesel::sql_query("SET enable_seqscan = off")
        .execute(&mut conn)
        .await
        .unwrap();
    let queries = [
        (
            "contacts",
            diesel::debug_query::<diesel::pg::Pg, _>(
                &contacts::table
                    .select(contacts::id)
                    .filter(carries_tag::<contacts::table>("contacts", "x")),
            )
            .to_string(),
        ),
        (
            "companies",
            diesel::debug_query::<diesel::pg::Pg, _>(
                &companies::table
                    .select(companies::id)
                    .filter(carries_tag::<companies::table>("companies", "x")),
            )
            .to_string(),
        ),
        (
            "deals",
            diesel::debug_query::<diesel::pg::Pg, _>(
                &deals::table
                    .select(deals::id)
                    .filter(carries_tag::<deals::table>("deals", "x")),
            )
            .to_string(),
        ),
        (
            "tasks",
            diesel::debug_query::<diesel::pg::Pg, _>(
                &tasks::table
                    .select(tasks::id)
                    .filter(carries_tag::<tasks::table>("tasks", "x")),
            )
            .to_string(),
        ),
    ];
    for (table, rendered) in queries {
        let sql = rendered.split(" -- binds").next().unwrap();
        let plan: Vec<PlanLine> = diesel::sql_query(format!("EXPLAIN {sql}"))
            .bind::<diesel::sql_types::Text, _>("vip")
            .load(&mut conn)
            .await
            .unwrap();
        let plan: Vec<&str> = plan.iter().map(|p| p.line.as_str()).collect();
        assert!(
            plan.iter()
                .any(|l| l.contains(&format!("{table}_tags_idx"))),
            "{table}: {plan:#?}"
        );
    }
}
