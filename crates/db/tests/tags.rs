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
