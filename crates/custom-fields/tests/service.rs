//! Custom field definitions against a real PostgreSQL (a fresh database per test): indexes,
//! conversions, option removal, uniqueness, deactivation, deletion, locking, and the query
//! plans of filters on many rows. Records are written with plain SQL here (the record crates
//! depend on this one); the black-box API tests cover writes through the record services.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;

use crm_core::{Actor, CustomFieldId, DealId, EntityKind, Role};
use crm_custom_fields::{
    CfQuery, CreateCustomField, CustomField, CustomFieldEntity, CustomFieldError, FieldSet,
    FieldType, ListCustomFields, ReorderCustomFields, UpdateCustomField, parse_filters, parse_sort,
    unique_violation,
};
use crm_db::AsyncPgConnection;
use crm_db::schema::{activity, deals};
use crm_events::{RewriteEvents, RewriteFuture, Rewritten};
use crm_testkit::{DealRow, TestDb, first_stage};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::{Value, json};

fn admin() -> Actor {
    Actor::system()
}

fn viewer() -> Actor {
    Actor::user(
        crm_core::UserId::new(),
        Role::Viewer,
        Role::Viewer.default_permissions(),
    )
}

fn def(entity: CustomFieldEntity, key: &str, kind: FieldType) -> CreateCustomField {
    CreateCustomField {
        entity_type: entity,
        key: key.into(),
        name: Some(key.replace('_', " ")),
        field_type: kind,
        options: if kind.has_options() {
            vec!["a".into(), "b".into(), "c".into()]
        } else {
            vec![]
        },
        is_required: false,
        is_unique: false,
        default_value: None,
        position: None,
        is_active: None,
    }
}

/// Stands in for the record crates (which depend on this one): keeps what the service
/// reports about the records it changed, for the black-box tests to check the events.
#[derive(Default)]
struct Reports(Mutex<Vec<(EntityKind, Vec<Rewritten>)>>);

impl RewriteEvents for Reports {
    fn rewritten<'a>(
        &'a self,
        _conn: &'a mut AsyncPgConnection,
        _actor: &'a Actor,
        kind: EntityKind,
        records: &'a [Rewritten],
    ) -> RewriteFuture<'a> {
        self.0.lock().unwrap().push((kind, records.to_vec()));
        Box::pin(async { Ok(()) })
    }
}

impl Reports {
    /// Every reported record as `(id, field, from, to)`, in report order.
    fn take(&self) -> Vec<(DealId, String, Value, Value)> {
        std::mem::take(&mut *self.0.lock().unwrap())
            .into_iter()
            .flat_map(|(_, records)| records)
            .flat_map(|r| {
                r.changes
                    .into_iter()
                    .map(move |c| (r.id.into(), c.field, c.from, c.to))
            })
            .collect()
    }
}

async fn create(conn: &mut AsyncPgConnection, input: CreateCustomField) -> CustomField {
    crm_custom_fields::create_custom_field(conn, &admin(), input, &Reports::default())
        .await
        .unwrap()
}

async fn update(
    conn: &mut AsyncPgConnection,
    id: CustomFieldId,
    input: UpdateCustomField,
) -> Result<CustomField, CustomFieldError> {
    crm_custom_fields::update_custom_field(conn, &admin(), id, input, None, &Reports::default())
        .await
}

async fn deal_with(conn: &mut AsyncPgConnection, custom_fields: Value) -> DealId {
    DealRow::new()
        .custom_fields(custom_fields)
        .insert(conn)
        .await
}

async fn deal(conn: &mut AsyncPgConnection, id: DealId) -> (Value, i32) {
    deals::table
        .find(id)
        .select((deals::custom_fields, deals::version))
        .first(conn)
        .await
        .unwrap()
}

