//! Deal services against a real PostgreSQL (a fresh database per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crm_core::actor::Forbidden;
use crm_core::{
    Actor, CompanyId, ContactId, DealId, EntityKind, EntityRef, Permission, PipelineId, Role,
    StageId, UserId,
};
use crm_db::AsyncPgConnection;
use crm_db::schema::{companies, deals, pipelines, stages};
use crm_deals::{CreateDeal, DealError, DealStatus, ListDeals, MoveDeal, UpdateDeal};
use crm_testkit::{ContactRow, TestDb, UserBuilder};
use crm_users::User;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

struct Pipeline {
    id: PipelineId,
    /// Stage ids in position order.
    stages: Vec<StageId>,
}

async fn default_pipeline(conn: &mut AsyncPgConnection) -> Pipeline {
    let id: PipelineId = pipelines::table
        .filter(pipelines::is_default.eq(true))
        .select(pipelines::id)
        .first(conn)
        .await
        .unwrap();
    let stages = stages::table
        .filter(stages::pipeline_id.eq(id))
        .order(stages::position)
        .select(stages::id)
        .load(conn)
        .await
        .unwrap();
    Pipeline { id, stages }
}

/// A second pipeline with stages of the given types.
async fn other_pipeline(conn: &mut AsyncPgConnection, kinds: &[&str]) -> Pipeline {
    let id = PipelineId::new();
    diesel::insert_into(pipelines::table)
        .values((
            pipelines::id.eq(id),
            pipelines::name.eq("Other"),
            pipelines::position.eq(1),
        ))
        .execute(conn)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        let sid = StageId::new();
        diesel::insert_into(stages::table)
            .values((
                stages::id.eq(sid),
                stages::pipeline_id.eq(id),
                stages::name.eq(format!("S{i}")),
                stages::position.eq(i as i32),
                stages::kind.eq(*kind),
            ))
            .execute(conn)
            .await
            .unwrap();
        ids.push(sid);
    }
    Pipeline { id, stages: ids }
}

async fn user(conn: &mut AsyncPgConnection, role: Role, revokes: Vec<Permission>) -> User {
    UserBuilder::new(role).revoke(revokes).insert(conn).await
}

fn titled(title: &str) -> CreateDeal {
    CreateDeal {
        title: title.into(),
        ..CreateDeal::default()
    }
}

async fn create(conn: &mut AsyncPgConnection, actor: &Actor, input: CreateDeal) -> crm_deals::Deal {
    crm_deals::create_deal(conn, actor, input).await.unwrap()
}

/// (title, position) of the non-trashed deals of a stage, in position order.
async fn order(conn: &mut AsyncPgConnection, stage: StageId) -> Vec<(String, i64)> {
    deals::table
        .filter(deals::stage_id.eq(stage))
        .filter(deals::deleted_at.is_null())
        .order((deals::position, deals::id))
        .select((deals::title, deals::position))
        .load(conn)
        .await
        .unwrap()
}

fn titles(order: &[(String, i64)]) -> Vec<&str> {
    order.iter().map(|(t, _)| t.as_str()).collect()
}

/// Every deal of the stage has a key of its own: the order never depends on the id tie-break.
fn assert_distinct_keys(order: &[(String, i64)]) {
    assert!(order.windows(2).all(|w| w[0].1 < w[1].1), "{order:?}");
}

/// Where a deal stands in its stage (0-based).
async fn index_in_stage(conn: &mut AsyncPgConnection, deal: &crm_deals::Deal) -> usize {
    let o = order(conn, deal.stage_id).await;
    o.iter()
        .position(|(t, _)| *t == deal.title)
        .expect("deal on its stage")
}

