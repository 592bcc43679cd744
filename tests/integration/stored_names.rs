//! Enums stored by name in text columns (statuses, types, roles): a stored name this version
//! does not know fails the read with a 500 instead of being read as some default.

use crm_core::Role;
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::support::{TestApp, assert_problem, id};

#[derive(diesel::QueryableByName)]
struct Stored {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

#[tokio::test]
async fn a_stored_name_this_version_does_not_know_fails_the_read_instead_of_becoming_a_default() {
    let app = TestApp::spawn().await;
    let (_, token) = app.signed_in(Role::Admin).await;
    let task = id(&app
        .create("/api/tasks", &token, json!({"title": "Call back"}))
        .await);
    let comment = id(&app
        .create(
            "/api/comments",
            &token,
            json!({"entityType": "task", "entityId": task, "content": "noted"}),
        )
        .await);
    let field = app
        .custom_field(json!({"entityType": "deal", "key": "seats", "type": "NUMBER"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let user = app.create_user(Role::Viewer).await.user.id.0.to_string();
    let cases = [
        ("tasks", "status", &task, "/api/tasks"),
        ("tasks", "priority", &task, "/api/tasks"),
        ("tasks", "type", &task, "/api/tasks"),
        ("comments", "type", &comment, "/api/comments"),
        ("comments", "entity_type", &comment, "/api/comments"),
        (
            "custom_field_definitions",
            "type",
            &field,
            "/api/custom-fields",
        ),
        (
            "custom_field_definitions",
            "entity_type",
            &field,
            "/api/custom-fields",
        ),
        ("users", "role", &user, "/api/users"),
    ];
    let mut conn = app.pool.get().await.unwrap();
    for (table, column, id, path) in cases {
        let path = format!("{path}/{id}");
        app.get_json(&path, &token).await;
        let stored: Stored = diesel::sql_query(format!(
            "SELECT {column} AS name FROM {table} WHERE id = '{id}'"
        ))
        .get_result(&mut conn)
        .await
        .unwrap();
        let statements = [
            format!("ALTER TABLE {table} DROP CONSTRAINT {table}_{column}_check"),
            format!("UPDATE {table} SET {column} = 'FROZEN' WHERE id = '{id}'"),
        ];
        for sql in &statements {
            diesel::sql_query(sql).execute(&mut conn).await.unwrap();
        }
        let problem = assert_problem(app.get(&path, &token).await, 500, "internal_error").await;
        assert!(
            !problem.to_string().contains("FROZEN"),
            "stored data stays out of the answer: {problem}"
        );
        let name = stored.name;
        diesel::sql_query(format!(
            "UPDATE {table} SET {column} = '{name}' WHERE id = '{id}'"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    }
}