async fn index_names(conn: &mut AsyncPgConnection, table: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        indexname: String,
    }
    let rows: Vec<Name> = diesel::sql_query(format!(
        "SELECT indexname FROM pg_indexes WHERE tablename = '{table}' ORDER BY 1"
    ))
    .load(conn)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.indexname).collect()
}

#[tokio::test]
async fn definitions_get_positions_and_indexes_and_viewers_only_read() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let c = &mut conn;
    let tier = create(c, def(CustomFieldEntity::Deal, "tier", FieldType::Select)).await;
    let mut unique = def(CustomFieldEntity::Deal, "external_id", FieldType::Text);
    unique.is_unique = true;
    let ext = create(c, unique).await;
    let tags = create(
        c,
        def(CustomFieldEntity::Deal, "tags", FieldType::MultiSelect),
    )
    .await;
    let mut first = def(CustomFieldEntity::Deal, "score", FieldType::Number);
    first.position = Some(0);
    let score = create(c, first).await;
    create(c, def(CustomFieldEntity::Contact, "tier", FieldType::Text)).await;

    let listed = crm_custom_fields::list_custom_fields(
        c,
        &viewer(),
        &ListCustomFields {
            entity_type: Some(CustomFieldEntity::Deal),
            is_active: None,
        },
    )
    .await
    .unwrap();
    let order: Vec<(&str, i32)> = listed
        .iter()
        .map(|f| (f.key.as_str(), f.position))
        .collect();
    assert_eq!(
        order,
        [("score", 0), ("tier", 1), ("external_id", 2), ("tags", 3)]
    );
    assert_eq!(score.position, 0);

    let indexes = index_names(c, "deals").await;
    for name in [
        "cf_deals_tier",
        "cf_deals_external_id",
        "cfu_deals_external_id",
        "cf_deals_score",
    ] {
        assert!(indexes.contains(&name.to_owned()), "{name} in {indexes:?}");
    }
    // Arrays of options have no order: no sort index.
    assert!(!indexes.contains(&"cf_deals_tags".to_owned()));
    assert!(!indexes.contains(&"cfu_deals_tier".to_owned()));

    let e = crm_custom_fields::create_custom_field(
        c,
        &viewer(),
        def(CustomFieldEntity::Deal, "x", FieldType::Text),
        &Reports::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, CustomFieldError::Forbidden(_)), "{e:?}");
    let e = update(
        c,
        tier.id,
        UpdateCustomField {
            key: Some("other".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, CustomFieldError::Invalid(ref f) if f[0].field == "key"),
        "{e:?}"
    );
    let e = crm_custom_fields::create_custom_field(
        c,
        &admin(),
        def(CustomFieldEntity::Deal, "tier", FieldType::Number),
        &Reports::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, CustomFieldError::DuplicateKey { .. }), "{e:?}");

    let reordered = crm_custom_fields::reorder_custom_fields(
        c,
        &admin(),
        ReorderCustomFields {
            entity_type: CustomFieldEntity::Deal,
            field_ids: vec![tags.id, ext.id, tier.id, score.id],
        },
    )
    .await
    .unwrap();
    let keys: Vec<&str> = reordered.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["tags", "external_id", "tier", "score"]);
    let e = crm_custom_fields::reorder_custom_fields(
        c,
        &admin(),
        ReorderCustomFields {
            entity_type: CustomFieldEntity::Deal,
            field_ids: vec![tags.id, ext.id],
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, CustomFieldError::Invalid(_)), "{e:?}");
}