#[tokio::test]
async fn amounts_round_trip_exactly_as_two_decimal_strings() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let admin = Actor::system();
    for (given, shown) in [
        ("0.10", "0.10"),
        ("1500", "1500.00"),
        ("12345678901234567.89", "12345678901234567.89"),
        ("0", "0.00"),
    ] {
        let deal = create(
            &mut conn,
            &admin,
            CreateDeal {
                amount: Some(json!(given)),
                ..titled("Exact")
            },
        )
        .await;
        assert_eq!(deal.amount.as_deref(), Some(shown));
        let read = crm_deals::get_deal(&mut conn, &admin, deal.id)
            .await
            .unwrap();
        assert_eq!(read.amount.as_deref(), Some(shown));
    }
    let deal = create(&mut conn, &admin, titled("None")).await;
    assert_eq!(deal.amount, None);
    let updated = crm_deals::update_deal(
        &mut conn,
        &admin,
        deal.id,
        UpdateDeal {
            amount: Some(Some(json!("0.10"))),
            ..UpdateDeal::default()
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(updated.amount.as_deref(), Some("0.10"));
    let cleared = crm_deals::update_deal(
        &mut conn,
        &admin,
        deal.id,
        UpdateDeal {
            amount: Some(None),
            ..UpdateDeal::default()
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(cleared.amount, None);
}

#[tokio::test]
async fn numbers_negative_amounts_and_bad_fields_are_refused_by_name() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    for amount in [
        json!(1500.5),
        json!(10),
        json!("-1.00"),
        json!("1.001"),
        json!("abc"),
    ] {
        let err = crm_deals::create_deal(
            &mut conn,
            &Actor::system(),
            CreateDeal {
                amount: Some(amount.clone()),
                ..titled("X")
            },
        )
        .await
        .unwrap_err();
        let DealError::Invalid(errors) = err else {
            panic!("{err:?}")
        };
        assert_eq!(errors[0].field, "amount", "{amount}");
    }
    let err = crm_deals::create_deal(
        &mut conn,
        &Actor::system(),
        CreateDeal {
            title: "  ".into(),
            currency: Some("usd".into()),
            custom_fields: Some(json!([1])),
            tags: vec!["".into()],
            ..CreateDeal::default()
        },
    )
    .await
    .unwrap_err();
    let DealError::Invalid(errors) = err else {
        panic!("{err:?}")
    };
    let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort();
    assert_eq!(fields, ["currency", "customFields", "tags", "title"]);
    let count: i64 = deals::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn new_deals_go_to_the_end_of_the_default_pipelines_first_open_stage() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let a = create(&mut conn, &Actor::system(), titled("A")).await;
    let b = create(&mut conn, &Actor::system(), titled("B")).await;
    assert_eq!((a.pipeline_id, a.stage_id), (sales.id, sales.stages[0]));
    assert_eq!(b.stage_id, sales.stages[0]);
    assert!(a.position < b.position, "B after A");
    assert_eq!(a.status, DealStatus::Open);
    assert_eq!(a.currency, "USD");
    assert!(b.number > a.number);
    // Only the pipeline: its first OPEN stage (the LOST stage comes first here).
    let other = other_pipeline(&mut conn, &["LOST", "OPEN", "WON"]).await;
    let c = create(
        &mut conn,
        &Actor::system(),
        CreateDeal {
            pipeline_id: Some(other.id),
            ..titled("C")
        },
    )
    .await;
    assert_eq!((c.pipeline_id, c.stage_id), (other.id, other.stages[1]));
    // Only the stage: the pipeline is derived; a WON stage sets status and closedAt.
    let d = create(
        &mut conn,
        &Actor::system(),
        CreateDeal {
            stage_id: Some(other.stages[2]),
            ..titled("D")
        },
    )
    .await;
    assert_eq!((d.pipeline_id, d.status), (other.id, DealStatus::Won));
    assert!(d.closed_at.is_some());
}

#[tokio::test]
async fn stages_of_other_pipelines_and_unknown_references_are_refused() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let other = other_pipeline(&mut conn, &["OPEN"]).await;
    let admin = Actor::system();
    let err = crm_deals::create_deal(
        &mut conn,
        &admin,
        CreateDeal {
            pipeline_id: Some(sales.id),
            stage_id: Some(other.stages[0]),
            ..titled("X")
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DealError::StageNotInPipeline(_)), "{err:?}");
    for (input, code) in [
        (
            CreateDeal {
                stage_id: Some(StageId::new()),
                ..titled("X")
            },
            "unknown_stage",
        ),
        (
            CreateDeal {
                pipeline_id: Some(PipelineId::new()),
                ..titled("X")
            },
            "unknown_pipeline",
        ),
        (
            CreateDeal {
                contact_id: Some(ContactId::new()),
                ..titled("X")
            },
            "unknown_contact",
        ),
        (
            CreateDeal {
                company_id: Some(CompanyId::new()),
                ..titled("X")
            },
            "unknown_company",
        ),
        (
            CreateDeal {
                assigned_to_id: Some(UserId::new()),
                ..titled("X")
            },
            "unknown_user",
        ),
    ] {
        let err = crm_deals::create_deal(&mut conn, &admin, input)
            .await
            .unwrap_err();
        assert_eq!(crm_core::DomainError::code(&err), code);
    }
    // A trashed contact is unknown too.
    let contact = ContactRow::new().trashed().insert(&mut conn).await;
    let err = crm_deals::create_deal(
        &mut conn,
        &admin,
        CreateDeal {
            contact_id: Some(contact),
            ..titled("X")
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DealError::UnknownContact(_)), "{err:?}");
    // Moving to a stage of another pipeline is refused; PATCH with both ids switches pipeline.
    let deal = create(&mut conn, &admin, titled("D")).await;
    let err = crm_deals::move_deal(
        &mut conn,
        &admin,
        deal.id,
        MoveDeal {
            stage_id: other.stages[0],
            position: None,
        },
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DealError::StageNotInPipeline(_)), "{err:?}");
    let err = crm_deals::update_deal(
        &mut conn,
        &admin,
        deal.id,
        UpdateDeal {
            stage_id: Some(other.stages[0]),
            ..UpdateDeal::default()
        },
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DealError::StageNotInPipeline(_)), "{err:?}");
    let moved = crm_deals::update_deal(
        &mut conn,
        &admin,
        deal.id,
        UpdateDeal {
            pipeline_id: Some(other.id),
            stage_id: Some(other.stages[0]),
            ..UpdateDeal::default()
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (moved.pipeline_id, moved.stage_id),
        (other.id, other.stages[0])
    );
}

