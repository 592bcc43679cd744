//! Tag registry services against a real PostgreSQL (a fresh database per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crm_core::{Actor, Role};
use crm_db::AsyncPgConnection;
use crm_tags::{CreateTag, MergeTag, Tag, TagError, UpdateTag};
use crm_testkit::TestDb;
use diesel::sql_types::{Array, Bool, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

fn viewer() -> Actor {
    let mut a = Actor::system();
    a.role = Role::Viewer;
    a.permissions = Role::Viewer.default_permissions();
    a
}

const INSERTS: [&str; 4] = [
    "INSERT INTO contacts (id, full_name, tags, deleted_at) VALUES ($1, 'C', $2, CASE WHEN $3 THEN now() END)",
    "INSERT INTO companies (id, name, tags, deleted_at) VALUES ($1, 'Co ' || $1::text, $2, CASE WHEN $3 THEN now() END)",
    "INSERT INTO deals (id, title, pipeline_id, stage_id, tags, deleted_at) \
     SELECT $1, 'D', s.pipeline_id, s.id, $2, CASE WHEN $3 THEN now() END FROM stages s ORDER BY s.position LIMIT 1",
    "INSERT INTO tasks (id, title, tags, deleted_at) VALUES ($1, 'T', $2, CASE WHEN $3 THEN now() END)",
];
const TABLES: [&str; 4] = ["contacts", "companies", "deals", "tasks"];

/// Inserts one record of each kind carrying `tags`; returns their ids.
async fn insert_all(conn: &mut AsyncPgConnection, tags: &[&str], trashed: bool) -> [Uuid; 4] {
    let ids = [
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    ];
    let tags: Vec<String> = tags.iter().map(|s| s.to_string()).collect();
    for (sql, id) in INSERTS.iter().zip(ids) {
        diesel::sql_query(*sql)
            .bind::<SqlUuid, _>(id)
            .bind::<Array<Text>, _>(&tags)
            .bind::<Bool, _>(trashed)
            .execute(conn)
            .await
            .unwrap();
    }
    crm_db::tags::ensure_registered(conn, &tags).await.unwrap();
    ids
}

#[derive(diesel::QueryableByName)]
struct Carried {
    #[diesel(sql_type = Array<Text>)]
    tags: Vec<String>,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    version: i32,
}

async fn carried(conn: &mut AsyncPgConnection, ids: &[Uuid; 4]) -> Vec<(Vec<String>, i32)> {
    let mut out = Vec::new();
    for (table, id) in TABLES.iter().zip(ids) {
        let row: Carried =
            diesel::sql_query(format!("SELECT tags, version FROM {table} WHERE id = $1"))
                .bind::<SqlUuid, _>(*id)
                .get_result(conn)
                .await
                .unwrap();
        out.push((row.tags, row.version));
    }
    out
}

async fn tag_named(conn: &mut AsyncPgConnection, name: &str) -> Tag {
    crm_tags::list_tags(conn, &viewer(), None)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name.eq_ignore_ascii_case(name))
        .unwrap()
}

#[tokio::test]
async fn usage_counts_cover_every_live_record_case_insensitively() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    insert_all(&mut conn, &["VIP", "lead"], false).await;
    insert_all(&mut conn, &["vip"], false).await;
    insert_all(&mut conn, &["vip", "cold"], true).await;
    let tags = crm_tags::list_tags(&mut conn, &viewer(), None)
        .await
        .unwrap();
    let counts: Vec<(&str, i64)> = tags
        .iter()
        .map(|t| (t.name.as_str(), t.usage_count))
        .collect();
    assert_eq!(counts, [("cold", 0), ("lead", 4), ("VIP", 8)]);
    let found = crm_tags::list_tags(&mut conn, &viewer(), Some("EA"))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, "lead");
}

#[tokio::test]
async fn renaming_rewrites_every_record_without_duplicates() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let a = insert_all(&mut conn, &["vip", "gold", "x"], false).await;
    let b = insert_all(&mut conn, &["VIP"], true).await;
    let vip = tag_named(&mut conn, "vip").await;
    let renamed = crm_tags::update_tag(
        &mut conn,
        &Actor::system(),
        vip.id,
        UpdateTag {
            name: Some("Gold ".into()),
            color: None,
        },
        Some(1),
    )
    .await;
    assert!(
        matches!(renamed, Err(TagError::DuplicateTag)),
        "another tag's name: merge instead"
    );
    let renamed = crm_tags::update_tag(
        &mut conn,
        &Actor::system(),
        vip.id,
        UpdateTag {
            name: Some("Premium".into()),
            color: Some("#A0B1C2".into()),
        },
        Some(1),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            renamed.name.as_str(),
            renamed.color.as_str(),
            renamed.version
        ),
        ("Premium", "#a0b1c2", 2)
    );
    for (tags, version) in carried(&mut conn, &a).await {
        assert_eq!(tags, ["Premium", "gold", "x"]);
        assert_eq!(version, 2);
    }
    for (tags, _) in carried(&mut conn, &b).await {
        assert_eq!(tags, ["Premium"], "trashed records are renamed too");
    }
}