#[tokio::test]
async fn a_type_change_converts_every_value_or_counts_the_records_in_the_way() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let c = &mut conn;
    // Written before the field was defined: adopted when it is.
    let good = deal_with(c, json!({"score": " 12.50 "})).await;
    let bad = deal_with(c, json!({"score": "twelve"})).await;
    let none = deal_with(c, json!({"other": 1})).await;
    let field = create(c, def(CustomFieldEntity::Deal, "score", FieldType::Text)).await;
    assert_eq!(deal(c, good).await.0, json!({"score": "12.50"}));

    let to_number = UpdateCustomField {
        field_type: Some(FieldType::Number),
        ..Default::default()
    };
    let e = update(c, field.id, to_number.clone()).await.unwrap_err();
    assert!(
        matches!(
            e,
            CustomFieldError::ValuesDoNotConvert {
                count: 1,
                to: FieldType::Number,
                ..
            }
        ),
        "{e:?}"
    );
    // Nothing changed.
    assert_eq!(deal(c, good).await.0, json!({"score": "12.50"}));

    diesel::update(deals::table.find(bad))
        .set(deals::custom_fields.eq(json!({"score": "7"})))
        .execute(c)
        .await
        .unwrap();
    let (_, version_before) = deal(c, good).await;
    let after = update(c, field.id, to_number).await.unwrap();
    assert_eq!(after.field_type, FieldType::Number);
    let (cf, version) = deal(c, good).await;
    assert_eq!(cf, json!({"score": 12.5}));
    assert_eq!(version, version_before + 1);
    assert_eq!(deal(c, bad).await.0, json!({"score": 7}));
    assert_eq!(deal(c, none).await, (json!({"other": 1}), 1));

    // Each rewritten record has an activity entry with the change: the trimming when the
    // definition adopted the value, then the conversion.
    let changes: Vec<Value> = activity::table
        .filter(activity::entity_id.eq(good))
        .filter(activity::kind.eq("deal.updated"))
        .order(activity::id)
        .select(activity::changes)
        .load(c)
        .await
        .unwrap();
    assert_eq!(
        changes,
        [
            json!([{"field": "customFields.score", "from": " 12.50 ", "to": "12.50"}]),
            json!([{"field": "customFields.score", "from": "12.50", "to": 12.5}])
        ]
    );

    // And back to text: numbers become their decimal text.
    update(
        c,
        field.id,
        UpdateCustomField {
            field_type: Some(FieldType::Text),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(deal(c, good).await.0, json!({"score": "12.5"}));
}

#[tokio::test]
async fn removing_an_option_in_use_is_refused_with_the_count_of_records() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let c = &mut conn;
    let select = create(c, def(CustomFieldEntity::Deal, "tier", FieldType::Select)).await;
    let multi = create(
        c,
        def(CustomFieldEntity::Deal, "tags", FieldType::MultiSelect),
    )
    .await;
    deal_with(c, json!({"tier": "b", "tags": ["a", "b"]})).await;
    let trashed = deal_with(c, json!({"tier": "b"})).await;
    diesel::update(deals::table.find(trashed))
        .set(deals::deleted_at.eq(Some(chrono::Utc::now())))
        .execute(c)
        .await
        .unwrap();
    deal_with(c, json!({"tier": "a"})).await;

    let without_b = || UpdateCustomField {
        options: Some(vec!["a".into(), "c".into()]),
        ..Default::default()
    };
    // Trashed records count too: they could come back.
    let e = update(c, select.id, without_b()).await.unwrap_err();
    assert!(
        matches!(e, CustomFieldError::OptionInUse { count: 2, .. }),
        "{e:?}"
    );
    let e = update(c, multi.id, without_b()).await.unwrap_err();
    assert!(
        matches!(e, CustomFieldError::OptionInUse { count: 1, .. }),
        "{e:?}"
    );

    // Removing an unused option, adding and reordering are free.
    let changed = update(
        c,
        select.id,
        UpdateCustomField {
            options: Some(vec!["b".into(), "a".into(), "d".into()]),
            name: Some("Tier".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(changed.options, ["b", "a", "d"]);
    assert_eq!(changed.name, "Tier");
    // A default that no longer fits must be replaced.
    update(
        c,
        select.id,
        UpdateCustomField {
            default_value: Some(Some(json!("d"))),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let e = update(
        c,
        select.id,
        UpdateCustomField {
            options: Some(vec!["b".into(), "a".into()]),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, CustomFieldError::Invalid(ref f) if f[0].field == "defaultValue"),
        "{e:?}"
    );
}

#[tokio::test]
async fn deactivation_hides_the_values_and_activation_brings_them_back() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let c = &mut conn;
    let field = create(c, def(CustomFieldEntity::Deal, "score", FieldType::Number)).await;
    let id = deal_with(c, json!({"score": 5, "keep": true})).await;
    let off = update(
        c,
        field.id,
        UpdateCustomField {
            is_active: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(!off.is_active);
    assert_eq!(deal(c, id).await.0, json!({"keep": true}));
    // Inactive fields are refused on writes and in filters.
    let set = FieldSet::for_read(c, CustomFieldEntity::Deal)
        .await
        .unwrap();
    assert!(set.validate_create(Some(&json!({"score": 1}))).is_err());
    assert!(parse_filters(&set, &[("cf.score".into(), "5".into())]).is_err());
    // Its type cannot change while its values are put away.
    let e = update(
        c,
        field.id,
        UpdateCustomField {
            field_type: Some(FieldType::Text),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, CustomFieldError::Inactive(_)), "{e:?}");

    update(
        c,
        field.id,
        UpdateCustomField {
            is_active: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(deal(c, id).await.0, json!({"score": 5, "keep": true}));
}

/// Every record whose value a definition change alters is reported once, with its net change
/// (the first value and the last, `null` for none), for the record crates to emit its update
/// events — also hiding and showing. Unchanged records are not.
#[tokio::test]
async fn definition_changes_report_each_changed_record_once_with_its_net_change() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let c = &mut conn;
    let reports = Reports::default();
    let field = |id, from: Value, to: Value| (id, "customFields.seats".to_owned(), from, to);
    // Adoption: a value stored before the definition is converted ("7" -> 7), one already
    // canonical (8) is left alone.
    let converted = deal_with(c, json!({"seats": "7"})).await;
    let canonical = deal_with(c, json!({"seats": 8})).await;
    let none = deal_with(c, json!({"other": 1})).await;
    let seats = crm_custom_fields::create_custom_field(
        c,
        &admin(),
        def(CustomFieldEntity::Deal, "seats", FieldType::Number),
        &reports,
    )
    .await
    .unwrap();
    assert_eq!(
        reports.take(),
        [field(converted, json!("7"), json!(7))],
        "adoption"
    );
    async fn change(
        c: &mut AsyncPgConnection,
        id: CustomFieldId,
        input: UpdateCustomField,
        r: &Reports,
    ) {
        crm_custom_fields::update_custom_field(c, &admin(), id, input, None, r)
            .await
            .unwrap();
    }
    // A rename touches no record.
    change(
        c,
        seats.id,
        UpdateCustomField {
            name: Some("Seats".into()),
            ..Default::default()
        },
        &reports,
    )
    .await;
    assert_eq!(reports.take(), []);
    // Conversion and deactivation in one change: one report per record, value -> nothing;
    // activation with a conversion: nothing -> the converted archived value.
    for (field_type, is_active, expected, after, why) in [
        (
            FieldType::Text,
            false,
            [
                field(converted, json!(7), Value::Null),
                field(canonical, json!(8), Value::Null),
            ],
            json!({}),
            "conversion then deactivation",
        ),
        (
            FieldType::Number,
            true,
            [
                field(converted, Value::Null, json!(7)),
                field(canonical, Value::Null, json!(8)),
            ],
            json!({"seats": 7}),
            "activation then conversion",
        ),
    ] {
        let input = UpdateCustomField {
            field_type: Some(field_type),
            is_active: Some(is_active),
            ..Default::default()
        };
        change(c, seats.id, input, &reports).await;
        let mut got = reports.take();
        got.sort_by_key(|r| r.0);
        assert_eq!(got, expected, "{why}");
        assert_eq!(deal(c, converted).await.0, after, "{why}");
    }
    assert_eq!(deal(c, none).await.0, json!({"other": 1}));
    // Removing an unused option of a select changes nothing; an inactive create hides the
    // values it adopted.
    deal_with(c, json!({"plan": "b"})).await;
    let mut input = def(CustomFieldEntity::Deal, "plan", FieldType::Select);
    input.is_active = Some(false);
    crm_custom_fields::create_custom_field(c, &admin(), input, &reports)
        .await
        .unwrap();
    let got = reports.take();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].1.as_str(), &got[0].2, &got[0].3),
        ("customFields.plan", &json!("b"), &Value::Null)
    );
}

#[tokio::test]
async fn deleting_a_field_removes_its_values_everywhere_and_its_indexes() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let c = &mut conn;
    let mut input = def(CustomFieldEntity::Deal, "code", FieldType::Text);
    input.is_unique = true;
    let field = create(c, input).await;
    let a = deal_with(c, json!({"code": "A-1", "other": 1})).await;
    let b = deal_with(c, json!({"code": "A-2"})).await;
    let reports = Reports::default();
    crm_custom_fields::delete_custom_field(
        c,
        &admin(),
        field.id,
        Some(field.version + 1),
        &reports,
    )
    .await
    .expect_err("stale If-Match");
    crm_custom_fields::delete_custom_field(c, &admin(), field.id, Some(field.version), &reports)
        .await
        .unwrap();
    assert_eq!(deal(c, a).await, (json!({"other": 1}), 2));
    assert_eq!(deal(c, b).await, (json!({}), 2));
    // Each record that lost its value is reported once, for its update events.
    let mut reported = reports.take();
    reported.sort_by_key(|r| r.0);
    let field_name = "customFields.code".to_owned();
    let mut expected = vec![
        (a, field_name.clone(), json!("A-1"), Value::Null),
        (b, field_name, json!("A-2"), Value::Null),
    ];
    expected.sort_by_key(|r| r.0);
    assert_eq!(reported, expected);
    let indexes = index_names(c, "deals").await;
    assert!(!indexes.iter().any(|i| i.contains("_code")), "{indexes:?}");
    let e = crm_custom_fields::get_custom_field(c, &admin(), field.id)
        .await
        .unwrap_err();
    assert!(matches!(e, CustomFieldError::NotFound(_)));
    // The key is free again.
    create(c, def(CustomFieldEntity::Deal, "code", FieldType::Number)).await;
}

#[tokio::test]
async fn unique_values_are_enforced_by_the_database_outside_the_trash() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let c = &mut conn;
    let first = deal_with(c, json!({"code": "X"})).await;
    deal_with(c, json!({"code": "X"})).await;
    let mut input = def(CustomFieldEntity::Deal, "code", FieldType::Text);
    input.is_unique = true;
    let e = crm_custom_fields::create_custom_field(c, &admin(), input.clone(), &Reports::default())
        .await
        .unwrap_err();
    assert!(
        matches!(e, CustomFieldError::ValuesNotUnique { count: 2, .. }),
        "{e:?}"
    );

    // Trashed records do not count.
    diesel::update(deals::table.find(first))
        .set(deals::deleted_at.eq(Some(chrono::Utc::now())))
        .execute(c)
        .await
        .unwrap();
    let field = create(c, input).await;
    assert!(field.is_unique);

    let (pipeline, stage) = first_stage(c).await;
    let err = diesel::insert_into(deals::table)
        .values((
            deals::id.eq(DealId::new()),
            deals::title.eq("Dup"),
            deals::pipeline_id.eq(pipeline),
            deals::stage_id.eq(stage),
            deals::custom_fields.eq(json!({"code": "X"})),
        ))
        .execute(c)
        .await
        .unwrap_err();
    let mapped = unique_violation(&err).expect("a custom field unique violation");
    assert!(
        matches!(&mapped, CustomFieldError::DuplicateValue { key, entity: CustomFieldEntity::Deal } if key == "code"),
        "{mapped:?}"
    );
    // Restoring the trashed twin would duplicate the value.
    let err = diesel::update(deals::table.find(first))
        .set(deals::deleted_at.eq(None::<chrono::DateTime<chrono::Utc>>))
        .execute(c)
        .await
        .unwrap_err();
    assert!(unique_violation(&err).is_some());

    // Not unique any more: the index goes.
    update(
        c,
        field.id,
        UpdateCustomField {
            is_unique: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        !index_names(c, "deals")
            .await
            .contains(&"cfu_deals_code".to_owned())
    );
}

#[tokio::test]
async fn a_definition_change_waits_for_record_writes_that_validated_against_it() {
    let db = TestDb::new().await;
    let mut setup = db.conn().await;
    let field = create(
        &mut setup,
        def(CustomFieldEntity::Deal, "score", FieldType::Text),
    )
    .await;
    let (pipeline, stage) = first_stage(&mut setup).await;

    let mut writer = db.conn().await;
    let mut admin_conn = db.conn().await;
    let (locked_tx, locked_rx) = tokio::sync::oneshot::channel::<()>();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let id = DealId::new();
    let write = async {
        writer
            .transaction(async |conn| {
                let fields = FieldSet::for_write(conn, CustomFieldEntity::Deal).await?;
                let _ = locked_tx.send(());
                // The definition change starts now and must wait for this transaction.
                let _ = go_rx.await;
                let cf = fields.validate_create(Some(&json!({"score": "41"})))?;
                diesel::insert_into(deals::table)
                    .values((
                        deals::id.eq(id),
                        deals::title.eq("Concurrent"),
                        deals::pipeline_id.eq(pipeline),
                        deals::stage_id.eq(stage),
                        deals::custom_fields.eq(cf),
                    ))
                    .execute(conn)
                    .await?;
                Ok::<_, CustomFieldError>(())
            })
            .await
            .unwrap();
    };
    let change = async {
        locked_rx.await.unwrap();
        let changing = update(
            &mut admin_conn,
            field.id,
            UpdateCustomField {
                field_type: Some(FieldType::Number),
                ..Default::default()
            },
        );
        let release = async {
            // Give the change a chance to run ahead if the lock did not hold it back.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let _ = go_tx.send(());
        };
        let (changed, ()) = futures_util::join!(changing, release);
        changed.unwrap();
    };
    futures_util::join!(write, change);
    // The text written under the old definition was converted, not left behind.
    assert_eq!(deal(&mut setup, id).await.0, json!({"score": 41}));
}

/// `EXPLAIN` of the statements a deal list runs, with the values inlined.
async fn plan(conn: &mut AsyncPgConnection, sql: &str) -> String {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text)]
        #[diesel(column_name = "QUERY PLAN")]
        line: String,
    }
    let lines: Vec<Line> = diesel::sql_query(format!("EXPLAIN {sql}"))
        .load(conn)
        .await
        .unwrap();
    lines
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn filters_and_sorts_on_many_deals_use_the_indexes() {
    const ROWS: i64 = 30_000;
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let c = &mut conn;
    let (pipeline, stage) = first_stage(c).await;
    diesel::sql_query(
        "INSERT INTO deals (id, title, pipeline_id, stage_id, custom_fields, created_at, updated_at)
         SELECT gen_random_uuid(), 'Deal ' || i, $1, $2,
                jsonb_build_object('segment', CASE WHEN i % 1000 = 0 THEN 'h'
                                                   ELSE (ARRAY['a','b','c','d','e','f','g'])[1 + i % 7] END,
                                   'score', (i * 7919) % 10000,
                                   'tags', CASE WHEN i % 500 = 0 THEN '[\"a\"]'::jsonb ELSE '[\"b\"]'::jsonb END),
                now() - make_interval(secs => i), now()
         FROM generate_series(1, $3) AS i",
    )
    .bind::<diesel::sql_types::Uuid, _>(pipeline)
    .bind::<diesel::sql_types::Uuid, _>(stage)
    .bind::<diesel::sql_types::BigInt, _>(ROWS)
    .execute(c)
    .await
    .unwrap();
    let mut segment = def(CustomFieldEntity::Deal, "segment", FieldType::Select);
    segment.options = ('a'..='h').map(String::from).collect();
    create(c, segment).await;
    create(c, def(CustomFieldEntity::Deal, "score", FieldType::Number)).await;
    let mut tags = def(CustomFieldEntity::Deal, "tags", FieldType::MultiSelect);
    tags.options = vec!["a".into(), "b".into()];
    create(c, tags).await;
    diesel::sql_query("ANALYZE deals").execute(c).await.unwrap();

    let fields = FieldSet::for_read(c, CustomFieldEntity::Deal)
        .await
        .unwrap();
    let query = |params: &[(&str, &str)], sort: Option<&str>| {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut q = CfQuery {
            filters: parse_filters(&fields, &params).unwrap(),
            sort_keys: vec![],
        };
        let sort = parse_sort(
            sort,
            &[("createdAt", None)],
            vec![],
            Some(&fields),
            Some,
            &mut q,
        )
        .unwrap();
        let mut conditions = vec!["deals.deleted_at IS NULL".to_owned()];
        conditions.extend(q.conditions("deals").iter().map(|f| f.to_literal_sql()));
        let order = match <[_]>::first(&sort.keys) {
            Some((Some(i), dir)) => format!("{}, ", q.order_by("deals", *i, *dir).to_literal_sql()),
            _ => String::new(),
        };
        (
            format!(
                "SELECT count(*) FROM deals WHERE {}",
                conditions.join(" AND ")
            ),
            format!(
                "SELECT * FROM deals WHERE {} ORDER BY {order}deals.created_at, deals.id LIMIT 50",
                conditions.join(" AND ")
            ),
        )
    };

    // SELECT equality and MULTI_SELECT membership on 0.1 and 0.2 % of the deals: the GIN
    // index. (For values held by more than a few tenths of a percent of the deals, reading the
    // whole table is cheaper than visiting a page per match, and PostgreSQL's estimates from
    // the column statistics know it; the page itself then comes from deals_created_idx.)
    for params in [[("cf.segment", "h")], [("cf.tags", "a")]] {
        let (count, _) = query(&params, None);
        let p = plan(c, &count).await;
        assert!(p.contains("deals_custom_fields_idx"), "{params:?}:\n{p}");
        assert!(!p.contains("Seq Scan on deals"), "{params:?}:\n{p}");
    }
    // A NUMBER range (0.1 %): the field's btree index, for the count and for the page.
    let (count, page) = query(&[("cf.score.gte", "100"), ("cf.score.lt", "110")], None);
    for sql in [count, page] {
        let p = plan(c, &sql).await;
        assert!(p.contains("cf_deals_score"), "{sql}:\n{p}");
        assert!(!p.contains("Seq Scan on deals"), "{sql}:\n{p}");
    }
    // Both at once.
    let (count, _) = query(&[("cf.segment", "h"), ("cf.score.lte", "200")], None);
    let p = plan(c, &count).await;
    assert!(
        p.contains("cf_deals_score") || p.contains("deals_custom_fields_idx"),
        "{p}"
    );
    assert!(!p.contains("Seq Scan on deals"), "{p}");
    // Sorting by a custom field: the btree index delivers the order.
    let (_, page) = query(&[], Some("cf.score"));
    let p = plan(c, &page).await;
    assert!(p.contains("cf_deals_score"), "{page}:\n{p}");
    assert!(!p.contains("Seq Scan on deals"), "{page}:\n{p}");
}