#[tokio::test]
async fn moves_place_the_deal_exactly_in_both_stages() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let admin = Actor::system();
    let (s0, s1) = (sales.stages[0], sales.stages[1]);
    let mut ids = Vec::new();
    for t in ["A", "B", "C", "D"] {
        ids.push(create(&mut conn, &admin, titled(t)).await.id);
    }
    let mv = move_to;
    // D to the top.
    let d = mv(&mut conn, ids[3], s0, Some(0)).await;
    assert_eq!(index_in_stage(&mut conn, &d).await, 0);
    assert_eq!(titles(&order(&mut conn, s0).await), ["D", "A", "B", "C"]);
    // D to the middle.
    mv(&mut conn, ids[3], s0, Some(2)).await;
    assert_eq!(titles(&order(&mut conn, s0).await), ["A", "B", "D", "C"]);
    // A to the end (clamped).
    let a = mv(&mut conn, ids[0], s0, Some(99)).await;
    assert_eq!(index_in_stage(&mut conn, &a).await, 3);
    assert_eq!(titles(&order(&mut conn, s0).await), ["B", "D", "C", "A"]);
    // B across to the next stage, then C before it, then D at its end by default.
    mv(&mut conn, ids[1], s1, None).await;
    mv(&mut conn, ids[2], s1, Some(0)).await;
    mv(&mut conn, ids[3], s1, None).await;
    let first = order(&mut conn, s0).await;
    let second = order(&mut conn, s1).await;
    assert_eq!(titles(&first), ["A"]);
    assert_eq!(titles(&second), ["C", "B", "D"]);
    assert_distinct_keys(&first);
    assert_distinct_keys(&second);
    // PATCH with a stageId moves to the end.
    let a = crm_deals::update_deal(
        &mut conn,
        &admin,
        ids[0],
        UpdateDeal {
            stage_id: Some(s1),
            ..UpdateDeal::default()
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(index_in_stage(&mut conn, &a).await, 3);
    assert!(order(&mut conn, s0).await.is_empty());
    let err = crm_deals::move_deal(
        &mut conn,
        &admin,
        ids[0],
        MoveDeal {
            stage_id: s1,
            position: Some(-1),
        },
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, DealError::Invalid(ref e) if e[0].field == "position"),
        "{err:?}"
    );
}