#[tokio::test]
async fn merging_moves_records_to_the_target_and_deletes_the_source() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let both = insert_all(&mut conn, &["client", "x", "customer"], false).await;
    let only = insert_all(&mut conn, &["Client"], false).await;
    let source = tag_named(&mut conn, "client").await;
    let target = tag_named(&mut conn, "customer").await;
    assert!(matches!(
        crm_tags::merge_tag(
            &mut conn,
            &Actor::system(),
            source.id,
            MergeTag { into_id: source.id }
        )
        .await,
        Err(TagError::Invalid(_))
    ));
    assert!(matches!(
        crm_tags::merge_tag(
            &mut conn,
            &Actor::system(),
            source.id,
            MergeTag {
                into_id: Uuid::now_v7()
            }
        )
        .await,
        Err(TagError::UnknownTag(_))
    ));
    let merged = crm_tags::merge_tag(
        &mut conn,
        &Actor::system(),
        source.id,
        MergeTag { into_id: target.id },
    )
    .await
    .unwrap();
    assert_eq!((merged.id, merged.usage_count), (target.id, 8));
    for (tags, _) in carried(&mut conn, &both).await {
        assert_eq!(tags, ["customer", "x"]);
    }
    for (tags, _) in carried(&mut conn, &only).await {
        assert_eq!(tags, ["customer"]);
    }
    assert!(matches!(
        crm_tags::get_tag(&mut conn, &viewer(), source.id).await,
        Err(TagError::NotFound(_))
    ));
}

#[tokio::test]
async fn deleting_removes_the_tag_from_every_record() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let ids = insert_all(&mut conn, &["a", "B", "c"], false).await;
    let b = tag_named(&mut conn, "b").await;
    assert!(matches!(
        crm_tags::delete_tag(&mut conn, &Actor::system(), b.id, Some(5)).await,
        Err(TagError::VersionMismatch { .. })
    ));
    crm_tags::delete_tag(&mut conn, &Actor::system(), b.id, Some(1))
        .await
        .unwrap();
    for (tags, version) in carried(&mut conn, &ids).await {
        assert_eq!((tags, version), (vec!["a".to_owned(), "c".to_owned()], 2));
    }
    let names: Vec<String> = crm_tags::list_tags(&mut conn, &viewer(), None)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["a", "c"]);
}

#[tokio::test]
async fn names_are_unique_colours_are_checked_and_viewers_manage_nothing() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sys = Actor::system();
    let tag = crm_tags::create_tag(
        &mut conn,
        &sys,
        CreateTag {
            name: " Hot ".into(),
            color: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (tag.name.as_str(), tag.color.as_str(), tag.usage_count),
        ("Hot", "#9e9e9e", 0)
    );
    assert!(matches!(
        crm_tags::create_tag(
            &mut conn,
            &sys,
            CreateTag {
                name: "HOT".into(),
                color: None
            }
        )
        .await,
        Err(TagError::DuplicateTag)
    ));
    for (name, color, field) in [
        ("", None, "name"),
        (&*"x".repeat(51), None, "name"),
        ("ok", Some("red"), "color"),
        ("ok", Some("#12345g"), "color"),
    ] {
        let Err(TagError::Invalid(errors)) = crm_tags::create_tag(
            &mut conn,
            &sys,
            CreateTag {
                name: name.into(),
                color: color.map(Into::into),
            },
        )
        .await
        else {
            panic!("expected invalid {field}");
        };
        assert_eq!(errors[0].field, field);
    }
    assert!(matches!(
        crm_tags::create_tag(
            &mut conn,
            &viewer(),
            CreateTag {
                name: "new".into(),
                color: None
            }
        )
        .await,
        Err(TagError::Forbidden(_))
    ));
    // Changing only the case of the own name is a rename, not a duplicate.
    let renamed = crm_tags::update_tag(
        &mut conn,
        &sys,
        tag.id,
        UpdateTag {
            name: Some("HOT".into()),
            color: None,
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(renamed.name, "HOT");
}
