//! Tag registry services against a real PostgreSQL (a fresh database per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crm_core::{Actor, Role};
use crm_db::AsyncPgConnection;
use crm_tags::{CreateTag, MergeTag, Tag, TagError, UpdateTag};
use crm_testkit::TestDb;
use diesel::sql_types::{Array, Bool, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
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
                into_id: crm_core::TagId::new()
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
        Err(TagError::VersionMismatch(_))
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

/// The committed events as `(event, rooms, payload)`, in `seq` order (numbered first, as the
/// hub's stamper would).
async fn events(conn: &mut AsyncPgConnection) -> Vec<(String, Vec<String>, Value)> {
    crm_events::stamp_waiting(conn, 1_000_000).await.unwrap();
    crm_events::Event::after(conn, 0, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.rooms, serde_json::from_str(&e.payload).unwrap()))
        .collect()
}

#[derive(diesel::QueryableByName)]
struct Board {
    #[diesel(sql_type = SqlUuid)]
    pipeline_id: Uuid,
}

/// Renaming, merging and deleting a tag emit, for every live record they rewrite, the events a
/// normal update with the `tags` change emits: deals `deal.updated` (the whole deal),
/// `deal.field.updated` for `tags` and `contact.deal.updated`; contacts `contact.updated`;
/// tasks `task.updated`. Companies have no events; trashed records get none.
#[tokio::test]
async fn rewrites_emit_the_update_events_of_every_live_record() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sys = Actor::system();
    let [contact, _company, deal, task] = insert_all(&mut conn, &["vip", "x"], false).await;
    let trashed = insert_all(&mut conn, &["vip"], true).await;
    diesel::sql_query("UPDATE deals SET contact_id = $1 WHERE id = $2")
        .bind::<SqlUuid, _>(contact)
        .bind::<SqlUuid, _>(deal)
        .execute(&mut conn)
        .await
        .unwrap();
    let board: Board = diesel::sql_query("SELECT pipeline_id FROM deals WHERE id = $1")
        .bind::<SqlUuid, _>(deal)
        .get_result(&mut conn)
        .await
        .unwrap();
    let vip = tag_named(&mut conn, "vip").await;
    let rename = UpdateTag {
        name: Some("Gold".into()),
        color: None,
    };
    crm_tags::update_tag(&mut conn, &sys, vip.id, rename, None)
        .await
        .unwrap();
    let got = events(&mut conn).await;
    let names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "contact.updated",
            "deal.updated",
            "deal.field.updated",
            "contact.deal.updated",
            "task.updated"
        ],
        "one update per live record, none for the company or the trash"
    );
    let (c, d, f, cd, t) = (&got[0], &got[1], &got[2], &got[3], &got[4]);
    assert_eq!(c.1, [format!("contact:{contact}")]);
    assert_eq!(
        (&c.2["id"], &c.2["tags"], &c.2["version"]),
        (&json!(contact), &json!(["Gold", "x"]), &json!(2))
    );
    let mut deal_rooms = vec![
        format!("deal:{deal}"),
        format!("pipeline:{}", board.pipeline_id),
    ];
    deal_rooms.sort();
    assert_eq!(d.1, deal_rooms);
    assert_eq!(
        (&d.2["id"], &d.2["tags"], &d.2["version"], &d.2["contactId"]),
        (
            &json!(deal),
            &json!(["Gold", "x"]),
            &json!(2),
            &json!(contact)
        )
    );
    assert_eq!(f.1, deal_rooms);
    assert_eq!(
        f.2,
        json!({"dealId": deal, "field": "tags", "from": ["vip", "x"], "to": ["Gold", "x"]})
    );
    assert_eq!(cd.1, [format!("contact:{contact}")]);
    assert_eq!(cd.2, d.2, "contact.deal.updated carries the deal");
    assert_eq!(t.1, [format!("task:{task}")]);
    assert_eq!(
        (&t.2["id"], &t.2["tags"]),
        (&json!(task), &json!(["Gold", "x"]))
    );
    for e in &got {
        assert!(
            trashed
                .iter()
                .all(|id| !e.1.iter().any(|r| r.ends_with(&id.to_string()))),
            "no event for a trashed record: {e:?}"
        );
    }

    // Merging and deleting emit the same per record.
    let x = tag_named(&mut conn, "x").await;
    let gold = tag_named(&mut conn, "gold").await;
    crm_tags::merge_tag(&mut conn, &sys, x.id, MergeTag { into_id: gold.id })
        .await
        .unwrap();
    let merged = events(&mut conn).await;
    assert_eq!(merged.len(), 10);
    assert_eq!(
        merged[7].2,
        json!({"dealId": deal, "field": "tags", "from": ["Gold", "x"], "to": ["Gold"]})
    );
    crm_tags::delete_tag(&mut conn, &sys, gold.id, None)
        .await
        .unwrap();
    let deleted = events(&mut conn).await;
    assert_eq!(deleted.len(), 15);
    assert_eq!(
        deleted[12].2,
        json!({"dealId": deal, "field": "tags", "from": ["Gold"], "to": []})
    );
    assert_eq!(deleted[11].0, "deal.updated");
    assert_eq!(deleted[11].2["tags"], json!([]));
    assert_eq!(deleted[11].2["version"], json!(4));
}

/// Thousands of records are read and their events appended in batches: the statements of a
/// rewrite grow by a constant per batch of records, never per record.
#[tokio::test]
async fn rewrites_of_many_records_emit_in_batches_of_constant_cost() {
    let db = TestDb::new().await;
    let queries = Arc::new(AtomicU64::new(0));
    let pool = db.pool_with(crm_db::PoolSettings {
        query_counter: Some(queries.clone()),
        ..crm_db::PoolSettings::default()
    });
    let mut conn = pool.get().await.unwrap();
    let insert = |tag: &'static str, n: i64| {
        diesel::sql_query(
            "INSERT INTO deals (id, title, pipeline_id, stage_id, tags) \
             SELECT gen_random_uuid(), 'D' || g, s.pipeline_id, s.id, ARRAY[$1] \
             FROM generate_series(1, $2) g, \
                  (SELECT pipeline_id, id FROM stages ORDER BY position LIMIT 1) s",
        )
        .bind::<Text, _>(tag)
        .bind::<diesel::sql_types::BigInt, _>(n)
    };
    insert("one", 1).execute(&mut conn).await.unwrap();
    let many = crm_events::REWRITE_BATCH as i64 * 2 + 1;
    insert("many", many).execute(&mut conn).await.unwrap();
    crm_db::tags::ensure_registered(&mut conn, &["one".into(), "many".into()])
        .await
        .unwrap();
    let mut cost = Vec::new();
    for name in ["one", "many"] {
        let tag = tag_named(&mut conn, name).await;
        let before = AtomicU64::load(&queries, Ordering::Relaxed);
        crm_tags::delete_tag(&mut conn, &Actor::system(), tag.id, None)
            .await
            .unwrap();
        cost.push(AtomicU64::load(&queries, Ordering::Relaxed) - before);
    }
    // Three batches instead of one: two more reads of deals and two more appends.
    assert_eq!(cost[1], cost[0] + 4, "statements: {cost:?}");
    let got = events(&mut conn).await;
    let updated = got.iter().filter(|e| e.0 == "deal.updated").count();
    let fields = got.iter().filter(|e| e.0 == "deal.field.updated").count();
    assert_eq!((updated, fields), (1 + many as usize, 1 + many as usize));
}