#[tokio::test]
async fn concurrent_moves_in_one_stage_keep_every_key_distinct() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let (s0, s1) = (sales.stages[0], sales.stages[1]);
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(
            create(&mut conn, &Actor::system(), titled(&format!("D{i}")))
                .await
                .id,
        );
    }
    for round in 0..3 {
        let mut tasks = Vec::new();
        for (i, id) in ids.iter().take(10).enumerate() {
            let url = db.url().to_owned();
            let id = *id;
            // Half reorder inside the first stage, half hop between the two stages.
            let stage = if (i + round) % 2 == 0 { s0 } else { s1 };
            let position = Some(((i * 7 + round) % 5) as i32);
            tasks.push(tokio::spawn(async move {
                use diesel_async::AsyncConnection;
                let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
                crm_deals::move_deal(
                    &mut conn,
                    &Actor::system(),
                    id,
                    MoveDeal {
                        stage_id: stage,
                        position,
                    },
                    None,
                )
                .await
                .unwrap()
            }));
        }
        for t in futures_util::future::join_all(tasks).await {
            t.unwrap();
        }
        let first = order(&mut conn, s0).await;
        let second = order(&mut conn, s1).await;
        assert_distinct_keys(&first);
        assert_distinct_keys(&second);
        assert_eq!(first.len() + second.len(), 12);
    }
}

#[tokio::test]
async fn status_follows_the_stage_and_closed_at_is_set_and_cleared() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let (won, lost) = (sales.stages[4], sales.stages[5]);
    let admin = Actor::system();
    let deal = create(&mut conn, &admin, titled("Big")).await;
    assert_eq!((deal.status, deal.closed_at), (DealStatus::Open, None));
    let mv = async |conn: &mut AsyncPgConnection, stage: StageId| {
        crm_deals::move_deal(
            conn,
            &Actor::system(),
            deal.id,
            MoveDeal {
                stage_id: stage,
                position: None,
            },
            None,
        )
        .await
        .unwrap()
    };
    let w = mv(&mut conn, won).await;
    assert_eq!(w.status, DealStatus::Won);
    assert!(w.closed_at.is_some());
    let l = mv(&mut conn, lost).await;
    assert_eq!(l.status, DealStatus::Lost);
    assert!(l.closed_at.is_some());
    let o = mv(&mut conn, sales.stages[2]).await;
    assert_eq!((o.status, o.closed_at), (DealStatus::Open, None));
}

#[tokio::test]
async fn without_read_all_one_sees_only_deals_one_created_or_is_assigned_to() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let me = user(&mut conn, Role::Manager, vec![Permission::DealsReadAll]).await;
    let other = user(&mut conn, Role::Manager, vec![]).await;
    let (mine, theirs) = (me.actor(), other.actor());
    let own = create(&mut conn, &mine, titled("Own")).await;
    let assigned = create(
        &mut conn,
        &theirs,
        CreateDeal {
            assigned_to_id: Some(me.id),
            ..titled("Assigned")
        },
    )
    .await;
    let hidden = create(&mut conn, &theirs, titled("Hidden")).await;
    let page = crm_deals::list_deals(&mut conn, &mine, &ListDeals::default())
        .await
        .unwrap();
    let mut seen: Vec<DealId> = page.items().iter().map(|d| d.id).collect();
    seen.sort();
    let mut expected = vec![own.id, assigned.id];
    expected.sort();
    assert_eq!(seen, expected);
    assert_eq!(page.total(), Some(2));
    for err in [
        crm_deals::get_deal(&mut conn, &mine, hidden.id)
            .await
            .unwrap_err(),
        crm_deals::update_deal(&mut conn, &mine, hidden.id, UpdateDeal::default(), None)
            .await
            .unwrap_err(),
        crm_deals::delete_deal(&mut conn, &mine, hidden.id, false, None)
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, DealError::NotFound(_)), "{err:?}");
    }
    // The other manager has read_all.
    let all = crm_deals::list_deals(&mut conn, &theirs, &ListDeals::default())
        .await
        .unwrap();
    assert_eq!(all.total(), Some(3));
}

#[tokio::test]
async fn trashing_takes_the_deal_off_its_stage_and_restoring_appends_it() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let admin = Actor::system();
    let mut ids = Vec::new();
    for t in ["A", "B", "C"] {
        ids.push(create(&mut conn, &admin, titled(t)).await.id);
    }
    crm_deals::delete_deal(&mut conn, &admin, ids[0], false, Some(1))
        .await
        .unwrap();
    let left = order(&mut conn, sales.stages[0]).await;
    assert_eq!(titles(&left), ["B", "C"]);
    assert_distinct_keys(&left);
    assert!(matches!(
        crm_deals::get_deal(&mut conn, &admin, ids[0])
            .await
            .unwrap_err(),
        DealError::NotFound(_)
    ));
    let trash = crm_deals::list_deals(
        &mut conn,
        &admin,
        &ListDeals {
            deleted: true,
            ..ListDeals::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(trash.items().len(), 1);
    assert!(trash.items()[0].deleted_at.is_some());
    let restored = crm_deals::restore_deal(&mut conn, &admin, ids[0])
        .await
        .unwrap();
    assert_eq!(restored.deleted_at, None);
    assert_eq!(index_in_stage(&mut conn, &restored).await, 2);
    assert_eq!(
        titles(&order(&mut conn, sales.stages[0]).await),
        ["B", "C", "A"]
    );
    // Permanent deletion is for admins.
    let manager = user(&mut conn, Role::Manager, vec![]).await;
    let err = crm_deals::delete_deal(&mut conn, &manager.actor(), ids[1], true, None)
        .await
        .unwrap_err();
    assert!(matches!(err, DealError::AdminOnly), "{err:?}");
    crm_deals::delete_deal(&mut conn, &admin, ids[1], true, None)
        .await
        .unwrap();
    let left = order(&mut conn, sales.stages[0]).await;
    assert_eq!(titles(&left), ["C", "A"]);
    assert_distinct_keys(&left);
    // purge_trash removes only deals trashed before the cut-off.
    crm_deals::delete_deal(&mut conn, &admin, ids[2], false, None)
        .await
        .unwrap();
    assert_eq!(
        crm_deals::purge_trash(&mut conn, chrono::Utc::now() - chrono::Duration::hours(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        crm_deals::purge_trash(&mut conn, chrono::Utc::now() + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn a_stage_move_is_recorded_with_its_field_changes() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let admin = Actor::system();
    let deal = create(&mut conn, &admin, titled("T")).await;
    crm_deals::move_deal(
        &mut conn,
        &admin,
        deal.id,
        MoveDeal {
            stage_id: sales.stages[4],
            position: None,
        },
        Some(1),
    )
    .await
    .unwrap();
    crm_deals::update_deal(
        &mut conn,
        &admin,
        deal.id,
        UpdateDeal {
            title: Some("Renamed".into()),
            ..UpdateDeal::default()
        },
        Some(2),
    )
    .await
    .unwrap();
    let err = crm_deals::update_deal(&mut conn, &admin, deal.id, UpdateDeal::default(), Some(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DealError::VersionMismatch(crm_core::VersionMismatch {
                expected: 1,
                current: 3
            })
        ),
        "{err:?}"
    );
    let timeline = crm_activity::list_for_entity(
        &mut conn,
        &admin,
        EntityRef::new(EntityKind::Deal, deal.id),
        None,
        10,
    )
    .await
    .unwrap();
    let kinds: Vec<&str> = timeline.items.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["deal.updated", "deal.stage.changed", "deal.created"]
    );
    let stage = &timeline.items[1].changes;
    let fields: Vec<&str> = stage.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["closedAt", "stageId", "status"]);
    assert_eq!(stage[1].from, json!(sales.stages[0]));
    assert_eq!(stage[1].to, json!(sales.stages[4]));
    assert_eq!(
        (stage[2].from.clone(), stage[2].to.clone()),
        (json!("open"), json!("won"))
    );
    let renamed = &timeline.items[0].changes;
    assert_eq!(renamed.len(), 1);
    assert_eq!(
        (renamed[0].field.as_str(), renamed[0].to.clone()),
        ("title", json!("Renamed"))
    );
}

#[tokio::test]
async fn viewers_write_nothing() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let viewer = (user(&mut conn, Role::Viewer, vec![]).await).actor();
    let deal = create(&mut conn, &Actor::system(), titled("T")).await;
    assert!(matches!(
        crm_deals::create_deal(&mut conn, &viewer, titled("X"))
            .await
            .unwrap_err(),
        DealError::Forbidden(Forbidden(Permission::DealsWrite))
    ));
    assert!(matches!(
        crm_deals::delete_deal(&mut conn, &viewer, deal.id, false, None)
            .await
            .unwrap_err(),
        DealError::Forbidden(Forbidden(Permission::DealsDelete))
    ));
    assert!(
        crm_deals::get_deal(&mut conn, &viewer, deal.id)
            .await
            .is_ok()
    );
    let _ = companies::table;
}

#[tokio::test]
async fn one_deal_moved_by_many_users_at_once_ends_on_one_stage_with_distinct_keys() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            create(&mut conn, &Actor::system(), titled(&format!("D{i}")))
                .await
                .id,
        );
    }
    let target = ids[2];
    let mut tasks = Vec::new();
    for i in 0..10 {
        let url = db.url().to_owned();
        let stage = sales.stages[i % 4];
        tasks.push(tokio::spawn(async move {
            use diesel_async::AsyncConnection;
            let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
            crm_deals::move_deal(
                &mut conn,
                &Actor::system(),
                target,
                MoveDeal {
                    stage_id: stage,
                    position: Some((i % 3) as i32),
                },
                None,
            )
            .await
            .unwrap()
        }));
    }
    for t in futures_util::future::join_all(tasks).await {
        t.unwrap();
    }
    let mut total = 0;
    for stage in &sales.stages[..4] {
        let o = order(&mut conn, *stage).await;
        assert_distinct_keys(&o);
        total += o.len();
    }
    assert_eq!(total, 6);
    let deal = crm_deals::get_deal(&mut conn, &Actor::system(), target)
        .await
        .unwrap();
    assert_eq!(deal.version, 11);
}

/// Moves `id` to `index` (default: the end) of `stage` as the system actor.
async fn move_to(
    conn: &mut AsyncPgConnection,
    id: DealId,
    stage: StageId,
    index: Option<i32>,
) -> crm_deals::Deal {
    crm_deals::move_deal(
        conn,
        &Actor::system(),
        id,
        MoveDeal {
            stage_id: stage,
            position: index,
        },
        None,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn repeated_drops_into_one_gap_respace_the_neighbours_and_keep_the_exact_order() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let stage = sales.stages[0];
    let mut ids = Vec::new();
    let mut model = Vec::new();
    for i in 0..30 {
        let title = format!("D{i:02}");
        ids.push(create(&mut conn, &Actor::system(), titled(&title)).await.id);
        model.push(title);
    }
    // Mostly into the crowded spot after the first card (a gap of 2^16 lasts 16 drops), now
    // and then elsewhere, so windows of several sizes get respaced.
    for step in 0..120usize {
        let from = (step * 7 + 3) % 30;
        let to = if step % 10 == 9 { (step * 13) % 31 } else { 1 };
        let title = model.remove(from);
        let id = ids[title[1..].parse::<usize>().unwrap()];
        model.insert(to.min(model.len()), title);
        move_to(&mut conn, id, stage, Some(i32::try_from(to).unwrap())).await;
        let got = order(&mut conn, stage).await;
        assert_eq!(titles(&got), model, "after step {step}");
        assert_distinct_keys(&got);
    } // A board that applies the events has every deal's current key, respaced ones included.
    #[derive(diesel::QueryableByName)]
    struct Key {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        key: i64,
    }
    for id in &ids {
        let current: i64 = deals::table
            .find(*id)
            .select(deals::position)
            .first(&mut conn)
            .await
            .unwrap();
        let told: Key = diesel::sql_query(
            "SELECT (payload->>'position')::bigint AS key FROM events \
             WHERE event IN ('deal.created', 'deal.updated') AND payload->>'id' = $1::text \
             ORDER BY id DESC LIMIT 1",
        )
        .bind::<diesel::sql_types::Uuid, _>(*id)
        .get_result(&mut conn)
        .await
        .unwrap();
        assert_eq!(told.key, current, "deal {id}");
    }
}

#[tokio::test]
async fn a_move_to_the_top_of_a_large_stage_writes_only_the_moved_deal() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let stage = sales.stages[0];
    diesel::sql_query(
        "INSERT INTO deals (id, title, pipeline_id, stage_id, position) \
         SELECT gen_random_uuid(), 'bulk ' || i, $1, $2, i * 65536 FROM generate_series(1, 5000) AS i",
    )
    .bind::<diesel::sql_types::Uuid, _>(sales.id)
    .bind::<diesel::sql_types::Uuid, _>(stage)
    .execute(&mut conn)
    .await
    .unwrap();
    let snapshot = async |conn: &mut AsyncPgConnection| -> Vec<(DealId, i64, i32)> {
        deals::table
            .filter(deals::stage_id.eq(stage))
            .order(deals::id)
            .select((deals::id, deals::position, deals::version))
            .load(conn)
            .await
            .unwrap()
    };
    let last: DealId = deals::table
        .filter(deals::title.eq("bulk 5000"))
        .select(deals::id)
        .first(&mut conn)
        .await
        .unwrap();
    let before = snapshot(&mut conn).await;
    move_to(&mut conn, last, stage, Some(0)).await;
    move_to(&mut conn, last, stage, Some(2500)).await;
    let after = snapshot(&mut conn).await;
    let changed: Vec<DealId> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .map(|(b, _)| b.0)
        .collect();
    assert_eq!(changed, [last]);
    let o = order(&mut conn, stage).await;
    assert_eq!(o[2500].0, "bulk 5000");
    assert_eq!(o[2499].0, "bulk 2500");
}

#[tokio::test]
async fn field_changes_and_trashing_do_not_wait_for_a_locked_stage() {
    use diesel_async::AsyncConnection;
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let a = create(&mut conn, &Actor::system(), titled("A")).await;
    let b = create(&mut conn, &Actor::system(), titled("B")).await;
    // Another transaction holds the stage the way a move does.
    let mut mover = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query("BEGIN")
        .execute(&mut mover)
        .await
        .unwrap();
    diesel::sql_query("SELECT id FROM stages WHERE id = $1 FOR UPDATE")
        .bind::<diesel::sql_types::Uuid, _>(sales.stages[0])
        .execute(&mut mover)
        .await
        .unwrap();
    let wait = std::time::Duration::from_secs(10);
    let patched = tokio::time::timeout(
        wait,
        crm_deals::update_deal(
            &mut conn,
            &Actor::system(),
            a.id,
            UpdateDeal {
                title: Some("A2".into()),
                ..UpdateDeal::default()
            },
            None,
        ),
    )
    .await
    .expect("a PATCH without a stage change must not wait for the stage lock")
    .unwrap();
    assert_eq!(patched.title, "A2");
    tokio::time::timeout(
        wait,
        crm_deals::delete_deal(&mut conn, &Actor::system(), b.id, false, None),
    )
    .await
    .expect("trashing must not wait for the stage lock")
    .unwrap();
    diesel::sql_query("ROLLBACK")
        .execute(&mut mover)
        .await
        .unwrap();
}

#[tokio::test]
async fn without_a_default_pipeline_a_deal_needs_a_pipeline_or_stage() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    diesel::update(pipelines::table)
        .set(pipelines::is_default.eq(false))
        .execute(&mut conn)
        .await
        .unwrap();
    let err = crm_deals::create_deal(&mut conn, &Actor::system(), titled("Lost"))
        .await
        .unwrap_err();
    assert!(matches!(err, DealError::NoDefaultPipeline), "{err:?}");
    assert_eq!(crm_core::DomainError::code(&err), "no_default_pipeline");
    let placed = CreateDeal {
        pipeline_id: Some(sales.id),
        ..titled("Placed")
    };
    assert_eq!(
        create(&mut conn, &Actor::system(), placed).await.stage_id,
        sales.stages[0]
    );
}

#[tokio::test]
async fn a_stored_status_this_version_does_not_know_fails_the_read() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let deal = create(&mut conn, &Actor::system(), titled("Odd")).await;
    diesel::sql_query("ALTER TABLE deals DROP CONSTRAINT deals_status_check")
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::update(deals::table.filter(deals::id.eq(deal.id)))
        .set(deals::status.eq("frozen"))
        .execute(&mut conn)
        .await
        .unwrap();
    let err = crm_deals::get_deal(&mut conn, &Actor::system(), deal.id)
        .await
        .unwrap_err();
    assert_eq!(
        crm_core::DomainError::kind(&err),
        crm_core::ErrorKind::Internal,
        "{err:?}"
    );
    assert!(
        err.to_string().contains("frozen") || format!("{err:?}").contains("frozen"),
        "{err:?}"
    );
}
